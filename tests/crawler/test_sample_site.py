"""The demo's sample site: served by `python -m crawler.sample_site`, crawled for real."""

import re
import signal
import subprocess
import sys

import pytest

from crawler.mediawiki import plot_text
from crawler.sample_site.render import load_episodes, site_pages
from tests.crawler.conftest import REPO_ROOT, read_index, run_crawler

ERROR_LOOKING = re.compile(r"(?i)\b(warning|error|failed|traceback)\b")
# Scrapy's start-up and shutdown reports, which only -v shows.
SCRAPY_REPORTS = ("Overridden settings", "Enabled extensions", "Dumping Scrapy stats")


def test_episodes_are_varied_and_long_enough():
    episodes = load_episodes()
    assert len(episodes) == 40
    assert len({e.code for e in episodes}) == 40
    pages = site_pages(episodes)
    texts = [plot_text(pages[e.path][1].decode()) for e in episodes]
    assert all(250 <= len(text.split()) <= 400 for text in texts)
    first_sentences = {text.split(".")[0] for text in texts}
    assert len(first_sentences) == 40
    # Both heading markups and all three plot heading ids appear.
    bodies = [pages[e.path][1].decode() for e in episodes]
    assert any('<span class="mw-headline" id="Plot">' in body for body in bodies)
    assert any('<div class="mw-heading mw-heading2"><h2 id="Plot">' in body for body in bodies)
    assert {e.heading_id for e in episodes} == {"Plot", "Episode_plot", "Synopsis"}


@pytest.fixture(params=[signal.SIGINT, signal.SIGTERM], ids=["sigint", "sigterm"])
def sample_site(request):
    server = subprocess.Popen(
        [sys.executable, "-m", "crawler.sample_site", "--port", "0"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = server.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), server.stderr.read()
        yield url
    finally:
        server.send_signal(request.param)
        assert server.wait(timeout=10) == 0


@pytest.mark.timeout(180)
def test_demo_crawl_of_the_sample_site(sample_site, tmp_path):
    out = tmp_path / "corpus"
    # As deploy/pipeline.sh crawls it: the two series that have sample episodes.
    result = run_crawler(
        "bulbapedia", "--out", str(out), "--site-root", sample_site, "--series", "EP,AG"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    index = read_index(out)
    assert len(index) == 40
    assert "documents written: 40" in result.stdout
    assert "errors: 0" in result.stdout
    # The default output: the summary on stdout; on stderr no warning, error or Scrapy report.
    assert not ERROR_LOOKING.findall(result.stderr), result.stderr
    assert not any(report in result.stderr for report in SCRAPY_REPORTS), result.stderr
    assert len(result.stderr.splitlines()) <= 3, result.stderr
    texts = [(out / f"{record['id']}.txt").read_text("utf-8") for record in index]
    assert all("Major events" not in text and "Spoiler" not in text for text in texts)
    assert all(250 <= len(text.split()) <= 400 for text in texts)


@pytest.mark.timeout(180)
def test_series_without_episodes_get_one_warning_and_verbose_shows_scrapy(sample_site, tmp_path):
    out = tmp_path / "corpus"
    result = run_crawler("bulbapedia", "--out", str(out), "--site-root", sample_site, "-v")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "documents written: 40" in result.stdout
    warnings = [line for line in result.stderr.splitlines() if "] WARNING: " in line]
    assert len(warnings) == 1, warnings
    assert "list pages of DP, BW, XY, SM, JN, HZ;" in warnings[0]
    assert all(report in result.stderr for report in SCRAPY_REPORTS), result.stderr[-3000:]


def test_busy_port_is_a_one_line_error(sample_site):
    port = sample_site.rsplit(":", 1)[1]
    result = subprocess.run(
        [sys.executable, "-m", "crawler.sample_site", "--port", port],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: cannot listen") and "--port" in result.stderr
