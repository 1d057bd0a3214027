"""Bad input: one line on stderr naming the fix and exit code 2, or skipped and counted;
a huge one-line document in bounded memory."""

import json
import os
import subprocess
import sys

import pytest

from bench.memory import launch_measured, own_peak_rss_mb
from tests.corpus.corpus_files import REPO_ROOT, documents, run_prepare, write_songs


@pytest.fixture
def songs(tmp_path):
    folder = tmp_path / "songs"
    write_songs(folder, 5)
    return folder


def refusal(result) -> str:
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("in_dir", "out_dir", "args", "message"),
    [
        ("missing", "out", [], "IN_DIR {tmp}/missing does not exist"),
        ("file.txt", "out", [], "is not a folder"),
        ("empty", "out", [], "IN_DIR {tmp}/empty has no .txt documents"),
        ("songs", "songs/prepared", [], "OUT_DIR {tmp}/songs/prepared is inside IN_DIR"),
        ("songs", "songs", [], "is inside IN_DIR"),
        ("songs", ".", [], "IN_DIR {tmp}/songs is inside OUT_DIR"),
        ("songs", "file.txt", [], "is a file"),
        ("songs", "unrelated", [], "prepare did not write (no stats.json)"),
        ("songs", "out", ["--profile", "poems"], "valid profiles: plain, lyrics, episodes"),
        ("songs", "out", ["--with", "glitter"], "unknown rule 'glitter' in --with; valid rules:"),
        ("songs", "out", ["--without", "quotes,nope"], "unknown rule 'nope' in --without"),
        ("songs", "out", ["--without", "eos"], "cannot be left out"),
        ("songs", "out", ["--with", "spelling"], "add --spelling FILE.tsv"),
        ("songs", "out", ["--val", "1.5"], "fractions in [0, 1)"),
        ("songs", "out", ["--val", "0.6", "--test", "0.5"], "val + test < 1"),
        ("songs", "out", ["--val", "lots"], "invalid float value: 'lots'"),
        ("songs", "out", ["--min-words", "0"], "--min-words must be at least 1"),
        ("songs", "out", ["--augment", "mirror"], "valid augmentations: shuffle-stanzas"),
        ("songs", "out", ["--spelling", "nowhere.tsv"], "cannot read --spelling"),
        ("songs", "out", ["--spelling", "file.txt"], "is not 'written<TAB>normalised'"),
        ("songs", "out", ["--workers", "-1"], "--workers must be 0 (clean in this process)"),
        ("songs", "out", ["--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_refused_with_one_line(songs, tmp_path, in_dir, out_dir, args, message):
    (tmp_path / "empty").mkdir()
    (tmp_path / "file.txt").write_text("not a folder nor a table\n")
    (tmp_path / "unrelated").mkdir()
    (tmp_path / "unrelated" / "precious.txt").write_text("keep me")
    args = [str(tmp_path / a) if a.endswith((".tsv", ".txt")) else a for a in args]
    result = run_prepare(tmp_path / in_dir, tmp_path / out_dir, *args)
    assert message.format(tmp=tmp_path) in refusal(result)
    assert (tmp_path / "unrelated" / "precious.txt").read_text() == "keep me"
    assert not (tmp_path / "out").exists()


def test_bad_workers_variable_is_refused(songs, tmp_path):
    env = {**os.environ, "GHOST_PREPARE_WORKERS": "many"}
    result = run_prepare(songs, tmp_path / "out", env=env)
    assert "GHOST_PREPARE_WORKERS='many' is not a number ≥ 0" in refusal(result)


def test_missing_arguments_are_one_line_too():
    result = subprocess.run(
        [sys.executable, "-m", "corpus", "prepare"], cwd=REPO_ROOT, capture_output=True, text=True
    )
    assert "the following arguments are required: IN_DIR, OUT_DIR" in refusal(result)


def test_only_junk_gives_empty_splits_not_an_error(tmp_path):
    folder = tmp_path / "junk"
    folder.mkdir()
    (folder / "a.txt").write_bytes(b"\x00\x01binary")
    (folder / "b.txt").write_bytes(b"")
    result = run_prepare(folder, tmp_path / "out")
    assert result.returncode == 0, result.stderr
    stats = json.loads((tmp_path / "out" / "stats.json").read_text())
    assert stats["documents"]["dropped"]["binary"] == 1
    assert stats["documents"]["dropped"]["empty"] == 1
    assert stats["documents"]["out"] == 0


def peak_rss_mb(command, report) -> tuple[int, float]:
    """(exit status, peak RSS in MB) of a subprocess, from the kernel's own accounting of that
    process alone (not of the large pytest process it would otherwise be forked from)."""
    process = launch_measured(command, report, cwd=REPO_ROOT, stdout=subprocess.DEVNULL)
    return process.wait(), own_peak_rss_mb(report)


@pytest.mark.timeout(300)
def test_huge_one_line_document_in_bounded_memory(tmp_path):
    """A 64 MB document without a single line break. Held whole, its text alone would take
    128 MB (the curly quotes make Python store 2 bytes a character) and each rule's copy as
    much again; streamed, the process stays far below that (~60 MB, most of it the
    interpreter, whatever the size: 200 MB measured the same). One process (--workers 0): the
    kernel's peak for it is the whole story."""
    folder = tmp_path / "huge"
    folder.mkdir()
    unit = "one “two” three four five six seven eight nine ten " * 1000  # ~52 KB, no line break
    repeats = 64 * 2**20 // len(unit.encode())
    with (folder / "huge.txt").open("w", encoding="utf-8") as file:
        for number in range(repeats):
            file.write(unit.replace("one", f"n{number}", 1))
    size_mb = (folder / "huge.txt").stat().st_size / 2**20
    out = tmp_path / "out"
    command = [sys.executable, "-m", "corpus", "prepare", str(folder), str(out)]
    command += ["--val", "0", "--test", "0", "--workers", "0"]
    status, peak = peak_rss_mb(command, tmp_path / "maxrss")
    assert status == 0
    assert size_mb > 63 and peak < 100, f"peak RSS {peak:.0f} MB for a {size_mb:.0f} MB line"
    (document,) = documents(out / "train.txt")
    assert len(document.split()) == repeats * 10_000
    assert "“" not in document and document.count('"two"') == repeats * 1000
    stats = json.loads((out / "stats.json").read_text())
    assert stats["splits"]["train"]["words"] == repeats * 10_000
