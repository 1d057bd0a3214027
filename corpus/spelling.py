"""Spelling normalisation from a user's TSV: one `written<TAB>normalised` pair a line.

`gettin'	getting` turns "Gettin'" into "Getting": matching ignores case and the replacement takes
the case of what it replaces (all capitals, first capital, or as written in the table).
"""

import re
from collections.abc import Callable
from pathlib import Path

from cli import UsageError


def read_table(path: Path) -> dict[str, str]:
    """The table of a spelling TSV; blank lines and lines starting with "#" are skipped."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(
            f"cannot read --spelling {path} ({error}); give a UTF-8 .tsv file"
        ) from error
    table = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 2 or not fields[0].strip():
            raise UsageError(
                f"{path}:{number} is not 'written<TAB>normalised'; fix that line of --spelling"
            )
        # One plain space between words: replacements keep the text's whitespace tidy.
        table[fields[0].strip().casefold()] = " ".join(fields[1].split())
    if not table:
        raise UsageError(f"--spelling {path} has no 'written<TAB>normalised' lines")
    return table


def _in_case_of(seen: str, replacement: str) -> str:
    if len(seen) > 1 and seen.isupper():
        return replacement.upper()
    if seen[:1].isupper():
        return replacement[:1].upper() + replacement[1:]
    return replacement


def spelling_rule(table: dict[str, str]) -> Callable[[str], str]:
    """A pure rule replacing each whole word of the table (longest entries first)."""
    words = sorted(table, key=len, reverse=True)
    pattern = re.compile(
        r"(?<!\w)(?:" + "|".join(map(re.escape, words)) + r")(?!\w)", re.IGNORECASE
    )

    def replace(match: re.Match) -> str:
        seen = match.group()
        return _in_case_of(seen, table[seen.casefold()])

    def normalise_spelling(text: str) -> str:
        return pattern.sub(replace, text)

    return normalise_spelling
