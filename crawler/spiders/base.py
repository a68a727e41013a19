"""What every debatelake spider shares: its source name, declared options, Document building
and one way to report a bad page (logged once, naming the URL, counted in the run's stats)."""
from __future__ import annotations

from typing import Any, Callable

import scrapy
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet.error import DNSLookupError, TCPTimedOutError, TimeoutError

try:  # Scrapy >= 2.14 raises its own download exceptions instead of Twisted's
    from scrapy.exceptions import CannotResolveHostError, DownloadTimeoutError, ResponseDataLossError
except ImportError:  # pragma: no cover - older Scrapy
    CannotResolveHostError = DownloadTimeoutError = ResponseDataLossError = ()  # type: ignore[assignment,misc]
from scrapy.exceptions import IgnoreRequest
from twisted.web._newclient import ResponseFailed

from pipeline.schema import Document


def _tuple(exc) -> tuple:
    return exc if isinstance(exc, tuple) else (exc,)


class DebateSpider(scrapy.Spider):
    platform: str = ""
    # Options this spider accepts from its [[sources]] table: {name: type}. Validated by
    # pipeline.config before any request is made.
    OPTIONS: dict[str, Any] = {}
    # What this spider keeps in memory that some of its requests need, for a crawl frontier shared
    # by several processes (crawler/frontier.py):
    # "local": names of callbacks whose requests stay in the worker that made them: they add to a
    #          thread or topic that one process assembles, which another worker would not know;
    # "carry": (attribute, cb_kwargs name): self.<attribute>[request.cb_kwargs[name]] travels with
    #          the request and is put back in the spider of the worker that takes it.
    FRONTIER_STATE: dict[str, Any] = {}

    def __init__(self, source: str | None = None, options: dict[str, Any] | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.source = source or self.name
        self.options = dict(options or {})

    @classmethod
    def validate_options(cls, options: dict[str, Any], error: Callable[[str], Exception]) -> None:
        """Cross-field checks beyond types; raise error(message) on a problem."""

    def opt(self, key: str, default: Any = None) -> Any:
        return self.options.get(key, default)

    def make_doc(self, **fields: Any) -> Document:
        fields.setdefault("platform", self.platform)
        return Document(source=self.source, **fields)

    def report_error(self, where: str, message: str) -> None:
        """One clear logged error naming the URL or file; the crawl goes on."""
        self.logger.error("%s: %s", where, message)
        stats = self.crawler.stats
        stats.inc_value("debatelake/errors")
        messages = stats.get_value("debatelake/error_messages") or []
        if len(messages) < 200:
            messages.append(f"{where}: {message}")
            stats.set_value("debatelake/error_messages", messages)

    def errback(self, failure) -> None:
        self.report_error(*self.failure_message(failure))

    def failure_message(self, failure) -> tuple[str, str]:
        """(URL, what went wrong) for a failed request, as errback reports it."""
        request = failure.request
        if failure.check(HttpError):
            response = failure.value.response
            return response.url, f"HTTP {response.status}; skipped"
        if failure.check(DNSLookupError, *_tuple(CannotResolveHostError)):
            return request.url, "DNS lookup failed; check the URL"
        if failure.check(TimeoutError, TCPTimedOutError, *_tuple(DownloadTimeoutError)):
            return request.url, "timed out; will be fetched again on the next crawl"
        if failure.check(ResponseFailed, *_tuple(ResponseDataLossError)):
            return request.url, "the response was cut off before its end (truncated body); skipped"
        if failure.check(IgnoreRequest):
            return request.url, f"skipped: {failure.getErrorMessage()}"
        return request.url, f"fetch failed: {failure.getErrorMessage()}"

    def parse_json(self, response) -> Any | None:
        """Decode a JSON body, or report why not and return None."""
        try:
            return response.json()
        except (ValueError, AttributeError) as exc:
            self.report_error(response.url, f"invalid JSON ({exc}); skipped")
            return None
