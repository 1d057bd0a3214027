"""Fixtures for crawl tests: local sites on 127.0.0.1 and a way to run the crawler CLI."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.crawler.genius_pages import TOKEN, build_genius_site
from tests.crawler.local_site import LocalSite
from tests.crawler.wiki_pages import build_wiki_site

REPO_ROOT = Path(__file__).resolve().parents[2]
# No waiting between requests in tests; everything else stays as configured (robots, retries).
FAST = ["--delay", "0", "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "RETRY_AFTER_MAX=5"]


@pytest.fixture
def wiki_site():
    with LocalSite() as site:
        build_wiki_site(site)
        yield site


@pytest.fixture
def genius_site():
    with LocalSite() as site:
        build_genius_site(site)
        yield site


def crawler_env(*, token: str | None = TOKEN, data_dir: Path | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "GENIUS_ACCESS_TOKEN"}
    if token:
        env["GENIUS_ACCESS_TOKEN"] = token
    if data_dir:
        env["GHOST_DATA_DIR"] = str(data_dir)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def crawler_command(spider: str, *args: str) -> list[str]:
    """The CLI command; a test's own arguments come after FAST, so they win."""
    return [sys.executable, "-m", "crawler", spider, *FAST, *args]


def run_crawler(*args: str, env: dict | None = None, timeout: float = 90):
    command = crawler_command(*args) if args else [sys.executable, "-m", "crawler"]
    return subprocess.run(
        command,
        cwd=REPO_ROOT,
        env=env or crawler_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def read_index(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "index.jsonl").read_text("utf-8").splitlines()]


def corpus_snapshot(out: Path) -> dict:
    """What two crawls of the same site must agree on: texts and index lines but fetched_at."""
    texts = {path.name: path.read_bytes() for path in sorted(out.glob("*.txt"))}
    index = sorted(
        json.dumps({k: v for k, v in record.items() if k != "fetched_at"}, sort_keys=True)
        for record in read_index(out)
    )
    return {"texts": texts, "index": index, "files": sorted(p.name for p in out.iterdir())}
