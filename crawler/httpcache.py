"""Conditional re-crawls: keep validated pages on disk and ask the server whether they changed.

With `[crawl] http_cache = true` (the default) every stored page is revalidated on every request:
the request carries If-None-Match / If-Modified-Since from the stored copy, a 304 answer reuses the
stored body (the spider sees a 200 flagged 'cached'), anything else replaces it. Nothing is ever
served from the cache without asking, so an edited page is always seen. Only 200 GET responses
with a validator (ETag or Last-Modified) and without `Cache-Control: no-store` are stored; an API
reply without validators could never be revalidated and would only take disk.

The cache lives in `<root>/cache/http` (gzip-compressed Scrapy filesystem storage), or under the
user cache dir (`$DEBATELAKE_CACHE/http`, see pipeline.nlp.embeddings.user_cache_dir) when the
data root is remote. Entries untouched for CACHE_MAX_AGE_DAYS are ignored, and deleted when the
next crawl starts (`prune`), as are entries a killed crawl left half-written.
"""
from __future__ import annotations

import shutil
import time
from pathlib import Path

from scrapy.downloadermiddlewares.httpcache import HttpCacheMiddleware
from scrapy.extensions.httpcache import FilesystemCacheStorage, RFC2616Policy, parse_cachecontrol

CACHE_MAX_AGE_DAYS = 30
CACHE_SUBDIR = ("cache", "http")
COMPLETE = "complete"  # written last: an entry without it was cut short (a killed crawl, a full disk)


def http_cache_dir(root: str) -> Path:
    """Where a data root's HTTP cache lives: inside a local root, else in the user cache dir."""
    if "://" not in root:
        return Path(root).joinpath(*CACHE_SUBDIR)
    from pipeline.nlp.embeddings import user_cache_dir  # numpy/scipy: only for remote roots

    return user_cache_dir() / CACHE_SUBDIR[1]


def has_validator(headers) -> bool:
    return b"ETag" in headers or b"Last-Modified" in headers


class RevalidatePolicy(RFC2616Policy):
    """Store validated 200s; never call a stored page fresh; accept it again only on a 304."""

    def should_cache_request(self, request) -> bool:
        return request.method == "GET" and super().should_cache_request(request)

    def should_cache_response(self, response, request) -> bool:
        if response.status != 200:
            return False
        if b"no-store" in parse_cachecontrol(response.headers.get(b"Cache-Control", b"") or b""):
            return False
        return has_validator(response.headers)

    def is_cached_response_fresh(self, cachedresponse, request) -> bool:
        etag = cachedresponse.headers.get(b"ETag")
        modified = cachedresponse.headers.get(b"Last-Modified")
        if etag:
            request.headers[b"If-None-Match"] = etag
        if modified:
            request.headers[b"If-Modified-Since"] = modified
        return False

    def is_cached_response_valid(self, cachedresponse, response, request) -> bool:
        # A server error is an error (retried, then reported), not a reason to serve the old page.
        return response.status == 304


class RevalidatingCacheMiddleware(HttpCacheMiddleware):
    """Scrapy's cache middleware, minus serving stored pages when the download failed: a crawl that
    cannot reach a site must say so, as it does without the cache."""

    def process_response(self, request, response, spider=None):
        if response.status == 304:
            # The 304's own Content-Length (often 0) must not be merged into the stored page's headers.
            response.headers.pop(b"Content-Length", None)
        return super().process_response(request, response)

    def process_exception(self, request, exception, spider=None):
        request.meta.pop("cached_response", None)
        return None


class CompleteEntriesStorage(FilesystemCacheStorage):
    """Scrapy's filesystem storage, where an entry counts only once all of it is written. Scrapy
    already reads a damaged entry (truncated gzip, lost file) as a miss; but a crawl killed while
    *replacing* an entry can leave the new headers (and validator) beside the old body, which a
    304 would then bless as current."""

    def store_response(self, spider, request, response) -> None:
        entry = Path(self._get_request_path(spider, request))
        (entry / COMPLETE).unlink(missing_ok=True)  # replacing an entry: invalid until rewritten
        super().store_response(spider, request, response)
        (entry / COMPLETE).touch()

    def retrieve_response(self, spider, request):
        entry = Path(self._get_request_path(spider, request))
        if not (entry / COMPLETE).exists():
            return None
        return super().retrieve_response(spider, request)


def prune(cache_dir: Path, max_age_days: float = CACHE_MAX_AGE_DAYS) -> int:
    """Delete the entries a crawl would ignore (older than max_age_days) or cannot use (cut
    short), so the cache does not grow with pages no crawl asks for any more. Returns how many."""
    if not cache_dir.is_dir():
        return 0
    cutoff = time.time() - max_age_days * 86400
    removed = 0
    for entry in cache_dir.glob("*/*/*"):  # <spider>/<fingerprint[:2]>/<fingerprint>
        stamp = entry / "pickled_meta"
        if not entry.is_dir():
            continue
        if not (entry / COMPLETE).exists() or not stamp.exists() or stamp.stat().st_mtime < cutoff:
            shutil.rmtree(entry, ignore_errors=True)
            removed += 1
    return removed


def scrapy_cache_settings(enabled: bool, root: str) -> dict:
    """The HTTPCACHE_* settings for `[crawl] http_cache` (crawler.run layers them on)."""
    if not enabled:
        return {"HTTPCACHE_ENABLED": False}
    return {
        "HTTPCACHE_ENABLED": True,
        "HTTPCACHE_POLICY": "crawler.httpcache.RevalidatePolicy",
        "HTTPCACHE_STORAGE": "crawler.httpcache.CompleteEntriesStorage",
        "HTTPCACHE_DIR": str(http_cache_dir(root)),
        "HTTPCACHE_GZIP": True,
        "HTTPCACHE_EXPIRATION_SECS": CACHE_MAX_AGE_DAYS * 24 * 3600,
        "HTTPCACHE_IGNORE_MISSING": False,
    }
