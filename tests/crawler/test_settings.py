"""The crawl stage's defaults are polite without any flags."""

import importlib

import pytest
from scrapy.settings import Settings

import crawler.settings


@pytest.fixture
def defaults(monkeypatch):
    for name in ("GHOST_CRAWLER_DELAY", "GHOST_CRAWLER_CONTACT_URL", "GHOST_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    settings.setmodule(importlib.reload(crawler.settings), priority="project")
    yield settings
    importlib.reload(crawler.settings)


def test_polite_defaults(defaults):
    assert defaults.getbool("ROBOTSTXT_OBEY")
    assert defaults.getfloat("DOWNLOAD_DELAY") >= 1
    assert defaults.getbool("AUTOTHROTTLE_ENABLED")
    assert defaults.getfloat("AUTOTHROTTLE_START_DELAY") >= 1
    assert 1 <= defaults.getint("CONCURRENT_REQUESTS_PER_DOMAIN") <= 2
    assert {429, 503} <= set(defaults.getlist("RETRY_HTTP_CODES"))
    middlewares = defaults.getdict("DOWNLOADER_MIDDLEWARES")
    assert middlewares["scrapy.downloadermiddlewares.retry.RetryMiddleware"] is None
    assert "crawler.middlewares.RetryAfterMiddleware" in middlewares


def test_user_agent_names_the_bot_and_a_contact_url(defaults):
    agent = defaults["USER_AGENT"]
    assert agent.startswith("GhostwriterBot/")
    assert f"(+{defaults['CRAWLER_CONTACT_URL']})" in agent
    assert defaults["CRAWLER_CONTACT_URL"].startswith("https://")


def test_contact_url_from_the_environment(monkeypatch):
    monkeypatch.setenv("GHOST_CRAWLER_CONTACT_URL", "https://example.org/contact")
    try:
        module = importlib.reload(crawler.settings)
        assert module.USER_AGENT == "GhostwriterBot/0.1 (+https://example.org/contact)"
    finally:
        monkeypatch.delenv("GHOST_CRAWLER_CONTACT_URL")
        importlib.reload(crawler.settings)
