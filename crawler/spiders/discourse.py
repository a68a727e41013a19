"""Discourse forums through their JSON API (no login).

Topics come from /latest.json or category listings (/c/<slug>.json, /c/<id>.json,
/c/<slug>/<id>.json), following more_topics_url up to max_pages; each topic from /t/<id>.json.
A topic's first answer holds at most one chunk of posts (20), while post_stream.stream lists
every post id: the missing ones are fetched with /t/<id>/posts.json?post_ids[]=... in chunks of
20. The first post is the thread's post; the others are comments whose parent is the post they
reply to (reply_to_post_number), else the first post.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator
from urllib.parse import urlencode, urlsplit, urlunsplit

import scrapy
from lxml import etree
from lxml import html as lxml_html

from crawler.text import html_to_text
from pipeline.schema import Document, make_doc_id

from .base import DebateSpider

CHUNK = 20  # Discourse's own post chunk size; posts.json answers at most this many per request
REGULAR = 1  # post_type; 2 moderator action, 3 small action, 4 whisper
CATEGORY = re.compile(r"^(?:[\w-]+|\d+|[\w-]+/\d+)$")
DELETED_TEXTS = {"(post deleted by author)", "(topic deleted by author)"}
WITHDRAWN = re.compile(r"^\(post withdrawn by author, will be automatically deleted")


def forum_key(base_url: str) -> str:
    """host[:port][/path] of a forum: part of every doc id, so two forums never collide."""
    parts = urlsplit(base_url)
    return (parts.netloc.lower() + parts.path.rstrip("/")) or base_url


def json_url(base_url: str, more: str) -> str:
    """/latest?page=1 (a more_topics_url) -> <base>/latest.json?page=1."""
    parts = urlsplit(more)
    path = parts.path
    if not path.endswith(".json"):
        path += ".json"
    if parts.netloc:  # absolute: keep it as is, but ask for JSON
        return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))
    base = urlsplit(base_url)
    prefix = base.path.rstrip("/")
    if prefix and not path.startswith(prefix + "/"):
        path = prefix + path
    return urlunsplit((base.scheme, base.netloc, path, parts.query, ""))


def cooked_text(cooked: str | None) -> str:
    """Text of a post's cooked HTML without the parts other people wrote: quotes of other posts
    (aside.quote, which are in the dataset as those posts) and link previews (aside.onebox).
    Discourse writes a newline after every <br>; it is markup whitespace, not a second break."""
    if not cooked:
        return ""
    if "<aside" in cooked or "<br" in cooked:
        try:
            root = lxml_html.fragment_fromstring(cooked, create_parent="div")
        except (etree.ParserError, ValueError):
            return html_to_text(cooked)
        for br in root.iter("br"):
            if br.tail and br.tail.startswith("\n"):
                br.tail = br.tail.lstrip("\n")
        for aside in root.xpath("//aside[contains(concat(' ', normalize-space(@class), ' '), ' quote ') or "
                                "contains(concat(' ', normalize-space(@class), ' '), ' onebox ')]"):
            parent = aside.getparent()
            if parent is not None:
                tail, prev = aside.tail, aside.getprevious()
                parent.remove(aside)
                if tail:  # keep the text that followed the quote, where it was
                    if prev is not None:
                        prev.tail = (prev.tail or "") + tail
                    else:
                        parent.text = (parent.text or "") + tail
        cooked = lxml_html.tostring(root, encoding="unicode")
    return html_to_text(cooked)


def category_path(category: Any) -> str:
    text = str(category).strip().strip("/")
    if text.startswith("c/"):
        text = text[2:]
    return f"/c/{text}.json"


@dataclass
class Topic:
    id: int
    slug: str
    title: str | None
    data: dict[str, Any]
    posts: dict[int, dict[str, Any]] = field(default_factory=dict)  # post id -> post
    pending: int = 0


class DiscourseSpider(DebateSpider):
    name = "discourse"
    platform = "discourse"
    FRONTIER_STATE = {"local": {"parse_posts"}}  # the rest of a long topic held here
    OPTIONS = {
        "base_url": str,
        "categories": list,
        "max_pages": int,
        "max_topics": int,
    }

    @classmethod
    def validate_options(cls, options: dict[str, Any], error: Callable[[str], Exception]) -> None:
        if not options.get("base_url"):
            raise error("base_url is missing: the forum's address, e.g. https://discuss.huggingface.co")
        for i, cat in enumerate(options.get("categories", [])):
            if isinstance(cat, bool) or not isinstance(cat, (str, int)) or not CATEGORY.match(str(cat).removeprefix("c/")):
                raise error(f"categories[{i}] must be a category slug, id or 'slug/id', got {cat!r}")
        for key in ("max_pages", "max_topics"):
            if key in options and options[key] < 1:
                raise error(f"{key} must be >= 1, got {options[key]}")

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.base_url = str(self.opt("base_url", "")).rstrip("/")
        self.forum = forum_key(self.base_url)
        self.max_pages = int(self.opt("max_pages", 5))
        self.max_topics = self.opt("max_topics")
        self.topics_seen: set[int] = set()
        self.topics: dict[int, Topic] = {}

    def doc_id(self, post_id: Any) -> str:
        return make_doc_id("discourse", f"{self.forum}:{post_id}")

    # ------------------------------------------------------------------ listings
    async def start(self):
        for request in self.start_requests():
            yield request

    def start_requests(self) -> Iterator[scrapy.Request]:
        categories = self.opt("categories") or []
        paths = [category_path(c) for c in categories] or ["/latest.json"]
        for path in paths:
            yield self.listing_request(self.base_url + path, 0)

    def listing_request(self, url: str, page: int) -> scrapy.Request:
        return scrapy.Request(url, callback=self.parse_listing, errback=self.errback, cb_kwargs={"page": page})

    def parse_listing(self, response, page: int):
        data = self.parse_json(response)
        if data is None:
            return
        topic_list = data.get("topic_list") if isinstance(data, dict) else None
        if not isinstance(topic_list, dict) or not isinstance(topic_list.get("topics"), list):
            self.report_error(response.url, "not a Discourse topic list (no topic_list.topics); skipped")
            return
        for topic in topic_list["topics"]:
            if not isinstance(topic, dict) or not isinstance(topic.get("id"), int):
                continue
            if topic["id"] in self.topics_seen:
                continue
            if self.max_topics is not None and len(self.topics_seen) >= self.max_topics:
                return
            self.topics_seen.add(topic["id"])
            yield scrapy.Request(f"{self.base_url}/t/{topic['id']}.json", callback=self.parse_topic,
                                 errback=self.errback, cb_kwargs={"listed": topic})
        more = topic_list.get("more_topics_url")
        if more and page + 1 < self.max_pages:
            yield self.listing_request(json_url(self.base_url, more), page + 1)

    # ------------------------------------------------------------------ topics
    def parse_topic(self, response, listed: dict[str, Any]):
        data = self.parse_json(response)
        if data is None:
            return
        stream = (data.get("post_stream") or {}) if isinstance(data, dict) else {}
        posts = stream.get("posts")
        if not isinstance(posts, list):
            self.report_error(response.url, "not a Discourse topic (no post_stream.posts); skipped")
            return
        topic = Topic(id=int(data.get("id") or listed["id"]), slug=data.get("slug") or listed.get("slug") or "topic",
                      title=data.get("title") or listed.get("title"), data=data)
        for post in posts:
            if isinstance(post, dict) and isinstance(post.get("id"), int):
                topic.posts[post["id"]] = post
        ids = [i for i in (stream.get("stream") or []) if isinstance(i, int)]
        missing = [i for i in ids if i not in topic.posts]
        if not missing:
            yield from self.emit(topic, response.url)
            return
        self.topics[topic.id] = topic
        for start in range(0, len(missing), CHUNK):
            chunk = missing[start:start + CHUNK]
            topic.pending += 1
            query = urlencode([("post_ids[]", i) for i in chunk])
            yield scrapy.Request(f"{self.base_url}/t/{topic.id}/posts.json?{query}", callback=self.parse_posts,
                                 errback=self.posts_failed, cb_kwargs={"topic_id": topic.id})

    def parse_posts(self, response, topic_id: int):
        topic = self.topics.get(topic_id)
        if topic is None:
            return
        topic.pending -= 1
        data = self.parse_json(response)
        posts = ((data.get("post_stream") or {}).get("posts") if isinstance(data, dict) else None)
        if data is not None and not isinstance(posts, list):
            self.report_error(response.url, "not a Discourse post list (no post_stream.posts); skipped")
        for post in posts or []:
            if isinstance(post, dict) and isinstance(post.get("id"), int) and post.get("topic_id", topic_id) == topic_id:
                topic.posts[post["id"]] = post
        if topic.pending <= 0:
            yield from self.emit(self.topics.pop(topic_id), response.url)

    def posts_failed(self, failure):
        self.errback(failure)
        topic = self.topics.get(failure.request.cb_kwargs["topic_id"])
        if topic is not None:
            topic.pending -= 1
            if topic.pending <= 0:  # keep every post we did get
                yield from self.emit(self.topics.pop(topic.id), failure.request.url)

    # ------------------------------------------------------------------ documents
    def emit(self, topic: Topic, where: str) -> Iterator[Document]:
        try:
            docs = self.topic_documents(topic)
        except (KeyError, TypeError, ValueError) as exc:
            self.report_error(where, f"unreadable topic {topic.id}: {exc!r}; skipped")
            return
        yield from docs

    def topic_documents(self, topic: Topic) -> list[Document]:
        posts = sorted(topic.posts.values(), key=lambda p: p.get("post_number") or 0)
        # moderator notices ("closed the topic"), small actions and whispers are not contributions
        posts = [p for p in posts if p.get("post_type", REGULAR) == REGULAR]
        if not posts:
            return []
        first = posts[0]
        if first.get("post_number") != 1:
            self.logger.warning("topic %s: first post missing, the thread starts at post %s", topic.id,
                                first.get("post_number"))
        thread = self.doc_id(first["id"])
        by_number: dict[int, tuple[str, int]] = {}  # post_number -> (doc id, depth)
        docs: list[Document] = []
        for post in posts:
            number = post.get("post_number")
            is_first = post is first
            if is_first:
                parent, depth = None, 0
            else:
                target = by_number.get(post.get("reply_to_post_number") or -1)
                parent, depth = (target[0], target[1] + 1) if target else (thread, 1)
            doc = self.post_document(post, topic, thread, parent, depth, is_first)
            by_number[number] = (doc.doc_id, depth)
            docs.append(doc)
        return docs

    def post_document(self, post: dict[str, Any], topic: Topic, thread: str, parent: str | None, depth: int,
                      is_first: bool) -> Document:
        text = cooked_text(post.get("cooked"))
        deleted = bool(post.get("deleted_at") or post.get("user_deleted") or text in DELETED_TEXTS
                       or WITHDRAWN.match(text))
        data = topic.data
        raw: dict[str, Any] = {
            "forum": self.forum,
            "topic_id": topic.id,
            "post_number": post.get("post_number"),
            "category_id": data.get("category_id"),
            "reply_to_post_number": post.get("reply_to_post_number"),
            "tags": ",".join(t if isinstance(t, str) else str(t.get("name", "")) for t in data.get("tags") or []) or None,
            "reads": post.get("reads"),
            "hidden": "true" if post.get("hidden") else None,
        }
        likes = post.get("like_count")
        if likes is None:
            likes = next((a.get("count") for a in post.get("actions_summary") or []
                          if isinstance(a, dict) and a.get("id") == 2 and "count" in a), None)
        return self.make_doc(
            doc_id=self.doc_id(post["id"]),
            kind="post" if is_first else "comment",
            url=f"{self.base_url}/t/{topic.slug}/{topic.id}" + ("" if is_first else f"/{post.get('post_number')}"),
            thread_id=thread, parent_id=parent, depth=depth,
            title=topic.title if is_first else None,
            text=None if deleted else text or None,
            author=None if deleted else post.get("username") or None,
            published_at=post.get("created_at"),
            score=likes,
            deleted=deleted,
            raw={k: v for k, v in raw.items() if v is not None},
        )
