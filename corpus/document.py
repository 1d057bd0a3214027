"""One cleaned document on its way out: held in memory, or in a spill file once it is large.

Whether a document is kept is known only at its end (too short? a duplicate?), so its text waits
here. `DocumentBuilder` takes the cleaned pieces (in a worker process) and keeps the count of
words and the duplicate key up to date; `finish()` gives a `CleanedText`, small enough to pass
between processes: the text itself, or the path of its spill file and its last characters.
"""

import hashlib
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

# Beyond this a document waits on disk, not in memory (and not in a message between processes).
SPILL_CHARS = 1 << 18
READ_CHARS = 1 << 20
HELDOUT_WORDS = 20  # test.jsonl: the reference is the document's last 20 words
# The window the last words are looked for in: 20 words that do not fit in 64 Ki characters are
# not a text anyone evaluates on.
TAIL_CHARS = 1 << 16


def split_ending(text: str, *, words: int = HELDOUT_WORDS) -> tuple[str, str] | None:
    """(prompt, reference) with prompt + reference == text: the reference starts with the
    whitespace before the last `words` words, so that the prompt ends on a word (as a prompt
    does) and the reference begins the way a model's continuation of that prompt would.
    None when the text has no word left for the prompt."""
    parts = text.rsplit(None, words)  # from the end: only the last words are looked at
    if len(parts) <= words or not parts[0].strip():
        return None
    cut = len(parts[0])  # rsplit leaves no whitespace at the end of the first part
    return text[:cut], text[cut:]


@dataclass
class CleanedText:
    words: int
    chars: int
    key: bytes  # duplicate key: a hash of the case-folded text; only hashes are ever stored
    text: str | None = None
    spill_path: str | None = None
    tail: str = ""  # the last TAIL_CHARS characters, kept for spilled text

    def pieces(self, *, limit: int | None = None) -> Iterator[str]:
        """The text in pieces, up to `limit` characters."""
        remaining = self.chars if limit is None else limit
        if self.text is not None:
            yield self.text if remaining >= self.chars else self.text[:remaining]
            return
        with open(self.spill_path, encoding="utf-8", newline="") as file:
            while remaining > 0 and (piece := file.read(min(READ_CHARS, remaining))):
                remaining -= len(piece)
                yield piece

    def heldout_ending(self) -> tuple[int, str] | None:
        """(prompt length in characters, reference) as split_ending() splits the whole text, or
        None when the last TAIL_CHARS characters hold no more than HELDOUT_WORDS words. (With 21
        words in the window, the one before the reference ends inside it, even if cut off.)"""
        split = split_ending(self.text if self.text is not None else self.tail)
        if split is None:
            return None
        return self.chars - len(split[1]), split[1]

    def discard(self) -> None:
        if self.spill_path is not None:
            os.unlink(self.spill_path)


class DocumentBuilder:
    def __init__(
        self, *, spill_dir: Path, spill_chars: int = SPILL_CHARS, tidy: bool = False
    ) -> None:
        """`tidy`: the pieces come from a Cleaner with `tidy_whitespace`: every run of whitespace
        is " ", "\\n" or "\\n\\n", whole in one piece, so words are one more than the runs,
        counted several times faster than by splitting the text."""
        self.chars = 0
        self._words = 0
        self._runs = 0
        self._tidy = tidy
        self._spill_dir = spill_dir
        self._spill_chars = spill_chars
        self._pieces: list[str] = []
        self._file = None
        self._spill_path = ""
        self._key = hashlib.blake2b(digest_size=16)
        self._tail = ""
        self._ends_in_word = False

    def append(self, piece: str) -> None:
        if not piece:
            return
        if self._tidy:
            self._runs += piece.count(" ") + piece.count("\n") - piece.count("\n\n")
        else:
            self._words += len(piece.split())
            if self._ends_in_word and not piece[0].isspace():
                self._words -= 1  # the previous piece ended mid-word and this one finishes it
            self._ends_in_word = not piece[-1].isspace()
        self.chars += len(piece)
        self._key.update(piece.casefold().encode())  # case does not make documents different
        if self._file is not None:
            self._file.write(piece)
            self._tail = (self._tail + piece[-TAIL_CHARS:])[-TAIL_CHARS:]
        else:
            self._pieces.append(piece)
            if self.chars > self._spill_chars:
                self._spill()

    @property
    def words(self) -> int:
        if self._tidy:
            return self._runs + 1 if self.chars else 0
        return self._words

    def _spill(self) -> None:
        descriptor, self._spill_path = tempfile.mkstemp(dir=self._spill_dir, prefix="spill-")
        self._file = open(descriptor, "w", encoding="utf-8", newline="")  # noqa: SIM115
        self._file.writelines(self._pieces)
        self._tail = "".join(self._pieces)[-TAIL_CHARS:]
        self._pieces = []

    def finish(self) -> CleanedText:
        cleaned = CleanedText(self.words, self.chars, self._key.digest())
        if self._file is None:
            cleaned.text = "".join(self._pieces)
        else:
            self._file.close()
            cleaned.spill_path, cleaned.tail = self._spill_path, self._tail
        return cleaned

    def abandon(self) -> None:
        """Drops what was built (a binary file found halfway)."""
        if self._file is not None:
            self._file.close()
            os.unlink(self._spill_path)
