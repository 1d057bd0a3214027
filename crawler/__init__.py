"""Crawl stage: Scrapy spiders that write a corpus folder (`<id>.txt` + `index.jsonl`)."""
