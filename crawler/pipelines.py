"""Item pipelines: drop extractions too short to be documents, then write the corpus folder."""

from itemadapter import ItemAdapter
from scrapy.exceptions import DropItem


class MinimumTextPipeline:
    """Drops items whose text is empty or shorter than CORPUS_MIN_CHARS, naming the reason."""

    def __init__(self, crawler) -> None:
        self.stats = crawler.stats
        self.min_chars = crawler.settings.getint("CORPUS_MIN_CHARS")

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_item(self, item):
        adapter = ItemAdapter(item)
        text = (adapter.get("text") or "").strip()
        if not text:
            self._drop(adapter, "empty", "no text extracted (no plot section or lyrics found)")
        if len(text) < self.min_chars:
            self._drop(
                adapter, "too_short", f"text too short ({len(text)} < {self.min_chars} chars)"
            )
        adapter["text"] = text
        return item

    def _drop(self, adapter: ItemAdapter, reason: str, detail: str) -> None:
        self.stats.inc_value(f"corpus/dropped/{reason}")
        raise DropItem(f"{adapter.get('id')} ({adapter.get('url')}): {detail}")


class CorpusWriterPipeline:
    """Writes `<id>.txt` and its index line into the spider's corpus folder.

    `--limit N` (CLOSESPIDER_ITEMCOUNT) is held exactly here: Scrapy closes the spider at N items,
    but pages already in flight still arrive, and writing them would overshoot the limit.
    """

    def __init__(self, crawler) -> None:
        self.crawler = crawler
        self.limit = crawler.settings.getint("CLOSESPIDER_ITEMCOUNT")

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_item(self, item):
        spider = self.crawler.spider
        adapter = ItemAdapter(item)
        if spider.corpus.is_finished(adapter["id"]):
            # Two links to one document within a run (e.g. a song listed under two artists).
            self.crawler.stats.inc_value("corpus/dropped/duplicate")
            raise DropItem(f"{adapter['id']}: already in {spider.corpus.path}")
        written = self.crawler.stats.get_value("corpus/documents_written", 0)
        if self.limit and written >= self.limit:
            self.crawler.stats.inc_value("corpus/dropped/over_limit")
            raise DropItem(f"{adapter['id']}: the limit of {self.limit} documents is reached")
        spider.corpus.add(
            doc_id=adapter["id"],
            title=adapter["title"],
            url=adapter["url"],
            source=spider.name,
            text=adapter["text"],
        )
        self.crawler.stats.inc_value("corpus/documents_written")
        self.crawler.stats.inc_value("corpus/bytes_written", len(adapter["text"].encode()))
        return item
