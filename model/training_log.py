"""A run's training record: `metrics.jsonl` (one row per step), the progress line, `loss.png`.

metrics.jsonl rows: {"step", "loss", "tokens", "tokens_per_s", "elapsed_s"} plus "val_loss" on
the steps where validation ran, "best": true where that was a new best (saved as best/), and
"overfitting": true where validation loss rose while training loss fell. `tokens` (trained so
far) and `elapsed_s` (training time) are summed over every session of the run, so a resumed run
continues the same curves.
"""

import json
import math
import os
import tempfile
from pathlib import Path

METRICS = "metrics.jsonl"
PLOT = "loss.png"


def read_metrics(run_dir: Path) -> list[dict]:
    """Rows in order; a last line cut short by a crash is skipped, not fatal."""
    path = run_dir / METRICS
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


def keep_metrics_before(run_dir: Path, step: int) -> list[dict]:
    """Drops rows after the last saved checkpoint: a resumed run trains those steps again."""
    rows = [row for row in read_metrics(run_dir) if row["step"] <= step]
    fd, temp = tempfile.mkstemp(prefix=".metrics.", dir=run_dir)
    os.fchmod(fd, 0o644)  # as readable as the files gpt-2-simple writes beside it
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.writelines(json.dumps(row) + "\n" for row in rows)
    os.replace(temp, run_dir / METRICS)
    return rows


def append_metric(run_dir: Path, row: dict) -> None:
    with (run_dir / METRICS).open("a", encoding="utf-8") as out:
        out.write(json.dumps(row) + "\n")


def format_duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def eta_seconds(
    *,
    step: int,
    total_steps: int | None,
    seconds_per_step: float,
    elapsed_s: float,
    budget_s: float | None,
) -> float:
    """Time left until the first stop condition: the step count or the time budget."""
    left = math.inf if total_steps is None else (total_steps - step) * seconds_per_step
    if budget_s is not None:
        left = min(left, budget_s - elapsed_s)
    return max(left, 0.0)


def progress_line(row: dict, *, total_steps: int | None, eta_s: float) -> str:
    of = "" if total_steps is None else f"/{total_steps}"
    parts = [f"step {row['step']}{of}", f"loss {row['loss']:.3f}"]
    if "val_loss" in row:
        parts.append(f"val {row['val_loss']:.3f}")
    parts += [
        f"{row['tokens_per_s']:,.0f} tok/s",
        f"elapsed {format_duration(row['elapsed_s'])}",
        f"ETA {format_duration(eta_s)}",
    ]
    return " | ".join(parts)


def smoothed(values: list[float], *, weight: float = 0.9) -> list[float]:
    """Exponential moving average with bias correction, like TensorBoard's smoothing."""
    out, average = [], 0.0
    for count, value in enumerate(values, start=1):
        average = weight * average + (1 - weight) * value
        out.append(average / (1 - weight**count))
    return out


def plot_losses(run_dir: Path, rows: list[dict]) -> None:
    """loss.png: train loss (raw and smoothed) and validation loss against the step."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(figsize=(8, 4.5), dpi=100)
    steps = [row["step"] for row in rows]
    losses = [row["loss"] for row in rows]
    axes.plot(steps, losses, color="tab:blue", alpha=0.25, linewidth=0.8)
    axes.plot(steps, smoothed(losses), color="tab:blue", label="train")
    validated = [row for row in rows if "val_loss" in row and math.isfinite(row["val_loss"])]
    if validated:
        axes.plot(
            [row["step"] for row in validated],
            [row["val_loss"] for row in validated],
            color="tab:orange",
            marker="o",
            markersize=3,
            label="validation",
        )
    axes.set_xlabel("step")
    axes.set_ylabel("loss (nats per token)")
    axes.set_title(f"{run_dir.name}: training loss")
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    fd, temp = tempfile.mkstemp(prefix=".loss.", suffix=".png", dir=run_dir)
    os.fchmod(fd, 0o644)
    os.close(fd)
    figure.savefig(temp, format="png")
    pyplot.close(figure)
    os.replace(temp, run_dir / PLOT)
