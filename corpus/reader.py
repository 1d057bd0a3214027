"""Reading a corpus folder: the documents, the crawler's index, and each document's text as a
stream of chunks that end where rules may safely cut (see `corpus.cleaning`)."""

import codecs
import io
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from cli import UsageError
from contracts import CORPUS_INDEX, DOCUMENT_SUFFIX, parse_index_line

READ_BYTES = 1 << 20
# The first read is small: a 1 MiB read buffer is allocated (and its pages touched) afresh on
# every read, which costs more than reading a typical 2 KB document.
FIRST_READ_BYTES = 1 << 16
# Characters per chunk handed to the rules: big enough that per-chunk overhead vanishes, small
# enough that a rule's copies of it stay a few MB.
CHUNK_CHARS = 1 << 20
_REPLACEMENT = "\ufffd"
_REPLACEMENT_BYTES = _REPLACEMENT.encode()


class BinaryDocument(Exception):
    """A .txt file with NUL bytes: not text; skipped."""


@dataclass
class Decoding:
    """What decoding one file found: U+FFFD characters that stand for invalid UTF-8 bytes."""

    bytes_read: int = 0
    replacements: int = 0  # U+FFFD after decoding
    genuine: int = 0  # U+FFFD already in the file, encoded validly

    @property
    def invalid(self) -> int:
        return self.replacements - self.genuine


def list_documents(in_dir: Path) -> list[str]:
    """The file names of the `.txt` documents of a corpus folder, sorted (the order decides which
    of two duplicates is kept, so it must not depend on the file system). Names, not Path
    objects: a corpus may hold hundreds of thousands of documents."""
    if not in_dir.exists():
        raise UsageError(f"IN_DIR {in_dir} does not exist; give a corpus folder of .txt files")
    if not in_dir.is_dir():
        raise UsageError(f"IN_DIR {in_dir} is not a folder; give a corpus folder of .txt files")
    names = sorted(
        entry.name
        for entry in os.scandir(in_dir)
        if entry.name.endswith(DOCUMENT_SUFFIX)
        and not entry.name.startswith(".")
        and entry.is_file()
    )
    if not names:
        raise UsageError(f"IN_DIR {in_dir} has no .txt documents; crawl or copy some there first")
    return names


def read_index(in_dir: Path, *, keep: Callable[[str], bool]) -> tuple[dict[str, dict], int, int]:
    """From the crawler's index.jsonl (when there is one): titles and URLs of the documents that
    `keep` wants (only those are held), the number of entries, and the number of lines that could
    not be read (the index is a convenience here, not a must)."""
    path = in_dir / CORPUS_INDEX
    if not path.is_file():
        return {}, 0, 0
    wanted, entries, unreadable = {}, 0, 0
    with path.open(encoding="utf-8", errors="replace") as lines:
        for line in lines:
            try:
                record = parse_index_line(line)
                doc_id = record["id"]
            except ValueError:
                unreadable += 1
                continue
            entries += 1
            if keep(doc_id):
                wanted[doc_id] = {key: record[key] for key in ("title", "url") if record.get(key)}
    return wanted, entries, unreadable


def read_text(path: str | Path, decoding: Decoding) -> Iterator[str]:
    """The file's text in pieces: invalid UTF-8 → U+FFFD (counted), any line ending → "\\n".
    Raises BinaryDocument on a NUL byte."""
    try:
        file = open(path, "rb")  # noqa: SIM115 (closed by the with below)
    except OSError as error:
        raise UsageError(
            f"cannot read {path} ({error}); fix its permissions or move it away"
        ) from None
    with file:
        data = file.read(FIRST_READ_BYTES)
        if len(data) < FIRST_READ_BYTES:  # the whole file: most documents, decoded in one go
            yield _whole_text(path, data, decoding)
            return
        yield from _text_pieces(path, file, data, decoding)


def _whole_text(path, data: bytes, decoding: Decoding) -> str:
    if b"\x00" in data:
        raise BinaryDocument(path)
    decoding.bytes_read += len(data)
    decoding.genuine += data.count(_REPLACEMENT_BYTES)
    text = data.decode("utf-8", errors="replace")
    decoding.replacements += text.count(_REPLACEMENT)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def _text_pieces(path, file, data: bytes, decoding: Decoding) -> Iterator[str]:
    """A large file read by pieces; the decoders carry what straddles two reads."""
    decoder = io.IncrementalNewlineDecoder(
        codecs.getincrementaldecoder("utf-8")(errors="replace"), translate=True
    )
    previous_tail = b""  # an encoded U+FFFD may straddle two reads
    while data:
        if b"\x00" in data:
            raise BinaryDocument(path)
        decoding.bytes_read += len(data)
        decoding.genuine += (previous_tail + data).count(_REPLACEMENT_BYTES)
        previous_tail = data[-2:]
        text = decoder.decode(data)
        decoding.replacements += text.count(_REPLACEMENT)
        yield text
        data = file.read(READ_BYTES)
    text = decoder.decode(b"", final=True)
    decoding.replacements += text.count(_REPLACEMENT)
    yield text


def safe_cut(text: str, target: int) -> int:
    """Where a chunk of `text` may end, at most `target` and at least half of it: after a line
    break, else after a space, else (a run of characters with no space at all) at `target`."""
    for separator in ("\n", " "):
        found = text.rfind(separator, target // 2, target)
        if found != -1:
            return found + 1
    return target


def safe_chunks(pieces: Iterable[str], *, size: int = CHUNK_CHARS) -> Iterator[str]:
    """Re-cuts text pieces into chunks of about `size` characters at safe places.

    A chunk is cut only once 2×size characters are buffered, so the last chunk of a long document
    still holds at least `size` characters: a "tail" rule sees the whole ending, a "head" rule the
    whole beginning."""
    buffer = ""
    for piece in pieces:
        buffer += piece
        while len(buffer) >= 2 * size:
            cut = safe_cut(buffer, size)
            yield buffer[:cut]
            buffer = buffer[cut:]
    if buffer:
        yield buffer
