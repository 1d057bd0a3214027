"""Scrapy commands of this project (COMMANDS_MODULE): `crawl` with the project's usage errors."""
