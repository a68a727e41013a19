"""Blogs and newsletters: RSS 2.0 / RSS 1.0 / Atom / JSON Feed, sitemaps and sitemap indexes, and
single page URLs, then every article page, extracted by crawler.extract.extract_page.

Two phases. First every feed and sitemap (and the sitemaps an index names) is read by
crawler.feedparse; each entry's URL loses its tracking parameters (utm_*, fbclid, ...) and what the
feeds say about it (title, author, dates, full content) is merged into one hint per article, however
many feeds and sitemaps list it. When the spider is idle, the pages are fetched, each once: page_urls
first, then the newest by the feeds' dates (else the sitemaps' lastmod), at most `max_pages` of
them (feeds and sitemaps do not count). The document is the page's: its canonical URL makes the
doc_id, its metadata wins and its hint fills what it lacks. When a page cannot be fetched or read,
one error names its URL, and an entry whose feed carried the full text is still kept, from the feed.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, fields, replace
from datetime import time, timedelta, timezone
from typing import Any, Callable, Iterator
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import scrapy
from scrapy import signals
from scrapy.exceptions import DontCloseSpider
from w3lib.url import canonicalize_url

from crawler.extract import ExtractedPage, ExtractionError, extract_page
from crawler.feedparse import FeedEntry, FeedError, parse_feed
from pipeline.schema import Document, make_doc_id

from .base import DebateSpider

DEFAULT_MAX_PAGES = 500
MAX_SITEMAP_DEPTH = 3  # an index of indexes of sitemaps is as deep as anyone nests them
MIDNIGHT = time(0, 0, tzinfo=timezone.utc)  # "2019-06-17T00:00:00Z": a day, written as a time
DAY_SLACK = timedelta(hours=36)  # a day's date in one time zone, its hour in another
HTML_TYPES = re.compile(r"html|xml|^text/", re.I)
TRACKING = re.compile(
    r"^(utm_\w+|fbclid|gclid|dclid|gbraid|wbraid|msclkid|yclid|mc_cid|mc_eid|_hsenc|_hsmi|mkt_tok|igshid|"
    r"wt_mc|wt_zmc|at_medium|at_campaign)$", re.I)
TRUNCATED_END = re.compile(r"(\[(…|\.\.\.)\]|…|\.\.\.)\s*$")


def clean_url(url: str) -> str:
    """The URL without its fragment and tracking parameters (utm_*, fbclid, Medium's source=rss...)."""
    parts = urlsplit(url.strip())
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if not TRACKING.match(k) and not (k == "source" and v.startswith("rss"))]
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", urlencode(query), ""))


def url_key(url: str) -> str:
    """One key for every spelling of an article's URL: cleaned, then canonicalised (sorted query)."""
    return canonicalize_url(clean_url(url), keep_fragments=False)


def merge_entry(known: FeedEntry, new: FeedEntry) -> None:
    """Fill what `known` lacks from `new` (a second feed or sitemap listing the same article)."""
    for f in fields(FeedEntry):
        if not getattr(known, f.name) and getattr(new, f.name):
            setattr(known, f.name, getattr(new, f.name))


def full_text(entry: FeedEntry) -> str:
    """The entry's content when the feed carried the whole article: present, not shorter than the
    summary nor the summary again, not cut off with an ellipsis. '' otherwise."""
    text = entry.content_text()
    if not text:
        return ""
    summary = entry.summary_text()
    if summary and (len(text) < len(summary) or " ".join(summary.split()) == " ".join(text.split())):
        return ""  # a placeholder, or the summary again
    if TRUNCATED_END.search(text):
        return ""
    return text


def warm_up() -> None:
    """Load trafilatura before any download starts: its first call takes half a second or more,
    which, inside a page callback, would stall the reactor while other downloads' timeouts run."""
    try:
        extract_page("<html><body><article><p>A paragraph that warms up the extractor before the crawl."
                     "</p></article></body></html>", "http://localhost/")
    except ExtractionError:
        pass


@dataclass
class Hint:
    entry: FeedEntry
    found_in: str  # the first feed or sitemap that listed the article ("" for page_urls)


class FeedsSpider(DebateSpider):
    name = "feeds"
    platform = "blog"
    FRONTIER_STATE = {"carry": ("hints", "key")}  # what a feed said about a page (date, tags, text)
    OPTIONS = {
        "feed_urls": list,
        "sitemap_urls": list,
        "page_urls": list,
        "max_pages": int,
    }

    @classmethod
    def validate_options(cls, options: dict[str, Any], error: Callable[[str], Exception]) -> None:
        if not any(options.get(k) for k in ("feed_urls", "sitemap_urls", "page_urls")):
            raise error("give at least one of feed_urls, sitemap_urls or page_urls")
        if options.get("max_pages", 1) < 1:
            raise error(f"max_pages must be >= 1, got {options['max_pages']}")

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.max_pages = int(self.opt("max_pages", DEFAULT_MAX_PAGES))
        self.hints: dict[str, Hint] = {}  # url key -> what feeds and sitemaps said about the article
        self.waiting: list[str] = []  # url keys found and not yet requested, in the order found
        self.pages_requested = 0
        self.pages_over_limit = 0
        self.feeds_seen: set[str] = set()
        self.emitted: dict[str, tuple[str, str]] = {}  # doc_id -> (url key, content_hash)

    @classmethod
    def from_crawler(cls, crawler, *args: Any, **kwargs: Any):
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider.fetch_pages, signal=signals.spider_idle)
        return spider

    # ------------------------------------------------------------------ start
    async def start(self):
        warm_up()
        for request in self.start_requests():
            yield request

    def start_requests(self) -> Iterator[scrapy.Request]:
        for url in [*(self.opt("feed_urls") or []), *(self.opt("sitemap_urls") or [])]:
            request = self.feed_request(url, 0)
            if request is not None:
                yield request
        for url in self.opt("page_urls") or []:
            self.found(FeedEntry(url=url), "")

    def feed_request(self, url: str, depth: int) -> scrapy.Request | None:
        key = url_key(url)
        if key in self.feeds_seen:
            return None
        self.feeds_seen.add(key)
        return scrapy.Request(url, callback=self.parse_feed, errback=self.errback, dont_filter=True,
                              cb_kwargs={"depth": depth})

    # ------------------------------------------------------------------ feeds and sitemaps
    def parse_feed(self, response, depth: int):
        ctype = response.headers.get("Content-Type", b"").decode("latin-1") or None
        try:
            feed = parse_feed(response.body, response.url, ctype)
        except FeedError as exc:
            self.report_error(response.url, f"{exc}; skipped")
            return
        if feed.problem:
            self.report_error(response.url, f"{feed.problem}; read in recovery mode, "
                                             f"kept {len(feed.entries) or len(feed.sitemaps)} entries")
        stats = self.crawler.stats
        stats.inc_value(f"feeds/{feed.kind}")
        stats.inc_value("feeds/entries", len(feed.entries))
        for child in feed.sitemaps:
            if depth + 1 > MAX_SITEMAP_DEPTH:
                self.report_error(child, f"sitemap index nested deeper than {MAX_SITEMAP_DEPTH} levels; skipped")
                continue
            request = self.feed_request(child, depth + 1)
            if request is not None:
                yield request
        for entry in feed.entries:
            if entry.url:
                self.found(entry, response.url)
            else:
                yield from self.feed_only(entry, response.url)

    def found(self, entry: FeedEntry, found_in: str) -> None:
        """An article URL: its first sighting waits for the pages phase, later ones add what they know."""
        key = url_key(entry.url or "")
        known = self.hints.get(key)
        if known is not None:
            merge_entry(known.entry, entry)
            return
        self.hints[key] = Hint(entry, found_in)
        self.waiting.append(key)

    def fetch_pages(self) -> None:
        """spider_idle: every feed and sitemap has been read, so each page now meets all that the
        feeds say about it. Fetch the pages: page_urls first, then the newest (by the feeds' dates,
        else the sitemaps' lastmod), the undated in the order found; at most max_pages in all."""
        if not self.waiting:
            return
        waiting, self.waiting = self.waiting, []
        position = {key: i for i, key in enumerate(waiting)}

        def rank(key: str):
            hint = self.hints[key]
            when = hint.entry.published or hint.entry.updated
            return (hint.found_in != "", when is None, -(when.timestamp() if when else 0), position[key])

        chosen = sorted(waiting, key=rank)
        room = max(self.max_pages - self.pages_requested, 0)
        self.pages_over_limit += max(len(chosen) - room, 0)
        for key in chosen[:room]:
            self.pages_requested += 1
            url = clean_url(self.hints[key].entry.url or "")
            self.crawler.engine.crawl(scrapy.Request(url, callback=self.parse_page, errback=self.page_failed,
                                                     cb_kwargs={"key": key}))
        raise DontCloseSpider

    def feed_only(self, entry: FeedEntry, feed_url: str) -> Iterator[Document]:
        """An entry without a link: kept when the feed holds its whole text."""
        text = full_text(entry)
        if not text or not entry.id:
            return
        native = f"{url_key(feed_url)}#{entry.id}"
        doc_id = make_doc_id(self.platform, native)
        doc = self.make_doc(doc_id=doc_id, url=None, thread_id=doc_id, title=entry.title, text=text,
                            author=entry.author, published_at=entry.published or entry.updated,
                            raw={"found_in": feed_url, "text_from": "feed", "entry_id": entry.id})
        yield from self.once(doc, native)

    # ------------------------------------------------------------------ article pages
    def parse_page(self, response, key: str):
        ctype = response.headers.get("Content-Type", b"").decode("latin-1")
        if ctype and not HTML_TYPES.search(ctype.split(";")[0]):
            yield from self.page_problem(response.url, key, f"not an HTML page ({ctype.split(';')[0].strip()})")
            return
        try:
            page = extract_page(response.body, response.url, ctype or None)
        except ExtractionError as exc:
            yield from self.page_problem(response.url, key, str(exc))
            return
        yield from self.once(self.page_document(page, response.url, self.hints.get(key)), key)

    def page_document(self, page: ExtractedPage, fetched_url: str, hint: Hint | None) -> Document:
        entry = hint.entry if hint else FeedEntry()
        url = clean_url(page.canonical_url or fetched_url)
        text, text_from = page.text, "page"
        feed_text = full_text(entry)
        if feed_text and len(page.text) * 2 < len(feed_text):  # the page hid its text (player, paywall)
            text, text_from = feed_text, "feed"
        published = page.published_at
        day_only = published is not None and (not page.date_precise or published.timetz() == MIDNIGHT)
        if entry.published and (published is None or (day_only and abs(entry.published - published) < DAY_SLACK)):
            published = entry.published  # the feed knows the hour where the page gives only the day
        raw = {
            "fetched_url": fetched_url,
            "found_in": hint.found_in if hint else "",
            "text_from": text_from,
            "site_name": page.sitename,
            "description": page.description,
            "tags": ", ".join(page.tags or entry.tags),
            "updated_at": (page.updated_at or entry.updated).isoformat() if (page.updated_at or entry.updated) else None,
            "comments_url": entry.comments_url,
            "encoding": page.encoding,
            "encoding_note": page.encoding_note,
        }
        doc_id = make_doc_id(self.platform, url=url)
        return self.make_doc(
            doc_id=doc_id, kind="post", url=url, thread_id=doc_id, parent_id=None, depth=0,
            title=page.title or entry.title, text=text or None, author=page.author or entry.author,
            published_at=published, language=page.language,
            raw={k: v for k, v in raw.items() if v not in (None, "")},
        )

    def once(self, doc: Document, key: str) -> Iterator[Document]:
        """Each document once per crawl. Two URLs that name the same canonical URL are one article,
        unless their texts differ: then the canonical is a CMS's mistake and the fetched URL is the id."""
        seen = self.emitted.get(doc.doc_id)
        if seen is None:
            self.emitted[doc.doc_id] = (key, doc.content_hash)
            yield doc
            return
        if seen[0] == key or seen[1] == doc.content_hash:
            return
        url = clean_url(doc.raw.get("fetched_url") or key)
        doc_id = make_doc_id(self.platform, url=url)
        if doc_id in self.emitted:
            return
        fixed = replace(doc, doc_id=doc_id, url=url, thread_id=doc_id, raw={**doc.raw, "canonical_url": doc.url or ""})
        self.emitted[doc_id] = (key, fixed.content_hash)
        yield fixed

    def page_problem(self, url: str, key: str, problem: str) -> Iterator[Document]:
        doc = self.from_feed(key)
        self.report_error(url, f"{problem}; {'kept the full text the feed carried' if doc else 'skipped'}")
        if doc is not None:
            yield from self.once(doc, key)

    def page_failed(self, failure):
        url, message = self.failure_message(failure)
        key = failure.request.cb_kwargs["key"]
        doc = self.from_feed(key)
        if doc is not None:
            message = re.sub(r"; skipped$", "", message) + "; kept the full text the feed carried"
        self.report_error(url, message)
        if doc is not None:
            yield from self.once(doc, key)

    def from_feed(self, key: str) -> Document | None:
        """The article as its feed gave it, when the feed carried the whole text; else None."""
        hint = self.hints.get(key)
        if hint is None:
            return None
        entry = hint.entry
        text = full_text(entry)
        if not text or not entry.url:
            return None
        url = clean_url(entry.url)
        doc_id = make_doc_id(self.platform, url=url)
        raw = {"found_in": hint.found_in, "text_from": "feed", "tags": ", ".join(entry.tags),
               "updated_at": entry.updated.isoformat() if entry.updated else None, "comments_url": entry.comments_url}
        return self.make_doc(doc_id=doc_id, kind="post", url=url, thread_id=doc_id, parent_id=None, depth=0,
                             title=entry.title, text=text, author=entry.author, published_at=entry.published,
                             raw={k: v for k, v in raw.items() if v not in (None, "")})

    def closed(self, reason: str) -> None:
        stats = self.crawler.stats
        stats.set_value("feeds/pages_requested", self.pages_requested)
        if self.pages_over_limit:
            stats.set_value("feeds/pages_over_limit", self.pages_over_limit)
            self.logger.warning("max_pages (%d) reached: %d more article URL(s) were not fetched this time",
                                self.max_pages, self.pages_over_limit)
