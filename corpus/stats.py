"""What a prepare run did, for stats.json and the summary table it prints."""

from collections import Counter
from dataclasses import dataclass, field
from itertools import compress

from corpus.cleaning import RuleChanges
from corpus.split import SPLITS

DROP_REASONS = ("binary", "empty", "too_short", "duplicate", "too_short_for_test")


class RepeatedLines:
    """The most repeated lines, counted in bounded memory and time.

    Counting every line costs about as much as all the cleaning rules together, so documents are
    sampled: every document until `exact_chars` characters have been counted, then every
    `stride`-th one. Residue and refrains repeat across many documents and still stand out.
    Lines over `max_len` characters are not counted; when more than `capacity` distinct lines
    are held, only the most frequent quarter is kept (counts of rare lines are approximate)."""

    def __init__(
        self, *, capacity=50_000, max_len=200, exact_chars=1 << 22, stride: int = 8
    ) -> None:
        self.capacity = capacity
        self.max_len = max_len
        self.exact_chars = exact_chars
        self.stride = stride
        self.documents_seen = 0
        self.documents_counted = 0
        self.chars_counted = 0
        self._counts: Counter = Counter()

    def wants_next(self) -> bool:
        """Whether the next document should be counted (call once per document)."""
        self.documents_seen += 1
        if self.chars_counted < self.exact_chars or self.documents_seen % self.stride == 0:
            self.documents_counted += 1
            return True
        return False

    def add(self, text: str) -> None:
        self.chars_counted += len(text)
        lines = text.split("\n")
        # Non-empty lines of at most max_len characters, filtered without a Python-level loop.
        short = compress(lines, map(self.max_len.__ge__, map(len, lines)))
        self._counts.update(filter(None, short))
        if len(self._counts) > self.capacity:
            self._counts = Counter(dict(self._counts.most_common(self.capacity // 4)))

    def as_json(self, count: int) -> dict:
        common = self._counts.most_common(count)
        return {
            "documents_counted": self.documents_counted,
            "lines": [{"line": line, "count": n} for line, n in common if n > 1],
        }


@dataclass
class SplitTotals:
    documents: int = 0
    words: int = 0
    chars: int = 0

    def add(self, *, words: int, chars: int) -> None:
        self.documents += 1
        self.words += words
        self.chars += chars


@dataclass
class PrepareStats:
    documents_in: int = 0
    bytes_in: int = 0
    dropped: Counter = field(default_factory=Counter)
    invalid_utf8_documents: int = 0
    invalid_utf8_sequences: int = 0
    index_entries: int = 0
    index_unreadable_lines: int = 0
    splits: dict = field(default_factory=lambda: {name: SplitTotals() for name in SPLITS})
    augmented: SplitTotals = field(default_factory=SplitTotals)
    rule_changes: RuleChanges = field(default_factory=RuleChanges)
    lines: RepeatedLines = field(default_factory=RepeatedLines)

    @property
    def documents_out(self) -> int:
        return sum(totals.documents for totals in self.splits.values())

    def as_json(self, *, settings: dict, rule_names: list[str]) -> dict:
        return {
            "format": 1,
            "settings": settings,
            "documents": {
                "in": self.documents_in,
                "out": self.documents_out,
                "dropped": {reason: self.dropped[reason] for reason in DROP_REASONS},
            },
            "bytes_in": self.bytes_in,
            "invalid_utf8": {
                "documents": self.invalid_utf8_documents,
                "sequences_replaced": self.invalid_utf8_sequences,
            },
            "index": {
                "entries": self.index_entries,
                "unreadable_lines": self.index_unreadable_lines,
            },
            "rules": self.rule_changes.as_dict(rule_names),
            "splits": {name: vars(totals) for name, totals in self.splits.items()},
            "augmented": vars(self.augmented),
            "repeated_lines": self.lines.as_json(25),
        }


def summary_table(stats: PrepareStats, *, seconds: float) -> str:
    """A few lines for the terminal: documents, words and characters per split, drops, speed."""
    rows = [f"{'split':<10}{'documents':>12}{'words':>14}{'chars':>16}"]
    for name, totals in stats.splits.items():
        rows.append(f"{name:<10}{totals.documents:>12,}{totals.words:>14,}{totals.chars:>16,}")
    if stats.augmented.documents:
        aug = stats.augmented
        rows.append(f"{'+augment':<10}{aug.documents:>12,}{aug.words:>14,}{aug.chars:>16,}")
    drops = [
        f"{reason} {stats.dropped[reason]}" for reason in DROP_REASONS if stats.dropped[reason]
    ]
    dropped = ", ".join(drops) or "none"
    mb = stats.bytes_in / 1e6
    rows.append(
        f"documents in {stats.documents_in:,}, out {stats.documents_out:,}; dropped: {dropped}"
    )
    if stats.invalid_utf8_documents:
        rows.append(
            f"invalid UTF-8: {stats.invalid_utf8_sequences:,} sequences replaced "
            f"in {stats.invalid_utf8_documents:,} documents"
        )
    rows.append(f"{mb:,.1f} MB in {seconds:.1f} s ({mb / max(seconds, 1e-9):.1f} MB/s)")
    return "\n".join(rows)
