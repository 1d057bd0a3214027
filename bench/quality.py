"""Text quality in a fixed training budget: the default path, the recipes before it, and a sweep
of what the recipe chooses, on two corpora (bench/quality_corpora.py: the KJV and fortunes).

Each case makes a base with `model init`, fine-tunes it for the same budget (`--minutes`, with
validation and the best checkpoint kept, as `make demo` does) and scores the best checkpoint on
the corpus's whole validation text:
- nats per character: the summed next-token NLL over the validation tokens / its characters. Unlike
  loss per token it compares models with different vocabularies (a bigger BPE has fewer, harder
  tokens), so it is the headline number; perplexity (per token) is given beside it.
- steps made and tokens/s: a fixed time budget on a shared host buys a varying number of steps.
- for `default` and `previous`: 24 seeded samples (8 per seed) with the API's default settings
  (`model sample`), and the share of them with three or more empty lines in a row.
Cases (init flags, finetune flags): `default` (init's sizing rule and finetune's defaults, what
`make demo` does); `previous` (the recipe before this sweep: 4×128, 2048 ids);
`fixed` (the older fixed default: 4×256, 8000 ids; both at batch 8 and a constant 1e-3); then
the sweep, each case the default with one choice changed: vocabulary, depth, peak rate,
schedule, batch × context.
Targets: default at least 0.05 nats/char better than `previous` and 0.10 better than `fixed` on
both corpora; at most 5 % of default samples with three empty lines in a row.
The smoke run (part of `make test`) checks the section works: small slices of both corpora,
seconds of training, the default case only, the samples of one seed.

`python -m bench.quality [--smoke] [--minutes M] [--corpus NAME] [--case NAME]` prints JSON.
"""

import argparse
import json
import math
import re
import sys
import tempfile
from pathlib import Path

import numpy as np

from bench.markdown import table, target
from bench.models import model_cli
from bench.quality_corpora import CORPORA
from contracts import HPARAMS
from model.sample import SEPARATOR

MINUTES = 3.0
SMOKE_MINUTES = 0.05
TARGET_OVER_PREVIOUS = 0.05  # nats per character the default must gain over `previous`
TARGET_OVER_FIXED = 0.10
TARGET_BLANK_RUNS = 0.05  # share of default samples with three empty lines in a row
CONSTANT = ("--lr-schedule", "constant")
# The finetune settings of both earlier recipes: batch 8, rate 1e-3 throughout.
EARLIER = ("--batch-size", "8", "--learning-rate", "1e-3", *CONSTANT)
CASES = {
    "default": ((), ()),
    "previous": (
        ("--n-layer", "4", "--n-embd", "128", "--n-head", "4", "--vocab-size", "2048"),
        EARLIER,
    ),
    "fixed": (
        ("--n-layer", "4", "--n-embd", "256", "--n-head", "4", "--vocab-size", "8000"),
        EARLIER,
    ),
    "1024 ids": (("--vocab-size", "1024"), ()),
    "2048 ids": (("--vocab-size", "2048"), ()),
    "8192 ids": (("--vocab-size", "8192"), ()),
    "4 layers": (("--n-layer", "4"), ()),
    "peak rate 1e-3": ((), ("--learning-rate", "1e-3")),
    "peak rate 4e-3": ((), ("--learning-rate", "4e-3")),
    "constant rate": ((), CONSTANT),
    "8 × 256 tokens": ((), ("--batch-size", "8")),
    # The same tokens per update as the default's 4 × 256, in shorter windows.
    "8 × 128 tokens": (("--n-ctx", "128"), ("--batch-size", "8")),
}
SAMPLED = ("default", "previous")
SAMPLE_SEEDS = (0, 1, 2)  # × 8 samples each: the API's most per request
BLANK_RUN = re.compile(r"\n[ \t]*\n[ \t]*\n[ \t]*\n")  # three empty lines in a row


def nats_per_char(model_dir: Path, val_path: Path) -> dict:
    from model import native_logs, scoring, token_data

    tokens = token_data.encode_file(model_dir, val_path, what="validation text")
    n_ctx = json.loads((model_dir / HPARAMS).read_text())["n_ctx"]
    pieces = token_data.windows(tokens, n_ctx=n_ctx)
    # TensorFlow runs in this process: its start-up lines are kept off the console as the
    # model CLI keeps them (the training runs are that CLI).
    with native_logs.filtered_stderr(verbose=False):
        logprobs = scoring.token_logprobs(model_dir, pieces)
    logprobs = np.concatenate(logprobs).astype(np.float64)
    chars = len(val_path.read_text(encoding="utf-8"))
    return {
        "nats_per_char": round(float(-logprobs.sum() / chars), 4),
        "perplexity": round(math.exp(float(-logprobs.mean())), 2),
        "val_tokens": int(len(tokens)),
        "val_chars": chars,
    }


def samples(data_dir: Path, run: str, prefix: str, seeds) -> list[str]:
    """Seeded samples of the run's best checkpoint with the API's defaults, as `model sample`
    prints them (8 per seed)."""
    texts = []
    for seed in seeds:
        flags = ["--prefix", prefix, "--nsamples", "8", "--seed", str(seed)]
        printed = model_cli(data_dir, "sample", "--run", run, *flags)
        texts += [text.split("\n", 1)[1] for text in printed.split(SEPARATOR)[1:]]
    return texts


def blank_run_share(texts: list[str]) -> float:
    """The share of texts with three or more empty lines in a row."""
    return round(sum(bool(BLANK_RUN.search(text)) for text in texts) / len(texts), 3)


def measure(data_dir: Path, case: str, corpus, *, minutes: float, smoke: bool) -> dict:
    init_flags, finetune_flags = CASES[case]
    prepared = data_dir / "prepared"
    slug = re.sub(r"[^a-z0-9]+", "-", case.lower())
    base, run = f"{slug}-base", f"{slug}-run"
    budget = ("--minutes", f"{minutes:g}")
    model_cli(data_dir, "init", base, "--corpus", str(prepared / "train.txt"), *budget, *init_flags)
    train = ("--dataset", str(prepared / "train.txt"), "--val", str(prepared / "val.txt"))
    model_cli(data_dir, "finetune", "--base", base, "--run", run, *train, *budget, *finetune_flags)
    run_dir = data_dir / "checkpoint" / run
    record = json.loads((run_dir / "run.json").read_text())
    best_dir = run_dir / "best" if record.get("best") else run_dir
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    figures = {
        "hparams": json.loads((run_dir / HPARAMS).read_text()),
        "finetune": {
            k: record["parameters"][k] for k in ("batch_size", "learning_rate", "lr_schedule")
        },
        "steps": record["step"],
        "best_step": (record.get("best") or {}).get("step", record["step"]),
        "stop_reason": record["stop_reason"],
        "tokens_per_s": round(record["tokens_trained"] / max(record["elapsed_s"], 1e-9), 1),
        "final_train_loss": rows[-1]["loss"],
        **nats_per_char(best_dir, prepared / "val.txt"),
    }
    if case in SAMPLED:
        texts = samples(
            data_dir, run, corpus.sample_prefix, SAMPLE_SEEDS[:1] if smoke else SAMPLE_SEEDS
        )
        figures["samples"] = texts[:3]
        figures["blank_run_share"] = blank_run_share(texts)
        figures["samples_judged"] = len(texts)
    return figures


def run_corpus(corpus, cases: list[str], *, minutes: float, smoke: bool) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-quality-") as folder:
        data_dir = Path(folder)
        (data_dir / "prepared").mkdir()
        (data_dir / "prepared" / "train.txt").write_text(corpus.train, encoding="utf-8")
        (data_dir / "prepared" / "val.txt").write_text(corpus.val, encoding="utf-8")
        measured = {}
        for case in cases:
            measured[case] = measure(data_dir, case, corpus, minutes=minutes, smoke=smoke)
            print(
                f"quality {corpus.name} {case}: {measured[case]['nats_per_char']}",
                file=sys.stderr,
                flush=True,
            )
    result = {
        "source": corpus.source,
        "train_chars": len(corpus.train),
        "val_chars": len(corpus.val),
        "cases": measured,
    }
    for other in ("previous", "fixed"):
        if "default" in measured and other in measured:
            margin = measured[other]["nats_per_char"] - measured["default"]["nats_per_char"]
            result[f"margin_over_{other}"] = round(margin, 4)
    return result


def run(*, smoke: bool, minutes: float | None = None, corpora=None, cases=None) -> dict:
    minutes = minutes or (SMOKE_MINUTES if smoke else MINUTES)
    cases = cases or (["default"] if smoke else list(CASES))
    results = {
        name: run_corpus(CORPORA[name](smoke=smoke), cases, minutes=minutes, smoke=smoke)
        for name in corpora or CORPORA
    }
    return {
        "minutes": minutes,
        "corpora": results,
        "targets": {
            "over_previous": TARGET_OVER_PREVIOUS,
            "over_fixed": TARGET_OVER_FIXED,
            "blank_runs": TARGET_BLANK_RUNS,
        },
    }


def targets(quality: dict | None) -> list[dict]:
    """The report's target rows: per corpus, the default's margins and its blank-line runs."""
    if not quality:
        return []
    rows = []
    for name, result in quality["corpora"].items():
        cases, note = result["cases"], f"{quality['minutes']:g} min each on {result['source']}"
        for other, goal in (("previous", TARGET_OVER_PREVIOUS), ("fixed", TARGET_OVER_FIXED)):
            margin = result.get(f"margin_over_{other}")
            if margin is None:
                continue
            shown = (
                f"{margin:+.3f} nats/char ({cases[other]['nats_per_char']:.3f} → "
                f"{cases['default']['nats_per_char']:.3f})"
            )
            rows.append(
                target(
                    f"{name}: default ≥ {goal:g} nats/char better than {other}",
                    shown,
                    margin >= goal,
                    note,
                )
            )
        share = cases["default"].get("blank_run_share")
        # Judged on the full run's samples: a smoke run's eight say nothing at 5 %.
        if share is not None and cases["default"]["samples_judged"] >= 8 * len(SAMPLE_SEEDS):
            shown = f"{share:.0%} of {cases['default']['samples_judged']}"
            rows.append(
                target(
                    f"{name}: default samples with 3 empty lines in a row ≤ 5 %",
                    shown,
                    share <= TARGET_BLANK_RUNS,
                    note,
                )
            )
    return rows


def shape_text(figures: dict) -> str:
    shape, settings = figures["hparams"], figures["finetune"]
    return (
        f"{shape['n_layer']}×{shape['n_embd']}, {shape['n_vocab']} ids, "
        f"{settings['batch_size']}×{shape['n_ctx']}, "
        f"{settings['learning_rate']:g} {settings['lr_schedule']}"
    )


def report_lines(quality: dict) -> list[str]:
    header = ["case", "recipe", "val nats/char", "perplexity", "steps", "tokens/s", "blank runs"]
    lines = [f"### Quality: {quality['minutes']:g} minutes of training per case"]
    for result in quality["corpora"].values():
        rows = []
        for case, figures in result["cases"].items():
            share = figures.get("blank_run_share")
            rows.append(
                [
                    case,
                    shape_text(figures),
                    f"{figures['nats_per_char']:.4f}",
                    f"{figures['perplexity']:.1f}",
                    f"{figures['steps']} (best {figures['best_step']}, {figures['stop_reason']})",
                    figures["tokens_per_s"],
                    "" if share is None else f"{share:.0%}",
                ]
            )
        lines += [
            "",
            f"{result['source']}: {result['train_chars']:,} characters train, "
            f"{result['val_chars']:,} validate",
            "",
        ]
        lines += table(header, rows)
        for case in SAMPLED:
            if result["cases"].get(case, {}).get("samples"):
                lines += ["", f"{case} samples:", ""]
                lines += [
                    f"> {' / '.join(t.strip().splitlines())[:300]}"
                    for t in result["cases"][case]["samples"]
                ]
    return lines


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.quality", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="small slices, seconds of training")
    parser.add_argument(
        "--minutes", type=float, help=f"training budget per case (default {MINUTES:g})"
    )
    parser.add_argument(
        "--corpus", action="append", choices=list(CORPORA), help="only this corpus (repeatable)"
    )
    parser.add_argument(
        "--case",
        action="append",
        choices=list(CASES),
        help="only this case (repeatable)",
    )
    args = parser.parse_args()
    result = run(smoke=args.smoke, minutes=args.minutes, corpora=args.corpus, cases=args.case)
    print(json.dumps(result, indent=2))
