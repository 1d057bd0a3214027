"""What `python -m crawler` shows by default: progress, real warnings and errors, its summary.

Scrapy reports at INFO level its versions, every overridden setting, each list of enabled
extensions and middlewares and, at the end, its whole stats dict: ~80 lines around a crawl
whose outcome `python -m crawler` prints itself in six. Those reports are dropped unless
`-v` is given; everything at WARNING and above still shows.

A filter on each reporting logger rather than a level: Scrapy's logging setup (dictConfig)
resets the levels of existing `scrapy.*` loggers, but not their filters.
"""

import logging

# Logger → the start of the INFO messages hidden there ("": all of them).
REPORTS = {
    "scrapy.utils.log": "",  # "Scrapy started", library versions
    "scrapy.addons": "",
    # Only the settings: "Received SIGINT, shutting down gracefully" comes from here too.
    "scrapy.crawler": "Overridden settings",
    "scrapy.middleware": "",  # "Enabled extensions / middlewares / pipelines"
    "scrapy.core.engine": "",  # "Spider opened", "Closing spider", "Spider closed"
    "scrapy.statscollectors": "",  # "Dumping Scrapy stats"
    "crawler.extensions": "Crawl summary",  # `python -m crawler` prints it itself
}


class HiddenReport(logging.Filter):
    def __init__(self, message_start: str) -> None:
        super().__init__()
        self.message_start = message_start

    def filter(self, record: logging.LogRecord) -> bool:
        hidden = str(record.msg).startswith(self.message_start)
        return record.levelno >= logging.WARNING or not hidden


def hide_scrapy_reports() -> None:
    for name, message_start in REPORTS.items():
        logging.getLogger(name).addFilter(HiddenReport(message_start))
