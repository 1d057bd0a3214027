"""Folders written whole or not at all: build beside the target, then swap it in."""

import os
import shutil
import tempfile
from pathlib import Path


def staging_folder(target: Path) -> Path:
    """An empty folder on the target's file system, so the final rename is atomic."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    staging.chmod(0o755)  # mkdtemp's 0700 would hide the folder from other users (a server)
    return staging


def swap_in(staging: Path, target: Path) -> None:
    """Moves a finished folder into place, replacing an existing one only once the new is whole."""
    retired = target.with_name(f".{target.name}.old-{os.getpid()}")
    if target.exists():
        target.rename(retired)
    staging.rename(target)
    shutil.rmtree(retired, ignore_errors=True)
