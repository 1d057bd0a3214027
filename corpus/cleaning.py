"""Applying the rules to one document, chunk by chunk, in bounded memory.

The cleaned document comes out as pieces whose concatenation is the document: text pieces that
start and end with a non-space character, and between them the whitespace "seam" that joined them.
A seam may be made of the end of one chunk and the start of the next, so it is tidied on its own
by the whitespace rule (which only ever looks at whitespace, so tidying the seam alone gives what
tidying the whole text would). The document's leading and trailing whitespace is dropped.
"""

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from corpus.rules import Rule


@dataclass
class RuleChanges:
    """Per rule: documents it changed, and characters it added (negative: removed)."""

    documents: Counter = field(default_factory=Counter)
    chars: Counter = field(default_factory=Counter)

    def add(self, delta: dict[str, int]) -> None:
        """One document's changes: rule → characters added (the rules that acted)."""
        for name, chars in delta.items():  # plain loop: Counter.update costs more per call
            self.documents[name] += 1
            self.chars[name] += chars

    def as_dict(self, names: Iterable[str]) -> dict[str, dict[str, int]]:
        return {
            name: {"documents_changed": self.documents[name], "chars_delta": self.chars[name]}
            for name in names
        }


def _with_ends(chunks: Iterable[str]) -> Iterator[tuple[bool, bool, str]]:
    """(is_first, is_last, chunk) for each chunk."""
    iterator = iter(chunks)
    current = next(iterator, None)
    first = True
    while current is not None:
        following = next(iterator, None)
        yield first, following is None, current
        first, current = False, following


Plan = tuple[tuple[str, Callable[[str], str]], ...]  # (name, function) of the rules to apply


def _plan(rules: list[Rule], *, first: bool, last: bool) -> Plan:
    """The rules that apply to a chunk at this place in its document."""
    return tuple(
        (rule.name, rule.apply)
        for rule in rules
        if (rule.scope != "head" or first) and (rule.scope != "tail" or last)
    )


class Cleaner:
    """A run's rules, ready to clean one document after another."""

    def __init__(self, rules: list[Rule]) -> None:
        self._plans = {
            (first, last): _plan(rules, first=first, last=last)
            for first in (False, True)
            for last in (False, True)
        }
        self._tidy_seam = next((rule.apply for rule in rules if rule.name == "whitespace"), None)
        # With both rules, every run of whitespace in the output is " ", "\n" or "\n\n", which
        # lets words be counted without splitting the text (see DocumentBuilder).
        self.tidy_whitespace = {"spaces", "whitespace"} <= {rule.name for rule in rules}

    def clean(self, chunks: Iterable[str], delta: Counter) -> Iterator[str]:
        """The cleaned document in pieces (see the module docstring). `delta` gets, for each
        rule that changed something, the characters it added (negative: removed)."""
        held = ""  # whitespace after the last text piece, waiting for what follows
        started = False
        for first, last, chunk in _with_ends(chunks):
            chunk = _apply(self._plans[first, last], chunk, delta)
            start = len(chunk) - len(chunk.lstrip())
            if start == len(chunk):
                held += chunk
                continue
            end = len(chunk.rstrip())
            if started:
                seam = held + chunk[:start]
                seam = self._tidy_seam(seam) if self._tidy_seam else seam
                if seam:
                    yield seam
            yield chunk[start:end]
            held, started = chunk[end:], True


def _apply(plan: Plan, chunk: str, delta: Counter) -> str:
    for name, apply in plan:
        result = apply(chunk)
        if result is not chunk and result != chunk:
            delta[name] += len(result) - len(chunk)  # a key is set even when it adds 0
        chunk = result
    return chunk
