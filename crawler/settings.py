"""Scrapy settings for the crawl stage: polite by default.

Defaults here → `GHOST_*` environment → explicit arguments (`python -m crawler … --delay`,
`-s NAME=VALUE`, or `scrapy crawl NAME -s …`). Tests and the demo point the spiders at a local
site by overriding the *_ROOT settings.
"""

import os

BOT_NAME = "ghostwriter"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"
# `scrapy crawl` checks spider arguments before starting, as `python -m crawler` does.
COMMANDS_MODULE = "crawler.commands"

# Who we are and how to reach whoever runs the crawl: site operators see this in their logs.
CRAWLER_CONTACT_URL = os.environ.get(
    "GHOST_CRAWLER_CONTACT_URL", "https://github.com/ghostwriter-project/ghostwriter"
)


def user_agent(contact_url: str) -> str:
    return f"GhostwriterBot/0.1 (+{contact_url})"


USER_AGENT = user_agent(CRAWLER_CONTACT_URL)

# Politeness: obey robots.txt, one request at a time per site, at least a second apart, slower
# when the site slows down (AutoThrottle), and back off as long as a 429/503 asks (Retry-After).
ROBOTSTXT_OBEY = True
CONCURRENT_REQUESTS = 4
CONCURRENT_REQUESTS_PER_DOMAIN = 1
DOWNLOAD_DELAY = float(os.environ.get("GHOST_CRAWLER_DELAY", "1.5"))
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = DOWNLOAD_DELAY
AUTOTHROTTLE_MAX_DELAY = 60.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0
RETRY_ENABLED = True
RETRY_TIMES = 3
RETRY_HTTP_CODES = [429, 500, 502, 503, 504, 522, 524, 408]
RETRY_AFTER_MAX = 300.0  # seconds; a longer Retry-After gives the page up
DOWNLOAD_TIMEOUT = 60

DOWNLOADER_MIDDLEWARES = {
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "crawler.middlewares.RetryAfterMiddleware": 550,
    "crawler.middlewares.GeniusAuthMiddleware": 950,
}
ITEM_PIPELINES = {
    "crawler.pipelines.MinimumTextPipeline": 100,
    "crawler.pipelines.CorpusWriterPipeline": 800,
}
EXTENSIONS = {
    "crawler.extensions.JobDirGuard": 0,
    "crawler.extensions.CrawlSummary": 900,
}
TELNETCONSOLE_ENABLED = False  # no control ports opened by a crawl
REMOTE_CONTROL_ENABLED = False

# Where documents go when neither --out nor `-a out=` says: $GHOST_DATA_DIR/corpus/<spider>.
DATA_DIR = os.environ.get("GHOST_DATA_DIR", "data")
CORPUS_MIN_CHARS = 200

# HTTP cache (off unless --cache): errors and throttling answers are never stored.
HTTPCACHE_ENABLED = False
HTTPCACHE_DIR = os.path.abspath(os.path.join(DATA_DIR, "httpcache"))
HTTPCACHE_IGNORE_HTTP_CODES = [403, 404, 408, 429, 500, 502, 503, 504, 522, 524]

# Bulbapedia: episode list page per series code; episode codes are the document ids.
BULBAPEDIA_ROOT = os.environ.get("GHOST_BULBAPEDIA_ROOT", "https://bulbapedia.bulbagarden.net")
BULBAPEDIA_LIST_PAGES = {
    "EP": "/wiki/List_of_original_series_episodes",
    "AG": "/wiki/List_of_Advanced_Generation_series_episodes",
    "DP": "/wiki/List_of_Diamond_%26_Pearl_series_episodes",
    "BW": "/wiki/List_of_Best_Wishes_series_episodes",
    "XY": "/wiki/List_of_XY_series_episodes",
    "SM": "/wiki/List_of_Sun_%26_Moon_series_episodes",
    "JN": "/wiki/List_of_Pok%C3%A9mon_Journeys:_The_Series_episodes",
    "HZ": "/wiki/List_of_Pok%C3%A9mon_Horizons:_The_Series_episodes",
}

# Genius: the API lists an artist's songs; song pages live on the web root.
GENIUS_API_ROOT = os.environ.get("GHOST_GENIUS_API_ROOT", "https://api.genius.com")
GENIUS_WEB_ROOT = os.environ.get("GHOST_GENIUS_WEB_ROOT", "https://genius.com")
GENIUS_PAGE_SIZE = 50  # the API's maximum per_page

FEED_EXPORT_ENCODING = "utf-8"
