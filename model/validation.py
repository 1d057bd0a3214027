"""What each validation in fine-tuning means: a new best, a sign of overfitting, or time to stop.

Pure bookkeeping (no TensorFlow): the training watch feeds it one (step, training loss, validation
loss) per validation and acts on the verdict. Losses are nats per token. The training loss given is
the mean over the steps since the previous validation: one step's loss is too noisy to compare.
"""

import math
from dataclasses import dataclass

# A validation loss within this fraction of the best is noise, not overfitting: in a CI run the
# demo's validation moved 4.577 → 4.588 (+0.24 %) from one check to the next and was warned of.
OVERFITTING_MARGIN = 0.01


@dataclass(frozen=True)
class Verdict:
    improved: bool  # a new lowest validation loss: save it as the best checkpoint
    warning: str | None  # one line to print: validation rose (past noise) while training fell
    stop: bool  # `patience` validations in a row without a new best


@dataclass
class ValidationTracker:
    patience: int  # validations without a new best before stopping; 0: never stop early
    best_step: int | None = None
    best_loss: float = math.inf
    since_best: int = 0
    last: tuple[float, float] | None = None  # (training loss, validation loss) of the last one
    last_step: int = 0  # step of the last validation (0: none yet)

    def record(self, *, step: int, train_loss: float, val_loss: float) -> Verdict:
        improved = val_loss < self.best_loss
        if improved:
            self.best_step, self.best_loss, self.since_best = step, val_loss, 0
        else:
            self.since_best += 1
        warning = None
        rose = self.last is not None and val_loss > self.last[1]
        beyond_noise = val_loss > self.best_loss * (1 + OVERFITTING_MARGIN)
        if rose and beyond_noise and train_loss < self.last[0]:
            warning = (
                f"warning: step {step}: validation loss rose {self.last[1]:.3f} → {val_loss:.3f} "
                f"while training loss fell {self.last[0]:.3f} → {train_loss:.3f} (overfitting); "
                f"the best checkpoint (step {self.best_step}, {self.best_loss:.3f}) is kept"
            )
        self.last, self.last_step = (train_loss, val_loss), step
        stop = self.patience > 0 and self.since_best >= self.patience
        return Verdict(improved=improved, warning=warning, stop=stop)

    def stop_message(self) -> str:
        return (
            f"early stop: no better validation loss in {self.since_best} validations; the best "
            f"was {self.best_loss:.3f} at step {self.best_step}"
        )


def train_loss_since(rows: list[dict], after_step: int) -> float:
    """Mean training loss of the metrics rows after `after_step` (the previous validation)."""
    losses = [row["loss"] for row in rows if row["step"] > after_step]
    return sum(losses) / len(losses)


def restore(rows: list[dict], *, patience: int, best: dict | None) -> ValidationTracker:
    """The tracker as a resumed run left it, from its metrics rows and its best checkpoint."""
    tracker = ValidationTracker(patience=patience)
    if best is not None:
        tracker.best_step, tracker.best_loss = best["step"], best["val_loss"]
    validated = [row for row in rows if "val_loss" in row]
    if tracker.best_step is not None:
        tracker.since_best = sum(row["step"] > tracker.best_step for row in validated)
    if validated:
        before = validated[-2]["step"] if len(validated) > 1 else 0
        last = validated[-1]
        kept = [row for row in rows if row["step"] <= last["step"]]
        tracker.last = (train_loss_since(kept, before), last["val_loss"])
        tracker.last_step = last["step"]
    return tracker
