"""Text quality in a fixed training budget: the default path against the old fixed default.

Corpus: the King James Bible, Genesis 1:1 to 2 Samuel 24:25 (~1.2 MB of public-domain English),
printed by Debian's `bible` program (packages bible-kjv + bible-kjv-text, installed by `make
install`). One document per chapter ("Genesis 1" then one verse per line), separated by
`<|endoftext|>` as `corpus prepare` writes them. Fixed split: the first 90 % of the characters
train (cut at the next chapter end), the rest is validation.

Each case makes a base with `model init`, fine-tunes it for the same budget (`--minutes`, with
validation and the best checkpoint kept, as `make demo` does) and scores the best checkpoint on
the whole validation text:
- nats per character: the summed next-token NLL over the validation tokens / its characters. Unlike
  loss per token it compares models with different vocabularies (a bigger BPE has fewer, harder
  tokens), so it is the headline number; perplexity (per token) is given beside it.
- steps made, tokens/s, and three seeded samples (`model sample`).
Cases: `default` (init's sizing rule for this corpus and budget: make demo's choices) and `fixed`
(the former fixed default: 4 layers x 256, 8000 ids). Target: default at least 0.10 nats/char
lower. The smoke run (part of `make test`) checks the section works: the first chapters, seconds
of training, the default case only, no samples.

`python -m bench.quality [--smoke] [--minutes M]` prints the figures as JSON.
"""

import argparse
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from bench.markdown import table, target
from bench.models import REPO_ROOT, model_cli
from contracts import HPARAMS

SPEC = "Gen1:1-2Sa24:25"
SMOKE_SPEC = "Gen1:1-Gen12:20"
MINUTES = 3.0
SMOKE_MINUTES = 0.05
TARGET_MARGIN = 0.10  # nats per character the default path must gain over the fixed default
CASES = {
    "default": (),
    "fixed": ("--n-layer", "4", "--n-embd", "256", "--n-head", "4", "--vocab-size", "8000"),
}
SAMPLE = ("--prefix", "And it came to pass", "--length", "60", "--nsamples", "3", "--seed", "0")
EOS = "<|endoftext|>"
VERSE = re.compile(r"^\s+\d+ ")


def bible_text(spec: str) -> str:
    if shutil.which("bible") is None:
        raise RuntimeError("the quality corpus needs Debian's bible-kjv package: run make install")
    result = subprocess.run(["bible", spec], capture_output=True, text=True, check=True)
    return result.stdout


def documents(printed: str) -> list[str]:
    """One document per chapter: its heading, then one verse per line. The program prints a
    heading between blank lines, numbers each verse and wraps it at 80 columns; the numbers and
    the wrapping are undone."""
    chapters, lines, after_blank = [], [], True
    for line in printed.splitlines():
        if not line.strip():
            after_blank = True
            continue
        if after_blank and not VERSE.match(line):  # "Genesis 2": a chapter begins
            if lines:
                chapters.append("\n".join(lines))
            lines = [line.strip()]
        elif VERSE.match(line):
            lines.append(VERSE.sub("", line).strip())
        else:
            lines[-1] += " " + line.strip()
        after_blank = False
    chapters.append("\n".join(lines))
    return chapters


def split(chapters: list[str]) -> tuple[str, str]:
    """(train.txt, val.txt): the first 90 % of the characters, cut at the next chapter end."""
    joined = [chapter + f"\n{EOS}\n" for chapter in chapters]
    total, seen = sum(map(len, joined)), 0
    for index, text in enumerate(joined):
        seen += len(text)
        if seen >= 0.9 * total:
            return "".join(joined[: index + 1]), "".join(joined[index + 1 :])
    raise AssertionError("the last chapter ends past 90 %")


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


def samples(data_dir: Path, run: str) -> list[str]:
    """Three seeded samples of the run's best checkpoint, as `model sample` prints them."""
    command = [sys.executable, "-m", "model", "sample", "--run", run, *SAMPLE]
    env = {**os.environ, "GHOST_DATA_DIR": str(data_dir), "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    if result.returncode:
        raise RuntimeError(f"model sample failed:\n{result.stderr[-2000:]}")
    return [text.split("\n", 1)[1].strip() for text in result.stdout.split("=" * 40)[1:]]


def measure(data_dir: Path, case: str, init_flags: tuple, *, minutes: float, smoke: bool) -> dict:
    prepared = data_dir / "prepared"
    base, run = f"{case}-base", f"{case}-run"
    budget = ("--minutes", f"{minutes:g}")
    model_cli(data_dir, "init", base, "--corpus", str(prepared / "train.txt"), *budget, *init_flags)
    train = ("--dataset", str(prepared / "train.txt"), "--val", str(prepared / "val.txt"))
    model_cli(data_dir, "finetune", "--base", base, "--run", run, *train, *budget)
    run_dir = data_dir / "checkpoint" / run
    record = json.loads((run_dir / "run.json").read_text())
    best_dir = run_dir / "best" if record.get("best") else run_dir
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return {
        "hparams": json.loads((run_dir / HPARAMS).read_text()),
        "steps": record["step"],
        "best_step": (record.get("best") or {}).get("step", record["step"]),
        "stop_reason": record["stop_reason"],
        "tokens_per_s": round(record["tokens_trained"] / max(record["elapsed_s"], 1e-9), 1),
        "final_train_loss": rows[-1]["loss"],
        **nats_per_char(best_dir, prepared / "val.txt"),
        # The smoke run skips them: one more TensorFlow start in make test's bench budget.
        "samples": [] if smoke else samples(data_dir, run),
    }


def run(*, smoke: bool, minutes: float | None = None) -> dict:
    minutes = minutes or (SMOKE_MINUTES if smoke else MINUTES)
    train, val = split(documents(bible_text(SMOKE_SPEC if smoke else SPEC)))
    with tempfile.TemporaryDirectory(prefix="bench-quality-") as folder:
        data_dir = Path(folder)
        (data_dir / "prepared").mkdir()
        (data_dir / "prepared" / "train.txt").write_text(train, encoding="utf-8")
        (data_dir / "prepared" / "val.txt").write_text(val, encoding="utf-8")
        chosen = ["default"] if smoke else list(CASES)
        cases = {
            name: measure(data_dir, name, CASES[name], minutes=minutes, smoke=smoke)
            for name in chosen
        }
    margin = None
    if "fixed" in cases:
        margin = round(cases["fixed"]["nats_per_char"] - cases["default"]["nats_per_char"], 4)
    return {
        "corpus": {
            "spec": SMOKE_SPEC if smoke else SPEC,
            "train_chars": len(train),
            "val_chars": len(val),
        },
        "minutes": minutes,
        **cases,
        "margin_nats_per_char": margin,
        "target_margin": TARGET_MARGIN,
        "met": None if margin is None else margin >= TARGET_MARGIN,
    }


def targets(quality: dict | None) -> list[dict]:
    """The report's target row: the default path's margin over the fixed default."""
    if not quality or quality["margin_nats_per_char"] is None:
        return []
    measured = (
        f"{quality['margin_nats_per_char']:+.3f} nats/char "
        f"({quality['fixed']['nats_per_char']:.3f} → {quality['default']['nats_per_char']:.3f})"
    )
    note = f"{quality['minutes']:g} min each on {quality['corpus']['spec']}"
    name = f"default path ≥ {quality['target_margin']:g} nats/char better than 4×256/8000"
    return [target(name, measured, quality["met"], note)]


def report_lines(quality: dict) -> list[str]:
    rows = []
    cases = [case for case in CASES if case in quality]
    for case in cases:
        figures = quality[case]
        shape = figures["hparams"]
        rows.append(
            [
                case,
                f"{shape['n_layer']}×{shape['n_embd']}, {shape['n_vocab']} ids",
                f"{figures['nats_per_char']:.4f}",
                f"{figures['perplexity']:.1f}",
                f"{figures['steps']} (best {figures['best_step']}, {figures['stop_reason']})",
                figures["tokens_per_s"],
            ]
        )
    header = ["case", "shape", "val nats/char", "perplexity", "steps", "tokens/s"]
    lines = [f"### Quality: {quality['minutes']:g} minutes of training on the KJV", ""]
    lines += table(header, rows)
    for case in cases:
        lines += ["", f"{case} samples:", ""]
        lines += [f"> {' / '.join(text.splitlines())[:300]}" for text in quality[case]["samples"]]
    return lines


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.quality", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="a few chapters, seconds of training")
    parser.add_argument(
        "--minutes", type=float, help=f"training budget per case (default {MINUTES:g})"
    )
    args = parser.parse_args()
    print(json.dumps(run(smoke=args.smoke, minutes=args.minutes), indent=2))
