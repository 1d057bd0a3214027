"""Training throughput: tokens/s of `python -m model finetune` on this machine.

- demo: the offline demo model (`model init` defaults: 4 layers x 256, n_ctx 256, 8000 ids) with
  finetune's demo defaults (batch 8); the smoke run uses the tiny test shape instead.
- gpt2_124m: GPT-2 124M's exact shape (`model init --shape 124M`, random weights), batch 1 of
  1024 tokens, two steps: the first includes TensorFlow's one-off warm-up, the second is the rate.
  Skipped in the smoke run (its checkpoint alone is 500 MB).
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

from bench.models import TINY_SHAPE, model_cli, write_corpus

# (init flags, finetune flags, steps) per case; the first step is warm-up and not in the rate.
DEMO = ((), ("--batch-size", "8"), 30)
DEMO_SMOKE = ((*TINY_SHAPE, "--n-ctx", "128", "--vocab-size", "512"), ("--batch-size", "8"), 15)
GPT2_124M = (("--shape", "124M"), ("--batch-size", "1", "--accumulate-gradients", "1"), 2)


def measure(data_dir: Path, name: str, case: tuple) -> dict:
    """Makes base NAME, fine-tunes it for the case's steps, reads the per-step figures."""
    init_flags, finetune_flags, steps = case
    corpus = data_dir / f"{name}.txt"
    write_corpus(corpus, sentences=20000, seed=1)
    model_cli(data_dir, "init", name, "--corpus", str(corpus), *init_flags)
    started = time.monotonic()
    args = ["--base", name, "--dataset", str(corpus), "--run", f"{name}-run"]
    settings = ["--steps", str(steps), "--sample-every", "0", "--save-every", "100000"]
    model_cli(data_dir, "finetune", *args, *settings, *finetune_flags)
    wall_s = time.monotonic() - started
    run_dir = data_dir / "checkpoint" / f"{name}-run"
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    parameters = json.loads((run_dir / "run.json").read_text())["parameters"]
    hparams = json.loads((data_dir / "models" / name / "hparams.json").read_text())
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


def run(*, smoke: bool) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-training-") as folder:
        data_dir = Path(folder)
        result = {"demo": measure(data_dir, "demo", DEMO_SMOKE if smoke else DEMO)}
        if smoke:
            result["gpt2_124m"] = {"skipped": "smoke run"}
        else:
            result["gpt2_124m"] = measure(data_dir, "gpt2-124m", GPT2_124M)
    # ru_maxrss of waited-for children is in KiB on Linux: the largest finetune/init process.
    result["peak_child_rss_mb"] = round(
        resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1
    )
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.training", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny model only: seconds")
    print(json.dumps(run(smoke=parser.parse_args().smoke), indent=2))
