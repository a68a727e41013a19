"""Item pipelines: store only. Documents are buffered and merged into the Delta table in
batches, so a killed crawl keeps every batch it committed and the next crawl completes it."""
from __future__ import annotations

from scrapy import signals

from pipeline.schema import Document
from pipeline.store import MergeCounts, Store


class DeltaStorePipeline:
    def __init__(self, crawler, root: str, flush_items: int):
        self.crawler = crawler
        self.store = Store(root)
        self.flush_items = flush_items
        self.buffer: list[Document] = []
        self.counts = MergeCounts()
        self.run_id: str | None = None

    @classmethod
    def from_crawler(cls, crawler):
        s = crawler.settings
        pipe = cls(crawler, s.get("DEBATELAKE_ROOT"), s.getint("DEBATELAKE_FLUSH_ITEMS", 200))
        crawler.signals.connect(pipe.spider_closed, signal=signals.spider_closed)
        return pipe

    def open_spider(self, spider=None):
        spider = spider or self.crawler.spider
        self.run_id = self.store.start_run("crawl", getattr(spider, "source", spider.name))
        spider.run_id = self.run_id

    def process_item(self, item, spider=None):
        if isinstance(item, Document):
            item.run_id = self.run_id
            self.buffer.append(item)
            if len(self.buffer) >= self.flush_items:
                self.flush()
        return item

    def flush(self) -> None:
        if self.buffer:
            batch, self.buffer = self.buffer, []
            self.counts += self.store.merge_documents(batch, {"run_id": self.run_id})

    def close_spider(self, spider=None):
        self.flush()

    def spider_closed(self, spider, reason):
        stats = self.crawler.stats
        responses = {
            key.rsplit("/", 1)[-1]: value
            for key, value in (stats.get_stats() or {}).items()
            if key.startswith("downloader/response_status_count/")
        }
        status = "finished" if reason == "finished" else f"failed ({reason})" if reason != "shutdown" else "aborted"
        self.store.finish_run(
            self.run_id,
            status,
            requests=stats.get_value("downloader/request_count", 0),
            responses=responses,
            docs_new=self.counts.new,
            docs_updated=self.counts.updated,
            docs_unchanged=self.counts.unchanged,
            errors=stats.get_value("debatelake/errors", 0),
            error_messages=stats.get_value("debatelake/error_messages", []),
            stats={"items": stats.get_value("item_scraped_count", 0), "reason": reason,
                   "kept_deleted": self.counts.kept_deleted,  # found with text again, deleted by their authors
                   # [crawl] http_cache: pages revalidated (304, body reused), refetched, stored, ...
                   **{k: v for k, v in (stats.get_stats() or {}).items() if k.startswith("httpcache/")}},
        )
