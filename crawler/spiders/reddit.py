"""Reddit through its public JSON endpoints (no login).

Posts come from subreddit listings (/r/<sub>/<listing>.json) or searches (/r/<sub>/search.json
restricted to the subreddit, or /search.json site-wide), following `after` cursors up to
max_pages. Each post's thread comes from /comments/<id>.json; `more` stubs are expanded with
/api/morechildren.json and "continue this thread" stubs with /comments/<id>/_/<comment>.json, and
the tree is rebuilt from each comment's parent_id. Deleted and removed comments stay in the tree
as tombstones (deleted=True, no text, no author), never as the text "[deleted]".
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator
from urllib.parse import urlencode

import scrapy

from pipeline.schema import Document, make_doc_id

from .base import DebateSpider

SITE = "https://www.reddit.com"  # documents always point at reddit itself, whatever base_url serves them
LISTINGS = ("new", "hot", "top", "rising", "controversial")
TOMBSTONE_BODIES = {"[deleted]", "[removed]", "[ Removed by Reddit ]", "[ removed by reddit ]"}
SUBREDDIT = re.compile(r"^[A-Za-z0-9_]{2,21}$")
MORE_CHUNK = 100  # /api/morechildren takes at most 100 ids per request
MAX_EXPANSIONS = 500  # per thread: a guard against stubs that keep pointing at more stubs


def reddit_doc_id(fullname: str) -> str:
    return make_doc_id("reddit", fullname)


def _tombstone(text: str | None) -> bool:
    return (text or "").strip() in TOMBSTONE_BODIES


def _author(name: str | None) -> str | None:
    return None if not name or name in ("[deleted]", "[removed]") else name


@dataclass
class Thread:
    """What one thread's expansions need to know: depth of every comment seen so far."""

    link: str  # t3_...
    permalink: str
    subreddit: str | None
    depth: dict[str, int | None] = field(default_factory=dict)
    pending: int = 0
    expansions: int = 0
    asked: set[tuple[str, ...]] = field(default_factory=set)


def _children(listing: Any) -> list[Any]:
    if not isinstance(listing, dict) or listing.get("kind") != "Listing":
        return []
    return list((listing.get("data") or {}).get("children") or [])


class RedditSpider(DebateSpider):
    name = "reddit"
    platform = "reddit"
    FRONTIER_STATE = {"local": {"parse_more", "parse_continue"}}  # "more comments" of a thread held here
    OPTIONS = {
        "base_url": str,
        "subreddits": list,
        "queries": list,
        "listing": str,
        "max_pages": int,
        "limit": int,
        "comments": bool,
        "expand_more": bool,
    }

    @classmethod
    def validate_options(cls, options: dict[str, Any], error: Callable[[str], Exception]) -> None:
        if not options.get("subreddits") and not options.get("queries"):
            raise error("give subreddits, queries or both (nothing to crawl)")
        for i, sub in enumerate(options.get("subreddits", [])):
            if not isinstance(sub, str) or not SUBREDDIT.match(sub.removeprefix("r/")):
                raise error(f"subreddits[{i}] must be a subreddit name like 'LocalLLaMA', got {sub!r}")
        for i, q in enumerate(options.get("queries", [])):
            if not isinstance(q, str) or not q.strip():
                raise error(f"queries[{i}] must be a non-empty string, got {q!r}")
        if options.get("listing", "new") not in LISTINGS:
            raise error(f"listing must be one of {', '.join(LISTINGS)}, got {options['listing']!r}")
        if not 1 <= options.get("limit", 100) <= 100:
            raise error(f"limit must be between 1 and 100, got {options['limit']}")
        if options.get("max_pages", 1) < 1:
            raise error(f"max_pages must be >= 1, got {options['max_pages']}")

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.base_url = str(self.opt("base_url", SITE)).rstrip("/")
        self.subreddits = [s.removeprefix("r/") for s in self.opt("subreddits", [])]
        self.queries = list(self.opt("queries", []))
        self.listing = self.opt("listing", "new")
        self.max_pages = int(self.opt("max_pages", 5))
        self.limit = int(self.opt("limit", 100))
        self.want_comments = bool(self.opt("comments", True))
        self.expand_more = bool(self.opt("expand_more", True))
        self.posts_seen: set[str] = set()
        self.threads: dict[str, Thread] = {}

    # ------------------------------------------------------------------ listings
    async def start(self):
        for request in self.start_requests():
            yield request

    def start_requests(self) -> Iterator[scrapy.Request]:
        if self.queries:
            for query in self.queries:
                if self.subreddits:
                    for sub in self.subreddits:
                        yield self.listing_request(f"/r/{sub}/search.json",
                                                   {"q": query, "restrict_sr": 1, "sort": "new"}, 0)
                else:
                    yield self.listing_request("/search.json", {"q": query, "sort": "new"}, 0)
        else:
            for sub in self.subreddits:
                yield self.listing_request(f"/r/{sub}/{self.listing}.json", {}, 0)

    def listing_request(self, path: str, params: dict[str, Any], page: int, after: str | None = None) -> scrapy.Request:
        query = {**params, "limit": self.limit, "raw_json": 1}
        if after:
            query["after"] = after
        return scrapy.Request(f"{self.base_url}{path}?{urlencode(query)}", callback=self.parse_listing,
                              errback=self.errback, cb_kwargs={"path": path, "params": params, "page": page})

    def parse_listing(self, response, path: str, params: dict[str, Any], page: int):
        data = self.parse_json(response)
        if data is None:
            return
        if not isinstance(data, dict) or data.get("kind") != "Listing":
            self.report_error(response.url, "not a Reddit listing (no kind=Listing); skipped")
            return
        listing = data.get("data") or {}
        for child in listing.get("children") or []:
            if not isinstance(child, dict) or child.get("kind") != "t3":
                continue
            post = child.get("data") or {}
            name = post.get("name") or f"t3_{post.get('id')}"
            if name in self.posts_seen:
                continue
            self.posts_seen.add(name)
            if self.want_comments and post.get("num_comments") != 0:
                yield scrapy.Request(
                    f"{self.base_url}/comments/{post['id']}.json?{urlencode({'limit': 500, 'raw_json': 1})}",
                    callback=self.parse_thread, errback=self.thread_failed, cb_kwargs={"post": post},
                )
            else:  # no comments wanted, or none to fetch: the listing holds the whole post
                yield from self.safe(response.url, self.post_document, post)
        after = listing.get("after")
        if after and page + 1 < self.max_pages:
            yield self.listing_request(path, params, page + 1, after)

    def safe(self, where: str, build: Callable[..., Document], *args: Any) -> Iterator[Document]:
        try:
            yield build(*args)
        except (KeyError, TypeError, ValueError) as exc:
            self.report_error(where, f"unreadable record: {exc!r}; skipped")

    # ------------------------------------------------------------------ documents
    def post_document(self, post: dict[str, Any]) -> Document:
        name = post.get("name") or f"t3_{post['id']}"
        is_self = bool(post.get("is_self"))
        selftext = post.get("selftext") or ""
        removed = _tombstone(selftext) or bool(post.get("removed_by_category"))
        raw: dict[str, Any] = {
            "subreddit": post.get("subreddit"),
            "flair": post.get("link_flair_text"),
            "permalink": post.get("permalink"),
            "num_comments": post.get("num_comments"),
            "domain": post.get("domain"),
        }
        if not is_self and post.get("url"):
            raw["link_url"] = post["url"]
        if post.get("over_18"):
            raw["over_18"] = "true"
        if removed:
            raw["removal"] = post.get("removed_by_category") or selftext.strip("[] ").lower()
        return self.make_doc(
            doc_id=reddit_doc_id(name), kind="post",
            url=SITE + post["permalink"] if post.get("permalink") else None,
            thread_id=reddit_doc_id(name), parent_id=None, depth=0,
            title=post.get("title") or None,
            text=(selftext or None) if is_self else None,
            author=_author(post.get("author")),
            published_at=post.get("created_utc"), score=post.get("score"),
            deleted=removed, raw={k: v for k, v in raw.items() if v is not None},
        )

    def comment_document(self, c: dict[str, Any], thread: Thread, depth: int | None) -> Document:
        name = c.get("name") or f"t1_{c['id']}"
        body = c.get("body")
        dead = _tombstone(body)
        permalink = c.get("permalink") or (thread.permalink + f"{c['id']}/" if thread.permalink else None)
        raw: dict[str, Any] = {"subreddit": c.get("subreddit") or thread.subreddit, "permalink": permalink}
        if dead:
            raw["removal"] = (body or "").strip("[] ").lower()
        if c.get("edited"):
            raw["edited"] = c["edited"]
        return self.make_doc(
            doc_id=reddit_doc_id(name), kind="comment",
            url=SITE + permalink if permalink else None,
            thread_id=reddit_doc_id(thread.link), parent_id=reddit_doc_id(c["parent_id"]), depth=depth,
            text=None if dead else (body or None),
            author=None if dead else _author(c.get("author")),
            published_at=c.get("created_utc"), score=c.get("score"),
            deleted=dead, raw={k: v for k, v in raw.items() if v is not None},
        )

    # ------------------------------------------------------------------ threads
    def parse_thread(self, response, post: dict[str, Any]):
        data = self.parse_json(response)
        if data is None:
            yield from self.safe(response.url, self.post_document, post)
            return
        try:
            fresh = data[0]["data"]["children"][0]["data"]
            comments = data[1]
        except (KeyError, IndexError, TypeError):
            self.report_error(response.url, "not a Reddit thread ([post listing, comment listing]); "
                                            "kept the post from the listing")
            yield from self.safe(response.url, self.post_document, post)
            return
        post = {**post, **fresh}
        yield from self.safe(response.url, self.post_document, post)
        name = post.get("name") or f"t3_{post['id']}"
        thread = Thread(link=name, permalink=post.get("permalink") or "", subreddit=post.get("subreddit"))
        thread.depth[name] = 0
        self.threads[name] = thread
        yield from self.walk(response.url, comments, thread)
        self.settle(thread)

    def thread_failed(self, failure):
        self.errback(failure)
        post = failure.request.cb_kwargs["post"]
        yield from self.safe(failure.request.url, self.post_document, post)

    def walk(self, where: str, listing: Any, thread: Thread) -> Iterator[Any]:
        """Comments of a listing in tree order (parents before replies), and requests for the
        stubs that hide more of the tree."""
        stack = [iter(_children(listing))]
        while stack:
            child = next(stack[-1], None)
            if child is None:
                stack.pop()
                continue
            kind = child.get("kind") if isinstance(child, dict) else None
            if kind == "more":
                yield from self.expand(where, child.get("data") or {}, thread)
                continue
            if kind != "t1":
                continue
            c = child.get("data") or {}
            name = c.get("name") or f"t1_{c.get('id')}"
            if name not in thread.depth:  # the root of a "continue this thread" answer is known
                parent_depth = thread.depth.get(c.get("parent_id"))
                depth = None if parent_depth is None else parent_depth + 1
                thread.depth[name] = depth
                yield from self.safe(where, self.comment_document, c, thread, depth)
            replies = c.get("replies")
            if isinstance(replies, dict):
                stack.append(iter(_children(replies)))

    def expand(self, where: str, more: dict[str, Any], thread: Thread) -> Iterator[scrapy.Request]:
        if not self.expand_more:
            self.crawler.stats.inc_value("debatelake/reddit/more_skipped", more.get("count") or 0)
            return
        if thread.expansions >= MAX_EXPANSIONS:
            self.crawler.stats.inc_value("debatelake/reddit/more_over_limit")
            return
        children = [c for c in (more.get("children") or []) if isinstance(c, str)]
        link_short = thread.link.removeprefix("t3_")
        if not children:  # "continue this thread": the rest hangs below a deep comment
            parent = more.get("parent_id") or ""
            if not parent.startswith("t1_"):
                return
            key = ("continue", parent)
            if key in thread.asked:
                return
            thread.asked.add(key)
            thread.expansions += 1
            thread.pending += 1
            yield scrapy.Request(
                f"{self.base_url}/comments/{link_short}/_/{parent.removeprefix('t1_')}.json?"
                f"{urlencode({'limit': 500, 'raw_json': 1})}",
                callback=self.parse_continue, errback=self.expansion_failed, cb_kwargs={"link": thread.link},
            )
            return
        for i in range(0, len(children), MORE_CHUNK):
            chunk = tuple(children[i:i + MORE_CHUNK])
            if chunk in thread.asked:
                continue
            thread.asked.add(chunk)
            thread.expansions += 1
            thread.pending += 1
            query = urlencode({"api_type": "json", "link_id": thread.link, "children": ",".join(chunk), "raw_json": 1})
            yield scrapy.Request(f"{self.base_url}/api/morechildren.json?{query}", callback=self.parse_more,
                                 errback=self.expansion_failed, cb_kwargs={"link": thread.link})

    def parse_more(self, response, link: str):
        thread = self.threads.get(link)
        if thread is None:
            return
        thread.pending -= 1
        data = self.parse_json(response)
        things = None
        if isinstance(data, dict):
            things = ((data.get("json") or {}).get("data") or {}).get("things")
            errors = (data.get("json") or {}).get("errors")
            if errors:
                self.report_error(response.url, f"reddit said: {errors!r}")
        if data is not None and not isinstance(things, list):
            self.report_error(response.url, "not a morechildren answer (no json.data.things); skipped")
        things = [t for t in (things or []) if isinstance(t, dict)]
        # Rebuild the tree from parent_id: parents usually come first, but do not rely on it.
        comments = [t.get("data") or {} for t in things if t.get("kind") == "t1"]
        todo = comments
        while todo:
            later = []
            for c in todo:
                if c.get("parent_id") in thread.depth:
                    yield from self.place(response.url, c, thread)
                else:
                    later.append(c)
            if len(later) == len(todo):  # parents never seen: keep them, depth unknown
                for c in later:
                    yield from self.place(response.url, c, thread, known=False)
                break
            todo = later
        for t in things:
            if t.get("kind") == "more":
                yield from self.expand(response.url, t.get("data") or {}, thread)
        self.settle(thread)

    def place(self, where: str, c: dict[str, Any], thread: Thread, known: bool = True) -> Iterator[Any]:
        name = c.get("name") or f"t1_{c.get('id')}"
        if name in thread.depth:
            return
        parent_depth = thread.depth.get(c.get("parent_id")) if known else None
        depth = None if parent_depth is None else parent_depth + 1
        thread.depth[name] = depth
        yield from self.safe(where, self.comment_document, c, thread, depth)
        replies = c.get("replies")
        if isinstance(replies, dict):
            yield from self.walk(where, replies, thread)

    def parse_continue(self, response, link: str):
        thread = self.threads.get(link)
        if thread is None:
            return
        thread.pending -= 1
        data = self.parse_json(response)
        if data is not None:
            try:
                comments = data[1]
            except (KeyError, IndexError, TypeError):
                self.report_error(response.url, "not a Reddit thread ([post listing, comment listing]); skipped")
            else:
                yield from self.walk(response.url, comments, thread)
        self.settle(thread)

    def expansion_failed(self, failure):
        self.errback(failure)
        thread = self.threads.get(failure.request.cb_kwargs["link"])
        if thread is not None:
            thread.pending -= 1
            self.settle(thread)

    def settle(self, thread: Thread) -> None:
        """Forget a thread once nothing more is on its way."""
        if thread.pending <= 0:
            self.threads.pop(thread.link, None)
