"""End to end: `python -m corpus prepare` on a generated corpus folder, as a subprocess."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import psutil
import pytest

from corpus.cleaning import Cleaner
from corpus.profiles import select_rules
from corpus.split import assign_split
from tests.corpus.corpus_files import (
    DELIMITER,
    REPO_ROOT,
    documents,
    jsonl_records,
    markers,
    run_prepare,
    write_index,
    write_songs,
)

SONGS = 120
ARGS = ("--profile", "lyrics", "--val", "0.1", "--test", "0.1", "--seed", "3")
SPLIT = {"seed": 3, "val": 0.1, "test": 0.1}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("corpus") / "songs"
    texts = write_songs(folder, SONGS)
    extra = {
        "zz-dup-exact": texts["song-0003"],
        "zz-dup-quotes-spaces": texts["song-0004"].replace("’", "'").replace(" rain", "  rain\t"),
        "zz-dup-case": texts["song-0005"].replace("night", "NIGHT").replace("rain", "Rain"),
        "short-1": "[Chorus]\nfew words here",
        "short-2": "one two three four five six seven eight nine ten",
        "empty": "  \n[Intro]\n\n",
    }
    for doc_id, text in extra.items():
        (folder / f"{doc_id}.txt").write_text(text, encoding="utf-8")
    texts.update(extra)
    (folder / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    broken = texts["song-0006"].encode().replace(b"Song", b"S\xffong\xfe", 1)
    (folder / "song-0006.txt").write_bytes(broken)
    texts["song-0006"] = broken.decode("utf-8", errors="replace")
    write_index(folder, [f"song-{n:04d}" for n in range(10)])
    return folder, texts


@pytest.fixture(scope="module")
def prepared(corpus, tmp_path_factory):
    folder, _ = corpus
    out = tmp_path_factory.mktemp("prepared") / "songs"
    result = run_prepare(folder, out, *ARGS)
    assert result.returncode == 0, result.stderr
    return out, result


def cleaned(text: str) -> str:
    return "".join(Cleaner(select_rules("lyrics")).clean([text], Counter()))


def split_markers(out):
    return {
        "train": markers(documents(out / "train.txt")),
        "val": markers(documents(out / "val.txt")),
        "test": markers(record["prompt"] for record in jsonl_records(out / "test.jsonl")),
    }


def test_summary_table_and_files(prepared):
    out, result = prepared
    assert sorted(path.name for path in out.iterdir()) == [
        "stats.json",
        "test.jsonl",
        "train.txt",
        "val.txt",
    ]
    assert not list(out.parent.glob(".songs.*"))  # no partial folder left beside it
    lines = result.stdout.splitlines()
    assert lines[1].split() == ["split", "documents", "words", "chars"]
    assert [line.split()[0] for line in lines[2:5]] == ["train", "val", "test"]
    assert "dropped: binary 1, empty 1, too_short 2, duplicate 3" in result.stdout
    assert "invalid UTF-8: 2 sequences replaced in 1 documents" in result.stdout


def test_splits_are_disjoint_and_by_document(prepared):
    out, _ = prepared
    found = split_markers(out)
    kept = [n for split in found.values() for n in split]
    assert sorted(kept) == list(range(SONGS))  # every song once; duplicates and junk gone
    for split, numbers in found.items():
        for number in numbers:
            assert assign_split(f"song-{number:04d}", **SPLIT) == split
    assert all(found.values())


def test_train_and_val_format(prepared, corpus):
    out, _ = prepared
    _, texts = corpus
    for name in ("train.txt", "val.txt"):
        for document in documents(out / name):
            assert document == document.strip() and document
            assert "<|endoftext|>" not in document
            for residue in ("Embed", "Contributors", "[Chorus]", "You might also like", "’"):
                assert residue not in document
            (number,) = markers([document])
            assert document == cleaned(texts[f"song-{number:04d}"])


def test_prompt_and_reference_reconstruct_each_test_document(prepared, corpus):
    out, texts = prepared[0], corpus[1]
    records = jsonl_records(out / "test.jsonl")
    assert records
    for record in records:
        document = cleaned(texts[record["id"]])
        assert record["prompt"] + record["reference"] == document
        assert record["reference"].split() == document.split()[-20:]
        assert record["prompt"] == record["prompt"].rstrip()
        number = int(record["id"].split("-")[1])
        if number < 10:  # in index.jsonl
            assert record["title"] == f"Title of {record['id']}"
            assert record["url"] == f"https://x/{record['id']}"
        else:
            assert "title" not in record


def test_stats(prepared):
    out, _ = prepared
    stats = json.loads((out / "stats.json").read_text())
    assert stats["documents"] == {
        "in": SONGS + 7,
        "out": SONGS,
        "dropped": {
            "binary": 1,
            "empty": 1,
            "too_short": 2,
            "duplicate": 3,
            "too_short_for_test": 0,
        },
    }
    assert stats["invalid_utf8"] == {"documents": 1, "sequences_replaced": 2}
    assert stats["index"] == {"entries": 10, "unreadable_lines": 1}
    for name in ("train", "val"):
        docs = documents(out / f"{name}.txt")
        assert stats["splits"][name] == {
            "documents": len(docs),
            "words": sum(len(doc.split()) for doc in docs),
            "chars": sum(len(doc) for doc in docs),
        }
    tests = [r["prompt"] + r["reference"] for r in jsonl_records(out / "test.jsonl")]
    assert stats["splits"]["test"]["words"] == sum(len(doc.split()) for doc in tests)
    rules = stats["rules"]
    # Headers: every song, the 3 duplicates, short-1 and empty; titles: songs and duplicates.
    assert rules["section_headers"]["documents_changed"] == SONGS + 5
    assert rules["lyrics_title"]["documents_changed"] == SONGS + 3
    assert rules["quotes"]["documents_changed"] == SONGS + 2
    assert rules["mojibake"] == {"documents_changed": 0, "chars_delta": 0}
    assert list(rules) == stats["settings"]["rules"]
    repeated = stats["repeated_lines"]
    assert repeated["documents_counted"] == SONGS
    assert all(entry["count"] > 1 for entry in repeated["lines"])


def test_same_seed_same_bytes_other_seed_other_split(prepared, corpus, tmp_path):
    out, _ = prepared
    again = tmp_path / "again"
    assert run_prepare(corpus[0], again, *ARGS).returncode == 0
    for name in ("train.txt", "val.txt", "test.jsonl", "stats.json"):
        assert (again / name).read_bytes() == (out / name).read_bytes()
    other = tmp_path / "other"
    assert run_prepare(corpus[0], other, *ARGS[:-1], "4").returncode == 0
    assert split_markers(other) != split_markers(out)


@pytest.mark.parametrize("workers", ["0", "1", "3"])
def test_output_is_the_same_for_any_number_of_workers(prepared, corpus, tmp_path, workers):
    out = tmp_path / "out"
    result = run_prepare(corpus[0], out, *ARGS, "--workers", workers)
    assert result.returncode == 0, result.stderr
    for name in ("train.txt", "val.txt", "test.jsonl", "stats.json"):
        assert (out / name).read_bytes() == (prepared[0] / name).read_bytes()


def test_augment_appends_shuffled_copies_to_train_only(prepared, corpus, tmp_path):
    out, _ = prepared
    augmented = tmp_path / "augmented"
    result = run_prepare(corpus[0], augmented, *ARGS, "--augment", "shuffle-stanzas")
    assert result.returncode == 0, result.stderr
    for name in ("val.txt", "test.jsonl"):
        assert (augmented / name).read_bytes() == (out / name).read_bytes()
    originals = documents(out / "train.txt")
    train = documents(augmented / "train.txt")
    assert train[: len(originals)] == originals
    copies = train[len(originals) :]
    assert len(copies) == len(originals)
    for original, copy in zip(originals, copies, strict=True):
        assert sorted(copy.split("\n\n")) == sorted(original.split("\n\n"))
    assert sum(copy != original for original, copy in zip(originals, copies, strict=True)) > 10
    stats = json.loads((augmented / "stats.json").read_text())
    assert stats["augmented"]["documents"] == len(copies)


def test_rerun_replaces_previous_output(prepared, corpus, tmp_path):
    out = tmp_path / "songs"
    shutil.copytree(prepared[0], out)
    result = run_prepare(corpus[0], out, "--profile", "lyrics", "--val", "0", "--test", "0")
    assert result.returncode == 0, result.stderr
    assert len(documents(out / "train.txt")) == SONGS
    assert documents(out / "val.txt") == [] and (out / "test.jsonl").read_text() == ""


def fail_every_fifth_write(monkeypatch) -> None:
    """Writing a prepared document fails with "disk full" at the fifth of each run, once the
    workers are busy."""
    from corpus.output import PreparedOutput

    original, written = PreparedOutput.write_document, []

    def failing_write(self, split, pieces):
        written.append(split)
        if len(written) % 5 == 0:
            raise OSError("disk full")
        original(self, split, pieces)

    monkeypatch.setattr(PreparedOutput, "write_document", failing_write)


def partial_output_started(out: Path, process: subprocess.Popen) -> Path:
    """The run's partial output folder (beside OUT_DIR), once it has begun to write train.txt."""
    partial = out.parent / f".{out.name}.partial-{process.pid}"
    deadline = time.monotonic() + 30
    while not (partial / "train.txt").exists() and time.monotonic() < deadline:
        time.sleep(0.005)
    return partial


def test_failed_run_leaves_previous_output(prepared, corpus, tmp_path, monkeypatch):
    from corpus.__main__ import main

    out = tmp_path / "songs"
    shutil.copytree(prepared[0], out)
    before = {path.name: path.read_bytes() for path in out.iterdir()}
    fail_every_fifth_write(monkeypatch)
    with pytest.raises(OSError, match="disk full"):
        main(["prepare", str(corpus[0]), str(out), *ARGS, "--workers", "2"])
    # The workers were stopped with the run: what is left is multiprocessing's fork server and
    # resource tracker, with no worker under them.
    assert [child.children() for child in psutil.Process().children()] in ([], [[]], [[], []])
    assert {path.name: path.read_bytes() for path in out.iterdir()} == before
    assert sorted(path.name for path in tmp_path.iterdir()) == ["songs"]


@pytest.mark.timeout(120)
def test_failed_runs_stop_their_workers_every_time(tmp_path, monkeypatch):
    # multiprocessing.Pool's terminate() hung about one such run in 20-200 here (its task thread
    # blocked on a full result pipe that nothing read any more): 200 runs, each must end. A race:
    # this caught the old code in about half its runs, never failed with the executor.
    from corpus.__main__ import main

    songs = tmp_path / "songs"
    write_songs(songs, 2000)  # enough batches in flight to fill the result pipe
    fail_every_fifth_write(monkeypatch)
    for run in range(200):
        with pytest.raises(OSError, match="disk full"):
            main(["prepare", str(songs), str(tmp_path / f"out-{run}"), *ARGS, "--workers", "2"])
    assert [child.children() for child in psutil.Process().children()] in ([], [[]], [[], []])


@pytest.mark.timeout(60)
def test_killed_run_leaves_previous_output_and_next_run_cleans_up(prepared, tmp_path):
    big = tmp_path / "big"
    write_songs(big, 3000)
    out = tmp_path / "songs"
    shutil.copytree(prepared[0], out)
    before = (out / "train.txt").read_bytes()
    command = [sys.executable, "-m", "corpus", "prepare", str(big), str(out)]
    process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.DEVNULL)
    partial = partial_output_started(out, process)
    os.kill(process.pid, signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL
    assert partial.is_dir()  # the half-written output, beside OUT_DIR, not in it
    assert (out / "train.txt").read_bytes() == before
    result = run_prepare(big, out, "--profile", "lyrics")
    assert result.returncode == 0, result.stderr
    assert not partial.exists()
    assert len(documents(out / "train.txt")) > 2000


@pytest.mark.timeout(60)
def test_interrupted_run_stops_its_workers_and_says_so_in_one_line(prepared, tmp_path):
    big = tmp_path / "big"
    write_songs(big, 40000)  # a few seconds of work for two workers
    out = tmp_path / "songs"
    shutil.copytree(prepared[0], out)
    before = (out / "train.txt").read_bytes()
    command = [sys.executable, "-m", "corpus", "prepare", str(big), str(out), "--workers", "2"]
    process = subprocess.Popen(
        command, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    partial = partial_output_started(out, process)
    workers = psutil.Process(process.pid).children(recursive=True)
    os.killpg(process.pid, signal.SIGINT)  # Ctrl-C: the whole foreground group
    stderr = process.communicate(timeout=30)[1]
    assert process.returncode == 130, stderr
    assert stderr == f"interrupted: {out} is as it was; run the command again\n"
    assert (out / "train.txt").read_bytes() == before and not partial.exists()
    psutil.wait_procs(workers, timeout=10)
    assert not [worker for worker in workers if worker.is_running()]


def test_spelling_and_optional_rule(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    words = " ".join(f"word{i}" for i in range(30))
    (folder / "a.txt").write_text(f"Gettin' there (yeah)\n{words}\nnothin' else", "utf-8")
    table = tmp_path / "spelling.tsv"
    table.write_text("gettin'\tgetting\nnothin'\tnothing\n", encoding="utf-8")
    out = tmp_path / "out"
    args = ("--val", "0", "--test", "0", "--spelling", table, "--with", "adlibs")
    result = run_prepare(folder, out, *args)
    assert result.returncode == 0, result.stderr
    assert documents(out / "train.txt") == [f"Getting there\n{words}\nnothing else"]
    stats = json.loads((out / "stats.json").read_text())
    assert stats["rules"]["spelling"] == {"documents_changed": 1, "chars_delta": 0}
    assert stats["rules"]["adlibs"] == {"documents_changed": 1, "chars_delta": -6}
    assert DELIMITER.strip() == "<|endoftext|>"
