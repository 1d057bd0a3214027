"""The learning rate of each training step (pure functions; `model finetune` applies them).

- `constant`: the peak rate throughout (gpt-2-simple's own way).
- `cosine`: a linear warm-up from a tenth of the peak over the first WARMUP of the run, then a
  cosine decay to a tenth of the peak at its end. The run's end is its step limit or its time
  budget, whichever comes first; with neither, the rate is the peak throughout.
  A small model trained from random weights for a few minutes is the case it is for: the early
  updates are the noisiest, and the last ones polish the weights at a small rate.
"""

import math

SCHEDULES = ("constant", "cosine")
WARMUP = 0.05  # fraction of the run
FLOOR = 0.1  # the rate at the start of the warm-up and at the end, as a fraction of the peak


def progress(*, step: int, total_steps: int | None, elapsed_s: float, budget_s: float | None):
    """How far through the run a step is (0..1), by the limit nearest its end; None without one."""
    fractions = []
    if total_steps:
        fractions.append(step / total_steps)
    if budget_s:
        fractions.append(elapsed_s / budget_s)
    return min(1.0, max(fractions)) if fractions else None


def learning_rate(peak: float, schedule: str, run_progress: float | None) -> float:
    if schedule == "constant":
        return peak
    if schedule != "cosine":
        raise ValueError(f"unknown learning-rate schedule {schedule!r}")
    if run_progress is None:
        return peak
    if run_progress < WARMUP:
        return peak * (FLOOR + (1 - FLOOR) * run_progress / WARMUP)
    decay = (run_progress - WARMUP) / (1 - WARMUP)
    return peak * (FLOOR + (1 - FLOOR) * 0.5 * (1 + math.cos(math.pi * decay)))
