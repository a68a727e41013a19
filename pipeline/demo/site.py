"""The offline demo site: one LocalServer on 127.0.0.1 that serves the project-written content in
`content/` the way the real sources serve theirs, so the real spiders crawl it unchanged.

    /                      a group blog: robots.txt, /feed.xml (RSS 2.0, 20 newest), /atom.xml,
                           /feed.json (JSON Feed 1.1), /sitemap.xml (every post), article pages
                           with the clutter of a real theme (nav, sidebar, share bar, comment form)
    /hn/api/v1/...         the Hacker News Algolia API: search, search_by_date, items/<id>
    /reddit/...            Reddit's public JSON: /r/<sub>/{new,hot,top}.json, search.json,
                           /comments/<id>.json (with `more` stubs), /api/morechildren.json
    /discourse/...         a Discourse forum: latest.json, categories.json, /c/<slug>/<id>.json,
                           /t/<id>.json (20 posts + the full stream), /t/<id>/posts.json

The JSON shapes follow real recordings (shared/fixtures/hn, reddit, discourse): field names,
nesting, cursors, Reddit's HTML-escaped strings without raw_json=1, Discourse's chunk of 20
posts. Numeric ids (HN, Discourse) and Reddit's base-36 ids are derived from the content ids
by a stable hash, so they do not change when the content grows.
"""
from __future__ import annotations

import email.utils
import hashlib
import html
import json
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from itertools import islice
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator
from urllib.parse import quote, urlencode, urlsplit

from pipeline.schema import UTC, to_utc

from .server import LocalServer, Request, Response

CONTENT_DIR = Path(__file__).resolve().parent / "content"
BLOG_NAME = "The Model Commons"
BLOG_TAGLINE = "Essays from ten writers on how language models should be released and moderated"
JSON = "application/json; charset=utf-8"
FEED_SIZE = 20  # items in each feed, newest first
PAGE_SIZE = 10  # posts per blog index page


# ===================================================================== content
@dataclass
class Node:
    """One post or comment of a discussion thread, with the ids each platform shows for it."""

    key: str
    author: str
    created: datetime
    score: int
    text: str
    deleted: bool = False
    depth: int = -1  # the thread's opening post is -1, top-level comments 0
    parent: "Node | None" = None
    children: list["Node"] = field(default_factory=list)
    thread: "Thread | None" = None
    pid: Any = None  # the platform id: int for HN and Discourse, base-36 str for Reddit

    def walk(self) -> Iterator["Node"]:
        """This node's descendants, depth first, in content order."""
        for c in self.children:
            yield c
            yield from c.walk()

    @property
    def descendants(self) -> int:
        return sum(1 for _ in self.walk())


@dataclass
class Thread:
    platform: str
    key: str
    community: str
    title: str
    url: str
    op: Node  # the opening post (author, created, text, score)
    pid: Any = None

    @property
    def comments(self) -> list[Node]:
        return list(self.op.walk())

    @property
    def last_activity(self) -> datetime:
        return max([self.op.created, *(c.created for c in self.op.walk())])


def _node(raw: dict[str, Any], depth: int, parent: Node | None) -> Node:
    n = Node(key=str(raw["id"]), author=raw.get("author") or "", created=to_utc(raw.get("created")) or _EPOCH,
             score=int(raw.get("score") or 0), text=raw.get("text") or "", deleted=bool(raw.get("deleted")),
             depth=depth, parent=parent)
    n.children = [_node(r, depth + 1, n) for r in raw.get("replies") or []]
    return n


_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


def parse_thread(raw: dict[str, Any]) -> Thread:
    op = Node(key=str(raw["id"]), author=raw.get("author") or "", created=to_utc(raw.get("created")) or _EPOCH,
              score=int(raw.get("score") or 0), text=raw.get("text") or "")
    op.children = [_node(r, 0, op) for r in raw.get("comments") or []]
    t = Thread(platform=raw["platform"], key=str(raw["id"]), community=raw.get("community") or "",
               title=raw.get("title") or "", url=raw.get("url") or "", op=op)
    for n in [op, *op.walk()]:
        n.thread = t
    return t


@dataclass
class Post:
    slug: str
    title: str
    author: str
    published: datetime
    tags: list[str]
    summary: str
    paragraphs: list[str]

    @property
    def path(self) -> str:
        return f"/{self.published:%Y}/{self.published:%m}/{self.slug}/"


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Lines of a JSON Lines file (a missing file is empty: the content grows in batches)."""
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


class DemoContent:
    """Blog posts and discussion threads, newest first, with their platform ids assigned."""

    def __init__(self, posts: Iterable[dict[str, Any]], threads: Iterable[dict[str, Any]]):
        self.posts = sorted(
            (Post(p["slug"], p["title"], p["author"], to_utc(p["published"]) or _EPOCH, list(p.get("tags") or []),
                  p.get("summary") or "", list(p.get("paragraphs") or [])) for p in posts),
            key=lambda p: (p.published, p.slug), reverse=True)
        self.threads = sorted((parse_thread(t) for t in threads), key=lambda t: (t.op.created, t.key), reverse=True)
        self.by_platform: dict[str, list[Thread]] = {}
        for t in self.threads:
            self.by_platform.setdefault(t.platform, []).append(t)
        # HN: ~8 ids a minute in the 38-50 million range; Reddit: 7-character base-36 ids;
        # Discourse: topic ids by the day and post ids by the hour, as a mid-sized forum has.
        _assign_ids(self.by_platform.get("hn", []), _time_ids(38_000_000, 60, 8))
        _assign_ids(self.by_platform.get("reddit", []), _time_ids(36**6 * 20, 60, 8), _b36)
        discourse = self.by_platform.get("discourse", [])
        topics = _time_ids(1_000, 86_400, 3)({t.key: t.op.created for t in discourse})
        for t in discourse:
            t.pid = topics[t.key]
        posts = {f"{t.key}/{n.key}": n for t in discourse for n in [t.op, *t.op.walk()]}
        for key, pid in _time_ids(10_000, 3_600, 4)({k: n.created for k, n in posts.items()}).items():
            posts[key].pid = pid

    @classmethod
    def load(cls, content_dir: str | Path | None = None) -> "DemoContent":
        d = Path(content_dir) if content_dir else CONTENT_DIR
        return cls(read_jsonl(d / "blog_posts.jsonl"), read_jsonl(d / "threads.jsonl"))


def _stable_int(key: str) -> int:
    return int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "big")


def _numeric_ids(low: int, span: int) -> Callable[[list[str]], dict[str, int]]:
    """Map keys to ints in [low, low+span) by a hash; collisions probe upwards in key order."""

    def assign(keys: list[str]) -> dict[str, int]:
        return _probe({k: low + _stable_int(k) % span for k in keys}, low, span)

    return assign


def _probe(wanted: dict[str, int], low: int, span: int) -> dict[str, int]:
    taken: set[int] = set()
    out: dict[str, int] = {}
    for key in sorted(wanted):
        value = wanted[key]
        while value in taken:
            value = low + (value - low + 1) % span
        taken.add(value)
        out[key] = value
    return out


def _time_ids(low: int, unit: int, slots: int) -> Callable[[dict[str, datetime]], dict[str, int]]:
    """Ids that grow with time, as real HN, Reddit and Discourse ids do: `slots` ids per `unit`
    seconds after 2024-01-01, the slot picked by a hash of the key (stable as content grows)."""

    def assign(created: dict[str, datetime]) -> dict[str, int]:
        wanted = {k: low + max(0, int((t - _EPOCH).total_seconds()) // unit) * slots + _stable_int(k) % slots
                  for k, t in created.items()}
        return _probe(wanted, low, 2**62)

    return assign


def _b36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while n:
        n, r = divmod(n, 36)
        out = digits[r] + out
    return out or "0"


def _assign_ids(threads: list[Thread], assign: Callable[[dict[str, datetime]], dict[str, int]],
                fmt: Callable[[int], Any] = int) -> None:
    nodes: dict[str, Node] = {}
    for t in threads:
        nodes[t.key] = t.op
        for n in t.op.walk():
            nodes[f"{t.key}/{n.key}"] = n
    for key, pid in assign({k: n.created for k, n in nodes.items()}).items():
        nodes[key].pid = fmt(pid)
    for t in threads:
        t.pid = t.op.pid


# ===================================================================== helpers
def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(status, json.dumps(data, ensure_ascii=False, separators=(",", ":")), JSON, headers or {})


def _iso_ms(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def _paragraphs(text: str) -> list[str]:
    return [p.strip() for p in re.split(r"\n\s*\n", text or "") if p.strip()]


def _slugify(text: str, sep: str = "-", limit: int = 60) -> str:
    s = re.sub(r"[^a-z0-9]+", sep, text.lower()).strip(sep)
    return s[:limit].rstrip(sep) or "post"


_WORD = re.compile(r"[a-z0-9]+(?:['’][a-z]+)?")


def _words(text: str) -> list[str]:
    return _WORD.findall((text or "").lower())


def _int_arg(req: Request, name: str, default: int, low: int = 0, high: int | None = None) -> int:
    try:
        value = int(req.arg(name, str(default)) or default)
    except ValueError:
        value = default
    value = max(low, value)
    return min(high, value) if high is not None else value


def _form(req: Request) -> dict[str, list[str]]:
    """Query string and, for POSTs, the urlencoded body (Reddit's morechildren takes both)."""
    from urllib.parse import parse_qs

    args = {k: list(v) for k, v in req.query.items()}
    if req.body:
        for k, v in parse_qs(req.body.decode("utf-8", "replace"), keep_blank_values=True).items():
            args.setdefault(k, []).extend(v)
    return args


class Query:
    """A search query: words must all match (the last one as a prefix), "quoted phrases" in order."""

    def __init__(self, text: str):
        self.text = text or ""
        self.phrases = [_words(p) for p in re.findall(r'"([^"]+)"', self.text)]
        rest = re.sub(r'"[^"]*"', " ", self.text)
        self.terms = _words(rest)

    @property
    def empty(self) -> bool:
        return not self.terms and not any(self.phrases)

    def matches(self, text: str) -> bool:
        if self.empty:
            return True
        words = _words(text)
        vocab = set(words)
        for i, term in enumerate(self.terms):
            last = i == len(self.terms) - 1 and not self.text.rstrip().endswith('"')
            if term not in vocab and not (last and any(w.startswith(term) for w in vocab)):
                return False
        joined = " " + " ".join(words) + " "
        return all(" " + " ".join(p) + " " in joined for p in self.phrases if p)

    @property
    def all_words(self) -> list[str]:
        return self.terms + [w for p in self.phrases for w in p]


def _strip_tags(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", fragment or ""))


# ===================================================================== the blog
class Blog:
    """A small group blog the way WordPress or Ghost serve one."""

    def __init__(self, content: DemoContent):
        self.posts = content.posts
        self.by_path = {p.path: p for p in self.posts}
        self.position = {p.path: i for i, p in enumerate(self.posts)}
        self.tags: dict[str, list[Post]] = {}
        self.authors: dict[str, list[Post]] = {}
        for p in self.posts:
            for tag in p.tags:
                self.tags.setdefault(_slugify(tag), []).append(p)
            self.authors.setdefault(_slugify(p.author), []).append(p)
        self.tag_names = {_slugify(t): t for p in self.posts for t in p.tags}
        self.updated = max((p.published for p in self.posts), default=_EPOCH)
        self._cache: dict[tuple[str, str], Response] = {}

    def handle(self, req: Request, base: str) -> Response:
        path = req.path
        key = (base, path)
        resp = self._cache.get(key)
        if resp is None:
            resp = self._render(path, base)
            if resp.status == 200:
                body = resp.body.encode("utf-8") if isinstance(resp.body, str) else resp.body
                etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
                resp.headers = {**resp.headers, "ETag": etag, "Cache-Control": "max-age=300",
                                "Last-Modified": email.utils.format_datetime(self._modified(path), usegmt=True)}
            if len(self._cache) < 50_000:
                self._cache[key] = resp
        return self._conditional(req, resp)

    @staticmethod
    def _conditional(req: Request, resp: Response) -> Response:
        if resp.status != 200:
            return resp
        etag = resp.headers.get("ETag")
        if etag and req.headers.get("if-none-match") == etag:
            return Response(304, b"", "", {"ETag": etag})
        since = req.headers.get("if-modified-since")
        if since and "if-none-match" not in req.headers:
            try:
                if email.utils.parsedate_to_datetime(since) >= email.utils.parsedate_to_datetime(
                        resp.headers["Last-Modified"]):
                    return Response(304, b"", "", {"ETag": etag or ""})
            except (TypeError, ValueError):
                pass
        return resp

    def _modified(self, path: str) -> datetime:
        post = self.by_path.get(path)
        return post.published if post else self.updated

    def _render(self, path: str, base: str) -> Response:
        if path == "/robots.txt":
            return Response(200, self.robots(base), "text/plain; charset=utf-8")
        if path in ("/feed.xml", "/feed/", "/rss.xml"):
            return Response(200, self.rss(base), "application/rss+xml; charset=utf-8")
        if path == "/atom.xml":
            return Response(200, self.atom(base), "application/atom+xml; charset=utf-8")
        if path == "/feed.json":
            return Response(200, self.json_feed(base), "application/feed+json; charset=utf-8")
        if path == "/sitemap.xml":
            return Response(200, self.sitemap(base), "application/xml; charset=utf-8")
        if path in self.by_path:
            return Response(200, self.article(self.by_path[path], base))
        if path + "/" in self.by_path:  # WordPress adds the trailing slash with a redirect
            return Response(301, b"", "text/html; charset=utf-8", {"Location": base + path + "/"})
        if path == "/":
            return Response(200, self.listing(self.posts, 1, base, BLOG_NAME, "/"))
        m = re.fullmatch(r"/page/(\d+)/", path)
        if m:
            return self._paged(self.posts, int(m.group(1)), base, BLOG_NAME, "/")
        m = re.fullmatch(r"/(tag|author)/([a-z0-9-]+)/(?:page/(\d+)/)?", path)
        if m:
            kind, slug, page = m.group(1), m.group(2), int(m.group(3) or 1)
            posts = (self.tags if kind == "tag" else self.authors).get(slug)
            if posts:
                name = self.tag_names.get(slug, slug) if kind == "tag" else posts[0].author
                title = f"Posts tagged “{name}”" if kind == "tag" else f"Posts by {name}"
                return self._paged(posts, page, base, title, f"/{kind}/{slug}/")
        if path == "/about/":
            return Response(200, self.about(base))
        return Response(404, self.page("Page not found", "<p>Nothing lives at this address. Try the "
                                       "<a href=\"/\">front page</a> or the archive in the sidebar.</p>", base),
                        headers={"Cache-Control": "no-store"})

    def _paged(self, posts: list[Post], page: int, base: str, title: str, prefix: str) -> Response:
        pages = max(1, math.ceil(len(posts) / PAGE_SIZE))
        if page < 1 or page > pages:
            return Response(404, self.page("Page not found", "<p>No such page.</p>", base))
        return Response(200, self.listing(posts, page, base, title, prefix))

    # ------------------------------------------------------------ machine-readable
    @staticmethod
    def robots(base: str) -> str:
        return (
            "# The Model Commons: crawlers are welcome on posts and feeds.\n"
            "User-agent: *\n"
            "Disallow: /wp-admin/\n"
            "Disallow: /preview/\n"
            "Disallow: /*?replytocom=\n"
            "Allow: /wp-admin/admin-ajax.php\n"
            "\n"
            "User-agent: GPTBot\n"
            "Disallow: /\n"
            "\n"
            f"Sitemap: {base}/sitemap.xml\n"
        )

    def rss(self, base: str) -> str:
        items = []
        for p in self.posts[:FEED_SIZE]:
            link = f"{base}{p.path}?utm_source=rss&amp;utm_medium=rss&amp;utm_campaign={quote(p.slug)}"
            cats = "".join(f"\n      <category><![CDATA[{t}]]></category>" for t in p.tags)
            items.append(f"""    <item>
      <title>{html.escape(p.title, quote=False)}</title>
      <link>{link}</link>
      <dc:creator><![CDATA[{p.author}]]></dc:creator>
      <pubDate>{email.utils.format_datetime(p.published)}</pubDate>{cats}
      <guid isPermaLink="false">{base}/?p={_stable_int(p.slug) % 90000 + 1000}</guid>
      <description><![CDATA[{p.summary} <a href="{base}{p.path}">Continue reading</a>]]></description>
      <comments>{base}{p.path}#respond</comments>
    </item>""")
        return f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"
  xmlns:content="http://purl.org/rss/1.0/modules/content/"
  xmlns:dc="http://purl.org/dc/elements/1.1/"
  xmlns:atom="http://www.w3.org/2005/Atom"
  xmlns:sy="http://purl.org/rss/1.0/modules/syndication/">
  <channel>
    <title>{BLOG_NAME}</title>
    <atom:link href="{base}/feed.xml" rel="self" type="application/rss+xml" />
    <link>{base}/</link>
    <description>{BLOG_TAGLINE}</description>
    <lastBuildDate>{email.utils.format_datetime(self.updated)}</lastBuildDate>
    <language>en-GB</language>
    <sy:updatePeriod>hourly</sy:updatePeriod>
    <sy:updateFrequency>1</sy:updateFrequency>
    <generator>debatelake demo site</generator>
{chr(10).join(items)}
  </channel>
</rss>
"""

    def atom(self, base: str) -> str:
        entries = []
        for p in self.posts[:FEED_SIZE]:
            cats = "".join(f'\n    <category term="{html.escape(t)}" />' for t in p.tags)
            entries.append(f"""  <entry>
    <title type="html">{html.escape(p.title)}</title>
    <link rel="alternate" type="text/html" href="{base}{p.path}" />
    <id>tag:model-commons.example,{p.published:%Y-%m-%d}:{p.slug}</id>
    <published>{p.published:%Y-%m-%dT%H:%M:%SZ}</published>
    <updated>{p.published:%Y-%m-%dT%H:%M:%SZ}</updated>
    <author><name>{html.escape(p.author)}</name><uri>{base}/author/{_slugify(p.author)}/</uri></author>{cats}
    <summary type="html">{html.escape(p.summary)}</summary>
  </entry>""")
        return f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en-GB">
  <title>{BLOG_NAME}</title>
  <subtitle>{BLOG_TAGLINE}</subtitle>
  <link rel="alternate" type="text/html" href="{base}/" />
  <link rel="self" type="application/atom+xml" href="{base}/atom.xml" />
  <id>{base}/</id>
  <updated>{self.updated:%Y-%m-%dT%H:%M:%SZ}</updated>
  <generator uri="https://example.org/debatelake">debatelake demo site</generator>
{chr(10).join(entries)}
</feed>
"""

    def json_feed(self, base: str) -> str:
        feed = {
            "version": "https://jsonfeed.org/version/1.1",
            "title": BLOG_NAME,
            "home_page_url": f"{base}/",
            "feed_url": f"{base}/feed.json",
            "description": BLOG_TAGLINE,
            "language": "en-GB",
            "authors": [{"name": f"{BLOG_NAME} writers"}],
            "items": [
                {
                    "id": f"{base}{p.path}",
                    "url": f"{base}{p.path}",
                    "title": p.title,
                    "summary": p.summary,
                    "content_text": p.summary,
                    "date_published": p.published.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "authors": [{"name": p.author, "url": f"{base}/author/{_slugify(p.author)}/"}],
                    "tags": p.tags,
                }
                for p in self.posts[:FEED_SIZE]
            ],
        }
        return json.dumps(feed, ensure_ascii=False, indent=2)

    def sitemap(self, base: str) -> str:
        urls = "\n".join(
            f"  <url>\n    <loc>{base}{p.path}</loc>\n    <lastmod>{p.published:%Y-%m-%dT%H:%M:%S+00:00}</lastmod>\n"
            f"    <changefreq>monthly</changefreq>\n    <priority>0.6</priority>\n  </url>"
            for p in self.posts
        )
        return ('<?xml version="1.0" encoding="UTF-8"?>\n'
                '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n' + urls + "\n</urlset>\n")

    # ------------------------------------------------------------ HTML
    @cached_property
    def sidebar(self) -> tuple[str, str, str]:
        """Recent posts, tag cloud and monthly archive: the same on every page."""
        e = html.escape
        recent = "".join(f'<li><a href="{p.path}">{e(p.title)}</a></li>' for p in self.posts[:5])
        tags = " ".join(f'<a class="tag-cloud-link" href="/tag/{slug}/">{e(name)}</a>'
                        for slug, name in sorted(self.tag_names.items())[:30])
        months = Counter(f"{p.published:%B %Y}" for p in self.posts)
        archive = "".join(f"<li>{m} <span class=\"count\">({n})</span></li>" for m, n in list(months.items())[:12])
        return recent, tags, archive

    def page(self, title: str, main: str, base: str, head: str = "", body_class: str = "page") -> str:
        e = html.escape
        recent, tags, archive = self.sidebar
        return f"""<!DOCTYPE html>
<html lang="en-GB">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(title)}</title>
<link rel="alternate" type="application/rss+xml" title="{BLOG_NAME} &raquo; Feed" href="{base}/feed.xml">
<link rel="alternate" type="application/atom+xml" title="{BLOG_NAME} &raquo; Atom" href="{base}/atom.xml">
<link rel="alternate" type="application/feed+json" title="{BLOG_NAME} &raquo; JSON Feed" href="{base}/feed.json">
<link rel="stylesheet" href="/assets/theme.css?ver=3.2.1">
{head}
<script>window.dataLayer=window.dataLayer||[];function consent(c){{dataLayer.push(["consent",c]);}}</script>
</head>
<body class="{body_class}">
<div class="cookie-banner" role="dialog" aria-label="Cookies">We use one cookie to remember that you closed
this banner. <button onclick="consent('ok')">Fine</button> <a href="/about/#privacy">Privacy</a></div>
<a class="skip-link" href="#content">Skip to content</a>
<header class="site-header">
  <p class="site-title"><a href="/" rel="home">{BLOG_NAME}</a></p>
  <p class="site-description">{BLOG_TAGLINE}</p>
  <nav class="main-navigation" aria-label="Main menu">
    <ul>
      <li><a href="/">Home</a></li>
      <li><a href="/tag/open-weights/">Open weights</a></li>
      <li><a href="/tag/moderation/">Moderation</a></li>
      <li><a href="/about/">About</a></li>
      <li><a href="/feed.xml">RSS</a></li>
    </ul>
  </nav>
  <form class="search-form" role="search" action="/" method="get"><label>Search <input type="search" name="s"></label>
  <button type="submit">Go</button></form>
</header>
<div id="content" class="site-content">
<main id="main" class="site-main">
{main}
</main>
<aside id="secondary" class="widget-area" aria-label="Sidebar">
  <section class="widget widget_recent_entries"><h2 class="widget-title">Recent posts</h2><ul>{recent}</ul></section>
  <section class="widget widget_newsletter"><h2 class="widget-title">Newsletter</h2>
    <p>One e-mail a week with every new essay. No tracking pixels.</p>
    <form action="/subscribe" method="post"><input type="email" name="email" placeholder="you@example.org">
    <button>Subscribe</button></form></section>
  <section class="widget widget_tag_cloud"><h2 class="widget-title">Topics</h2><div class="tagcloud">{tags}</div></section>
  <section class="widget widget_archive"><h2 class="widget-title">Archives</h2><ul>{archive}</ul></section>
</aside>
</div>
<footer class="site-footer">
  <p>&copy; {self.updated:%Y} {BLOG_NAME}. Essays are the writers' own views.
  Text licensed CC BY 4.0 unless a post says otherwise.</p>
  <nav aria-label="Footer"><a href="/about/">About</a> · <a href="/about/#privacy">Privacy</a> ·
  <a href="/sitemap.xml">Sitemap</a> · <a href="/feed.xml">RSS</a></nav>
</footer>
<script src="/assets/theme.js?ver=3.2.1" defer></script>
</body>
</html>
"""

    def article(self, p: Post, base: str) -> str:
        e = html.escape
        url = f"{base}{p.path}"
        ld = json.dumps({
            "@context": "https://schema.org", "@type": "BlogPosting", "headline": p.title,
            "datePublished": p.published.strftime("%Y-%m-%dT%H:%M:%S+00:00"),
            "author": {"@type": "Person", "name": p.author, "url": f"{base}/author/{_slugify(p.author)}/"},
            "publisher": {"@type": "Organization", "name": BLOG_NAME}, "mainEntityOfPage": url,
            "keywords": ", ".join(p.tags), "description": p.summary,
        }, ensure_ascii=False)
        head = f"""<meta name="description" content="{e(p.summary)}">
<meta name="author" content="{e(p.author)}">
<link rel="canonical" href="{url}">
<meta property="og:type" content="article">
<meta property="og:title" content="{e(p.title)}">
<meta property="og:description" content="{e(p.summary)}">
<meta property="og:url" content="{url}">
<meta property="og:site_name" content="{BLOG_NAME}">
<meta property="article:published_time" content="{p.published:%Y-%m-%dT%H:%M:%S+00:00}">
<meta property="article:author" content="{base}/author/{_slugify(p.author)}/">
{"".join(f'<meta property="article:tag" content="{e(t)}">' for t in p.tags)}
<meta name="twitter:card" content="summary">
<script type="application/ld+json">{ld}</script>"""
        i = self.position[p.path]
        newer, older = (self.posts[i - 1] if i > 0 else None), (self.posts[i + 1] if i + 1 < len(self.posts) else None)
        related = list(islice((q for q in self.posts if q is not p and set(q.tags) & set(p.tags)), 3))
        share = quote(url, safe="")
        body = "\n".join(f"<p>{e(par)}</p>" for par in p.paragraphs)
        tags = ", ".join(f'<a href="/tag/{_slugify(t)}/" rel="tag">{e(t)}</a>' for t in p.tags)
        main = f"""<article id="post-{_stable_int(p.slug) % 90000 + 1000}" class="post type-post status-publish hentry">
  <header class="entry-header">
    <h1 class="entry-title">{e(p.title)}</h1>
    <div class="entry-meta">By <span class="author vcard"><a class="url fn n" href="/author/{_slugify(p.author)}/">{e(p.author)}</a></span>
    · <time class="entry-date published" datetime="{p.published:%Y-%m-%dT%H:%M:%S+00:00}">{p.published:%d %B %Y}</time>
    · <span class="reading-time">{max(1, sum(len(x.split()) for x in p.paragraphs) // 220)} min read</span></div>
  </header>
  <div class="entry-content">
<p class="standfirst"><em>{e(p.summary)}</em></p>
{body}
  </div>
  <footer class="entry-footer">
    <span class="tags-links">Tagged {tags}</span>
    <div class="share-buttons" aria-label="Share">Share:
      <a class="share-mastodon" href="https://mastodon.example/share?text={share}">Mastodon</a>
      <a class="share-bluesky" href="https://bsky.example/intent/compose?text={share}">Bluesky</a>
      <a class="share-linkedin" href="https://www.linkedin.example/sharing/share-offsite/?url={share}">LinkedIn</a>
      <a class="share-email" href="mailto:?subject={quote(p.title)}&amp;body={share}">E-mail</a>
      <button class="copy-link" data-url="{url}">Copy link</button>
    </div>
    <div class="author-bio"><h2>About {e(p.author)}</h2><p>{e(p.author)} writes for {BLOG_NAME}.
    <a href="/author/{_slugify(p.author)}/">All posts by {e(p.author)}</a></p></div>
  </footer>
</article>
<nav class="navigation post-navigation" aria-label="Posts">
  {f'<div class="nav-previous"><a href="{older.path}" rel="prev">Older: {e(older.title)}</a></div>' if older else ''}
  {f'<div class="nav-next"><a href="{newer.path}" rel="next">Newer: {e(newer.title)}</a></div>' if newer else ''}
</nav>
<section class="related-posts"><h2>Read next</h2><ul>
{"".join(f'<li><a href="{q.path}">{e(q.title)}</a> <span class="date">{q.published:%d %b %Y}</span></li>' for q in related)}
</ul></section>
<div id="comments" class="comments-area">
  <h2 class="comments-title">Comments are moderated</h2>
  <div id="respond" class="comment-respond">
    <h3 class="comment-reply-title">Leave a reply</h3>
    <form action="/wp-comments-post.php" method="post" id="commentform" class="comment-form">
      <p class="comment-notes">Your e-mail address will not be published. Required fields are marked *</p>
      <p><label for="comment">Comment *</label><textarea id="comment" name="comment" rows="6" required></textarea></p>
      <p><label for="author">Name *</label><input id="author" name="author" type="text" required></p>
      <p><label for="email">E-mail *</label><input id="email" name="email" type="email" required></p>
      <p><input id="consent" name="consent" type="checkbox"> <label for="consent">Save my name for the next time I comment.</label></p>
      <p class="form-submit"><input name="submit" type="submit" class="submit" value="Post comment"></p>
    </form>
  </div>
</div>"""
        return self.page(f"{p.title} – {BLOG_NAME}", main, base, head, "single single-post")

    def listing(self, posts: list[Post], page: int, base: str, title: str, prefix: str) -> str:
        e = html.escape
        chunk = posts[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]
        cards = "\n".join(
            f"""<article class="post-card"><h2 class="entry-title"><a href="{p.path}">{e(p.title)}</a></h2>
<div class="entry-meta">{e(p.author)} · <time datetime="{p.published:%Y-%m-%d}">{p.published:%d %B %Y}</time></div>
<div class="entry-summary"><p>{e(p.summary)}</p></div><a class="more-link" href="{p.path}">Read more</a></article>"""
            for p in chunk)
        pages = max(1, math.ceil(len(posts) / PAGE_SIZE))
        nav = []
        if page > 1:
            nav.append(f'<a class="prev page-numbers" href="{prefix}{"" if page == 2 else f"page/{page - 1}/"}">Newer posts</a>')
        if page < pages:
            nav.append(f'<a class="next page-numbers" href="{prefix}page/{page + 1}/">Older posts</a>')
        main = f'<h1 class="page-title">{e(title)}</h1>\n{cards}\n<nav class="pagination">{" ".join(nav)}</nav>'
        head = f'<link rel="canonical" href="{base}{prefix}{"" if page == 1 else f"page/{page}/"}">'
        return self.page(title if title == BLOG_NAME else f"{title} – {BLOG_NAME}", main, base, head, "archive")

    def about(self, base: str) -> str:
        writers = "".join(f'<li><a href="/author/{slug}/">{html.escape(posts[0].author)}</a> ({len(posts)} posts)</li>'
                          for slug, posts in sorted(self.authors.items()))
        main = f"""<h1 class="page-title">About</h1>
<p>{BLOG_NAME} is a group blog where researchers, engineers and policy people argue about whether language
models should be released openly and how their output should be moderated. Writers disagree with each other
on purpose.</p><h2>Writers</h2><ul>{writers}</ul>
<h2 id="privacy">Privacy</h2><p>No analytics. The newsletter list is used for the newsletter only.</p>"""
        return self.page(f"About – {BLOG_NAME}", main, base, f'<link rel="canonical" href="{base}/about/">')


# ===================================================================== Hacker News (Algolia)
def hn_html(text: str) -> str:
    """Text the way HN stores it: escaped, URLs linked, paragraphs separated by <p>."""
    out = []
    for para in _paragraphs(text):
        esc = html.escape(para, quote=True).replace("&#x27;", "&#x27;").replace("/", "&#x2F;")

        def link(m: re.Match[str]) -> str:
            raw = html.unescape(m.group(0).replace("&#x2F;", "/"))
            return f'<a href="{html.escape(raw, quote=True)}" rel="nofollow">{m.group(0)}</a>'

        out.append(re.sub(r"https?:&#x2F;&#x2F;[^\s<]+", link, esc))
    return "<p>".join(out)


class HackerNews:
    """The Algolia HN Search API (https://hn.algolia.com/api) under /hn/api/v1."""

    PREFIX = "/hn/api/v1"
    MAX_HITS = 1000  # Algolia's paginationLimitedTo

    def __init__(self, content: DemoContent):
        self.threads = content.by_platform.get("hn", [])
        self.items: dict[int, Node] = {n.pid: n for t in self.threads for n in [t.op, *t.op.walk()]}
        self.records: list[dict[str, Any]] = []
        for t in self.threads:
            self.records.append(self._story_record(t))
            for c in t.op.walk():
                if not c.deleted:  # deleted items leave the search index, but not the items tree
                    self.records.append(self._comment_record(c))

    def handle(self, req: Request, base: str) -> Response:
        path = req.path[len(self.PREFIX):].rstrip("/")
        if path in ("/search", "/search_by_date"):
            return self.search(req, by_date=path.endswith("by_date"))
        m = re.fullmatch(r"/items/(\d+)", path)
        if m:
            node = self.items.get(int(m.group(1)))
            if node is None:
                return _json({"status": 404, "error": "Not Found"}, 404)
            return _json(self.item(node))
        m = re.fullmatch(r"/users/([^/]+)", path)
        if m:
            return self.user(m.group(1))
        return _json({"status": 404, "error": "Not Found"}, 404)

    # ------------------------------------------------------------ records
    def _story_record(self, t: Thread) -> dict[str, Any]:
        op = t.op
        tags = ["story", f"author_{op.author}", f"story_{op.pid}"]
        if t.title.startswith("Ask HN"):
            tags.append("ask_hn")
        if t.title.startswith("Show HN"):
            tags.append("show_hn")
        return {
            "_tags": tags,
            "author": op.author,
            "children": [c.pid for c in op.children],
            "created_at": _iso_ms(op.created),
            "created_at_i": int(op.created.timestamp()),
            "num_comments": sum(1 for c in op.walk() if not c.deleted),
            "objectID": str(op.pid),
            "points": op.score,
            "story_id": op.pid,
            "story_text": hn_html(op.text) if op.text else None,
            "title": t.title,
            "updated_at": _iso_ms(t.last_activity),
            "url": t.url or None,
        }

    def _comment_record(self, c: Node) -> dict[str, Any]:
        t = c.thread
        assert t is not None and c.parent is not None
        return {
            "_tags": ["comment", f"author_{c.author}", f"story_{t.pid}"],
            "author": c.author,
            "children": [k.pid for k in c.children],
            "comment_text": hn_html(c.text),
            "created_at": _iso_ms(c.created),
            "created_at_i": int(c.created.timestamp()),
            "objectID": str(c.pid),
            "parent_id": c.parent.pid,
            "points": c.score,
            "story_id": t.pid,
            "story_title": t.title,
            "story_url": t.url or None,
            "updated_at": _iso_ms(c.created),
        }

    def item(self, n: Node) -> dict[str, Any]:
        t = n.thread
        assert t is not None
        is_story = n is t.op
        return {
            "author": None if n.deleted else n.author,
            "children": [self.item(c) for c in n.children],
            "created_at": _iso_ms(n.created),
            "created_at_i": int(n.created.timestamp()),
            "id": n.pid,
            "options": [],
            "parent_id": None if is_story else n.parent.pid,  # type: ignore[union-attr]
            "points": n.score if is_story else None,
            "story_id": t.pid,
            "text": None if n.deleted else (hn_html(n.text) if n.text else None),
            "title": t.title if is_story else None,
            "type": "story" if is_story else "comment",
            "url": (t.url or None) if is_story else None,
        }

    def user(self, name: str) -> Response:
        nodes = [n for n in self.items.values() if n.author == name and not n.deleted]
        if not nodes:
            return _json({"status": 404, "error": "Not Found"}, 404)
        return _json({"username": name, "about": "", "karma": sum(n.score for n in nodes)})

    # ------------------------------------------------------------ search
    @staticmethod
    def _tag_filter(spec: str) -> Callable[[dict[str, Any]], bool]:
        """Algolia tags: a comma is AND, a parenthesised group is OR: "(story,poll),author_pg"."""
        groups: list[list[str]] = []
        for m in re.finditer(r"\(([^)]*)\)|([^,()]+)", spec or ""):
            if m.group(1) is not None:
                groups.append([x.strip() for x in m.group(1).split(",") if x.strip()])
            elif m.group(2).strip():
                groups.append([m.group(2).strip()])
        return lambda rec: all(any(tag in rec["_tags"] for tag in g) for g in groups if g)

    @staticmethod
    def _numeric_filter(spec: str) -> Callable[[dict[str, Any]], bool]:
        ops = {"<=": lambda a, b: a <= b, ">=": lambda a, b: a >= b, "!=": lambda a, b: a != b,
               "<": lambda a, b: a < b, ">": lambda a, b: a > b, "=": lambda a, b: a == b}
        conds = []
        for part in (spec or "").split(","):
            m = re.fullmatch(r"\s*(\w+)\s*(<=|>=|!=|<|>|=)\s*(-?\d+(?:\.\d+)?)\s*", part)
            if m:
                conds.append((m.group(1), ops[m.group(2)], float(m.group(3))))
        return lambda rec: all(rec.get(f) is not None and op(rec[f], v) for f, op, v in conds)

    @staticmethod
    def _searchable(rec: dict[str, Any]) -> str:
        return " ".join(str(rec.get(k) or "") for k in ("title", "url", "author", "story_title")) + " " + \
            _strip_tags(rec.get("story_text") or "") + " " + _strip_tags(rec.get("comment_text") or "")

    @staticmethod
    def _highlight(rec: dict[str, Any], words: list[str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key in ("title", "url", "author", "story_text", "comment_text", "story_title", "story_url"):
            if key not in rec or rec[key] is None:
                continue
            value = str(rec[key])
            matched = [w for w in words if w and re.search(rf"\b{re.escape(w)}", value, re.I)]
            for w in matched:
                value = re.sub(rf"\b({re.escape(w)}\w*)", r"<em>\1</em>", value, flags=re.I)
            level = "none" if not matched else "full" if len(matched) == len(words) else "partial"
            entry: dict[str, Any] = {"value": value, "matchLevel": level, "matchedWords": matched}
            if matched:
                entry["fullyHighlighted"] = False
            out[key] = entry
        return out

    def search(self, req: Request, by_date: bool) -> Response:
        query = Query(req.arg("query", "") or "")
        tag_ok = self._tag_filter(req.arg("tags", "") or "")
        num_ok = self._numeric_filter(",".join(req.query.get("numericFilters", [])))
        hits = [r for r in self.records if tag_ok(r) and num_ok(r) and query.matches(self._searchable(r))]
        if by_date:
            hits.sort(key=lambda r: (r["created_at_i"], r["objectID"]), reverse=True)
        else:
            hits.sort(key=lambda r: (r.get("points") or 0, r.get("num_comments") or 0, r["created_at_i"]), reverse=True)
        per_page = _int_arg(req, "hitsPerPage", 20, 0, 1000)
        page = _int_arg(req, "page", 0, 0)
        reachable = hits[: self.MAX_HITS]
        pages = math.ceil(len(reachable) / per_page) if per_page else 0
        chunk = reachable[page * per_page: (page + 1) * per_page] if per_page else []
        words = query.all_words
        out_hits = []
        for rec in chunk:
            hit = {k: v for k, v in rec.items()}
            hit["_highlightResult"] = self._highlight(rec, words)
            out_hits.append(hit)
        params = urlencode([(k, v) for k, vs in req.query.items() for v in vs]) + \
            "&advancedSyntax=true&analyticsTags=backend"
        return _json({
            "exhaustive": {"nbHits": True, "typo": True},
            "exhaustiveNbHits": True,
            "exhaustiveTypo": True,
            "hits": out_hits,
            "hitsPerPage": per_page,
            "nbHits": len(hits),
            "nbPages": pages,
            "page": page,
            "params": params,
            "processingTimeMS": 1,
            "processingTimingsMS": {"request": {"roundTrip": 1}},
            "query": query.text,
            "serverTimeMS": 2,
        })


# ===================================================================== Reddit
def _reddit_escape(value: Any) -> Any:
    """Without raw_json=1 Reddit escapes &, < and > in every string of its JSON."""
    if isinstance(value, str):
        return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if isinstance(value, list):
        return [_reddit_escape(v) for v in value]
    if isinstance(value, dict):
        return {k: _reddit_escape(v) for k, v in value.items()}
    return value


def _md_html(text: str) -> str:
    paras = "".join(f"<p>{html.escape(p, quote=False)}</p>\n" for p in _paragraphs(text))
    return f'<div class="md">{paras}</div>'


class Reddit:
    """Reddit's public JSON under /reddit (what https://www.reddit.com/... .json returns)."""

    PREFIX = "/reddit"
    TOP_LEVEL_SHOWN = 6  # top-level comments in /comments/<id>.json before a `more` stub
    REPLIES_SHOWN = 3  # replies shown under one comment before a `more` stub
    DEPTH_SHOWN = 3  # replies at this depth are left to /api/morechildren
    CREATED_SKEW = 28800  # Reddit's legacy `created` is created_utc + 8 hours

    def __init__(self, content: DemoContent):
        self.threads = content.by_platform.get("reddit", [])
        self.by_id = {t.pid: t for t in self.threads}
        self.nodes = {n.pid: n for t in self.threads for n in t.op.walk()}
        self.subs: dict[str, list[Thread]] = {}
        for t in self.threads:
            self.subs.setdefault(t.community.lower(), []).append(t)
        self.sub_names = {t.community.lower(): t.community for t in self.threads}

    def sub_id(self, sub: str) -> str:
        return "t5_" + _b36(_stable_int("sub:" + sub.lower()) % (36**6))

    def slug(self, t: Thread) -> str:
        return _slugify(t.title, "_", 50)

    def permalink(self, n: Node | Thread) -> str:
        t = n if isinstance(n, Thread) else n.thread
        assert t is not None
        path = f"/r/{t.community}/comments/{t.pid}/{self.slug(t)}/"
        return path if isinstance(n, Thread) or n is t.op else f"{path}{n.pid}/"

    # ------------------------------------------------------------ routing
    def handle(self, req: Request, base: str) -> Response:
        path = req.path[len(self.PREFIX):]
        raw = req.arg("raw_json") == "1"
        headers = {"x-ratelimit-remaining": "99.0", "x-ratelimit-used": "1", "x-ratelimit-reset": "600",
                   "cache-control": "private, s-maxage=0, max-age=0, must-revalidate"}
        if path.rstrip("/") in ("/api/morechildren", "/api/morechildren.json"):
            data = self.morechildren(_form(req), base)
            return _json(data if raw else _reddit_escape(data), headers=headers)
        m = re.fullmatch(r"/(?:r/[^/]+/)?comments/([a-z0-9]+)(?:/[^/.]*)?(?:/([a-z0-9]+))?/?\.json", path)
        if m:
            t = self.by_id.get(m.group(1))
            if t is None:
                return _json({"message": "Not Found", "error": 404}, 404, headers)
            data = self.comments(t, req, base)
            return _json(data if raw else _reddit_escape(data), headers=headers)
        m = re.fullmatch(r"/r/([A-Za-z0-9_+]+)(?:/(new|hot|top|rising|search))?/?\.json", path)
        if m:
            subs = m.group(1).split("+")
            if any(s.lower() not in self.subs and s.lower() != "all" for s in subs):
                return _json({"message": "Not Found", "error": 404}, 404, headers)
            threads = [t for s in subs for t in (self.threads if s.lower() == "all" else self.subs[s.lower()])]
            kind = m.group(2) or "hot"
            if kind == "search":  # restrict_sr=on searches this subreddit, otherwise all of Reddit
                restrict = (req.arg("restrict_sr") or "").lower() in ("1", "on", "true")
                data = self.search(threads if restrict else self.threads, req, base)
            else:
                data = self.listing(threads, kind, req, base)
            return _json(data if raw else _reddit_escape(data), headers=headers)
        if path in ("/search.json", "/search/.json"):
            data = self.search(self.threads, req, base)
            return _json(data if raw else _reddit_escape(data), headers=headers)
        return _json({"message": "Not Found", "error": 404}, 404, headers)

    # ------------------------------------------------------------ things
    def t3(self, t: Thread, base: str) -> dict[str, Any]:
        op = t.op
        created = int(op.created.timestamp())
        link = t.url or f"{base}{self.PREFIX}{self.permalink(t)}"
        domain = urlsplit(t.url).hostname if t.url else f"self.{t.community}"
        return {
            "approved_at_utc": None, "subreddit": t.community, "selftext": op.text,
            "author_fullname": f"t2_{_b36(_stable_int('user:' + op.author) % 36**8)}", "saved": False,
            "mod_reason_title": None, "gilded": 0, "clicked": False, "title": t.title,
            "link_flair_richtext": [], "subreddit_name_prefixed": f"r/{t.community}", "hidden": False,
            "pwls": 6, "link_flair_css_class": None, "downs": 0, "thumbnail_height": None,
            "top_awarded_type": None, "hide_score": False, "name": f"t3_{t.pid}", "quarantine": False,
            "link_flair_text_color": "dark", "upvote_ratio": 0.94, "author_flair_background_color": None,
            "subreddit_type": "public", "ups": op.score, "total_awards_received": 0, "media_embed": {},
            "thumbnail_width": None, "author_flair_template_id": None, "is_original_content": False,
            "user_reports": [], "secure_media": None, "is_reddit_media_domain": False, "is_meta": False,
            "category": None, "secure_media_embed": {}, "link_flair_text": None, "can_mod_post": False,
            "score": op.score, "approved_by": None, "is_created_from_ads_ui": False, "author_premium": False,
            "thumbnail": "self" if not t.url else "default", "edited": False, "author_flair_css_class": None,
            "author_flair_richtext": [], "gildings": {}, "content_categories": None, "is_self": not t.url,
            "mod_note": None, "created": float(created + self.CREATED_SKEW), "link_flair_type": "text", "wls": 6,
            "removed_by_category": None, "banned_by": None, "author_flair_type": "text", "domain": domain,
            "allow_live_comments": False,
            "selftext_html": f"<!-- SC_OFF -->{_md_html(op.text)}<!-- SC_ON -->" if op.text else None,
            "likes": None, "suggested_sort": None, "banned_at_utc": None, "view_count": None, "archived": False,
            "no_follow": False, "is_crosspostable": False, "pinned": False, "over_18": False, "all_awardings": [],
            "awarders": [], "media_only": False, "can_gild": False, "spoiler": False, "locked": False,
            "author_flair_text": None, "treatment_tags": [], "visited": False, "removed_by": None,
            "num_reports": None, "distinguished": None, "subreddit_id": self.sub_id(t.community),
            "author_is_blocked": False, "mod_reason_by": None, "removal_reason": None,
            "link_flair_background_color": "", "id": t.pid, "is_robot_indexable": True, "report_reasons": None,
            "author": op.author, "discussion_type": None, "num_comments": len(t.comments), "send_replies": True,
            "contest_mode": False, "mod_reports": [], "author_patreon_flair": False,
            "author_flair_text_color": None, "permalink": self.permalink(t), "stickied": False, "url": link,
            "subreddit_subscribers": 250_000 + _stable_int(t.community) % 500_000,
            "created_utc": float(created), "num_crossposts": 0, "media": None, "is_video": False,
        }

    def t1(self, n: Node, base: str, replies: Any = "") -> dict[str, Any]:
        t = n.thread
        assert t is not None and n.parent is not None
        created = int(n.created.timestamp())
        deleted = n.deleted
        author = "[deleted]" if deleted else n.author
        body = (n.text if n.text in ("[deleted]", "[removed]") else "[deleted]") if deleted else n.text
        data = {
            "subreddit_id": self.sub_id(t.community), "approved_at_utc": None, "author_is_blocked": False,
            "comment_type": None, "awarders": [], "mod_reason_by": None, "banned_by": None,
            "author_flair_type": "text", "total_awards_received": 0, "subreddit": t.community,
            "author_flair_template_id": None, "likes": None, "replies": replies, "user_reports": [],
            "saved": False, "id": n.pid, "banned_at_utc": None, "mod_reason_title": None, "gilded": 0,
            "archived": False, "collapsed_reason_code": "DELETED" if deleted else None, "no_follow": True,
            "author": author, "can_mod_post": False, "created_utc": float(created), "send_replies": True,
            "parent_id": f"t3_{t.pid}" if n.parent is t.op else f"t1_{n.parent.pid}", "score": n.score,
            "approved_by": None, "mod_note": None, "all_awardings": [], "collapsed": deleted, "body": body,
            "edited": False, "top_awarded_type": None, "author_flair_css_class": None, "name": f"t1_{n.pid}",
            "is_submitter": n.author == t.op.author and not deleted, "downs": 0, "author_flair_richtext": [],
            "author_patreon_flair": False, "body_html": _md_html(body), "removal_reason": None,
            "collapsed_reason": None, "distinguished": None, "associated_award": None, "stickied": False,
            "author_premium": False, "can_gild": True, "gildings": {}, "unrepliable_reason": None,
            "author_flair_text_color": None, "score_hidden": False, "permalink": self.permalink(n),
            "subreddit_type": "public", "locked": False, "report_reasons": None,
            "created": float(created + self.CREATED_SKEW), "author_flair_text": None, "treatment_tags": [],
            "link_id": f"t3_{t.pid}", "subreddit_name_prefixed": f"r/{t.community}", "controversiality": 0,
            "depth": n.depth, "author_flair_background_color": None, "collapsed_because_crowd_control": None,
            "mod_reports": [], "num_reports": None, "ups": n.score,
        }
        if not deleted:
            data["author_fullname"] = f"t2_{_b36(_stable_int('user:' + n.author) % 36**8)}"
        return data

    def more(self, parent: Node, hidden: list[Node], depth: int) -> dict[str, Any]:
        t = parent.thread
        assert t is not None
        return {"kind": "more", "data": {
            "count": sum(1 + h.descendants for h in hidden),
            "name": f"t1_{hidden[0].pid}", "id": hidden[0].pid,
            "parent_id": f"t3_{t.pid}" if parent is t.op else f"t1_{parent.pid}",
            "depth": depth, "children": [h.pid for h in hidden],
        }}

    @staticmethod
    def _sorted(nodes: list[Node], sort: str) -> list[Node]:
        if sort == "new":
            return sorted(nodes, key=lambda n: n.created, reverse=True)
        if sort == "old":
            return sorted(nodes, key=lambda n: n.created)
        if sort in ("top", "confidence", "best", "controversial", "qa"):
            return sorted(nodes, key=lambda n: (-n.score, n.created))
        return list(nodes)

    def _listing(self, children: list[dict[str, Any]], after: str | None = None, dist: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {"after": after, "dist": len(children) if dist else None, "modhash": "",
                                "geo_filter": "" if dist else None, "children": children, "before": None}
        return {"kind": "Listing", "data": data}

    def comments(self, t: Thread, req: Request, base: str) -> list[dict[str, Any]]:
        sort = (req.arg("sort") or "confidence").lower()
        limit = _int_arg(req, "limit", 200, 1, 500)
        max_depth = _int_arg(req, "depth", self.DEPTH_SHOWN, 1, 10)
        budget = [limit]

        def tree(parent: Node) -> list[dict[str, Any]]:
            kids = self._sorted(parent.children, sort)
            depth = 0 if parent is t.op else parent.depth + 1
            shown = self.TOP_LEVEL_SHOWN if parent is t.op else self.REPLIES_SHOWN
            if depth >= max_depth:
                shown = 0
            out: list[dict[str, Any]] = []
            for i, kid in enumerate(kids):
                if i >= shown or budget[0] <= 0:
                    out.append(self.more(parent, kids[i:], depth))
                    break
                budget[0] -= 1
                sub = tree(kid)
                out.append({"kind": "t1", "data": self.t1(kid, base, self._listing(sub, dist=False) if sub else "")})
            return out

        return [self._listing([{"kind": "t3", "data": self.t3(t, base)}], dist=True),
                self._listing(tree(t.op), dist=False)]

    def morechildren(self, args: dict[str, list[str]], base: str) -> dict[str, Any]:
        link = (args.get("link_id") or [""])[0]
        ids = [c.strip() for v in args.get("children", []) for c in v.split(",") if c.strip()][:100]
        t = self.by_id.get(link[3:] if link.startswith("t3_") else link)
        if t is None:
            return {"json": {"errors": [["INVALID_ID", "that is not a valid id", "link_id"]], "data": {"things": []}}}
        things: list[dict[str, Any]] = []
        seen: set[str] = set()
        for cid in ids:
            n = self.nodes.get(cid)
            if n is None or n.thread is not t or cid in seen:
                continue
            for m in [n, *n.walk()]:
                if m.pid not in seen:
                    seen.add(m.pid)
                    things.append({"kind": "t1", "data": self.t1(m, base, "")})
        return {"json": {"errors": [], "data": {"things": things}}}

    # ------------------------------------------------------------ listings
    def _page(self, threads: list[Thread], req: Request, base: str) -> dict[str, Any]:
        limit = _int_arg(req, "limit", 25, 1, 100)
        start = 0
        after = req.arg("after")
        if after:
            ids = [f"t3_{t.pid}" for t in threads]
            start = ids.index(after) + 1 if after in ids else len(threads)
        chunk = threads[start:start + limit]
        more = start + limit < len(threads)
        return self._listing([{"kind": "t3", "data": self.t3(t, base)} for t in chunk],
                             after=f"t3_{chunk[-1].pid}" if chunk and more else None)

    @staticmethod
    def _window(threads: list[Thread], t: str) -> list[Thread]:
        spans = {"hour": 1 / 24, "day": 1, "week": 7, "month": 31, "year": 366}
        if t not in spans:
            return threads
        since = datetime.now(UTC) - timedelta(days=spans[t])
        return [x for x in threads if x.op.created >= since]

    def listing(self, threads: list[Thread], kind: str, req: Request, base: str) -> dict[str, Any]:
        if kind == "new":
            ordered = sorted(threads, key=lambda t: t.op.created, reverse=True)
        elif kind == "top":
            ordered = sorted(self._window(threads, (req.arg("t") or "day").lower()),
                             key=lambda t: t.op.score, reverse=True)
        else:  # hot / rising: score decayed by age, as Reddit's hot ranking does
            ordered = sorted(threads, key=lambda t: math.log10(max(t.op.score, 1)) + t.op.created.timestamp() / 45000,
                             reverse=True)
        return self._page(ordered, req, base)

    def search(self, threads: list[Thread], req: Request, base: str) -> dict[str, Any]:
        q = Query(req.arg("q", "") or "")
        found = [t for t in self._window(threads, (req.arg("t") or "all").lower())
                 if q.matches(f"{t.title} {t.op.text} {t.url}")]
        sort = (req.arg("sort") or "relevance").lower()
        if sort == "new":
            found.sort(key=lambda t: t.op.created, reverse=True)
        elif sort == "comments":
            found.sort(key=lambda t: len(t.comments), reverse=True)
        else:
            found.sort(key=lambda t: t.op.score, reverse=True)
        return self._page(found, req, base)


# ===================================================================== Discourse
class Discourse:
    """A Discourse forum under /discourse (a subfolder install: its own URLs carry the prefix)."""

    PREFIX = "/discourse"
    CHUNK = 20  # posts per /t/<id>.json page (Discourse's chunk_size)

    def __init__(self, content: DemoContent, per_page: int = 30):
        # topics per latest.json page: Discourse's default is 30 and `?per_page=` changes it; the
        # demo forum uses 10 so that its few topics still span several pages
        self.per_page = per_page
        self.threads = content.by_platform.get("discourse", [])
        self.by_id = {t.pid: t for t in self.threads}
        names = sorted({t.community or "General" for t in self.threads})
        cat_ids = _numeric_ids(5, 95)(names)
        self.categories = {name: {"id": cat_ids[name], "name": name, "slug": _slugify(name)} for name in names}
        self.posts: dict[int, Node] = {n.pid: n for t in self.threads for n in [t.op, *t.op.walk()]}
        self.numbers: dict[int, int] = {}  # post id -> post_number (1 = the opening post, then by time)
        self.ordered: dict[int, list[Node]] = {}
        for t in self.threads:
            posts = [t.op, *sorted(t.op.walk(), key=lambda n: (n.created, n.key))]
            self.ordered[t.pid] = posts
            for i, n in enumerate(posts, start=1):
                self.numbers[n.pid] = i

    def category(self, t: Thread) -> dict[str, Any]:
        return self.categories[t.community or "General"]

    @staticmethod
    def username(name: str) -> str:
        return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_")[:20] or "anonymous"

    @staticmethod
    def user_id(name: str) -> int:
        return 10 + _stable_int("discourse-user:" + name) % 99_000

    def avatar(self, name: str) -> str:
        return f"{self.PREFIX}/letter_avatar_proxy/v4/letter/{(self.username(name)[:1] or 'a').lower()}/8c91f0/{{size}}.png"

    # ------------------------------------------------------------ routing
    def handle(self, req: Request, base: str) -> Response:
        path = req.path[len(self.PREFIX):]
        if path in ("/latest.json", "/latest"):
            return _json(self.topic_list(self.threads, req, "/latest"))
        if path == "/categories.json":
            return _json(self.category_list())
        m = re.fullmatch(r"/c/(?:([a-z0-9-]+)/)?(\d+)(?:/l/latest)?\.json", path) or \
            re.fullmatch(r"/c/([a-z0-9-]+)(?:/l/latest)?\.json", path)
        if m:
            cat = self._find_category(m.group(1), m.group(2) if m.lastindex and m.lastindex >= 2 else None)
            if cat is None:
                return self._not_found()
            threads = [t for t in self.threads if self.category(t)["id"] == cat["id"]]
            return _json(self.topic_list(threads, req, f"/c/{cat['slug']}/{cat['id']}/l/latest"))
        m = re.fullmatch(r"/t/(?:[^/]+/)?(\d+)(?:/(\d+))?\.json", path)
        if m:
            t = self.by_id.get(int(m.group(1)))
            if t is None:
                return self._not_found()
            return _json(self.topic(t, _int_arg(req, "page", 1, 1)))
        m = re.fullmatch(r"/t/(\d+)/posts\.json", path)
        if m:
            t = self.by_id.get(int(m.group(1)))
            if t is None:
                return self._not_found()
            wanted = {int(x) for k in ("post_ids[]", "post_ids") for v in req.query.get(k, []) for x in v.split(",")
                      if x.strip().isdigit()}
            posts = [self.post(n) for n in self.ordered[t.pid] if n.pid in wanted]
            return _json({"post_stream": {"posts": posts}, "id": t.pid})
        return self._not_found()

    @staticmethod
    def _not_found() -> Response:
        return _json({"errors": ["The requested URL or resource could not be found."], "error_type": "not_found"}, 404)

    def _find_category(self, slug: str | None, cid: str | None) -> dict[str, Any] | None:
        for cat in self.categories.values():
            if (cid is not None and str(cat["id"]) == cid) or (cid is None and cat["slug"] == slug):
                return cat
        return None

    # ------------------------------------------------------------ JSON
    def category_list(self) -> dict[str, Any]:
        cats = []
        for i, cat in enumerate(sorted(self.categories.values(), key=lambda c: c["id"])):
            n = sum(1 for t in self.threads if self.category(t)["id"] == cat["id"])
            cats.append({
                "id": cat["id"], "name": cat["name"], "color": "0088CC", "text_color": "FFFFFF",
                "slug": cat["slug"], "topic_count": n, "post_count": sum(
                    len(self.ordered[t.pid]) for t in self.threads if self.category(t)["id"] == cat["id"]),
                "position": i, "description": f"Discussion about {cat['name'].lower()}.",
                "description_text": f"Discussion about {cat['name'].lower()}.",
                "description_excerpt": f"Discussion about {cat['name'].lower()}.",
                "topic_url": None, "read_restricted": False, "permission": None, "notification_level": 1,
                "has_children": False, "sort_order": None, "sort_ascending": None,
                "show_subcategory_list": False, "num_featured_topics": 3, "default_view": None,
                "subcategory_list_style": "rows_with_featured_topics", "default_top_period": "all",
                "default_list_filter": "all", "minimum_required_tags": 0,
                "navigate_to_first_post_after_read": False, "topics_all_time": n, "subcategory_ids": [],
                "uploaded_logo": None, "uploaded_background": None,
            })
        return {"category_list": {"can_create_category": False, "can_create_topic": False, "categories": cats}}

    def topic_list(self, threads: list[Thread], req: Request, path: str) -> dict[str, Any]:
        ordered = sorted(threads, key=lambda t: (t.last_activity, t.pid), reverse=True)
        page = _int_arg(req, "page", 0, 0)
        per_page = _int_arg(req, "per_page", self.per_page, 1, 100)
        chunk = ordered[page * per_page:(page + 1) * per_page]
        users: dict[int, dict[str, Any]] = {}
        topics = []
        for t in chunk:
            posts = self.ordered[t.pid]
            last = max(posts, key=lambda n: n.created)
            posters = []
            for role, n in (("Original Poster", t.op), ("Most Recent Poster", last)):
                uid = self.user_id(n.author)
                users[uid] = {"id": uid, "username": self.username(n.author), "name": n.author,
                              "avatar_template": self.avatar(n.author), "trust_level": 1}
                if not any(p["user_id"] == uid for p in posters):
                    posters.append({"extras": "latest" if n is last else None, "description": role,
                                    "user_id": uid, "primary_group_id": None, "flair_group_id": None})
            topics.append({
                "id": t.pid, "title": t.title, "fancy_title": html.escape(t.title, quote=True), "slug": _slugify(t.title),
                "posts_count": len(posts), "reply_count": sum(1 for n in posts[1:] if n.parent is not t.op),
                "highest_post_number": len(posts), "image_url": None, "created_at": _iso_ms(t.op.created),
                "last_posted_at": _iso_ms(last.created), "bumped": True, "bumped_at": _iso_ms(last.created),
                "archetype": "regular", "unseen": False, "pinned": False, "unpinned": None, "visible": True,
                "closed": False, "archived": False, "bookmarked": None, "liked": None, "tags": [],
                "tags_descriptions": {}, "views": 40 * len(posts) + t.op.score,
                "like_count": sum(n.score for n in posts), "has_summary": False,
                "last_poster_username": self.username(last.author), "category_id": self.category(t)["id"],
                "pinned_globally": False, "featured_link": None, "has_accepted_answer": False, "posters": posters,
            })
        topic_list: dict[str, Any] = {"can_create_topic": False, "per_page": per_page, "top_tags": [],
                                      "topics": topics}
        if (page + 1) * per_page < len(ordered):
            extra = f"&per_page={per_page}" if "per_page" in req.query else ""
            topic_list["more_topics_url"] = f"{self.PREFIX}{path}?no_definitions=true{extra}&page={page + 1}"
        return {"users": list(users.values()), "primary_groups": [], "flair_groups": [], "topic_list": topic_list}

    def post(self, n: Node) -> dict[str, Any]:
        t = n.thread
        assert t is not None
        number = self.numbers[n.pid]
        reply_to = n.parent if n.parent is not None and n.parent is not t.op else None
        cooked = "<p>(post deleted by author)</p>" if n.deleted else \
            "\n".join(f"<p>{html.escape(p, quote=False)}</p>" for p in _paragraphs(n.text))
        post: dict[str, Any] = {
            "id": n.pid, "name": n.author, "username": self.username(n.author),
            "avatar_template": self.avatar(n.author), "created_at": _iso_ms(n.created), "cooked": cooked,
            "post_number": number, "post_type": 1, "updated_at": _iso_ms(n.created),
            "reply_count": len(n.children) if n is not t.op else 0,
            "reply_to_post_number": self.numbers[reply_to.pid] if reply_to else None, "quote_count": 0,
            "incoming_link_count": 0, "reads": 3 + n.score, "readers_count": 2 + n.score,
            "score": float(n.score), "yours": False, "topic_id": t.pid, "topic_slug": _slugify(t.title),
            "display_username": n.author, "primary_group_name": None, "flair_name": None, "flair_url": None,
            "flair_bg_color": None, "flair_color": None, "version": 1, "can_edit": False, "can_delete": False,
            "can_recover": False, "can_wiki": False, "read": True, "user_title": None, "bookmarked": False,
            "actions_summary": [{"id": 2, "count": n.score}] if n.score > 0 else [], "moderator": False,
            "admin": False, "staff": False, "user_id": self.user_id(n.author), "hidden": False, "trust_level": 1,
            "deleted_at": None, "user_deleted": n.deleted, "edit_reason": None, "can_view_edit_history": True,
            "wiki": False, "can_accept_answer": False, "can_unaccept_answer": False, "accepted_answer": False,
        }
        if reply_to is not None:
            post["reply_to_user"] = {"username": self.username(reply_to.author), "name": reply_to.author,
                                     "avatar_template": self.avatar(reply_to.author)}
        return post

    def topic(self, t: Thread, page: int) -> dict[str, Any]:
        posts = self.ordered[t.pid]
        chunk = posts[(page - 1) * self.CHUNK: page * self.CHUNK]
        last = max(posts, key=lambda n: n.created)
        cat = self.category(t)
        participants: dict[str, int] = {}
        for n in posts:
            participants[n.author] = participants.get(n.author, 0) + 1
        user = lambda name: {"id": self.user_id(name), "username": self.username(name), "name": name,  # noqa: E731
                             "avatar_template": self.avatar(name)}
        data: dict[str, Any] = {
            "post_stream": {"posts": [self.post(n) for n in chunk], "stream": [n.pid for n in posts]},
            "timeline_lookup": [[1, 0]], "tags": [], "tags_descriptions": {}, "id": t.pid, "title": t.title,
            "fancy_title": html.escape(t.title, quote=True), "posts_count": len(posts), "created_at": _iso_ms(t.op.created),
            "views": 40 * len(posts) + t.op.score, "reply_count": sum(1 for n in posts[1:] if n.parent is not t.op),
            "like_count": sum(n.score for n in posts), "last_posted_at": _iso_ms(last.created), "visible": True,
            "closed": False, "archived": False, "has_summary": False, "archetype": "regular",
            "slug": _slugify(t.title), "category_id": cat["id"],
            "word_count": sum(len(n.text.split()) for n in posts), "deleted_at": None,
            "user_id": self.user_id(t.op.author), "featured_link": None, "pinned_globally": False,
            "pinned_at": None, "pinned_until": None, "image_url": None, "slow_mode_seconds": 0, "draft": None,
            "draft_key": f"topic_{t.pid}", "draft_sequence": None, "unpinned": None, "pinned": False,
            "current_post_number": 1, "highest_post_number": len(posts), "deleted_by": None,
            "actions_summary": [], "chunk_size": self.CHUNK, "bookmarked": False, "bookmarks": [],
            "topic_timer": None, "message_bus_last_id": 0, "participant_count": len(participants),
            "show_read_indicator": False, "thumbnails": None, "slow_mode_enabled_until": None,
            "tags_disable_ads": False,
            "details": {
                "can_edit": False, "notification_level": 1,
                "participants": [{**user(name), "post_count": count, "primary_group_name": None, "flair_name": None,
                                  "flair_url": None, "flair_color": None, "flair_bg_color": None, "admin": False,
                                  "trust_level": 1} for name, count in participants.items()],
                "created_by": user(t.op.author), "last_poster": user(last.author),
            },
        }
        if page > 1:
            data["suggested_topics"] = []
        return data


# ===================================================================== the site
class DemoSite:
    """`with DemoSite() as site: site.blog_url ...` — everything on one 127.0.0.1 port."""

    def __init__(self, content: DemoContent | None = None, port: int = 0, delay: float = 0.0,
                 topics_per_page: int = 10):
        self.content = content or DemoContent.load()
        self.delay = delay  # seconds before every answer (tests that need a slow site)
        self.blog = Blog(self.content)
        self.hn = HackerNews(self.content)
        self.reddit = Reddit(self.content)
        self.discourse = Discourse(self.content, per_page=topics_per_page)
        self.server = LocalServer(self.handle, port=port)

    def handle(self, req: Request) -> Response:
        base = f"http://{req.headers['host']}" if req.headers.get("host") else self.base_url
        if req.path.startswith(HackerNews.PREFIX + "/"):
            resp = self.hn.handle(req, base)
        elif req.path.startswith(Reddit.PREFIX + "/"):
            resp = self.reddit.handle(req, base)
        elif req.path.startswith(Discourse.PREFIX + "/"):
            resp = self.discourse.handle(req, base)
        else:
            resp = self.blog.handle(req, base)
        if self.delay:
            resp = Response(resp.status, resp.body, resp.content_type, resp.headers, self.delay, resp.truncate)
        return resp

    @property
    def requests(self) -> list[Request]:
        return self.server.requests

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def blog_url(self) -> str:
        return self.base_url

    @property
    def hn_api_url(self) -> str:
        return self.base_url + HackerNews.PREFIX

    @property
    def reddit_url(self) -> str:
        return self.base_url + Reddit.PREFIX

    @property
    def discourse_url(self) -> str:
        return self.base_url + Discourse.PREFIX

    def start(self) -> "DemoSite":
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> "DemoSite":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
