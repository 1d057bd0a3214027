"""The prepare run: every document read, cleaned, judged, assigned a split and written.

One document at a time, start to end, so memory holds one document's chunk (or its spill file)
plus one 16-byte hash per kept document for the duplicate check.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from corpus.augment import shuffle_stanzas, stanza_rng
from corpus.cleaning import clean_document
from corpus.document import CleanDocument
from corpus.output import PreparedOutput, check_out_dir
from corpus.reader import (
    BinaryDocument,
    Decoding,
    list_documents,
    read_index,
    read_text,
    safe_chunks,
)
from corpus.rules import Rule
from corpus.split import assign_split
from corpus.stats import PrepareStats


@dataclass(frozen=True)
class Settings:
    in_dir: Path
    out_dir: Path
    profile: str = "plain"
    val: float = 0.05
    test: float = 0.05
    seed: int = 0
    min_words: int = 25
    augment: str | None = None
    spelling: Path | None = None

    def as_json(self, rules: list[Rule]) -> dict:
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


def prepare(settings: Settings, rules: list[Rule]) -> PrepareStats:
    paths = list_documents(settings.in_dir)
    check_out_dir(settings.out_dir, settings.in_dir)
    index, unreadable = read_index(settings.in_dir)
    stats = PrepareStats(index_entries=len(index), index_unreadable_lines=unreadable)
    seen: set[bytes] = set()
    with PreparedOutput(settings.out_dir) as output:
        for path in paths:
            doc_id = path.stem
            split = assign_split(doc_id, seed=settings.seed, val=settings.val, test=settings.test)
            document = CleanDocument(spill_dir=output.work_dir)
            try:
                if _read(path, document, rules, stats) and _keep(
                    document, split, seen, settings, stats
                ):
                    _write(doc_id, split, document, output, settings, stats, index)
            finally:
                document.close()
        output.commit(
            stats.as_json(settings=settings.as_json(rules), rule_names=[r.name for r in rules])
        )
    return stats


def _read(path: Path, document: CleanDocument, rules: list[Rule], stats: PrepareStats) -> bool:
    """Cleans the file into `document`; False for a binary file (counted)."""
    stats.documents_in += 1
    decoding = Decoding()
    try:
        for piece in clean_document(
            safe_chunks(read_text(path, decoding)), rules, stats.rule_changes
        ):
            document.append(piece)
    except BinaryDocument:
        stats.dropped["binary"] += 1
        return False
    finally:
        stats.bytes_in += decoding.bytes_read
    if decoding.invalid:
        stats.invalid_utf8_documents += 1
        stats.invalid_utf8_sequences += decoding.invalid
    return True


def _keep(document, split: str, seen: set, settings: Settings, stats: PrepareStats) -> bool:
    if document.words == 0:
        reason = "empty"
    elif document.words < settings.min_words:
        reason = "too_short"
    elif document.key in seen:
        reason = "duplicate"
    elif split == "test" and document.heldout_ending() is None:
        reason = "too_short_for_test"
    else:
        seen.add(document.key)
        return True
    stats.dropped[reason] += 1
    return False


def _write(doc_id, split, document, output, settings, stats, index) -> None:
    stats.splits[split].add(words=document.words, chars=document.chars)
    count_lines = stats.lines.wants_next()
    if split == "test":
        prompt_chars, reference = document.heldout_ending()
        prompt = _lines_counted(document.pieces(limit=prompt_chars), stats, count_lines)
        output.write_test(doc_id, prompt=prompt, reference=reference, extra=index.get(doc_id, {}))
        return
    output.write_document(split, _lines_counted(document.pieces(), stats, count_lines))
    if split == "train" and settings.augment == "shuffle-stanzas":
        rng = stanza_rng(seed=settings.seed, doc_id=doc_id)
        output.write_augmented(shuffle_stanzas(document.pieces(), rng=rng))
        stats.augmented.add(words=document.words, chars=document.chars)


def _lines_counted(pieces, stats: PrepareStats, count: bool) -> Iterator[str]:
    for piece in pieces:
        if count:
            stats.lines.add(piece)
        yield piece
