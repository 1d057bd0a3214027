"""Downloader middlewares: retries that honour Retry-After, and the Genius API token."""

import email.utils
import os
from datetime import UTC, datetime

from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.utils.asyncio import sleep
from scrapy.utils.response import response_status_message


def retry_after_seconds(value: str | bytes | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date); None if absent."""
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class RetryAfterMiddleware(RetryMiddleware):
    """Scrapy's retry of 429/5xx, waiting first as long as the server's Retry-After asks.

    The wait is capped by RETRY_AFTER_MAX seconds; a server asking for longer is given up on
    (after logging why) rather than holding the crawl for hours.
    """

    def __init__(self, settings) -> None:
        super().__init__(settings)
        self.max_wait = settings.getfloat("RETRY_AFTER_MAX")

    async def process_response(self, request, response):
        if request.meta.get("dont_retry") or response.status not in self.retry_http_codes:
            return response
        wait = retry_after_seconds(response.headers.get("Retry-After"))
        reason = response_status_message(response.status)
        if wait is not None and wait > self.max_wait:
            self.crawler.stats.inc_value("retry/retry_after_too_long")
            request.meta["max_retry_times"] = 0
            reason = f"{reason}, Retry-After {wait:.0f}s exceeds RETRY_AFTER_MAX={self.max_wait:g}"
        retry = self._retry(request, reason)
        if retry is None:
            return response
        if wait:
            self.crawler.stats.inc_value("retry/retry_after_waits")
            await sleep(wait)
        return retry


class GeniusAuthMiddleware:
    """Adds the Genius API token at download time, so it is never written into the job
    directory's request queue or the HTTP cache."""

    def __init__(self, crawler) -> None:
        self.api_root = crawler.settings.get("GENIUS_API_ROOT").rstrip("/") + "/"

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_request(self, request):
        if request.url.startswith(self.api_root):
            token = os.environ.get("GENIUS_ACCESS_TOKEN", "")
            request.headers["Authorization"] = f"Bearer {token}"
        return None

    def process_response(self, request, response):
        # A retry copies this request back into the (possibly on-disk) queue: without the token.
        request.headers.pop("Authorization", None)
        return response
