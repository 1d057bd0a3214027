"""What both spiders share: run options given as spider arguments, and the corpus folder.

`scrapy crawl NAME -a out=DIR -a limit=N -a resume=DIR -a cache=1` and `python -m crawler NAME
--out DIR --limit N --resume DIR --cache` arrive here the same way, as spider arguments. They are
turned into settings before Scrapy freezes them (spiders are created first).
"""

import os

import scrapy

from crawler.corpus_folder import CorpusFolder
from crawler.settings import user_agent


def positive_int(value, *, name: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if number < 1:
        raise ValueError(f"{name} must be a whole number of at least 1, got {value!r}")
    return number


def is_true(value) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on")


class CorpusSpider(scrapy.Spider):
    """Base of the corpus spiders: `self.corpus` is the output folder, opened at start."""

    @classmethod
    def check_arguments(cls, *, limit=None, **_) -> None:
        """Checks spider arguments before any crawl starts (both entry points call it):
        ValueError with a message that names the fix."""
        if limit is not None:
            positive_int(limit, name="limit")

    @classmethod
    def from_crawler(cls, crawler, *args, out=None, limit=None, resume=None, cache=None, **kwargs):
        settings = crawler.settings
        if limit is not None:
            settings.set("CLOSESPIDER_ITEMCOUNT", positive_int(limit, name="limit"), "cmdline")
        if resume:
            settings.set("JOBDIR", os.fspath(resume), "cmdline")
        if cache is not None:
            settings.set("HTTPCACHE_ENABLED", is_true(cache), "cmdline")
        # A contact URL given as a setting reaches the User-Agent, unless that is given too.
        contact_priority = settings.getpriority("CRAWLER_CONTACT_URL")
        if settings.getpriority("USER_AGENT") <= contact_priority:
            agent = user_agent(settings["CRAWLER_CONTACT_URL"])
            settings.set("USER_AGENT", agent, contact_priority)
        spider = super().from_crawler(crawler, *args, **kwargs)
        out = (
            out
            or settings.get("CORPUS_DIR")
            or os.path.join(settings["DATA_DIR"], "corpus", cls.name)
        )
        spider.corpus = CorpusFolder(out)
        return spider

    def skip_finished(self, doc_id: str) -> bool:
        """True (and counted) when the document is already in the corpus folder."""
        if self.corpus.is_finished(doc_id):
            self.crawler.stats.inc_value("corpus/skipped_finished")
            return True
        return False
