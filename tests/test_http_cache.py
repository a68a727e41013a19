"""Re-crawls revalidate stored pages ([crawl] http_cache): real Scrapy crawls of a blog on 127.0.0.1
whose pages carry ETag or Last-Modified and answer 304 when the client's copy is current."""
from __future__ import annotations

import gzip
import hashlib
import pickle
from datetime import datetime, timezone
from email.utils import format_datetime
from pathlib import Path

import pytest

from crawler.httpcache import http_cache_dir
from pipeline.demo.server import Request, Response
from pipeline.store import Store
from support_fixtures import Site, crawl, serve
from test_feeds_spider import article

HTML = "text/html; charset=utf-8"
RSS = "application/rss+xml; charset=utf-8"
PAGES = {  # path -> (validator the page is served with, extra headers)
    "/etag-one/": ("etag", {}),
    "/etag-two/": ("etag", {}),
    "/modified/": ("modified", {}),
    "/plain/": (None, {}),  # no validator: cannot be revalidated, so never stored
    "/private/": ("etag", {"Cache-Control": "no-store"}),
}
MODIFIED = format_datetime(datetime(2026, 11, 2, 8, 0, tzinfo=timezone.utc), usegmt=True)


def paragraphs(path: str, extra: str = "") -> list[str]:
    name = path.strip("/")
    return [f"The post at {name} argues that publishing model weights lets outsiders audit what a lab released.",
            f"Critics answer that {name} glosses over how quickly safety tuning is removed once weights are out.",
            extra or "Both sides agree the licence terms matter more than the press release."]


class Blog:
    """A feed and five posts; a post's body can be edited between crawls."""

    def __init__(self):
        self.site = Site()
        self.bodies: dict[str, bytes] = {}
        self.answers: list[tuple[str, int]] = []  # (path, status) as sent
        self.srv = serve(self.site)
        base = self.srv.base_url
        self.base = base
        for i, path in enumerate(PAGES):
            self.edit(path)
            self.site.route(path, self._answer(path))
        items = "".join(
            f"<item><title>Post {p.strip('/')}</title><link>{base}{p}</link><dc:creator>Ada</dc:creator>"
            f"<pubDate>Mon, 0{i + 1} Nov 2026 08:00:00 GMT</pubDate><description>Teaser.</description></item>"
            for i, p in enumerate(PAGES))
        self.bodies["/feed.xml"] = (
            '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">'
            f"<channel><title>Weights</title><link>{base}/</link>{items}</channel></rss>").encode()
        self.site.route("/feed.xml", self._answer("/feed.xml", "etag", RSS))

    def edit(self, path: str, extra: str = "") -> None:
        name = path.strip("/")
        self.bodies[path] = article(f"Post {name}", "Ada", "2026-11-01T08:00:00Z", paragraphs(path, extra)).encode()

    def _answer(self, path: str, validator: str | None = None, ctype: str = HTML):
        validator, extra = PAGES.get(path, (validator, {}))

        def answer(req: Request) -> Response:
            body = self.bodies[path]
            headers = dict(extra)
            fresh = False
            if validator == "etag":
                tag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
                headers["ETag"] = tag
                fresh = req.headers.get("if-none-match") == tag
            elif validator == "modified":
                headers["Last-Modified"] = MODIFIED
                fresh = req.headers.get("if-modified-since") == MODIFIED
            resp = Response(304, b"", "", headers) if fresh else Response(200, body, ctype, headers)
            self.answers.append((path, resp.status))
            return resp

        return answer

    def source(self) -> list[dict]:
        return [{"name": "blog", "spider": "feeds", "feed_urls": [f"{self.base}/feed.xml"]}]

    def hits_since(self, n: int) -> dict[str, dict[str, str]]:
        return {h.path: h.headers for h in self.site.hits[n:]}

    def answers_since(self, n: int) -> dict[str, int]:
        return dict(self.answers[n:])


def stored(cache: Path) -> dict[str, bytes]:
    """URL -> stored body of every entry in a gzip-compressed Scrapy filesystem cache."""
    out = {}
    for meta in cache.rglob("pickled_meta"):
        with gzip.open(meta, "rb") as f:
            url = pickle.load(f)["url"]
        with gzip.open(meta.parent / "response_body", "rb") as f:
            out[url] = f.read()
    return out


def text_of(result, path: str) -> str:
    [doc] = [d for d in result.docs().values() if d["url"].endswith(path)]
    return doc["text"]


@pytest.fixture
def blog():
    b = Blog()
    try:
        yield b
    finally:
        b.srv.stop()


def test_recrawls_revalidate_and_see_edits(blog, tmp_path):
    root = tmp_path / "data"
    cache = http_cache_dir(str(root))
    assert cache == root / "cache" / "http"

    first = crawl(tmp_path, blog.source(), root=root)
    assert set(blog.answers_since(0).values()) == {200}
    run = first.runs()["blog"]
    assert (run["docs_new"], run["errors"]) == (5, 0)
    # (c) only validated, storable 200s are kept, gzip-compressed, with the body the server sent
    kept = stored(cache)
    assert set(kept) == {blog.base + p for p in ("/feed.xml", "/etag-one/", "/etag-two/", "/modified/")}
    assert kept[blog.base + "/etag-one/"] == blog.bodies["/etag-one/"]
    assert not any(h.get("if-none-match") or h.get("if-modified-since") for h in blog.hits_since(0).values())

    # (a) nothing changed: conditional requests, 304s, the stored bodies, no new table version
    store = Store(str(root))
    version = store.version("documents")
    n_hits, n_answers = len(blog.site.hits), len(blog.answers)
    second = crawl(tmp_path, blog.source(), root=root)
    sent = blog.hits_since(n_hits)
    tag = lambda p: '"' + hashlib.sha1(blog.bodies[p]).hexdigest()[:16] + '"'  # noqa: E731
    for path in ("/feed.xml", "/etag-one/", "/etag-two/"):
        assert sent[path].get("if-none-match") == tag(path), path
    assert sent["/modified/"].get("if-modified-since") == MODIFIED
    for path in ("/plain/", "/private/"):  # never stored, so nothing to revalidate
        assert "if-none-match" not in sent[path] and "if-modified-since" not in sent[path]
    assert blog.answers_since(n_answers) == {"/feed.xml": 304, "/etag-one/": 304, "/etag-two/": 304,
                                            "/modified/": 304, "/plain/": 200, "/private/": 200}
    assert store.version("documents") == version
    run = second.runs()["blog"]
    assert (run["docs_new"], run["docs_updated"], run["docs_unchanged"], run["errors"]) == (0, 0, 5, 0)
    assert run["responses"] == {"304": 4, "200": 2}  # what the server sent, not what the spider saw
    assert run["stats"]["httpcache/revalidate"] == "4"

    # (b) one post is edited: its stale validator gets a 200 and the document is updated
    blog.edit("/etag-two/", "An edit added after the first crawl says the licence was changed last week.")
    old_tag = tag("/feed.xml")
    n_hits, n_answers = len(blog.site.hits), len(blog.answers)
    third = crawl(tmp_path, blog.source(), root=root)
    assert blog.answers_since(n_answers)["/etag-two/"] == 200
    assert blog.answers_since(n_answers)["/etag-one/"] == 304
    assert blog.hits_since(n_hits)["/feed.xml"]["if-none-match"] == old_tag
    run = third.runs()["blog"]
    assert (run["docs_new"], run["docs_updated"], run["docs_unchanged"]) == (0, 1, 4)
    assert "licence was changed last week" in text_of(third, "/etag-two/")
    assert "licence was changed last week" not in text_of(first, "/etag-one/")
    assert stored(cache)[blog.base + "/etag-two/"] == blog.bodies["/etag-two/"]  # the new copy replaced the old

    # (d) http_cache = false on the same root: plain requests, the cache left as it was
    before = {p: p.stat().st_mtime_ns for p in cache.rglob("*") if p.is_file()}
    n_hits = len(blog.site.hits)
    crawl(tmp_path, blog.source(), {"http_cache": False}, root=root)
    assert not any(h.get("if-none-match") or h.get("if-modified-since") for h in blog.hits_since(n_hits).values())
    assert {p: p.stat().st_mtime_ns for p in cache.rglob("*") if p.is_file()} == before


def test_http_cache_off_stores_nothing(blog, tmp_path):
    root = tmp_path / "data"
    result = crawl(tmp_path, blog.source(), {"http_cache": False}, root=root)
    assert result.runs()["blog"]["docs_new"] == 5
    assert not (root / "cache").exists()


def test_old_unfinished_and_damaged_entries_are_fetched_again(blog, tmp_path):
    """What a killed crawl or a month away leaves in the cache costs one plain download, never an error."""
    import os
    import time

    from crawler.httpcache import COMPLETE, prune

    root = tmp_path / "data"
    cache = http_cache_dir(str(root))
    crawl(tmp_path, blog.source(), root=root)
    entries = {}
    for meta in cache.rglob("pickled_meta"):
        with gzip.open(meta, "rb") as f:
            entries[pickle.load(f)["url"][len(blog.base):]] = meta.parent
    assert set(entries) == {"/feed.xml", "/etag-one/", "/etag-two/", "/modified/"}
    body = entries["/etag-one/"] / "response_body"
    body.write_bytes(body.read_bytes()[:12])  # a truncated gzip stream
    (entries["/etag-two/"] / COMPLETE).unlink()  # killed while writing it
    (entries["/etag-two/"] / "response_body").unlink()
    month_ago = time.time() - 40 * 86400
    os.utime(entries["/modified/"] / "pickled_meta", (month_ago, month_ago))
    assert prune(cache) == 2  # the unfinished and the old one; the damaged one looks whole
    assert not entries["/etag-two/"].exists() and not entries["/modified/"].exists()

    n_hits, n_answers = len(blog.site.hits), len(blog.answers)
    again = crawl(tmp_path, blog.source(), root=root)
    run = again.runs()["blog"]
    assert (run["errors"], run["docs_new"], run["docs_updated"], run["docs_unchanged"]) == (0, 0, 0, 5)
    sent = blog.hits_since(n_hits)
    for path in ("/etag-one/", "/etag-two/", "/modified/"):
        assert "if-none-match" not in sent[path] and "if-modified-since" not in sent[path], path
        assert blog.answers_since(n_answers)[path] == 200, path
    assert blog.answers_since(n_answers)["/feed.xml"] == 304
    kept = stored(cache)  # each is whole again, with the server's body
    for path in ("/etag-one/", "/etag-two/", "/modified/"):
        assert kept[blog.base + path] == blog.bodies[path], path
    assert all((m.parent / COMPLETE).exists() for m in cache.rglob("pickled_meta"))
