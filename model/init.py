"""`python -m model init NAME --corpus TRAIN_TXT`: a base model made here, without internet.

Trains a byte-level BPE on the corpus and saves randomly initialised GPT-2 weights built by
gpt-2-simple's own model code, in a downloaded model's layout (`models/NAME/`: hparams.json,
encoder.json, vocab.bpe, checkpoint, model.ckpt.*), so finetune, evaluate and export treat it
exactly like `model download`'s.

Dimensions not named by a flag come from model.sizing's rule: sized for the corpus and the
fine-tuning budget (--minutes). The vocabulary is what the BPE learned, up to --vocab-size ids,
`<|endoftext|>` last; --exact-vocab (implied by --shape 124M, whose embedding is 50257 wide) pads
it with unused filler ids when the corpus runs out of merges (see tokenizer.pad_tokens).
"""

import json
import re
import shutil
import time
from pathlib import Path

from cli import UsageError
from contracts import HPARAMS
from model import paths, sizing, tokenizer
from model.staging import staging_folder, swap_in

# The fine-tuning budget a model is sized for when --minutes is not given: the demo's.
DEFAULT_MINUTES = 4.0
# Named shapes: real GPT-2 dimensions with random weights, for benchmarks.
SHAPES = {"124M": {"n_vocab": 50257, "n_ctx": 1024, "n_embd": 768, "n_head": 12, "n_layer": 12}}
# Below this a corpus cannot teach a vocabulary; it is almost certainly the wrong file.
MIN_CORPUS_BYTES = 1024
# A folder name under models/, never a path that leads elsewhere.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
# hparams key → argparse destination of the flag that sets it.
FLAGS = {
    "n_vocab": "vocab_size",
    "n_ctx": "n_ctx",
    "n_embd": "n_embd",
    "n_head": "n_head",
    "n_layer": "n_layer",
}


def add_arguments(parser) -> None:
    parser.add_argument("name", help="base model name: written to $GHOST_DATA_DIR/models/NAME")
    parser.add_argument("--corpus", required=True, type=Path, help="UTF-8 text to learn BPE from")
    sized = "default: sized for the corpus and --minutes (model/sizing.py)"
    parser.add_argument("--vocab-size", type=int, help=f"most ids to learn; {sized}")
    parser.add_argument("--n-layer", type=int, help=sized)
    parser.add_argument("--n-embd", type=int, help=sized)
    parser.add_argument("--n-head", type=int, help=sized)
    parser.add_argument("--n-ctx", type=int, help=f"default {sizing.N_CTX}")
    parser.add_argument(
        "--minutes",
        type=float,
        default=DEFAULT_MINUTES,
        help=f"fine-tuning budget the model is sized for; default {DEFAULT_MINUTES:g}",
    )
    parser.add_argument(
        "--exact-vocab",
        action="store_true",
        help="pad the vocabulary to exactly --vocab-size with unused ids if merges run out",
    )
    parser.add_argument(
        "--shape", choices=sorted(SHAPES), help="GPT-2's exact dimensions (random weights)"
    )
    parser.add_argument("--seed", type=int, default=0, help="weight initialisation seed")
    parser.add_argument("--force", action="store_true", help="replace an existing base model")


def resolve_hparams(args, *, corpus_bytes: int) -> dict:
    """hparams.json's content from the flags: a named shape, or the sizing rule's shape for this
    corpus and budget overridden by flags (n_vocab: the most ids to learn)."""
    given = {key: getattr(args, flag) for key, flag in FLAGS.items()}
    given = {key: value for key, value in given.items() if value is not None}
    if args.shape:
        if given:
            names = ", ".join(f"--{FLAGS[k].replace('_', '-')}" for k in given)
            raise UsageError(f"--shape {args.shape} fixes every dimension; drop {names}")
        return dict(SHAPES[args.shape])
    if not (args.minutes > 0 and args.minutes < float("inf")):
        raise UsageError(f"--minutes must be a positive number, got {args.minutes}")
    sized = sizing.choose_shape(corpus_bytes=corpus_bytes, minutes=args.minutes)
    hparams = {**sized, **given}
    for key, value in hparams.items():
        if value < 1:
            raise UsageError(f"--{FLAGS[key].replace('_', '-')} must be positive, got {value}")
    if hparams["n_vocab"] <= tokenizer.BYTE_SYMBOLS:
        raise UsageError(
            f"--vocab-size must exceed {tokenizer.BYTE_SYMBOLS} (the byte symbols plus "
            f"<|endoftext|>), got {hparams['n_vocab']}"
        )
    if hparams["n_embd"] % hparams["n_head"]:
        raise UsageError(
            f"--n-embd ({hparams['n_embd']}) must be a multiple of --n-head ({hparams['n_head']})"
        )
    return hparams


def check_corpus(corpus: Path) -> None:
    if not corpus.is_file():
        raise UsageError(
            f"corpus {corpus} not found; pass a prepared train.txt "
            "(`python -m corpus prepare IN_DIR OUT_DIR` writes one)"
        )
    size = corpus.stat().st_size
    if size < MIN_CORPUS_BYTES:
        raise UsageError(
            f"corpus {corpus} has {size} bytes; init needs at least {MIN_CORPUS_BYTES} bytes of "
            "text to learn a vocabulary from"
        )
    try:
        with corpus.open(encoding="utf-8") as text:
            while text.read(1 << 20):
                pass
    except UnicodeDecodeError as error:
        raise UsageError(f"corpus {corpus} is not UTF-8 text ({error}); convert it first") from None


def write_random_checkpoint(folder: Path, hparams: dict, *, seed: int) -> None:
    """Saves gpt-2-simple's model variables with their own random initialisers as model.ckpt.*,
    plus a `checkpoint` file with a relative path, like the files `download_gpt2` fetches."""
    import tensorflow as tf
    from gpt_2_simple.src import model as gpt2_model

    params = gpt2_model.default_hparams()
    params.override_from_dict(hparams)
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.set_random_seed(seed)
        context = tf.compat.v1.placeholder(tf.int32, [1, None])
        gpt2_model.model(hparams=params, X=context)
        # Only model/* variables, as in OpenAI's checkpoints and gpt-2-simple's own saves.
        variables = [v for v in tf.compat.v1.global_variables() if v.name.startswith("model/")]
        saver = tf.compat.v1.train.Saver(var_list=variables, save_relative_paths=True)
        with tf.compat.v1.Session(graph=graph) as session:
            session.run(tf.compat.v1.variables_initializer(variables))
            saver.save(session, str(folder / "model.ckpt"))


def describe_vocab(stats: dict, *, asked: int) -> None:
    if stats["padded"]:
        print(
            f"corpus yielded {stats['merges']} merges; padded the vocabulary with "
            f"{stats['padded']} unused tokens to reach n_vocab={asked}"
        )
    elif stats["n_vocab"] < asked:
        print(
            f"corpus yielded {stats['merges']} merges: vocabulary of {stats['n_vocab']} ids "
            f"(at most {asked} asked; --exact-vocab pads to it)"
        )


def run(args) -> int:
    started = time.monotonic()
    if not NAME_PATTERN.fullmatch(args.name):
        raise UsageError(f"base model name {args.name!r}: use letters, digits, '.', '_', '-'")
    check_corpus(args.corpus)
    hparams = resolve_hparams(args, corpus_bytes=args.corpus.stat().st_size)
    target = paths.models_dir() / args.name
    if target.exists() and not args.force:
        raise UsageError(f"base model {target} already exists; pass --force to replace it")
    staging = staging_folder(target)
    try:
        exact = args.exact_vocab or args.shape is not None
        stats = tokenizer.train_tokenizer(
            args.corpus, staging, n_vocab=hparams["n_vocab"], exact=exact
        )
        describe_vocab(stats, asked=hparams["n_vocab"])
        hparams["n_vocab"] = stats["n_vocab"]
        (staging / HPARAMS).write_text(json.dumps(hparams, indent=2) + "\n")
        write_random_checkpoint(staging, hparams, seed=args.seed)
        swap_in(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    size = sum(p.stat().st_size for p in target.iterdir()) / 2**20
    print(
        f"base model {args.name}: {target} ({size:.1f} MiB, n_vocab {hparams['n_vocab']}, "
        f"{hparams['n_layer']}x{hparams['n_embd']}, {hparams['n_head']} heads, "
        f"n_ctx {hparams['n_ctx']}) in {time.monotonic() - started:.1f} s"
    )
    return 0
