"""`scrapy crawl NAME -a …`: Scrapy's command, after the spider's own argument checks.

A spider that refuses its arguments in __init__ fails inside the event loop, which Scrapy
reports as a traceback ("Task exception was never retrieved") and exit code 1. Checked here,
before Scrapy even starts, a mistake gives the same one line and exit code 2 as
`python -m crawler`.
"""

import sys

from scrapy.commands import crawl
from scrapy.spiderloader import get_spider_loader


class Command(crawl.Command):
    def process_options(self, args, opts) -> None:
        super().process_options(args, opts)  # parses -a NAME=VALUE into opts.spargs
        if len(args) != 1:
            return  # Scrapy's own usage error follows
        loader = get_spider_loader(self.settings)
        try:
            if args[0] not in loader.list():
                raise ValueError(f"no spider {args[0]!r}; choose {' or '.join(loader.list())}")
            check = getattr(loader.load(args[0]), "check_arguments", None)
            if check is not None:
                check(**opts.spargs)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            sys.exit(2)
