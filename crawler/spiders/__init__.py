"""The spider registry: config `spider = "<name>"` picks one of these."""
from __future__ import annotations

from importlib import import_module

_MODULES = {
    "feeds": "crawler.spiders.feeds:FeedsSpider",
    "hackernews": "crawler.spiders.hackernews:HackerNewsSpider",
    "reddit": "crawler.spiders.reddit:RedditSpider",
    "discourse": "crawler.spiders.discourse:DiscourseSpider",
    "files": "crawler.spiders.files:FilesSpider",
}


class _Registry(dict):
    """Imports a spider module only when its spider is asked for."""

    def __missing__(self, key: str):
        if key not in _MODULES:
            raise KeyError(key)
        module, cls = _MODULES[key].split(":")
        value = getattr(import_module(module), cls)
        self[key] = value
        return value

    def __contains__(self, key: object) -> bool:
        return key in _MODULES

    def __iter__(self):
        return iter(_MODULES)

    def keys(self):  # type: ignore[override]
        return _MODULES.keys()


SPIDERS = _Registry()
