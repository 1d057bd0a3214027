"""One cleaned document on its way out: held in memory, or in a spill file once it is large.

Whether a document is kept is known only at its end (too short? a duplicate?), so its text waits
here; the count of words, the duplicate key and the last words are kept up to date on the way in.
"""

import hashlib
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

SPILL_CHARS = 1 << 22  # beyond this a document waits on disk, not in memory
READ_CHARS = 1 << 20
HELDOUT_WORDS = 20  # test.jsonl: the reference is the document's last 20 words
# The window the last words are looked for in: 20 words that do not fit in 64 Ki characters are
# not a text anyone evaluates on.
TAIL_CHARS = 1 << 16
_WORD = re.compile(r"\S+")


def split_ending(text: str, *, words: int = HELDOUT_WORDS) -> tuple[str, str] | None:
    """(prompt, reference) with prompt + reference == text: the reference starts with the
    whitespace before the last `words` words, so that the prompt ends on a word (as a prompt
    does) and the reference begins the way a model's continuation of that prompt would.
    None when the text has no word left for the prompt."""
    starts = [match.start() for match in _WORD.finditer(text)]
    if len(starts) <= words:
        return None
    cut = len(text[: starts[-words]].rstrip())
    return text[:cut], text[cut:]


class CleanDocument:
    def __init__(self, *, spill_dir: Path, spill_chars: int = SPILL_CHARS) -> None:
        self.chars = 0
        self.words = 0
        self._spill_dir = spill_dir
        self._spill_chars = spill_chars
        self._pieces: list[str] = []
        self._file = None
        self._key = hashlib.blake2b(digest_size=16)
        self._tail = ""  # the last TAIL_CHARS characters
        self._ends_in_word = False

    def append(self, piece: str) -> None:
        if not piece:
            return
        self.words += len(piece.split())
        if self._ends_in_word and not piece[0].isspace():
            self.words -= 1  # the previous piece ended mid-word and this one finishes it
        self._ends_in_word = not piece[-1].isspace()
        self.chars += len(piece)
        # Case and spacing do not make two documents different.
        self._key.update(piece.casefold().encode())
        self._keep_tail(piece)
        if self._file is not None:
            self._file.write(piece)
        else:
            self._pieces.append(piece)
            if self.chars > self._spill_chars:
                self._spill()

    def _keep_tail(self, piece: str) -> None:
        self._tail = (self._tail + piece[-TAIL_CHARS:])[-TAIL_CHARS:]

    def _spill(self) -> None:
        # Closed by close(); it lives as long as the document, not a block.
        self._file = tempfile.TemporaryFile(  # noqa: SIM115
            "w+", encoding="utf-8", newline="", dir=self._spill_dir
        )
        self._file.writelines(self._pieces)
        self._pieces = []

    @property
    def key(self) -> bytes:
        """Duplicate key: a hash of the case-folded text; only the hash is ever stored."""
        return self._key.digest()

    def pieces(self, *, limit: int | None = None) -> Iterator[str]:
        """The text again, in pieces, up to `limit` characters."""
        remaining = self.chars if limit is None else limit
        if self._file is None:
            text = "".join(self._pieces)
            yield text[:remaining]
            return
        self._file.seek(0)
        while remaining > 0 and (piece := self._file.read(min(READ_CHARS, remaining))):
            remaining -= len(piece)
            yield piece

    def heldout_ending(self) -> tuple[int, str] | None:
        """(prompt length in characters, reference) as split_ending() splits the whole text, or
        None when the last TAIL_CHARS characters hold no more than HELDOUT_WORDS words. (With 21
        words in the window, the one before the reference ends inside it, even if cut off.)"""
        split = split_ending(self._tail)
        if split is None:
            return None
        return self.chars - len(split[1]), split[1]

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
