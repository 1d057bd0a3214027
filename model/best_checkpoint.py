"""`checkpoint/RUN/best/`: the weights with the lowest validation loss, beside the run's latest.

The folder is a model in gpt-2-simple's layout of its own (hparams.json, encoder.json, vocab.bpe,
`checkpoint`, model-STEP.*) plus best.json {"step", "val_loss"}, so every reader of a model folder
(export, evaluate, sample, the TensorFlow engine) reads it as it is. It is written whole or not at
all (built beside, then swapped in): a crash mid-save leaves the previous best.
"""

import json
import shutil
from pathlib import Path

from cli import UsageError
from contracts import ENCODER, HPARAMS, VOCAB_BPE
from model import checkpoint_file
from model.staging import staging_folder, swap_in

FOLDER = "best"
RECORD = "best.json"
MODEL_FILES = (HPARAMS, ENCODER, VOCAB_BPE)
CHOICES = ("best", "latest")


def read(run_dir: Path) -> dict | None:
    """{"step", "val_loss"} of the run's best checkpoint; None when it has none."""
    path = Path(run_dir) / FOLDER / RECORD
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def save(session, saver, run_dir: Path, *, step: int, val_loss: float) -> None:
    """Saves the session's model variables as run_dir/best (saver: a tf Saver over them, built
    with save_relative_paths=True so the folder can move)."""
    target = Path(run_dir) / FOLDER
    staging = staging_folder(target)
    try:
        saver.save(session, str(staging / "model"), global_step=step, write_meta_graph=False)
        for name in MODEL_FILES:
            shutil.copyfile(Path(run_dir) / name, staging / name)
        record = {"step": step, "val_loss": round(val_loss, 5)}
        (staging / RECORD).write_text(json.dumps(record) + "\n", encoding="utf-8")
        swap_in(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def run_folder_of(model_dir: Path) -> Path:
    """The run folder whose records (run.json, eval.json) describe a model folder's weights."""
    model_dir = Path(model_dir)
    return model_dir.parent if (model_dir / RECORD).is_file() else model_dir


def select(run_dir: Path, which: str) -> tuple[Path, str]:
    """The model folder to read for `--checkpoint which`, and one line saying which and why.

    "best" falls back to the latest when the run was trained without validation (no best/)."""
    if which not in CHOICES:
        raise UsageError(f"--checkpoint must be one of {', '.join(CHOICES)}, got {which!r}")
    run_dir = Path(run_dir)
    best = read(run_dir)
    latest_step = checkpoint_file.latest_step(run_dir)
    if which == "latest":
        return run_dir, f"the latest checkpoint (step {latest_step}), as asked"
    if best is None:
        return run_dir, (
            f"the latest checkpoint (step {latest_step}): the run has no best one "
            "(it was trained without --val)"
        )
    return run_dir / FOLDER, (
        f"the best checkpoint (step {best['step']}: lowest validation loss, "
        f"{best['val_loss']:.3f}); the latest is step {latest_step}"
    )
