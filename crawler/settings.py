"""Scrapy settings for debatelake crawls. Politeness is on by default (DESIGN.md, decision 5);
`crawler.run.scrapy_settings` layers the user's [crawl] config on top of these."""

BOT_NAME = "debatelake"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"

ROBOTSTXT_OBEY = True
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 60.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0
DOWNLOAD_DELAY = 1.0
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 2
DOWNLOAD_TIMEOUT = 30
RETRY_ENABLED = True
RETRY_TIMES = 2
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
# The spider's errback logs the one error for a request that failed for good; Scrapy's own
# "Gave up retrying" line would be a second one for the same URL.
RETRY_GIVE_UP_LOG_LEVEL = "WARNING"
COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False
LOG_LEVEL = "INFO"
REQUEST_FINGERPRINTER_IMPLEMENTATION = "2.7"
FEED_EXPORT_ENCODING = "utf-8"

DOWNLOADER_MIDDLEWARES = {
    # Honour Retry-After on 429/503 before the stock RetryMiddleware (550) sees the response:
    # process_response runs from the highest number down, so this must be above 550.
    "crawler.middlewares.RetryAfterMiddleware": 560,
    # Re-crawls revalidate stored pages (ETag / Last-Modified) instead of downloading them again;
    # on only with [crawl] http_cache (crawler/httpcache.py says where it sits and why).
    "scrapy.downloadermiddlewares.httpcache.HttpCacheMiddleware": None,
    "crawler.httpcache.RevalidatingCacheMiddleware": 840,
}
ITEM_PIPELINES = {
    "crawler.pipelines.DeltaStorePipeline": 800,
}
