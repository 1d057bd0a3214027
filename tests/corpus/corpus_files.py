"""Generated corpus folders for prepare tests, and the prepare CLI run as a real subprocess."""

import json
import os
import random
import re
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DELIMITER = "\n<|endoftext|>\n"
MARKER = re.compile(r"\bmarker(\d{4})\b")
WORDS = [
    "night",
    "city",
    "river",
    "heart",
    "fire",
    "rain",
    "gold",
    "time",
    "love",
    "dream",
    "road",
    "home",
    "silver",
    "morning",
]


def song(number: int, rng: random.Random) -> str:
    """A lyrics page as a careless scraper keeps it: residue, headers, curly quotes, one
    `markerNNNN` word that tells which document a cleaned text came from."""
    stanzas = []
    for header in ("[Verse 1]", "[Chorus]", "[Verse 2: Guest]"):
        lines = [" ".join(rng.choices(WORDS, k=rng.randint(4, 7))) for _ in range(4)]
        stanzas.append(header + "\n" + "\n".join(lines))
    stanzas[0] = stanzas[0].replace("\n", f"\nmarker{number:04d} it’s ", 1)
    body = "\n\n".join(stanzas)
    title = f"{rng.randint(2, 40)} ContributorsSong {number} Lyrics"
    return f"{title}\n{body}\nYou might also like7Embed"


def write_songs(folder: Path, count: int, *, seed: int = 0) -> dict[str, str]:
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    texts = {f"song-{number:04d}": song(number, rng) for number in range(count)}
    for doc_id, text in texts.items():
        (folder / f"{doc_id}.txt").write_text(text, encoding="utf-8")
    return texts


def write_index(folder: Path, ids) -> None:
    lines = [
        json.dumps({"id": doc_id, "title": f"Title of {doc_id}", "url": f"https://x/{doc_id}"})
        for doc_id in ids
    ]
    (folder / "index.jsonl").write_text("\n".join(lines) + "\nnot json\n", encoding="utf-8")


def documents(path: Path) -> list[str]:
    """The documents of a train.txt / val.txt."""
    text = path.read_text(encoding="utf-8")
    assert text == "" or text.endswith(DELIMITER)
    return text.split(DELIMITER)[:-1] if text else []


def jsonl_records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def markers(texts) -> list[int]:
    found = []
    for text in texts:
        numbers = MARKER.findall(text)
        assert len(numbers) == 1, text
        found.append(int(numbers[0]))
    return found


def run_prepare(*args, env=None) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "corpus", "prepare", *map(str, args)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"} if env is None else env
    return subprocess.run(
        command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=110
    )
