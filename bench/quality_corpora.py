"""The quality section's two corpora, each as (train.txt, val.txt) with a fixed split.

- kjv: the King James Bible, Genesis 1:1 to 2 Samuel 24:25 (~1.2 MB of public-domain English),
  printed by Debian's `bible` program (bible-kjv). One document per chapter ("Genesis 1" then one
  verse per line). Split: the first 90 % of the characters train, cut at the next chapter end.
- fortunes: every file of Debian's `fortunes` package (~2.5 MB of short texts: quotes, verse,
  jokes, definitions), one document per fortune, tidied by `corpus prepare`'s plain profile as a
  user's folder of .txt files would be, each kept once (a few are in two files). Split: every
  tenth fortune (in file order, the files by name) validates, so both halves cover every topic.

Documents are separated by `<|endoftext|>` as `corpus prepare` writes them. `make install`
installs both packages. The smoke versions are a few dozen kilobytes of each.
"""

import re
import shutil
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from contracts import DOCUMENT_DELIMITER, training_text
from corpus import profiles
from corpus.cleaning import Cleaner

KJV_SPEC = "Gen1:1-2Sa24:25"
KJV_SMOKE_SPEC = "Gen1:1-Gen12:20"
VERSE = re.compile(r"^\s+\d+ ")
FORTUNES_DIR = Path("/usr/share/games/fortunes")
FORTUNES_SMOKE_FILES = ("riddles",)
VAL_EVERY = 10  # fortunes: one document in ten validates


@dataclass(frozen=True)
class Corpus:
    name: str
    source: str  # what the text is, for the report
    train: str
    val: str
    sample_prefix: str  # the seeded samples' prompt


def bible_text(spec: str) -> str:
    if shutil.which("bible") is None:
        raise RuntimeError("the quality corpus needs Debian's bible-kjv package: run make install")
    result = subprocess.run(["bible", spec], capture_output=True, text=True, check=True)
    return result.stdout


def chapters(printed: str) -> list[str]:
    """One document per chapter: its heading, then one verse per line. The program prints a
    heading between blank lines, numbers each verse and wraps it at 80 columns; the numbers and
    the wrapping are undone."""
    documents, lines, after_blank = [], [], True
    for line in printed.splitlines():
        if not line.strip():
            after_blank = True
            continue
        if after_blank and not VERSE.match(line):  # "Genesis 2": a chapter begins
            if lines:
                documents.append("\n".join(lines))
            lines = [line.strip()]
        elif VERSE.match(line):
            lines.append(VERSE.sub("", line).strip())
        else:
            lines[-1] += " " + line.strip()
        after_blank = False
    documents.append("\n".join(lines))
    return documents


def split_at_90_percent(documents: list[str]) -> tuple[str, str]:
    """(train.txt, val.txt): the first 90 % of the characters, cut at the next document end."""
    sizes = [len(document) + len(DOCUMENT_DELIMITER) for document in documents]
    total, seen = sum(sizes), 0
    for index, size in enumerate(sizes):
        seen += size
        if seen >= 0.9 * total:
            return training_text(documents[: index + 1]), training_text(documents[index + 1 :])
    raise AssertionError("the last document ends past 90 %")


def kjv(*, smoke: bool) -> Corpus:
    train, val = split_at_90_percent(chapters(bible_text(KJV_SMOKE_SPEC if smoke else KJV_SPEC)))
    source = f"KJV {KJV_SMOKE_SPEC if smoke else KJV_SPEC}"
    return Corpus("kjv", source, train, val, "And it came to pass")


def fortune_files(smoke: bool) -> list[Path]:
    if not (FORTUNES_DIR / "computers").is_file():
        raise RuntimeError("the quality corpus needs Debian's fortunes package: run make install")
    if smoke:
        return [FORTUNES_DIR / name for name in FORTUNES_SMOKE_FILES]
    return sorted(p for p in FORTUNES_DIR.iterdir() if p.is_file() and not p.suffix)


def fortunes(*, smoke: bool) -> Corpus:
    # What `corpus prepare --profile plain` makes of each fortune.
    cleaner, changes = Cleaner(profiles.select_rules("plain")), Counter()
    documents = []
    for path in fortune_files(smoke):
        # The files separate fortunes with a line holding only "%".
        pieces = re.split(r"^%\n", path.read_text(encoding="utf-8", errors="replace"), flags=re.M)
        cleaned = ("".join(cleaner.clean([piece], changes)) for piece in pieces)
        documents += [text for text in cleaned if text]
    # Some fortunes are in more than one file: each is kept once, so none is in both halves.
    documents = list(dict.fromkeys(documents))
    train = [d for i, d in enumerate(documents) if i % VAL_EVERY != VAL_EVERY - 1]
    val = [d for i, d in enumerate(documents) if i % VAL_EVERY == VAL_EVERY - 1]
    files = ", ".join(FORTUNES_SMOKE_FILES) if smoke else "all files"
    return Corpus(
        "fortunes", f"fortunes ({files})", training_text(train), training_text(val), "The"
    )


CORPORA = {"kjv": kjv, "fortunes": fortunes}
