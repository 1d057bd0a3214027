"""`--augment shuffle-stanzas`: a copy of a training document with its stanzas (lyrics) or
paragraphs (episodes) in a seeded random order.

Works on a stream of pieces in bounded memory: stanzas are shuffled within windows of about
`window_chars` characters (for all but huge documents, one window is the whole document), and a
single stanza longer than a window is cut at the window's size.
"""

import random
import re
from collections.abc import Iterable, Iterator

AUGMENTATIONS = ("shuffle-stanzas",)
WINDOW_CHARS = 1 << 22
_STANZA_BREAK = re.compile(r"\n[ \t]*\n\s*")


def stanza_rng(*, seed: int, doc_id: str) -> random.Random:
    """One generator per document, so a document's copy does not depend on the others."""
    return random.Random(f"shuffle-stanzas\0{seed}\0{doc_id}")


def _windows(pieces: Iterable[str], window_chars: int) -> Iterator[list[str]]:
    window, size, pending = [], 0, ""
    for piece in pieces:
        *complete, pending = _STANZA_BREAK.split(pending + piece)
        if len(pending) > window_chars:  # one stanza bigger than a window: cut it
            complete.append(pending)
            pending = ""
        for stanza in filter(None, complete):
            window.append(stanza)
            size += len(stanza)
            if size >= window_chars:
                yield window
                window, size = [], 0
    if pending:
        window.append(pending)
    if window:
        yield window


def shuffle_stanzas(pieces: Iterable[str], *, rng: random.Random, window_chars=WINDOW_CHARS):
    """The copy's text in pieces: stanzas joined by one blank line."""
    first = True
    for window in _windows(pieces, window_chars):
        rng.shuffle(window)
        yield ("" if first else "\n\n") + "\n\n".join(window)
        first = False
