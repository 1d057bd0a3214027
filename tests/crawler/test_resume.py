"""Kill a crawl midway (SIGINT, SIGKILL) and resume it with --resume.

The local site holds one episode reply on an event, so the signal always lands while that
request is in flight, with some documents finished and others still queued.
"""

import hashlib
import json
import signal
import subprocess
import time

import pytest

from tests.crawler import genius_pages, wiki_pages
from tests.crawler.conftest import (
    REPO_ROOT,
    corpus_snapshot,
    crawler_command,
    crawler_env,
    read_index,
    run_crawler,
)

WAIT_S = 60


def wait_for(condition, what: str, timeout: float = WAIT_S) -> None:
    """Polls a condition the test cannot be told about (another process's files and logs)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def start_crawl(tmp_path, args: list[str]) -> tuple[subprocess.Popen, object]:
    log = (tmp_path / "interrupted.log").open("w")
    process = subprocess.Popen(
        crawler_command(*args),
        cwd=REPO_ROOT,
        env=crawler_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    return process, log


def interrupt(process, hold, log_path, how: signal.Signals) -> int:
    """Sends `how` while the held request is in flight; returns the exit code."""
    assert hold.arrived.wait(WAIT_S), "the crawl never reached the held request"
    if how == signal.SIGKILL:
        process.kill()
        code = process.wait(WAIT_S)
        hold.release.set()
        return code
    process.send_signal(how)
    wait_for(lambda: "shutting down gracefully" in log_path.read_text(), "graceful shutdown")
    hold.release.set()  # the in-flight request finishes, then Scrapy saves its queue and exits
    return process.wait(WAIT_S)


def assert_nothing_half_written(out) -> None:
    lines = (out / "index.jsonl").read_text("utf-8").split("\n")
    assert lines[-1] == "", "the index ends mid-line"
    records = [json.loads(line) for line in lines[:-1]]
    assert len({r["id"] for r in records}) == len(records), "duplicated index lines"
    for record in records:
        data = (out / f"{record['id']}.txt").read_bytes()
        assert hashlib.sha256(data).hexdigest() == record["sha256"]


@pytest.mark.timeout(240)
@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGKILL], ids=["sigint", "sigkill"])
def test_bulbapedia_crawl_resumes_after_a_kill(wiki_site, tmp_path, how):
    reference = tmp_path / "reference"
    site = ["--site-root", wiki_site.url, "--series", "EP"]
    result = run_crawler("bulbapedia", "--out", str(reference), *site)
    assert result.returncode == 0, result.stderr[-3000:]

    out, job = tmp_path / "corpus", tmp_path / "job"
    # One request in the downloader at a time: otherwise the next episodes may already sit in the
    # downloader when the signal lands, and a graceful shutdown finishes them all.
    one_at_a_time = ["-s", "CONCURRENT_REQUESTS=1"]
    args = ["bulbapedia", "--out", str(out), "--resume", str(job), *site, *one_at_a_time]
    start = len(wiki_site.hits)
    hold = wiki_site.hold("/wiki/", nth=5)  # the list page, then the fourth episode page
    process, log = start_crawl(tmp_path, args)
    with log:
        wait_for(lambda: (out / "index.jsonl").exists(), "a first finished document")
        code = interrupt(process, hold, tmp_path / "interrupted.log", how)
    assert code == (130 if how == signal.SIGINT else -signal.SIGKILL)

    assert_nothing_half_written(out)
    finished = {record["id"] for record in read_index(out)}
    assert finished, "the kill landed before any document was finished"
    assert len(finished) < len(read_index(reference)), "the kill landed after the crawl"

    resumed = run_crawler(*args)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    after_start = [hit.path for hit in wiki_site.hits[start:]]
    for code_ in finished:
        assert after_start.count(wiki_pages.page_path(code_)) == 1, f"{code_} fetched again"
    if how == signal.SIGINT:  # Scrapy's saved queue carries on: the list is not read again
        assert after_start.count(wiki_pages.EP_LIST) == 1
    else:
        assert "did not stop cleanly" in resumed.stderr

    assert_nothing_half_written(out)
    assert corpus_snapshot(out) == corpus_snapshot(reference)

    # The job is finished: the same --resume folder starts over from the list page, and only
    # pages that gave no document (dropped ones) are fetched again.
    before_third = len(wiki_site.hits)
    again = run_crawler(*args)
    assert again.returncode == 0, again.stderr[-3000:]
    third = wiki_site.paths()[before_third:]
    assert wiki_pages.EP_LIST in third
    assert not {wiki_pages.page_path(code) for code in wiki_pages.WRITTEN} & set(third)
    assert corpus_snapshot(out) == corpus_snapshot(reference)


@pytest.mark.timeout(180)
def test_genius_resume_keeps_the_token_out_of_the_job_folder(genius_site, tmp_path):
    out, job = tmp_path / "corpus", tmp_path / "job"
    args = [
        "genius", "--out", str(out), "--resume", str(job),
        "--api-root", f"{genius_site.url}/api", "--web-root", genius_site.url,
        "--artist", genius_pages.ARTIST, "-s", "GENIUS_PAGE_SIZE=4", "-s", "CORPUS_MIN_CHARS=20",
    ]  # fmt: skip
    hold = genius_site.hold("/Test-artist-", nth=3)
    process, log = start_crawl(tmp_path, args)
    with log:
        code = interrupt(process, hold, tmp_path / "interrupted.log", signal.SIGINT)
    assert code == 130

    saved = [path for path in job.rglob("*") if path.is_file()]
    assert any("requests.queue" in str(path) for path in saved)
    for path in saved:
        assert genius_pages.TOKEN.encode() not in path.read_bytes(), path

    resumed = run_crawler(*args)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert len(read_index(out)) == 9
    assert_nothing_half_written(out)
