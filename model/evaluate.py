"""`python -m model evaluate --run RUN --data PREPARED_DIR [--baseline NAME]`: fine-tuned vs base.

For the run's best checkpoint (--checkpoint latest for the last one) and for a baseline (by
default the base model it was fine-tuned from):
- the headline: validation loss over all of val.txt in nats per character (the summed
  next-token NLL / the text's characters), which compares models with different vocabularies,
  and perplexity per token, exp(mean NLL). Tokens as training sees them (each separator the one
  end id), read in context-sized windows overlapping by one token: every token but the first is
  scored once;
- test.jsonl's held-out endings: each prompt continued by 20 words (fixed seed), scored against
  the references with sacrebleu's corpus BLEU and chrF. These count n-grams shared with one
  reference ending of a sampled continuation: a check that the text is on topic, not a quality
  measure. They reward safe, common words, swing with the sampling seed, and rated an untrained
  model above a trained one; read them beside the samples, never as the score.
Writes checkpoint/RUN/eval.json (atomically) and prints the two side by side.

eval.json: {"format": 1, "run", "step", "data": {"dir", "val_sha256", "test_examples"},
"settings": {...}, "finetuned": RESULT, "baseline": RESULT, "summary": {headline numbers},
"examples": [{"id", "reference", "finetuned", "baseline"}], "evaluated_at"};
RESULT: {"model", "path", "step", "nats_per_char", "perplexity", "nll", "tokens_scored",
"chars", "bleu", "chrf", "seconds"}.
"""

import argparse
import json
import math
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from cli import UsageError
from contracts import read_hparams
from model import best_checkpoint, checkpoint_file, paths, run_record, scoring, token_data
from model.continuation import continue_prompts

FORMAT = 1
WORDS = 20
# Sampling for the held-out endings: GPT-2's usual top-k with a slightly cool temperature.
TEMPERATURE = 0.7
TOP_K = 40
SCORING_BATCH = 8


def add_arguments(parser) -> None:
    parser.description = __doc__
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--run", required=True, help="fine-tuned run in $GHOST_DATA_DIR/checkpoint")
    parser.add_argument(
        "--data", required=True, type=Path, help="prepared folder with val.txt and test.jsonl"
    )
    parser.add_argument(
        "--baseline", help="base model to compare with (default: the run's own base model)"
    )
    parser.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    parser.add_argument(
        "--checkpoint",
        choices=best_checkpoint.CHOICES,
        default="best",
        help="the run's best (lowest validation loss; the latest when it has none) or latest",
    )


def read_test(path: Path) -> list[dict]:
    if not path.is_file():
        raise UsageError(f"{path} not found; `python -m corpus prepare` writes test.jsonl")
    examples = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            example = json.loads(line)
        except json.JSONDecodeError as error:
            raise UsageError(f"{path} line {number} is not JSON ({error})") from None
        if not isinstance(example, dict) or not all(
            isinstance(example.get(key), str) for key in ("id", "prompt", "reference")
        ):
            raise UsageError(f"{path} line {number} needs string fields id, prompt and reference")
        examples.append(example)
    if not examples:
        raise UsageError(f"{path} has no examples; re-run `python -m corpus prepare`")
    return examples


def baseline_path(args, run_dir: Path) -> tuple[str, Path]:
    name = args.baseline or (run_record.read(run_dir) or {}).get("base")
    if not name:
        raise UsageError(f"{run_dir} has no run.json naming its base model; pass --baseline NAME")
    return name, paths.base_path(name)


def perplexity(model_dir: Path, val_tokens: np.ndarray, *, chars: int) -> dict:
    """exp(mean NLL) over every val token but the first, and the summed NLL per character of the
    text the tokens spell, in nats."""
    n_ctx = read_hparams(model_dir)["n_ctx"]
    pieces = token_data.windows(val_tokens, n_ctx=n_ctx)
    logprobs = np.concatenate(
        scoring.token_logprobs(model_dir, pieces, batch_size=SCORING_BATCH)
    ).astype(np.float64)
    nll = float(-logprobs.mean())
    return {
        "nats_per_char": float(-logprobs.sum()) / chars,
        "perplexity": math.exp(nll),
        "nll": nll,
        "tokens_scored": int(len(logprobs)),
        "chars": chars,
    }


def endings(model_dir: Path, examples: list[dict], *, seed: int) -> tuple[list[str], dict]:
    import sacrebleu

    prompts = [example["prompt"] for example in examples]
    hypotheses = continue_prompts(
        model_dir, prompts, words=WORDS, seed=seed, temperature=TEMPERATURE, top_k=TOP_K
    )
    references = [" ".join(example["reference"].split()) for example in examples]
    scores = {
        "bleu": sacrebleu.corpus_bleu(hypotheses, [references]).score,
        "chrf": sacrebleu.corpus_chrf(hypotheses, [references]).score,
    }
    return hypotheses, scores


def evaluate_model(label: str, model_dir: Path, val_path: Path, examples, *, seed: int):
    """One model's numbers and continuations. val.txt is read with the model's own tokenizer (a
    baseline may have another vocabulary)."""
    started = time.monotonic()
    val_tokens = token_data.encode_file(model_dir, val_path, what="validation text")
    if len(val_tokens) < 2:
        raise UsageError(f"{val_path} has {len(val_tokens)} token; perplexity needs at least 2")
    print(f"{label}: perplexity over {len(val_tokens):,} val tokens…", flush=True)
    result = {
        "model": label,
        "path": str(model_dir),
        "step": checkpoint_file.latest_step(model_dir),
        **perplexity(model_dir, val_tokens, chars=len(val_path.read_text(encoding="utf-8"))),
    }
    print(f"{label}: continuing {len(examples)} test prompts by {WORDS} words…", flush=True)
    hypotheses, scores = endings(model_dir, examples, seed=seed)
    result.update(scores, seconds=round(time.monotonic() - started, 2))
    return result, hypotheses


def write_atomically(path: Path, record: dict) -> None:
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.fchmod(fd, 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(record, out, indent=2, ensure_ascii=False)
        out.write("\n")
    os.replace(temp, path)


def table(finetuned: dict, baseline: dict) -> str:
    left = f"fine-tuned ({finetuned['model']}, step {finetuned['step']})"
    right = f"base ({baseline['model']})"
    width = max(len(left), 12)
    rows = [f"{'':<12}  {left:>{width}}  {right:>{max(len(right), 12)}}"]
    for key, label, digits in [
        ("nats_per_char", "nats/char", 4),
        ("perplexity", "perplexity", 2),
        ("bleu", "BLEU", 2),
        ("chrf", "chrF", 2),
    ]:
        rows.append(
            f"{label:<12}  {finetuned[key]:>{width}.{digits}f}  "
            f"{baseline[key]:>{max(len(right), 12)}.{digits}f}"
        )
    return "\n".join(rows)


def check_data(folder: Path) -> None:
    if not folder.is_dir():
        raise UsageError(
            f"prepared folder {folder} not found; make one with "
            "`python -m corpus prepare IN_DIR OUT_DIR`"
        )


def build_record(run_dir: Path, args, val_sha: str, examples, results) -> dict:
    (finetuned, ft_texts), (baseline, base_texts) = results
    return {
        "format": FORMAT,
        "run": run_dir.name,
        "step": finetuned["step"],
        "data": {
            "dir": str(args.data.resolve()),
            "val_sha256": val_sha,
            "test_examples": len(examples),
        },
        "settings": {
            "words": WORDS,
            "seed": args.seed,
            "temperature": TEMPERATURE,
            "top_k": TOP_K,
        },
        "finetuned": finetuned,
        "baseline": baseline,
        "summary": {
            "step": finetuned["step"],
            "nats_per_char": finetuned["nats_per_char"],
            "perplexity": finetuned["perplexity"],
            "bleu": finetuned["bleu"],
            "chrf": finetuned["chrf"],
            "baseline": baseline["model"],
            "baseline_nats_per_char": baseline["nats_per_char"],
            "baseline_perplexity": baseline["perplexity"],
            "baseline_bleu": baseline["bleu"],
            "baseline_chrf": baseline["chrf"],
        },
        "examples": [
            {"id": ex["id"], "reference": ex["reference"], "finetuned": ft, "baseline": base}
            for ex, ft, base in zip(examples, ft_texts, base_texts, strict=True)
        ],
        "evaluated_at": run_record.now(),
    }


def run(args) -> int:
    run_dir = paths.run_path(args.run)
    model_dir, why = best_checkpoint.select(run_dir, args.checkpoint)
    print(f"evaluating {why}", flush=True)
    base_name, base_dir = baseline_path(args, run_dir)
    check_data(args.data)
    val_path = args.data / "val.txt"
    examples = read_test(args.data / "test.jsonl")
    token_data.read_text(val_path, what="validation text")
    results = [
        evaluate_model(run_dir.name, model_dir, val_path, examples, seed=args.seed),
        evaluate_model(base_name, base_dir, val_path, examples, seed=args.seed),
    ]
    record = build_record(run_dir, args, token_data.sha256_file(val_path), examples, results)
    write_atomically(run_dir / "eval.json", record)
    print(table(record["finetuned"], record["baseline"]))
    print(f"wrote {run_dir / 'eval.json'}")
    return 0
