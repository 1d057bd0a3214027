"""Where the model stage's artifacts live; lookups that fail with a message saying what to do."""

import os
from pathlib import Path

from cli import UsageError
from contracts import HPARAMS


def data_dir() -> Path:
    return Path(os.environ.get("GHOST_DATA_DIR", "data"))


def models_dir() -> Path:
    """Base models, in gpt-2-simple's `models/NAME/` layout."""
    return data_dir() / "models"


def checkpoint_dir() -> Path:
    """Fine-tuned runs, in gpt-2-simple's `checkpoint/RUN/` layout."""
    return data_dir() / "checkpoint"


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []


def base_path(name: str) -> Path:
    path = models_dir() / name
    if not (path / HPARAMS).is_file():
        known = ", ".join(_names(models_dir())) or "none"
        raise UsageError(
            f"no base model {name!r} in {models_dir()} (found: {known}); make one with "
            f"`python -m model download 124M` or `python -m model init {name} --corpus train.txt`"
        )
    return path


def run_path(name: str) -> Path:
    path = checkpoint_dir() / name
    if not (path / "checkpoint").is_file():
        known = ", ".join(_names(checkpoint_dir())) or "none"
        raise UsageError(
            f"no fine-tuned run {name!r} in {checkpoint_dir()} (runs: {known}); "
            f"train one with `python -m model finetune --run {name} …`"
        )
    return path
