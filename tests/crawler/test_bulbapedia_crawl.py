"""Real crawls of a local Bulbapedia-like site with `python -m crawler bulbapedia`."""

import hashlib
import subprocess

import pytest

from tests.crawler import wiki_pages
from tests.crawler.conftest import REPO_ROOT, corpus_snapshot, crawler_env, read_index, run_crawler
from tests.crawler.local_site import Reply


def crawl(site, out, *extra, env=None):
    result = run_crawler(
        "bulbapedia", "--out", str(out), "--site-root", site.url, "--series", "EP", *extra, env=env
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_crawl_writes_plot_sections_as_a_corpus_folder(wiki_site, tmp_path):
    out = tmp_path / "corpus"
    result = crawl(wiki_site, out)

    index = read_index(out)
    assert sorted(record["id"] for record in index) == sorted(wiki_pages.WRITTEN)
    for record in index:
        text = (out / f"{record['id']}.txt").read_text("utf-8")
        assert text == wiki_pages.expected_text(record["id"])
        assert record["sha256"] == hashlib.sha256(text.encode()).hexdigest()
        assert record["source"] == "bulbapedia"
        assert record["url"] == wiki_site.url + wiki_pages.page_path(record["id"])
        assert record["title"] == f"{wiki_pages.EPISODES[record['id']][0]} ({record['id']})"
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"{code}.txt" for code in wiki_pages.WRITTEN] + ["index.jsonl"]
    )
    # The windows-1252 page arrives as UTF-8 text.
    assert "Pokémon café’s" in (out / "EP004.txt").read_text("utf-8")

    # Dropped with their reasons in the log and counted in the summary.
    assert "EP005" in result.stderr and "no text extracted" in result.stderr
    assert "EP006" in result.stderr and "text too short" in result.stderr
    assert "documents written: 6" in result.stdout
    assert "dropped: 2 (empty 1, too_short 1)" in result.stdout
    assert "errors: 0" in result.stdout


def test_crawl_is_polite(wiki_site, tmp_path):
    crawl(wiki_site, tmp_path / "corpus")
    paths = wiki_site.paths()
    assert paths[0] == "/robots.txt"
    assert not any("Special:" in path for path in paths), "robots.txt Disallow was fetched"
    assert "/wiki/EP999" not in paths  # a sidebar link, outside the article
    assert wiki_pages.AG_LIST not in paths  # --series EP only
    assert wiki_site.count(wiki_pages.page_path("EP001")) == 1  # linked twice, fetched once
    assert all(
        "GhostwriterBot" in hit.user_agent and "+http" in hit.user_agent for hit in wiki_site.hits
    )

    # 503 with Retry-After: 1, then 200: retried, and not before the second was up.
    tries = [hit.at for hit in wiki_site.hits if hit.path == wiki_pages.page_path("EP003")]
    assert len(tries) == 2
    assert tries[1] - tries[0] >= 0.95


def test_rerun_does_not_fetch_finished_documents(wiki_site, tmp_path):
    out = tmp_path / "corpus"
    crawl(wiki_site, out)
    before = corpus_snapshot(out)
    first_run = len(wiki_site.hits)

    result = crawl(wiki_site, out)
    again = wiki_site.paths()[first_run:]
    assert not any(wiki_pages.page_path(code) in again for code in wiki_pages.WRITTEN)
    assert "skipped: 6" in result.stdout
    assert corpus_snapshot(out) == before


def test_limit_stops_after_n_documents(wiki_site, tmp_path):
    out = tmp_path / "corpus"
    result = crawl(wiki_site, out, "--limit", "2")
    assert len(read_index(out)) == 2
    assert "closespider_itemcount" in result.stdout


def test_http_cache_serves_a_second_crawl(wiki_site, tmp_path):
    env = crawler_env(data_dir=tmp_path / "data")
    crawl(wiki_site, tmp_path / "one", "--cache", env=env)
    first_run = len(wiki_site.hits)
    result = crawl(wiki_site, tmp_path / "two", "--cache", env=env)
    assert wiki_site.hits[first_run:] == []
    assert corpus_snapshot(tmp_path / "one")["texts"] == corpus_snapshot(tmp_path / "two")["texts"]
    assert "from cache: 0" not in result.stdout
    assert (tmp_path / "data" / "httpcache").is_dir()


def test_scrapy_crawl_command(wiki_site, tmp_path):
    out = tmp_path / "corpus"
    result = subprocess.run(
        [
            str(REPO_ROOT / ".venv" / "bin" / "scrapy"),
            "crawl",
            "bulbapedia",
            "-a", f"out={out}",
            "-a", "series=EP",
            "-a", "limit=3",
            "-s", f"BULBAPEDIA_ROOT={wiki_site.url}",
            "-s", "DOWNLOAD_DELAY=0",
            "-s", "AUTOTHROTTLE_ENABLED=False",
        ],
        cwd=REPO_ROOT,
        env=crawler_env(),
        capture_output=True,
        text=True,
        timeout=90,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(read_index(out)) == 3
    assert "Crawl summary" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--limit", "0"], "--limit must be a whole number"),
        (["--limit", "ten"], "--limit must be a whole number"),
        (["--series", "EP,QQ"], "unknown series QQ"),
        (["--delay", "-1"], "--delay must be 0 or more"),
        (["-s", "NOEQUALS"], "-s takes NAME=VALUE"),
        (["--no-such-flag"], "unrecognized arguments"),
    ],
)
def test_bad_arguments_are_one_line_errors(wiki_site, tmp_path, args, message):
    result = run_crawler(
        "bulbapedia", "--out", str(tmp_path / "c"), "--site-root", wiki_site.url, *args
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and message in result.stderr
    assert result.stderr.count("\n") == 1
    assert wiki_site.hits == []


def test_missing_out_is_a_usage_error():
    result = run_crawler("bulbapedia")
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and "--out" in result.stderr


def test_retry_after_beyond_the_cap_gives_the_page_up(wiki_site, tmp_path):
    too_long = Reply(429, b"slow down", {"Retry-After": "3600", "Content-Type": "text/plain"})
    wiki_site.fail_first(wiki_pages.page_path("EP002"), too_long, too_long)
    out = tmp_path / "corpus"
    result = run_crawler(
        "bulbapedia", "--out", str(out), "--site-root", wiki_site.url, "--series", "EP"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert wiki_site.count(wiki_pages.page_path("EP002")) == 1
    assert "exceeds RETRY_AFTER_MAX=5" in result.stderr
    assert "errors: 1" in result.stdout
    assert "EP002" not in {record["id"] for record in read_index(out)}


def test_contact_url_setting_reaches_the_user_agent(wiki_site, tmp_path):
    contact = "https://example.org/who-runs-this-crawl"
    crawl(wiki_site, tmp_path / "corpus", "--limit", "1", "-s", f"CRAWLER_CONTACT_URL={contact}")
    assert {hit.user_agent for hit in wiki_site.hits} == {f"GhostwriterBot/0.1 (+{contact})"}


def test_damaged_index_or_unusable_out_is_a_usage_error(wiki_site, tmp_path):
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    (damaged / "index.jsonl").write_text("{not json\n")
    (tmp_path / "a-file").write_text("")
    for out, message in ((damaged, "fix or delete that line"), (tmp_path / "a-file", "cannot use")):
        result = run_crawler("bulbapedia", "--out", str(out), "--site-root", wiki_site.url)
        assert result.returncode == 2
        assert result.stderr.startswith("error: ") and message in result.stderr
        assert result.stderr.count("\n") == 1
    assert wiki_site.hits == []
