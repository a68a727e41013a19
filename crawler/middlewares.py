"""Downloader middlewares.

`RetryAfterMiddleware` honours `Retry-After` on 429 (Too Many Requests) and 503 (Service
Unavailable): the retry of that request, and every other request to the same domain, waits the
time the server asked for. Nothing sleeps on the reactor: the domain's download slot is held
with a timer, so other domains keep crawling. A wait longer than DEBATELAKE_MAX_RETRY_AFTER gives
up on the request with a clear error instead of stalling the crawl; RETRY_TIMES bounds the number
of retries as for any other retried response.

It sits just before Scrapy's RetryMiddleware on the way back (process_response runs from the
highest priority down), so responses it handles never reach the stock, immediate retry.
"""
from __future__ import annotations

import logging
import time
from time import monotonic
from datetime import timezone
from email.utils import parsedate_to_datetime

from scrapy.downloadermiddlewares.retry import get_retry_request
from scrapy.exceptions import IgnoreRequest
from scrapy.utils.asyncio import call_later, sleep

logger = logging.getLogger(__name__)

RETRY_AFTER_STATUSES = (429, 503)


class RetryAfterTooLong(IgnoreRequest):
    """The server asked us to come back later than DEBATELAKE_MAX_RETRY_AFTER allows."""


def parse_retry_after(value: bytes | str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date. None if absent
    or unreadable; never negative."""
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    value = value.strip()
    if not value:
        return None
    try:
        return max(0.0, float(value)) if value.replace(".", "", 1).isdigit() else _from_date(value, now)
    except (TypeError, ValueError, OverflowError):
        return None


def _from_date(value: str, now: float | None) -> float | None:
    when = parsedate_to_datetime(value)
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    now = time.time() if now is None else now
    return max(0.0, when.timestamp() - now)


class RetryAfterMiddleware:
    def __init__(self, crawler, max_wait: float, enabled: bool):
        self.crawler = crawler
        self.max_wait = max_wait
        self.enabled = enabled
        self._held: dict[str, float] = {}  # slot key -> monotonic time its hold ends

    @classmethod
    def from_crawler(cls, crawler):
        s = crawler.settings
        return cls(crawler, s.getfloat("DEBATELAKE_MAX_RETRY_AFTER", 600.0), s.getbool("RETRY_ENABLED", True))

    async def process_response(self, request, response, spider=None):
        if response.status not in RETRY_AFTER_STATUSES or request.meta.get("dont_retry"):
            return response
        wait = parse_retry_after(response.headers.get(b"Retry-After"))
        if wait is None or not self.enabled:
            return response  # no Retry-After: Scrapy's RetryMiddleware decides, as for any 5xx
        stats = self.crawler.stats
        if wait > self.max_wait:
            stats.inc_value("debatelake/retry_after/too_long")
            request.meta["dont_retry"] = True
            message = (
                f"HTTP {response.status} with Retry-After {wait:.0f} s, longer than the "
                f"{self.max_wait:.0f} s allowed (crawl.max_retry_after); gave up on this request"
            )
            if request.errback is None:  # nobody else will report it
                logger.error("%s: %s", request.url, message)
            raise RetryAfterTooLong(message)
        retry = get_retry_request(
            request,
            spider=self.crawler.spider,
            reason=f"{response.status} with Retry-After {wait:g} s",
        )
        if retry is None:  # RETRY_TIMES used up: the response goes on to HttpError / errback
            request.meta["dont_retry"] = True
            return response
        stats.inc_value("debatelake/retry_after/count")
        stats.max_value("debatelake/retry_after/max_wait", wait)
        logger.info("%s answered %s; waiting %.1f s (Retry-After) before the next request to %s",
                    request.url, response.status, wait, request.meta.get("download_slot", "that domain"))
        if not self._hold_slot(request, wait):
            await sleep(wait)  # no slot to hold: delay this retry without blocking the reactor
        return retry

    def _hold_slot(self, request, wait: float) -> bool:
        """Keep the domain's download slot closed for `wait` seconds: its queued requests, the retry
        included, go out only after that. Returns False if the slot cannot be reached."""
        engine = getattr(self.crawler, "engine", None)
        downloader = getattr(engine, "downloader", None)
        key = request.meta.get("download_slot")
        slots = getattr(downloader, "slots", None)
        if downloader is None or key is None or not isinstance(slots, dict) or key not in slots:
            return False
        slot = slots[key]
        until = monotonic() + wait
        if self._held.get(key, 0.0) >= until:
            return True  # already closed for longer than this answer asks
        try:
            # lastseen in the future also keeps the slot from being garbage-collected meanwhile,
            # and makes any configured download delay count from the end of the wait.
            slot.lastseen = max(slot.lastseen, until - slot.delay)
            if slot.latercall is not None:
                slot.latercall.cancel()
            slot.latercall = call_later(wait, downloader._latercall, slot)
            self._held[key] = until
        except AttributeError:  # a Scrapy whose downloader slot looks different
            return False
        return True
