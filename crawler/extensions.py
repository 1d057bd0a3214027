"""Extensions: keep a job directory trustworthy across kills, and summarise each crawl."""

import logging
import shutil
from pathlib import Path

from scrapy import signals
from scrapy.exceptions import NotConfigured

logger = logging.getLogger(__name__)

RUNNING_MARKER = "ghostwriter-running"


class JobDirGuard:
    """Discards a job directory's request queue when the run that wrote it was killed.

    Scrapy saves its scheduler queue only on a clean stop (finished, or one Ctrl-C); after a
    SIGKILL the queue and `requests.seen` disagree, and trusting `requests.seen` would skip
    pages that were queued but never fetched. The corpus folder already records which documents
    are finished, so after a kill the crawl starts over from the list pages and skips those.
    """

    def __init__(self, jobdir: str) -> None:
        self.jobdir = Path(jobdir)
        self.marker = self.jobdir / RUNNING_MARKER
        if self.marker.exists():
            logger.warning(
                "The previous run with JOBDIR %s did not stop cleanly: discarding its request "
                "queue; finished documents are still skipped",
                self.jobdir,
            )
            shutil.rmtree(self.jobdir / "requests.queue", ignore_errors=True)
            (self.jobdir / "requests.seen").unlink(missing_ok=True)
        self.jobdir.mkdir(parents=True, exist_ok=True)
        self.marker.touch()

    @classmethod
    def from_crawler(cls, crawler):
        jobdir = crawler.settings.get("JOBDIR")
        if not jobdir:
            raise NotConfigured
        guard = cls(jobdir)
        # spider_closed fires after the scheduler has written its queue to disk.
        crawler.signals.connect(guard.spider_closed, signal=signals.spider_closed)
        return guard

    def spider_closed(self, reason: str) -> None:
        if reason == "finished":
            # A finished job has nothing left to resume; the next run with this JOBDIR reads the
            # list pages again for new documents (finished ones are skipped via the corpus).
            shutil.rmtree(self.jobdir / "requests.queue", ignore_errors=True)
            (self.jobdir / "requests.seen").unlink(missing_ok=True)
        self.marker.unlink(missing_ok=True)


def summary_lines(stats: dict) -> list[str]:
    """A crawl's outcome from its stats: pages fetched, documents written, drops, errors."""
    dropped = {
        key.removeprefix("corpus/dropped/"): count
        for key, count in sorted(stats.items())
        if key.startswith("corpus/dropped/")
    }
    dropped_text = ", ".join(f"{reason} {count}" for reason, count in dropped.items()) or "none"
    return [
        f"pages fetched: {stats.get('downloader/response_count', 0)}"
        f" (from cache: {stats.get('httpcache/hit', 0)})",
        f"documents written: {stats.get('corpus/documents_written', 0)}"
        f" ({stats.get('corpus/bytes_written', 0) / 1024:.1f} KiB;"
        f" already in the corpus, skipped: {stats.get('corpus/skipped_finished', 0)})",
        f"dropped: {sum(dropped.values())} ({dropped_text})",
        f"errors: {stats.get('log_count/ERROR', 0)}",
        f"finish reason: {stats.get('finish_reason', 'unknown')}"
        f" after {stats.get('elapsed_time_seconds', 0):.1f} s",
    ]


class CrawlSummary:
    """Logs the summary when the spider closes (also under `scrapy crawl`)."""

    def __init__(self, crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler):
        summary = cls(crawler)
        crawler.signals.connect(summary.spider_closed, signal=signals.spider_closed)
        return summary

    def spider_closed(self, reason: str) -> None:
        stats = dict(self.crawler.stats.get_stats())
        stats.setdefault("finish_reason", reason)
        logger.info("Crawl summary:\n  %s", "\n  ".join(summary_lines(stats)))
