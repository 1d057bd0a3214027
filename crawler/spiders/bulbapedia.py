"""Bulbapedia: episode list pages → episode pages → the plot section of each."""

import re
from urllib.parse import unquote, urlsplit

import scrapy

from crawler.items import EpisodeItem
from crawler.mediawiki import page_title, plot_text
from crawler.spiders.corpus_spider import CorpusSpider

# The episode code ends an episode page's name: "/wiki/EP001" or "/wiki/Some_title_(EP001)".
EPISODE_LINK = re.compile(r"(?:^|/|_\()(?P<code>[A-Z]{2,3}\d{3})\)?$")


def parse_series(value, *, known) -> list[str]:
    """Series codes from "EP,AG" (or a list); all known series when empty."""
    if not value:
        return list(known)
    codes = value.split(",") if isinstance(value, str) else list(value)
    codes = [code.strip().upper() for code in codes if code.strip()]
    unknown = [code for code in codes if code not in known]
    if unknown or not codes:
        named = ", ".join(unknown) if unknown else repr(value)
        raise ValueError(f"unknown series {named}; choose from {', '.join(known)}")
    return codes


def episode_code(url: str) -> str | None:
    match = EPISODE_LINK.search(unquote(urlsplit(url).path))
    return match.group("code") if match else None


class BulbapediaSpider(CorpusSpider):
    name = "bulbapedia"

    def __init__(self, *args, series=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.series_arg = series
        self.lists_without_links: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.series = parse_series(
            spider.series_arg, known=crawler.settings.getdict("BULBAPEDIA_LIST_PAGES")
        )
        return spider

    async def start(self):
        root = self.settings["BULBAPEDIA_ROOT"].rstrip("/")
        list_pages = self.settings.getdict("BULBAPEDIA_LIST_PAGES")
        for code in self.series:
            yield scrapy.Request(
                root + list_pages[code],
                callback=self.parse_list,
                errback=self.list_page_failed,
                cb_kwargs={"series": code},
            )

    def list_page_failed(self, failure):
        self.logger.error(
            "Could not read the episode list %s (%s); check --series or BULBAPEDIA_LIST_PAGES",
            failure.request.url,
            failure.getErrorMessage(),
        )

    def parse_list(self, response, series):
        seen = set()
        for href in response.css("#mw-content-text a::attr(href)").getall():
            url = response.urljoin(href)
            code = episode_code(url)
            if not code or not code.startswith(series) or code in seen:
                continue
            seen.add(code)
            if self.skip_finished(code):
                continue
            yield scrapy.Request(url, callback=self.parse_episode, cb_kwargs={"code": code})
        if not seen:
            self.lists_without_links.add(series)

    def closed(self, reason):
        # One warning for all of them: a site whose markup changed would repeat it per series.
        if self.lists_without_links:
            self.logger.warning(
                "No episode links on the list pages of %s; if those series have episodes, "
                "check BULBAPEDIA_LIST_PAGES, else leave them out with --series",
                ", ".join(code for code in self.series if code in self.lists_without_links),
            )

    def parse_episode(self, response, code):
        page = response.text
        yield EpisodeItem(id=code, title=page_title(page), url=response.url, text=plot_text(page))
