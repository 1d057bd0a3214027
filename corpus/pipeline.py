"""The prepare run: every document read, cleaned, judged, assigned a split and written.

Workers read and clean (see `corpus.worker`); this process judges each document in name order
and writes it, so memory holds a few batches of documents, the sorted file names and one 16-byte
hash per kept document, whatever the size of the corpus or of a document.
"""

import os
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

from cli import UsageError
from contracts import DOCUMENT_SUFFIX
from corpus.augment import shuffle_stanzas, stanza_rng
from corpus.document import CleanedText
from corpus.output import PreparedOutput, check_out_dir
from corpus.reader import list_documents, read_index
from corpus.rules import Rule
from corpus.split import assign_split
from corpus.stats import PrepareStats
from corpus.worker import CleanedFile, clean_files


def default_workers() -> int:
    """GHOST_PREPARE_WORKERS, else one per core, at most 4. This process, judging and writing,
    needs about a quarter of what a worker does (measured), so beyond ~4 it is the limit."""
    value = os.environ.get("GHOST_PREPARE_WORKERS", "")
    if not value:
        return min(os.cpu_count() or 1, 4)
    if not value.isdigit():
        raise UsageError(f"GHOST_PREPARE_WORKERS={value!r} is not a number ≥ 0; fix or unset it")
    return int(value)


@dataclass(frozen=True)
class PrepareSettings:
    in_dir: Path
    out_dir: Path
    profile: str = "plain"
    val: float = 0.05
    test: float = 0.05
    seed: int = 0
    min_words: int = 25
    augment: str | None = None
    spelling: Path | None = None
    workers: int = 0  # worker processes; 0: clean in this process

    def split_of(self, doc_id: str) -> str:
        return assign_split(doc_id, seed=self.seed, val=self.val, test=self.test)

    def as_json(self, rules: list[Rule]) -> dict:
        """What decides the output (not `workers`: the output is the same for any number)."""
        return {
            "in_dir": str(self.in_dir),
            "profile": self.profile,
            "rules": [rule.name for rule in rules],
            "val": self.val,
            "test": self.test,
            "seed": self.seed,
            "min_words": self.min_words,
            "augment": self.augment,
            "spelling": str(self.spelling) if self.spelling else None,
        }


def prepare(settings: PrepareSettings, rules: list[Rule], *, spelling: dict | None) -> PrepareStats:
    names = list_documents(settings.in_dir)
    check_out_dir(settings.out_dir, settings.in_dir)
    # Titles and URLs go into test.jsonl, so only test documents' are held.
    index, entries, unreadable = read_index(
        settings.in_dir, keep=lambda doc_id: settings.split_of(doc_id) == "test"
    )
    stats = PrepareStats(index_entries=entries, index_unreadable_lines=unreadable)
    rule_names = [rule.name for rule in rules]
    with PreparedOutput(settings.out_dir) as output:
        sorter = _Sorter(settings, stats, output, index)
        cleaned_files = clean_files(
            settings.in_dir,
            names,
            rule_names=rule_names,
            spelling=spelling,
            spill_dir=output.work_dir,
            workers=settings.workers,
        )
        # closing(): on an error the workers stop now, before the work folder is removed.
        with closing(cleaned_files):
            for name, result in cleaned_files:
                sorter.take(name.removesuffix(DOCUMENT_SUFFIX), result)
        output.commit(stats.as_json(settings=settings.as_json(rules), rule_names=rule_names))
    return stats


@dataclass
class _Sorter:
    """Counts each cleaned document and sorts it into its split, or drops it with a reason."""

    settings: PrepareSettings
    stats: PrepareStats
    output: PreparedOutput
    index: dict[str, dict]
    seen: set[bytes] = field(default_factory=set)  # duplicate keys of the kept documents

    def take(self, doc_id: str, result: CleanedFile) -> None:
        self._count(result)
        document = result.cleaned
        if document is None:
            return
        split = self.settings.split_of(doc_id)
        try:
            if self._keep(document, split):
                self._write(doc_id, split, document)
        finally:
            document.discard()

    def _count(self, result: CleanedFile) -> None:
        stats = self.stats
        stats.documents_in += 1
        stats.bytes_in += result.bytes_read
        if result.binary:
            stats.dropped["binary"] += 1
        if result.invalid_utf8:
            stats.invalid_utf8_documents += 1
            stats.invalid_utf8_sequences += result.invalid_utf8
        stats.rule_changes.add(result.rule_delta)

    def _keep(self, document: CleanedText, split: str) -> bool:
        if document.words == 0:
            reason = "empty"
        elif document.words < self.settings.min_words:
            reason = "too_short"
        elif document.key in self.seen:
            reason = "duplicate"
        elif split == "test" and document.heldout_ending() is None:
            reason = "too_short_for_test"
        else:
            self.seen.add(document.key)
            return True
        self.stats.dropped[reason] += 1
        return False

    def _write(self, doc_id: str, split: str, document: CleanedText) -> None:
        self.stats.splits[split].add(words=document.words, chars=document.chars)
        count_lines = self.stats.lines.wants_next()
        if split == "test":
            prompt_chars, reference = document.heldout_ending()
            prompt = self._lines_counted(document.pieces(limit=prompt_chars), count_lines)
            extra = self.index.get(doc_id, {})
            self.output.write_test(doc_id, prompt=prompt, reference=reference, extra=extra)
            return
        self.output.write_document(split, self._lines_counted(document.pieces(), count_lines))
        if split == "train" and self.settings.augment == "shuffle-stanzas":
            rng = stanza_rng(seed=self.settings.seed, doc_id=doc_id)
            self.output.write_augmented(shuffle_stanzas(document.pieces(), rng=rng))
            self.stats.augmented.add(words=document.words, chars=document.chars)

    def _lines_counted(self, pieces, count: bool) -> Iterator[str]:
        for piece in pieces:
            if count:
                self.stats.lines.add(piece)
            yield piece
