"""python -m crawler bulbapedia|genius --out DIR … — run a spider and print what it did."""

import argparse
import sys

from scrapy.crawler import AsyncCrawlerProcess
from scrapy.settings import Settings

from cli import OneLineParser
from crawler.console import hide_scrapy_reports
from crawler.corpus_folder import CorpusFolder
from crawler.extensions import summary_lines
from crawler.spiders.bulbapedia import BulbapediaSpider, parse_series
from crawler.spiders.corpus_spider import positive_int
from crawler.spiders.genius import GeniusSpider, parse_artists

# Exit codes: 0 done, 1 the crawl failed, 2 bad usage, 130 stopped by Ctrl-C (resumable).
EXIT_CODES = {"finished": 0, "closespider_itemcount": 0, "shutdown": 130}


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="python -m crawler", description=__doc__)
    commands = parser.add_subparsers(dest="spider", required=True, parser_class=OneLineParser)
    bulbapedia = commands.add_parser("bulbapedia", help="episode plot summaries from Bulbapedia")
    bulbapedia.add_argument("--series", help="series codes, e.g. EP,AG (default: all listed)")
    bulbapedia.add_argument("--site-root", help="Bulbapedia root URL (BULBAPEDIA_ROOT)")
    genius = commands.add_parser("genius", help="an artist's most popular lyrics from Genius")
    genius.add_argument("--artist", action="append", required=True, help="repeat for several")
    genius.add_argument("--max-songs", default="60", help="songs per artist (default 60)")
    genius.add_argument("--api-root", help="Genius API root URL (GENIUS_API_ROOT)")
    genius.add_argument("--web-root", help="Genius song-page root URL (GENIUS_WEB_ROOT)")
    for sub in (bulbapedia, genius):
        sub.add_argument("--out", required=True, help="corpus folder to write")
        sub.add_argument("--limit", help="stop after N new documents")
        sub.add_argument("--resume", metavar="DIR", help="job folder to pause/resume the crawl")
        sub.add_argument("--cache", action="store_true", help="keep an HTTP cache of pages")
        sub.add_argument("--delay", type=float, help="seconds between requests (default 1.5)")
        sub.add_argument("--log-level", default="INFO", help="Scrapy log level (default INFO)")
        sub.add_argument(
            "-v", "--verbose", action="store_true", help="all of Scrapy's log (DEBUG level)"
        )
        sub.add_argument("-s", "--set", action="append", default=[], metavar="NAME=VALUE")
    return parser


def crawl_settings(args) -> Settings:
    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    overrides = {"LOG_LEVEL": "DEBUG" if args.verbose else args.log_level.upper()}
    if args.delay is not None:
        if args.delay < 0:
            raise ValueError(f"--delay must be 0 or more seconds, got {args.delay}")
        overrides.update(DOWNLOAD_DELAY=args.delay, AUTOTHROTTLE_START_DELAY=args.delay)
    roots = {
        "BULBAPEDIA_ROOT": getattr(args, "site_root", None),
        "GENIUS_API_ROOT": getattr(args, "api_root", None),
        "GENIUS_WEB_ROOT": getattr(args, "web_root", None),
    }
    overrides.update({name: url for name, url in roots.items() if url})
    for assignment in args.set:
        name, sep, value = assignment.partition("=")
        if not sep or not name:
            raise ValueError(f"-s takes NAME=VALUE, got {assignment!r}")
        overrides[name] = value
    settings.setdict(overrides, priority="cmdline")
    return settings


def spider_arguments(args, settings: Settings) -> tuple[type, dict]:
    """The spider class and its arguments, validated here so mistakes end before any crawl."""
    common = {"out": args.out, "resume": args.resume, "cache": args.cache or None}
    if args.limit is not None:
        common["limit"] = positive_int(args.limit, name="--limit")
    if args.spider == "bulbapedia":
        series = parse_series(args.series, known=settings.getdict("BULBAPEDIA_LIST_PAGES"))
        return BulbapediaSpider, {**common, "series": series}
    max_songs = positive_int(args.max_songs, name="--max-songs")
    return GeniusSpider, {**common, "artist": parse_artists(args.artist), "max_songs": max_songs}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = crawl_settings(args)
        spider_class, spider_args = spider_arguments(args, settings)
        spider_class.check_arguments(**spider_args)
        CorpusFolder(args.out)  # a damaged index or an unusable folder is reported here
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: cannot use --out {args.out} ({exc}); choose another folder", file=sys.stderr)
        return 2
    if not args.verbose:
        hide_scrapy_reports()
    process = AsyncCrawlerProcess(settings)
    crawler = process.create_crawler(spider_class)
    process.crawl(crawler, **spider_args)
    process.start()
    stats = crawler.stats.get_stats()
    if not stats:  # the spider failed to start; Scrapy has logged why
        return 1
    print(f"{spider_class.name} → {args.out}")
    for line in summary_lines(stats):
        print(f"  {line}")
    reason = stats.get("finish_reason")
    if reason == "shutdown":
        again = f"--resume {args.resume}" if args.resume else "the same --out"
        print(f"  stopped early: run again with {again} to continue")
    return EXIT_CODES.get(reason, 1)


if __name__ == "__main__":
    sys.exit(main())
