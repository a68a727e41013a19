"""Hacker News through the Algolia HN Search API (https://hn.algolia.com/api).

`search` (relevance) or `search_by_date` over each query, limited to a date window with
numericFilters on created_at_i and to the configured tags, page by page; then each matched
story's whole comment tree in one request to /items/<id>. A story and its comments become
Documents linked by thread_id (the story), parent_id and depth (0 = the story).
"""
from __future__ import annotations

import time
from typing import Any, Callable, Iterator
from urllib.parse import urlencode

import scrapy

from crawler.text import html_to_text
from pipeline.schema import Document, make_doc_id, to_utc

from .base import DebateSpider

ITEM_URL = "https://news.ycombinator.com/item?id={}"
STORY_TYPES = {"story", "poll", "job"}
TOMBSTONE_TEXTS = {"[deleted]", "[dead]", "[flagged]"}
ENDPOINTS = ("search", "search_by_date")


def _epoch(value: str) -> int | None:
    when = to_utc(value)
    return int(when.timestamp()) if when else None


def hn_doc_id(item_id: Any) -> str:
    return make_doc_id("hackernews", str(item_id))


def is_tombstone(item: dict[str, Any]) -> bool:
    """Deleted or dead items: flagged as such (Firebase shape), or stripped of both author and
    text (the Algolia items API keeps their place in the tree that way)."""
    if item.get("deleted") or item.get("dead"):
        return True
    text = (item.get("text") or "").strip()
    if text in TOMBSTONE_TEXTS:
        return True
    return item.get("type") == "comment" and not item.get("author") and not text


def item_documents(item: dict[str, Any], make_doc: Callable[..., Document], raw: dict[str, Any] | None = None
                   ) -> list[Document]:
    """Documents for one /items/<id> tree: the root and every descendant, in tree order.

    A story root is depth 0 and its own thread. A comment root (asked for directly) joins its
    story's thread; its depth is known only when it answers the story itself, else left empty."""
    docs: list[Document] = []
    root_type = item.get("type")
    if root_type == "comment":
        story_id = item.get("story_id")
        thread = hn_doc_id(story_id) if story_id else None
        parent = hn_doc_id(item["parent_id"]) if item.get("parent_id") else None
        depth: int | None = 1 if story_id and item.get("parent_id") == story_id else None
    else:
        thread, parent, depth = hn_doc_id(item["id"]), None, 0

    stack: list[tuple[dict[str, Any], str | None, int | None]] = [(item, parent, depth)]
    while stack:
        node, parent_doc, level = stack.pop()
        if node.get("type") == "pollopt":
            continue  # poll options are choices, not contributions to the debate
        doc = _node_document(node, make_doc, thread, parent_doc, level, raw if node is item else None)
        docs.append(doc)
        children = node.get("children") or []
        child_level = None if level is None else level + 1
        for child in reversed(children):  # stack: keep the API's order of replies
            if isinstance(child, dict) and child.get("id") is not None:
                stack.append((child, doc.doc_id, child_level))
    return docs


def _node_document(node: dict[str, Any], make_doc: Callable[..., Document], thread: str | None,
                   parent: str | None, depth: int | None, extra_raw: dict[str, Any] | None) -> Document:
    node_type = node.get("type") or "comment"
    is_post = node_type in STORY_TYPES
    dead = is_tombstone(node)
    raw: dict[str, Any] = {"hn_type": node_type}
    if node.get("url"):
        raw["link_url"] = node["url"]
    if node.get("story_id") and not is_post:
        raw["story_id"] = node["story_id"]
    if dead:
        raw["tombstone"] = "dead" if node.get("dead") else "deleted"
    if extra_raw:
        raw.update({k: v for k, v in extra_raw.items() if v is not None})
    return make_doc(
        doc_id=hn_doc_id(node["id"]),
        kind="post" if is_post else "comment",
        url=ITEM_URL.format(node["id"]),
        thread_id=thread if thread else None,
        parent_id=parent,
        depth=depth,
        title=(node.get("title") or None) if is_post else None,
        text=None if dead else html_to_text(node.get("text")) or None,
        author=None if dead else node.get("author") or None,
        published_at=node.get("created_at_i") or node.get("created_at"),
        score=node.get("points"),
        deleted=dead,
        raw=raw,
    )


def hit_document(hit: dict[str, Any], make_doc: Callable[..., Document], query: str | None) -> Document:
    """A Document straight from a search hit (stories without comments, or comments=false)."""
    tags = hit.get("_tags") or []
    is_comment = "comment" in tags
    story_id = hit.get("story_id")
    raw: dict[str, Any] = {"hn_type": "comment" if is_comment else next((t for t in tags if t in STORY_TYPES), "story"),
                           "query": query}
    if hit.get("url"):
        raw["link_url"] = hit["url"]
    if hit.get("num_comments") is not None:
        raw["num_comments"] = hit["num_comments"]
    if is_comment:
        parent = hit.get("parent_id")
        depth = 1 if parent is not None and parent == story_id else None
        return make_doc(
            doc_id=hn_doc_id(hit["objectID"]), kind="comment", url=ITEM_URL.format(hit["objectID"]),
            thread_id=hn_doc_id(story_id) if story_id else None,
            parent_id=hn_doc_id(parent) if parent else None, depth=depth,
            text=html_to_text(hit.get("comment_text")) or None, author=hit.get("author") or None,
            published_at=hit.get("created_at_i") or hit.get("created_at"), score=hit.get("points"),
            raw={**raw, "story_id": story_id, "story_title": hit.get("story_title")},
        )
    return make_doc(
        doc_id=hn_doc_id(hit["objectID"]), kind="post", url=ITEM_URL.format(hit["objectID"]),
        thread_id=hn_doc_id(hit["objectID"]), parent_id=None, depth=0,
        title=hit.get("title") or None, text=html_to_text(hit.get("story_text")) or None,
        author=hit.get("author") or None, published_at=hit.get("created_at_i") or hit.get("created_at"),
        score=hit.get("points"), raw=raw,
    )


class HackerNewsSpider(DebateSpider):
    name = "hackernews"
    platform = "hackernews"
    OPTIONS = {
        "base_url": str,
        "queries": list,
        "tags": str,
        "endpoint": str,
        "days": int,
        "since": str,
        "until": str,
        "max_pages": int,
        "hits_per_page": int,
        "comments": bool,
    }
    DEFAULT_BASE = "https://hn.algolia.com/api/v1"

    @classmethod
    def validate_options(cls, options: dict[str, Any], error: Callable[[str], Exception]) -> None:
        endpoint = options.get("endpoint", "search_by_date")
        if endpoint not in ENDPOINTS:
            raise error(f"endpoint must be one of {', '.join(ENDPOINTS)}, got {endpoint!r}")
        if "days" in options and "since" in options:
            raise error("give either days or since, not both")
        if "days" in options and options["days"] < 1:
            raise error(f"days must be >= 1, got {options['days']}")
        for key in ("since", "until"):
            if key in options and _epoch(options[key]) is None:
                raise error(f"{key} must be a date like 2024-05-01, got {options[key]!r}")
        if "since" in options and "until" in options and _epoch(options["since"]) >= _epoch(options["until"]):
            raise error("since must be before until")
        if options.get("max_pages", 1) < 1:
            raise error(f"max_pages must be >= 1, got {options['max_pages']}")
        if not 1 <= options.get("hits_per_page", 50) <= 1000:
            raise error(f"hits_per_page must be between 1 and 1000, got {options['hits_per_page']}")
        for i, q in enumerate(options.get("queries", [])):
            if not isinstance(q, str):
                raise error(f"queries[{i}] must be a string, got {q!r}")

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.base_url = str(self.opt("base_url", self.DEFAULT_BASE)).rstrip("/")
        self.endpoint = self.opt("endpoint", "search_by_date")
        self.tags = self.opt("tags", "story")
        self.max_pages = int(self.opt("max_pages", 5))
        self.hits_per_page = int(self.opt("hits_per_page", 50))
        self.want_comments = bool(self.opt("comments", True))
        self.threads_requested: set[str] = set()

    # ------------------------------------------------------------------ search
    def numeric_filters(self, now: float | None = None) -> str | None:
        filters = []
        since = until = None
        if self.opt("days"):
            since = int((now if now is not None else time.time()) - int(self.opt("days")) * 86400)
        elif self.opt("since"):
            since = _epoch(self.opt("since"))
        if self.opt("until"):
            until = _epoch(self.opt("until"))
        if since is not None:
            filters.append(f"created_at_i>{since}")
        if until is not None:
            filters.append(f"created_at_i<{until}")
        return ",".join(filters) or None

    def search_url(self, query: str, page: int) -> str:
        params: dict[str, Any] = {"query": query, "tags": self.tags, "hitsPerPage": self.hits_per_page, "page": page}
        filters = self.numeric_filters()
        if filters:
            params["numericFilters"] = filters
        return f"{self.base_url}/{self.endpoint}?{urlencode(params)}"

    async def start(self):
        for request in self.start_requests():
            yield request

    def start_requests(self) -> Iterator[scrapy.Request]:
        for query in self.opt("queries") or [""]:
            yield self.search_request(query, 0)

    def search_request(self, query: str, page: int) -> scrapy.Request:
        return scrapy.Request(self.search_url(query, page), callback=self.parse_search, errback=self.errback,
                              cb_kwargs={"query": query, "page": page})

    def parse_search(self, response, query: str, page: int):
        data = self.parse_json(response)
        if data is None:
            return
        if not isinstance(data, dict) or not isinstance(data.get("hits"), list):
            self.report_error(response.url, "not an Algolia search answer (no 'hits' list); skipped")
            return
        for hit in data["hits"]:
            try:
                yield from self.follow_hit(hit, query)
            except (KeyError, TypeError, ValueError) as exc:
                self.report_error(response.url, f"unreadable hit {hit.get('objectID') if isinstance(hit, dict) else hit!r}: {exc!r}")
        current = data.get("page", page)
        pages = data.get("nbPages", 0)
        if isinstance(current, int) and isinstance(pages, int) and current + 1 < min(pages, self.max_pages):
            yield self.search_request(query, current + 1)

    def follow_hit(self, hit: dict[str, Any], query: str):
        tags = hit.get("_tags") or []
        is_comment = "comment" in tags
        story_id = hit.get("story_id") if is_comment else hit["objectID"]
        if not self.want_comments or (not is_comment and not hit.get("num_comments")):
            # a story without comments (or a crawl that wants none): the hit holds everything
            yield hit_document(hit, self.make_doc, query)
            return
        target = str(story_id or hit["objectID"])
        if target in self.threads_requested:
            return
        self.threads_requested.add(target)
        yield scrapy.Request(
            f"{self.base_url}/items/{target}", callback=self.parse_item, errback=self.item_failed,
            cb_kwargs={"hit": hit, "query": query},
        )

    # ------------------------------------------------------------------ items
    def parse_item(self, response, hit: dict[str, Any], query: str):
        item = self.parse_json(response)
        if item is None:
            yield from self.fallback(hit, query)
            return
        if not isinstance(item, dict) or "id" not in item:
            self.report_error(response.url, "not an Algolia item (no 'id'); skipped")
            yield from self.fallback(hit, query)
            return
        extra = {"query": query}
        if hit.get("num_comments") is not None and "comment" not in (hit.get("_tags") or []):
            extra["num_comments"] = hit["num_comments"]
        try:
            docs = item_documents(item, self.make_doc, extra)
        except (KeyError, TypeError, ValueError) as exc:
            self.report_error(response.url, f"unreadable item tree: {exc!r}; skipped")
            yield from self.fallback(hit, query)
            return
        yield from docs

    def item_failed(self, failure):
        self.errback(failure)
        kwargs = failure.request.cb_kwargs
        yield from self.fallback(kwargs["hit"], kwargs["query"])

    def fallback(self, hit: dict[str, Any], query: str):
        """The comment tree could not be read: keep at least what the search hit told us."""
        try:
            yield hit_document(hit, self.make_doc, query)
        except (KeyError, TypeError, ValueError):
            return
