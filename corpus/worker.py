"""Reading and cleaning documents, in worker processes when there are cores to spare.

Documents come back in the order they were given (the order decides which of two duplicates is
kept) and only a few batches run ahead of the one being written, so memory stays bounded
however fast the workers are. Small documents travel back as text; large ones as the path of a
spill file in the output's work folder.
"""

import multiprocessing
import os
import signal
from collections import Counter, deque
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from corpus.cleaning import Cleaner
from corpus.document import SPILL_CHARS, CleanedText, DocumentBuilder
from corpus.profiles import build_rules
from corpus.reader import BinaryDocument, Decoding, read_text, safe_chunks

BATCH_FILES = 64
# Characters of text a batch may send back; documents beyond it go by spill file. With the
# batches in flight, this bounds what waits in memory between the processes.
BATCH_CHARS = 1 << 21
BATCHES_AHEAD = 2  # per worker


@dataclass
class CleanedFile:
    binary: bool = False
    bytes_read: int = 0
    invalid_utf8: int = 0
    rule_delta: dict = field(default_factory=dict)  # rule → characters added in this document
    cleaned: CleanedText | None = None  # None for a binary file


def clean_file(
    path: str, cleaner: Cleaner, spill_dir: Path, *, spill_chars: int = SPILL_CHARS
) -> CleanedFile:
    decoding, delta = Decoding(), Counter()
    builder = DocumentBuilder(
        spill_dir=spill_dir, spill_chars=spill_chars, tidy=cleaner.tidy_whitespace
    )
    try:
        for piece in cleaner.clean(safe_chunks(read_text(path, decoding)), delta):
            builder.append(piece)
    except BinaryDocument:
        builder.abandon()
        return CleanedFile(binary=True, bytes_read=decoding.bytes_read)
    return CleanedFile(
        bytes_read=decoding.bytes_read,
        invalid_utf8=decoding.invalid,
        rule_delta=dict(delta),
        cleaned=builder.finish(),
    )


_worker_setup: tuple[Path, Cleaner, Path] | None = None  # set once in each worker process


def _start_worker(in_dir: Path, rule_names: list[str], spelling: dict | None, spill_dir: Path):
    global _worker_setup
    _worker_setup = (in_dir, Cleaner(build_rules(rule_names, spelling=spelling)), spill_dir)


def _start_worker_process(*setup) -> None:
    # Ctrl-C reaches the whole process group; the run stops its workers itself (`clean_files`).
    # A worker interrupted in the middle of sending a result could leave the result queue's
    # lock taken, and the run waiting on it for ever (seen).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _start_worker(*setup)


def _clean_batch(names: list[str]) -> list[CleanedFile]:
    in_dir, cleaner, spill_dir = _worker_setup
    results, budget = [], BATCH_CHARS
    for name in names:
        spill_chars = min(SPILL_CHARS, max(budget, 0))
        path = os.path.join(in_dir, name)  # a str: pathlib costs more than it brings here
        result = clean_file(path, cleaner, spill_dir, spill_chars=spill_chars)
        if result.cleaned is not None and result.cleaned.text is not None:
            budget -= result.cleaned.chars
        results.append(result)
    return results


def clean_files(
    in_dir: Path,
    names: list[str],
    *,
    rule_names: list[str],
    spelling: dict | None,
    spill_dir: Path,
    workers: int,
) -> Iterator[tuple[str, CleanedFile]]:
    """(name, what cleaning it gave) for each file name, in order; `workers` = 0 cleans here."""
    if workers <= 0:
        cleaner = Cleaner(build_rules(rule_names, spelling=spelling))
        for name in names:
            yield name, clean_file(os.path.join(in_dir, name), cleaner, spill_dir)
        return
    # Fresh worker processes (not forks of this one): they hold only what they need, not a
    # copy-on-write share of this process's file list that they would end up copying.
    context = multiprocessing.get_context("forkserver" if os.name == "posix" else "spawn")
    setup = (in_dir, rule_names, spelling, spill_dir)
    executor = ProcessPoolExecutor(
        workers, mp_context=context, initializer=_start_worker_process, initargs=setup
    )
    try:
        running = deque()
        for start in range(0, len(names), BATCH_FILES):
            batch = names[start : start + BATCH_FILES]
            running.append((batch, executor.submit(_clean_batch, batch)))
            if len(running) > BATCHES_AHEAD * workers:
                yield from _finished(running.popleft())
        while running:
            yield from _finished(running.popleft())
    finally:
        # When the run stops early (a failed write, an interrupt), batches not yet started are
        # dropped and the running ones end on their own. Not multiprocessing.Pool: its
        # terminate() hung a failed run now and then (its task thread blocked writing to a
        # result pipe that nothing read any more, the workers already killed).
        executor.shutdown(wait=True, cancel_futures=True)


def _finished(entry) -> Iterator[tuple[str, CleanedFile]]:
    batch, result = entry
    yield from zip(batch, result.result(), strict=True)
