"""Downloader middlewares."""
from __future__ import annotations


class RetryAfterMiddleware:
    """Placeholder: honours Retry-After on 429/503 (implemented with the spiders)."""

    @classmethod
    def from_crawler(cls, crawler):
        return cls()

    def process_response(self, request, response, spider=None):
        return response
