"""Training throughput: tokens/s of `python -m model finetune` on this machine.

- demo: the offline demo model (`model init`'s sizing rule for this corpus and a 4-minute budget)
  with finetune's demo defaults; the smoke run uses the tiny test shape instead.
- gpt2_124m: GPT-2 124M's exact shape (`model init --shape 124M`, random weights), batch 1 of
  1024 tokens, two steps: the first includes TensorFlow's one-off warm-up, the second is the rate.
  Skipped in the smoke run (its checkpoint alone is 500 MB).
- sweep: updates per minute of every shape model/sizing.py chooses from (and the old fixed
  default, 4 x 256 with 8000 ids) at finetune's default batch x 256 with 4096 ids on the quality
  benchmark's KJV text: the figures behind sizing.LADDER. Skipped in the smoke run.
- overfitting: the demo's own corpus (`make demo` leaves it in $GHOST_DATA_DIR/prepared/sample),
  the default shape for 4 minutes, validated every 20 steps: the step with the lowest validation
  loss, and the validation and training loss then and at the end. Skipped without that corpus.
Figures come from the run's own metrics.jsonl (per-step wall time, saving excluded).

`python -m bench.training [--smoke]` prints them as JSON.
"""

import argparse
import json
import resource
import statistics
import tempfile
import time
from pathlib import Path

from bench import quality_corpora
from bench.markdown import table
from bench.models import TINY_SHAPE, model_cli, write_corpus
from contracts import HPARAMS
from model import sizing

# (init flags, finetune flags, steps) per case; the first step is warm-up and not in the rate.
DEMO = ((), (), 30)
DEMO_SMOKE = ((*TINY_SHAPE, "--n-ctx", "128", "--vocab-size", "512"), (), 15)
GPT2_124M = (("--shape", "124M"), ("--batch-size", "1", "--accumulate-gradients", "1"), 2)
OLD_DEFAULT = (4, 256, 4, 8000)
SWEEP_VOCAB = 4096
SWEEP_STEPS = 12
DEMO_MINUTES = 4


def measure(data_dir: Path, name: str, case: tuple) -> dict:
    """Makes base NAME, fine-tunes it for the case's steps, reads the per-step figures."""
    corpus = data_dir / f"{name}.txt"
    write_corpus(corpus, sentences=20000, seed=1)
    return measure_on(data_dir, name, corpus, *case)


def measure_on(
    data_dir: Path, name: str, corpus: Path, init_flags: tuple, finetune_flags=(), steps=SWEEP_STEPS
) -> dict:
    model_cli(data_dir, "init", name, "--corpus", str(corpus), *init_flags)
    started = time.monotonic()
    args = ["--base", name, "--dataset", str(corpus), "--run", f"{name}-run"]
    settings = ["--steps", str(steps), "--sample-every", "0", "--save-every", "100000"]
    model_cli(data_dir, "finetune", *args, *settings, *finetune_flags)
    wall_s = time.monotonic() - started
    run_dir = data_dir / "checkpoint" / f"{name}-run"
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    parameters = json.loads((run_dir / "run.json").read_text())["parameters"]
    hparams = json.loads((data_dir / "models" / name / HPARAMS).read_text())
    rate = statistics.median(row["tokens_per_s"] for row in rows[1:])
    tokens_per_step = rows[-1]["tokens"] // len(rows)
    return {
        "hparams": hparams,
        "batch_size": parameters["batch_size"],
        "tokens_per_step": tokens_per_step,
        "steps": len(rows),
        "tokens_per_s": round(rate, 1),
        "seconds_per_step": round(tokens_per_step / rate, 3),
        "first_step_s": round(rows[0]["elapsed_s"], 2),
        "final_loss": rows[-1]["loss"],
        "finetune_wall_s": round(wall_s, 1),
    }


def sweep(data_dir: Path) -> list[dict]:
    """Seconds per update of each shape in the sizing ladder, and of the old fixed default."""
    corpus = data_dir / "kjv.txt"
    corpus.write_text(quality_corpora.kjv(smoke=False).train)
    shapes = [(*rung[:3], SWEEP_VOCAB) for rung in sizing.LADDER] + [OLD_DEFAULT]
    rows = []
    for n_layer, n_embd, n_head, n_vocab in shapes:
        name = f"sweep-{n_layer}x{n_embd}-{n_vocab}"
        flags = ("--n-layer", str(n_layer), "--n-embd", str(n_embd), "--n-head", str(n_head))
        figures = measure_on(data_dir, name, corpus, (*flags, "--vocab-size", str(n_vocab)))
        rows.append(
            {
                "shape": f"{n_layer}x{n_embd}, {figures['hparams']['n_vocab']} ids",
                "seconds_per_update": figures["seconds_per_step"],
                "updates_per_minute": round(60 / figures["seconds_per_step"], 1),
            }
        )
    return rows


def overfitting(data_dir: Path, prepared: Path) -> dict:
    """Where validation loss bottoms out on the demo corpus with the default shape."""
    if not (prepared / "val.txt").is_file():
        return {"skipped": f"no demo corpus in {prepared}: run make demo first"}
    budget = ("--minutes", str(DEMO_MINUTES))
    model_cli(data_dir, "init", "od-base", "--corpus", str(prepared / "train.txt"), *budget)
    data = ("--dataset", str(prepared / "train.txt"), "--val", str(prepared / "val.txt"))
    watch = ("--val-every", "20", "--patience", "0", "--sample-every", "0")
    model_cli(data_dir, "finetune", "--base", "od-base", "--run", "od", *data, *budget, *watch)
    run_dir = data_dir / "checkpoint" / "od"
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    validated = [row for row in rows if "val_loss" in row]
    best = min(validated, key=lambda row: row["val_loss"])
    return {
        "hparams": json.loads((run_dir / HPARAMS).read_text()),
        "best_step": best["step"],
        "best_at_s": best["elapsed_s"],
        "best_val_loss": best["val_loss"],
        "train_loss_at_best": best["loss"],
        "steps": rows[-1]["step"],
        "last_val_loss": validated[-1]["val_loss"],
        "last_train_loss": rows[-1]["loss"],
    }


def run(*, smoke: bool, demo_prepared: Path | None = None) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-training-") as folder:
        data_dir = Path(folder)
        result = {"demo": measure(data_dir, "demo", DEMO_SMOKE if smoke else DEMO)}
        if smoke:
            result["gpt2_124m"] = result["sweep"] = {"skipped": "smoke run"}
            result["overfitting"] = {"skipped": "smoke run"}
        else:
            result["gpt2_124m"] = measure(data_dir, "gpt2-124m", GPT2_124M)
            result["sweep"] = sweep(data_dir)
            result["overfitting"] = overfitting(data_dir, demo_prepared or Path("none"))
    # ru_maxrss of waited-for children is in KiB on Linux: the largest finetune/init process.
    result["peak_child_rss_mb"] = round(
        resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1
    )
    return result


def sizing_lines(training: dict) -> list[str]:
    """The report's tables behind model/sizing.py: the sweep and the demo corpus's curve."""
    lines = []
    if isinstance(training.get("sweep"), list):
        rows = [
            [r["shape"], r["seconds_per_update"], r["updates_per_minute"]]
            for r in training["sweep"]
        ]
        lines += ["", "Sizing sweep (finetune's default batch × 256, KJV):", ""]
        lines += table(["shape", "s per update", "updates per minute"], rows)
    fit = training.get("overfitting") or {}
    if "best_step" in fit:
        lines += [
            "",
            f"Demo corpus, default shape, {DEMO_MINUTES} min: lowest validation loss "
            f"{fit['best_val_loss']} at step {fit['best_step']} of {fit['steps']} "
            f"(training loss then {fit['train_loss_at_best']}, at the end {fit['last_train_loss']}"
            f"; validation at the end {fit['last_val_loss']}).",
        ]
    return lines


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.training", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny model only: seconds")
    print(json.dumps(run(smoke=parser.parse_args().smoke), indent=2))
