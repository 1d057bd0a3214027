"""`checkpoint/RUN/run.json`: what a fine-tuning run was trained from and with, and how far it got.

{"format": 1, "run", "base", "base_hparams", "dataset": {"path", "sha256", "bytes", "tokens"},
 "val": {...same...}|null, "parameters": {every finetune setting of the latest session},
 "versions": {"python", "tensorflow", "gpt-2-simple", "numpy"}, "created_at", "updated_at",
 "status": "training"|"interrupted"|"completed", "stop_reason": "steps"|"time budget"|
 "early stop"|"SIGINT"|"SIGTERM", "step", "elapsed_s", "tokens_trained",
 "best": {"step", "val_loss"}|null (checkpoint/RUN/best), "overfitting_warnings": [step, …]
 (validations where validation loss rose while training loss fell),
 "sessions": [{"started_at", "from_step", "to_step", "stop_reason"}]}
"""

import datetime
import json
import os
import platform
import tempfile
from importlib import metadata
from pathlib import Path

from cli import UsageError

FORMAT = 1
FILE_NAME = "run.json"
LIBRARIES = ["tensorflow", "gpt-2-simple", "numpy"]


def now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def library_versions() -> dict:
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def read(run_dir: Path) -> dict | None:
    path = run_dir / FILE_NAME
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def write(run_dir: Path, record: dict) -> None:
    """Atomically: a reader (or a crash) sees the old file or the new one, never half."""
    record = {**record, "updated_at": now()}
    fd, temp = tempfile.mkstemp(prefix=".run.json.", dir=run_dir)
    os.fchmod(fd, 0o644)  # mkstemp's 0600 would hide the record from other users (a server)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(record, out, indent=2, ensure_ascii=False)
        out.write("\n")
    os.replace(temp, run_dir / FILE_NAME)


def check_same_run(run_dir: Path, *, base: str, dataset_sha256: str) -> dict | None:
    """The existing record when RUN holds this same training (base and dataset), to resume;
    None when RUN is free. Another run's folder is refused: resuming it would mix two trainings."""
    record = read(run_dir)
    holds_weights = (run_dir / "checkpoint").is_file()
    if record is None:
        if holds_weights:
            raise UsageError(
                f"{run_dir} holds a checkpoint without a run.json (not made by this command); "
                "choose another --run or pass --overwrite to replace it"
            )
        return None
    old_base, old_sha = record.get("base"), (record.get("dataset") or {}).get("sha256")
    if (old_base, old_sha) != (base, dataset_sha256):
        raise UsageError(
            f"run {run_dir.name!r} was trained from base {old_base!r} on "
            f"{(record.get('dataset') or {}).get('path')} (sha256 {str(old_sha)[:12]}…); "
            "this is a different base or dataset: choose another --run or pass --overwrite"
        )
    return record


def start_session(record: dict, *, from_step: int, parameters: dict) -> dict:
    """The record as this training session begins (a new run or a resumed one)."""
    sessions = [*record.get("sessions", []), {"started_at": now(), "from_step": from_step}]
    return {
        **record,
        "parameters": parameters,
        "versions": library_versions(),
        "status": "training",
        "sessions": sessions,
    }


def end_session(
    record: dict, *, step: int, stop_reason: str, elapsed_s: float, tokens: int
) -> dict:
    sessions = [*record["sessions"][:-1], {**record["sessions"][-1], "to_step": step}]
    sessions[-1]["stop_reason"] = stop_reason
    finished = stop_reason in ("steps", "time budget", "early stop")
    return {
        **record,
        "status": "completed" if finished else "interrupted",
        "stop_reason": stop_reason,
        "step": step,
        "elapsed_s": round(elapsed_s, 3),
        "tokens_trained": tokens,
        "sessions": sessions,
    }
