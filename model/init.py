"""`python -m model init NAME --corpus TRAIN_TXT`: a base model made here, without internet.

Trains a byte-level BPE on the corpus and saves randomly initialised GPT-2 weights built by
gpt-2-simple's own model code, in a downloaded model's layout (`models/NAME/`: hparams.json,
encoder.json, vocab.bpe, checkpoint, model.ckpt.*), so finetune, evaluate and export treat it
exactly like `model download`'s.

The vocabulary has exactly --vocab-size ids (50257 for --shape 124M). A corpus too small to learn
that many merges gets unused filler ids (see tokenizer.pad_tokens): the embedding's shape is what
benchmarks and hparams promise, and no text ever encodes to a filler.
"""

import json
import re
import shutil
import time
from pathlib import Path

from model import paths, tokenizer
from model.errors import UsageError
from model.staging import staging_folder, swap_in

# Defaults for the offline demo model: small enough to train visibly in a few CPU minutes.
DEFAULTS = {"n_vocab": 8000, "n_ctx": 256, "n_embd": 256, "n_head": 4, "n_layer": 4}
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
    parser.add_argument("--vocab-size", type=int, help=f"default {DEFAULTS['n_vocab']}")
    parser.add_argument("--n-layer", type=int, help=f"default {DEFAULTS['n_layer']}")
    parser.add_argument("--n-embd", type=int, help=f"default {DEFAULTS['n_embd']}")
    parser.add_argument("--n-head", type=int, help=f"default {DEFAULTS['n_head']}")
    parser.add_argument("--n-ctx", type=int, help=f"default {DEFAULTS['n_ctx']}")
    parser.add_argument(
        "--shape", choices=sorted(SHAPES), help="GPT-2's exact dimensions (random weights)"
    )
    parser.add_argument("--seed", type=int, default=0, help="weight initialisation seed")
    parser.add_argument("--force", action="store_true", help="replace an existing base model")


def resolve_hparams(args) -> dict:
    """hparams.json's content from the flags: a named shape, or defaults overridden by flags."""
    given = {key: getattr(args, flag) for key, flag in FLAGS.items()}
    given = {key: value for key, value in given.items() if value is not None}
    if args.shape:
        if given:
            names = ", ".join(f"--{FLAGS[k].replace('_', '-')}" for k in given)
            raise UsageError(f"--shape {args.shape} fixes every dimension; drop {names}")
        return dict(SHAPES[args.shape])
    hparams = {**DEFAULTS, **given}
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


def run(args) -> int:
    started = time.monotonic()
    if not NAME_PATTERN.fullmatch(args.name):
        raise UsageError(f"base model name {args.name!r}: use letters, digits, '.', '_', '-'")
    hparams = resolve_hparams(args)
    check_corpus(args.corpus)
    target = paths.models_dir() / args.name
    if target.exists() and not args.force:
        raise UsageError(f"base model {target} already exists; pass --force to replace it")
    staging = staging_folder(target)
    try:
        stats = tokenizer.train_tokenizer(args.corpus, staging, n_vocab=hparams["n_vocab"])
        if stats["padded"]:
            print(
                f"corpus yielded {stats['merges']} merges; padded the vocabulary with "
                f"{stats['padded']} unused tokens to reach n_vocab={hparams['n_vocab']}"
            )
        (staging / "hparams.json").write_text(json.dumps(hparams, indent=2) + "\n")
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
