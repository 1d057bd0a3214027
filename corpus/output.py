"""The prepared folder, written all at once or not at all.

Everything is written into `.NAME.partial-PID` next to OUT_DIR and swapped in at the end: the old
folder is renamed aside, the new one renamed into place, the old one deleted. A run that fails or
is killed leaves the previous output (or, killed between the two renames, the previous output
under `.NAME.old-PID`), never a half-written folder under OUT_DIR.
"""

import json
import os
import shutil
from collections.abc import Iterable
from pathlib import Path

from cli import UsageError
from contracts import DOCUMENT_DELIMITER, PREPARE_STATS, TEST_EXAMPLES, TRAIN_TEXT, VAL_TEXT

_AUGMENTED = "augmented.part"  # copies for train, appended after all originals


def check_out_dir(out_dir: Path, in_dir: Path) -> None:
    """OUT_DIR must not overlap IN_DIR and, if it exists, must be a previous prepare output (it is
    replaced whole, so a wrong path must not wipe an unrelated folder)."""
    out_resolved, in_resolved = out_dir.resolve(), in_dir.resolve()
    if out_resolved == in_resolved or in_resolved in out_resolved.parents:
        raise UsageError(f"OUT_DIR {out_dir} is inside IN_DIR {in_dir}; write it somewhere else")
    if out_resolved in in_resolved.parents:
        raise UsageError(f"IN_DIR {in_dir} is inside OUT_DIR {out_dir}; write it somewhere else")
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"OUT_DIR {out_dir} is a file; give a folder path")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not (out_dir / PREPARE_STATS).is_file():
        raise UsageError(
            f"OUT_DIR {out_dir} is a folder that prepare did not write (no stats.json), and "
            "prepare replaces OUT_DIR whole; give a new or empty folder"
        )


def _remove_abandoned(out_dir: Path) -> None:
    """Partial folders of runs that were killed (their process is gone)."""
    for leftover in out_dir.parent.glob(f".{out_dir.name}.partial-*"):
        pid = leftover.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(leftover, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _json_chars(text: str) -> str:
    """`text` escaped as the inside of a JSON string; escaping pieces one by one and joining them
    gives the escaping of the joined text."""
    return json.dumps(text, ensure_ascii=False)[1:-1]


class PreparedOutput:
    """Open files of a prepared folder being written; `commit()` swaps it in."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.work_dir = out_dir.parent / f".{out_dir.name}.partial-{os.getpid()}"

    def __enter__(self) -> "PreparedOutput":
        self.out_dir.parent.mkdir(parents=True, exist_ok=True)
        _remove_abandoned(self.out_dir)
        shutil.rmtree(self.work_dir, ignore_errors=True)
        self.work_dir.mkdir()
        # Write-only: a read/write text file resets its decoder on every write (slow).
        self._files = {
            name: (self.work_dir / name).open("w", encoding="utf-8", newline="\n")
            for name in (TRAIN_TEXT, VAL_TEXT, TEST_EXAMPLES, _AUGMENTED)
        }
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        for file in self._files.values():
            file.close()
        shutil.rmtree(self.work_dir, ignore_errors=True)  # gone already after a commit

    def write_document(self, split: str, pieces: Iterable[str]) -> None:
        file = self._files[TRAIN_TEXT if split == "train" else VAL_TEXT]
        file.writelines(pieces)
        file.write(DOCUMENT_DELIMITER)

    def write_augmented(self, pieces: Iterable[str]) -> None:
        file = self._files[_AUGMENTED]
        file.writelines(pieces)
        file.write(DOCUMENT_DELIMITER)

    def write_test(self, doc_id: str, *, prompt: Iterable[str], reference: str, extra: dict):
        """One test.jsonl line, the prompt streamed (it may be long)."""
        file = self._files[TEST_EXAMPLES]
        file.write('{"id": ' + json.dumps(doc_id, ensure_ascii=False) + ', "prompt": "')
        file.writelines(_json_chars(piece) for piece in prompt)
        file.write('", "reference": ' + json.dumps(reference, ensure_ascii=False))
        for key, value in extra.items():
            file.write(f", {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}")
        file.write("}\n")

    def commit(self, stats: dict) -> None:
        for file in self._files.values():
            file.close()
        augmented = self.work_dir / _AUGMENTED
        with augmented.open("rb") as copies, (self.work_dir / TRAIN_TEXT).open("ab") as train:
            shutil.copyfileobj(copies, train, 1 << 20)
        augmented.unlink()
        for name in (TRAIN_TEXT, VAL_TEXT, TEST_EXAMPLES):
            with (self.work_dir / name).open("rb") as file:
                os.fsync(file.fileno())
        with (self.work_dir / PREPARE_STATS).open("w", encoding="utf-8") as file:
            json.dump(stats, file, indent=2, ensure_ascii=False)
            file.write("\n")
        self._swap_in()

    def _swap_in(self) -> None:
        old = self.out_dir.parent / f".{self.out_dir.name}.old-{os.getpid()}"
        if self.out_dir.exists():
            os.replace(self.out_dir, old)
        os.replace(self.work_dir, self.out_dir)
        shutil.rmtree(old, ignore_errors=True)
