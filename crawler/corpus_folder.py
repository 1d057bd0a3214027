"""Writing a corpus folder (format: `contracts`): `<id>.txt` per document, one index line each.

The index is the record of finished documents: a document counts as done only once its line is
in the index, and the line is appended only after its text file is in place. A kill at any point
therefore leaves either a finished document or one that the next run fetches again, never a
half-written file or a duplicated line.
"""

import hashlib
import os
import re
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from contracts import CORPUS_INDEX, document_name, index_line, parse_index_line

TEMP_PREFIX = ".partial-"
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class CorpusFolder:
    """One corpus folder, opened for appending documents."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self._remove_partial_files()
        self._finished = self._read_index()

    @property
    def index_path(self) -> Path:
        return self.path / CORPUS_INDEX

    def finished_ids(self) -> frozenset[str]:
        return frozenset(self._finished)

    def is_finished(self, doc_id: str) -> bool:
        return doc_id in self._finished

    def add(self, *, doc_id: str, title: str, url: str, source: str, text: str) -> dict:
        """Write one document and its index line; returns the index record."""
        if not ID_PATTERN.match(doc_id):
            raise ValueError(f"document id {doc_id!r} is not a safe file name")
        assert doc_id not in self._finished, f"{doc_id} is already in {self.index_path}"
        data = text.encode("utf-8")
        self._write_atomically(self.path / document_name(doc_id), data)
        record = {
            "id": doc_id,
            "title": title,
            "url": url,
            "source": source,
            "sha256": hashlib.sha256(data).hexdigest(),
            "fetched_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        self._append_index_line(index_line(record))
        self._finished.add(doc_id)
        return record

    def _write_atomically(self, target: Path, data: bytes) -> None:
        fd, temp = tempfile.mkstemp(dir=self.path, prefix=TEMP_PREFIX)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(temp, target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise

    def _append_index_line(self, line: str) -> None:
        # One write() of the whole line on an O_APPEND descriptor; a kill mid-line can only leave
        # an unterminated tail, which _read_index() cuts off on the next open.
        fd = os.open(self.index_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)

    def _remove_partial_files(self) -> None:
        for leftover in self.path.glob(TEMP_PREFIX + "*"):
            leftover.unlink(missing_ok=True)

    def _read_index(self) -> set[str]:
        if not self.index_path.exists():
            return set()
        raw = self.index_path.read_bytes()
        complete = raw[: raw.rfind(b"\n") + 1]
        if len(complete) != len(raw):
            with self.index_path.open("r+b") as f:
                f.truncate(len(complete))
        finished = set()
        for number, line in enumerate(complete.decode("utf-8").splitlines(), start=1):
            try:
                finished.add(parse_index_line(line)["id"])
            except ValueError as exc:
                raise ValueError(
                    f"{self.index_path}:{number} is not an index line ({exc}); "
                    "fix or delete that line and run again"
                ) from exc
        return finished
