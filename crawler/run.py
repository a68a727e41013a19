"""Run crawls in this process: `python -m crawler.run --root DIR [--config FILE] SOURCE ...`.

The command line starts this module in a child process for every crawl, because Scrapy's
Twisted reactor cannot be restarted within one process (DESIGN.md, decision 7).
"""
from __future__ import annotations

import argparse
import json
import logging
import sys

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings

from crawler.httpcache import http_cache_dir, prune, scrapy_cache_settings
from pipeline.config import Config, ConfigError, CrawlSettings, load_config
from pipeline.store import Store, StoreError, resolve_root


def scrapy_settings(crawl: CrawlSettings, root: str) -> Settings:
    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    settings.setdict(
        {
            "DEBATELAKE_ROOT": root,
            "DEBATELAKE_FLUSH_ITEMS": crawl.flush_items,
            "DEBATELAKE_MAX_RETRY_AFTER": crawl.max_retry_after,
            "USER_AGENT": crawl.user_agent_string,
            "ROBOTSTXT_OBEY": crawl.obey_robots,
            "AUTOTHROTTLE_ENABLED": crawl.autothrottle,
            "AUTOTHROTTLE_TARGET_CONCURRENCY": crawl.autothrottle_target_concurrency,
            "DOWNLOAD_DELAY": crawl.download_delay,
            "AUTOTHROTTLE_START_DELAY": max(crawl.download_delay, 0.0),
            "CONCURRENT_REQUESTS_PER_DOMAIN": crawl.concurrency_per_domain,
            "CONCURRENT_REQUESTS": crawl.concurrency,
            "DOWNLOAD_TIMEOUT": crawl.timeout,
            "RETRY_TIMES": crawl.retries,
        },
        priority="cmdline",
    )
    settings.setdict(scrapy_cache_settings(crawl.http_cache, root), priority="cmdline")
    if crawl.frontier:  # a frontier in Redis shared by crawler processes (crawler/frontier.py)
        from crawler.frontier import frontier_settings

        settings.setdict(frontier_settings(crawl.frontier, settings.getdict("ITEM_PIPELINES")), priority="cmdline")
    return settings


def run_sources(cfg: Config, root: str, names: list[str]) -> list[str]:
    """Crawl the named sources (all enabled ones if none are named) in one reactor."""
    from crawler.spiders import SPIDERS

    sources = [cfg.source(n) for n in names] if names else [s for s in cfg.sources if s.enabled]
    store = Store(root)

    def housekeeping() -> None:
        store.mark_stale_runs()
        if cfg.crawl.http_cache:
            removed = prune(http_cache_dir(root))
            if removed:
                logging.getLogger("debatelake").info("HTTP cache: %d old or unfinished entries removed", removed)

    what = "crawl " + ",".join(s.name for s in sources)
    if cfg.crawl.frontier:  # workers of a shared frontier write the root together (crawler/frontier.py)
        from crawler.frontier import check_frontier, worker_lock

        check_frontier(cfg.crawl.frontier)
        lock = worker_lock(store, what, housekeeping)
    else:
        lock = store.lock(what)
    with lock:
        if not cfg.crawl.frontier:
            housekeeping()
        process = CrawlerProcess(scrapy_settings(cfg.crawl, root), install_root_handler=True)
        crawlers = []
        for src in sources:
            crawler = process.create_crawler(SPIDERS[src.spider])
            crawlers.append(crawler)
            process.crawl(crawler, source=src.name, options=src.options)
        process.start()
    return [getattr(c.spider, "run_id", "") for c in crawlers if c.spider is not None]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crawler.run")
    parser.add_argument("sources", nargs="*")
    parser.add_argument("--root")
    parser.add_argument("--config")
    args = parser.parse_args(argv)
    try:
        cfg = load_config(args.config)
        root = resolve_root(args.root or cfg.root)
        run_ids = run_sources(cfg, root, args.sources)
    except (ConfigError, StoreError) as exc:
        logging.getLogger("debatelake").error("%s", exc)
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({"run_ids": run_ids}))
    return 0


if __name__ == "__main__":
    from pipeline.store import exit_without_teardown

    exit_without_teardown(main())
