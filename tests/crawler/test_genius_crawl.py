"""Real crawls of a local Genius-like API and site with `python -m crawler genius`."""

import subprocess
import sys
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.crawler import genius_pages
from tests.crawler.conftest import REPO_ROOT, crawler_env, read_index, run_crawler

LOCAL = ["-s", "CORPUS_MIN_CHARS=20", "--artist", genius_pages.ARTIST.lower()]


def crawl(site, out, *extra, env=None):
    args = ["--out", str(out), "--api-root", f"{site.url}/api", "--web-root", site.url]
    return run_crawler("genius", *args, *LOCAL, *extra, env=env)


def api_queries(site, path_end: str) -> list[dict]:
    return [
        parse_qs(urlsplit(hit.path).query)
        for hit in site.hits
        if urlsplit(hit.path).path.endswith(path_end)
    ]


def test_crawl_pages_through_the_api_and_extracts_lyrics(genius_site, tmp_path):
    out = tmp_path / "corpus"
    result = crawl(genius_site, out, "-s", "GENIUS_PAGE_SIZE=4")
    assert result.returncode == 0, result.stderr[-3000:]

    pages = api_queries(genius_site, "/songs")
    assert [q["page"] for q in pages] == [["1"], ["2"], ["3"]]
    assert all(q["sort"] == ["popularity"] and q["per_page"] == ["4"] for q in pages)

    index = {record["id"]: record for record in read_index(out)}
    written = [str(i) for i in genius_pages.SONG_IDS if i != 1003]  # 1003 is an instrumental
    assert sorted(index) == sorted(written)
    for song_id in written:
        assert (out / f"{song_id}.txt").read_text("utf-8") == genius_pages.expected_text(
            int(song_id)
        )
        assert index[song_id]["source"] == "genius"
        assert index[song_id]["url"] == genius_site.url + genius_pages.song_path(int(song_id))
    assert index["1001"]["title"] == "Paper Lanterns"
    assert "1003" in result.stderr and "no text extracted" in result.stderr
    assert "dropped: 1 (empty 1)" in result.stdout


def test_token_goes_to_the_api_only(genius_site, tmp_path):
    result = crawl(genius_site, tmp_path / "corpus", "-s", "GENIUS_PAGE_SIZE=4")
    assert result.returncode == 0, result.stderr[-3000:]
    api = {hit.authorization for hit in genius_site.hits if hit.path.startswith("/api/")}
    pages = {hit.authorization for hit in genius_site.hits if hit.path.endswith("-lyrics")}
    assert api == {f"Bearer {genius_pages.TOKEN}"}
    assert pages == {None}


def test_max_songs_stops_listing_and_fetching(genius_site, tmp_path):
    out = tmp_path / "corpus"
    result = crawl(genius_site, out, "-s", "GENIUS_PAGE_SIZE=4", "--max-songs", "5")
    assert result.returncode == 0, result.stderr[-3000:]
    assert [q["page"] for q in api_queries(genius_site, "/songs")] == [["1"], ["2"]]
    song_pages = [hit.path for hit in genius_site.hits if hit.path.endswith("-lyrics")]
    assert sorted(song_pages) == sorted(genius_pages.song_path(i) for i in range(1001, 1006))


def test_default_page_size_is_the_apis_fifty(genius_site, tmp_path):
    result = crawl(genius_site, tmp_path / "corpus")
    assert result.returncode == 0, result.stderr[-3000:]
    assert [q["per_page"] for q in api_queries(genius_site, "/songs")] == [["50"]]


def test_unknown_artist_is_an_error_in_the_summary(genius_site, tmp_path):
    args = ["--out", str(tmp_path / "c"), "--api-root", f"{genius_site.url}/api"]
    result = run_crawler("genius", *args, "--artist", "Nobody At All")
    assert "no artist named 'Nobody At All'" in result.stderr
    assert "errors: 1" in result.stdout


def test_missing_token_is_one_line_and_exit_2(genius_site, tmp_path):
    args = ["--out", str(tmp_path / "c"), "--api-root", f"{genius_site.url}/api"]
    result = run_crawler("genius", *args, "--artist", "X", env=crawler_env(token=None))
    assert result.returncode == 2
    assert result.stderr.startswith("error: GENIUS_ACCESS_TOKEN is not set")
    assert result.stderr.count("\n") == 1
    assert genius_site.hits == []
    assert not (tmp_path / "c").exists()


@pytest.mark.timeout(60)
def test_scrapy_crawl_without_token_gives_the_same_line_and_exit_2(genius_site, tmp_path):
    out = tmp_path / "c"
    result = subprocess.run(
        [sys.executable, "-m", "scrapy", "crawl", "genius", "-a", "artist=X", "-a", f"out={out}"],
        cwd=REPO_ROOT,
        env=crawler_env(token=None),
        capture_output=True,
        text=True,
        timeout=30,
    )
    cli = run_crawler("genius", "--out", str(out), "--artist", "X", env=crawler_env(token=None))
    assert (result.returncode, cli.returncode) == (2, 2)
    assert result.stderr == cli.stderr
    assert result.stderr.startswith("error: GENIUS_ACCESS_TOKEN is not set")
    assert result.stderr.count("\n") == 1
    assert genius_site.hits == []
    assert not out.exists()


def test_bad_max_songs_is_a_usage_error(genius_site, tmp_path):
    result = run_crawler(
        "genius", "--out", str(tmp_path / "c"), "--artist", "X", "--max-songs", "0"
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: --max-songs must be a whole number")


def test_rejected_token_is_an_error_naming_it(genius_site, tmp_path):
    args = ["--out", str(tmp_path / "c"), "--api-root", f"{genius_site.url}/api"]
    result = run_crawler("genius", *args, "--artist", "X", env=crawler_env(token="wrong"))
    assert "is GENIUS_ACCESS_TOKEN valid?" in result.stderr
    assert "errors: 1" in result.stdout
    assert [hit.path for hit in genius_site.hits] == ["/robots.txt", "/api/search?q=X"]
