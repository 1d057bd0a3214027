"""`python -m bench.prepare --size-mb 500`: `corpus prepare` speed (MB/s) and peak memory.

Generates a lyrics-like corpus of the given size in a temporary folder (site residue, section
headers, curly quotes, mojibake, non-breaking spaces, a few exact duplicates: work for every
rule), runs the real CLI on it in a subprocess and measures the memory of that process and its
workers: RSS summed over the process tree, sampled (an upper bound: forked workers share pages),
PSS likewise, and the largest single process's peak from the kernel (bench.memory's launcher).
Target on the 2-core development machine: ≥ 15 MB/s and ≤ 300 MB peak RSS at 500 MB.
"""

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

from bench.memory import PeakMemory, launch_measured, own_peak_rss_mb
from corpus.pipeline import default_workers

REPO_ROOT = Path(__file__).resolve().parents[1]
TARGET_MB_PER_S = 15.0
TARGET_RSS_MB = 300.0
_WORD_TEXT = (
    "I you we they night city lights river road heart fire rain gold money time love dream "
    "running falling waiting calling holding breaking never always only still again tonight "
    "baby yeah oh down up back home away slow fast higher lower cold burning silver morning "
    "don’t can’t won’t it’s “go” café naïve señor déjà vu"
)
_WORDS = _WORD_TEXT.split()
_HEADERS = ("[Intro]", "[Verse 1]", "[Chorus]", "[Verse 2: Guest]", "[Bridge]", "[Outro]")


def _stanza(rng: random.Random) -> str:
    lines = (" ".join(rng.choices(_WORDS, k=rng.randint(5, 10))) for _ in range(rng.randint(4, 8)))
    return "\n".join(lines)


# Songs are drawn from a pool of stanzas: generating 500 MB word by word would take minutes.
# With 3 to 6 stanzas of 2000, two songs alike by chance are as good as impossible.
_STANZAS = [_stanza(random.Random(number)) for number in range(2000)]


def _song(rng: random.Random, number: int) -> str:
    parts = [f"{rng.randint(1, 90)} ContributorsSong {number} Lyrics"]
    for header in rng.sample(_HEADERS, k=rng.randint(3, 6)):
        parts.append(f"{header}\n{rng.choice(_STANZAS)}")
    text = "\n\n".join(parts)
    if number % 7 == 0:
        text = text.replace("’", "â€™")  # UTF-8 read as cp1252 somewhere upstream
    if number % 5 == 0:
        text = text.replace(" night", "\xa0night")
    return text + f"\nYou might also like{rng.randint(1, 999)}Embed"


def write_corpus(folder: Path, *, size_mb: float, seed: int = 0) -> int:
    """Writes songs until `size_mb` MB are on disk; returns how many files it wrote."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    target, written, number, previous = size_mb * 1e6, 0, 0, ""
    while written < target:
        text = previous if number % 50 == 49 else _song(rng, number)  # some exact duplicates
        data = text.encode("utf-8")
        (folder / f"song-{number:07d}.txt").write_bytes(data)
        written += len(data)
        number, previous = number + 1, text
    return number


def _run_prepare(corpus: Path, out: Path, log: Path) -> dict:
    """Seconds, memory figures and exit status of one prepare subprocess."""
    command = [sys.executable, "-m", "corpus", "prepare", str(corpus), str(out)]
    command += ["--profile", "lyrics"]
    report = log.with_suffix(".maxrss")
    with log.open("w") as output:
        started = time.perf_counter()
        process = launch_measured(command, report, cwd=REPO_ROOT, stdout=output, stderr=output)
        # The tree is the small launcher's: its few MB are counted too.
        with PeakMemory({"prepare": [process.pid]}, interval_s=0.05, pss_interval_s=0.05) as memory:
            process.wait()
        seconds = time.perf_counter() - started
    tree = memory.peaks()["prepare"]
    return {
        "seconds": seconds,
        "status": process.returncode,
        "peak_rss_mb": tree["rss_mb"],
        "peak_pss_mb": tree["pss_mb"],
        "largest_process_rss_mb": own_peak_rss_mb(report),
    }


def run(*, size_mb: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-prepare-") as temp:
        corpus, out, log = Path(temp) / "corpus", Path(temp) / "prepared", Path(temp) / "log"
        files = write_corpus(corpus, size_mb=size_mb)
        input_bytes = sum(path.stat().st_size for path in corpus.iterdir())
        run = _run_prepare(corpus, out, log)
        if run["status"]:
            raise RuntimeError(f"corpus prepare failed:\n{log.read_text()[-2000:]}")
        stats = json.loads((out / "stats.json").read_text())
    seconds = run["seconds"]
    mb_per_s = input_bytes / 1e6 / seconds
    peak_rss_mb = max(run["peak_rss_mb"], run["largest_process_rss_mb"])
    return {
        "size_mb": round(input_bytes / 1e6, 1),
        "files": files,
        "documents": stats["documents"]["out"],
        "dropped": stats["documents"]["dropped"],
        "seconds": round(seconds, 2),
        "mb_per_s": round(mb_per_s, 1),
        "peak_rss_mb": round(peak_rss_mb, 1),
        "peak_pss_mb": round(run["peak_pss_mb"], 1),
        "largest_process_rss_mb": round(run["largest_process_rss_mb"], 1),
        "workers": default_workers(),
        "targets": {
            f"≥ {TARGET_MB_PER_S:g} MB/s": mb_per_s >= TARGET_MB_PER_S,
            f"≤ {TARGET_RSS_MB:g} MB peak RSS": peak_rss_mb <= TARGET_RSS_MB,
        },
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.prepare", description=__doc__)
    parser.add_argument("--size-mb", type=float, default=500.0, help="corpus size to generate")
    args = parser.parse_args(argv)
    print(json.dumps(run(size_mb=args.size_mb), indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
