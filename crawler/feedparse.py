"""Feeds and sitemaps from bytes: RSS 2.0 (and 0.9x), RSS 1.0 / RDF, Atom 1.0 (and 0.3),
JSON Feed 1.0 / 1.1, sitemaps and sitemap indexes, gzipped or not.

`parse_feed(body, url, content_type=None)` returns a `Feed` whose `entries` carry what the feed
says about each article (URL, title, author, dates, summary, full content, tags) and, for a
sitemap index, the child sitemaps in `sitemaps`. A body that is not a feed raises `FeedError` with
a message that says what it is instead (an HTML page, invalid XML, JSON that is no JSON Feed ...).
XML that is broken but still yields entries is read in recovery mode and the problem is kept in
`Feed.problem`, so that the caller can report it once and keep the good entries.

Charsets follow crawler.encoding (BOM, HTTP charset, XML declaration, verified, then detection).
Elements are matched by local name, so odd namespace prefixes or none at all do not matter.
"""
from __future__ import annotations

import html
import json
import re
import zlib
from dataclasses import dataclass, field
from datetime import datetime
from html.entities import name2codepoint
from typing import Any
from urllib.parse import urljoin, urlsplit

from lxml import etree

from crawler.encoding import decode_text, decode_xml, looks_binary
from crawler.extract import clean_author, html_fragment_to_text, parse_date

MAX_BODY = 50 * 1024 * 1024  # a feed or sitemap larger than this (decompressed) is refused
XML_NS = "{http://www.w3.org/XML/1998/namespace}"


class FeedError(ValueError):
    """The body is not a feed or sitemap this module can read."""


@dataclass
class FeedEntry:
    url: str | None = None
    id: str | None = None
    title: str | None = None
    author: str | None = None
    published: datetime | None = None
    updated: datetime | None = None
    summary: str | None = None  # HTML or text, as the feed gave it
    content: str | None = None  # full content (content:encoded, Atom/JSON content), HTML or text
    content_is_html: bool = True
    tags: list[str] = field(default_factory=list)
    comments_url: str | None = None

    def content_text(self) -> str:
        """The entry's full content as clean text ('' when it has none)."""
        if not self.content:
            return ""
        return html_fragment_to_text(self.content) if self.content_is_html else _plain(self.content)

    def summary_text(self) -> str:
        return html_fragment_to_text(self.summary) if self.summary else ""


@dataclass
class Feed:
    kind: str  # rss / rdf / atom / jsonfeed / sitemap / sitemapindex
    url: str
    title: str | None = None
    link: str | None = None
    language: str | None = None
    entries: list[FeedEntry] = field(default_factory=list)
    sitemaps: list[str] = field(default_factory=list)
    encoding: str | None = None
    encoding_note: str | None = None
    problem: str | None = None  # broken XML read in recovery mode


def _plain(text: str) -> str:
    paras = [re.sub(r"[ \t\r\f\v\u00a0]+", " ", p).strip() for p in re.split(r"\n\s*\n", text)]
    return "\n\n".join(p for p in paras if p)


# ------------------------------------------------------------------------------ bytes
def gunzip_if_needed(body: bytes, max_size: int = MAX_BODY) -> bytes:
    if body[:2] != b"\x1f\x8b":
        return body
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = d.decompress(body, max_size + 1)
    except zlib.error as exc:
        raise FeedError(f"corrupt gzip data ({exc})") from exc
    if len(out) > max_size:
        raise FeedError(f"larger than {max_size // (1024 * 1024)} MB once decompressed; refused")
    return out


_HTML_START = re.compile(rb"^\s*(?:<!--.*?-->\s*)*(?:<!doctype\s+html|<html[\s>]|<head[\s>]|<body[\s>])", re.I | re.S)
_ENTITY = re.compile(r"&([A-Za-z][A-Za-z0-9]{1,31});")
_XML_ENTITIES = {"amp", "lt", "gt", "quot", "apos"}
_BARE_AMP = re.compile(r"&(?!#\d+;|#x[0-9a-fA-F]+;|[A-Za-z][A-Za-z0-9]*;)")


def _html_entities_to_numeric(text: str) -> str:
    """&nbsp; &eacute; ... are HTML, not XML; feeds use them anyway."""
    def sub(m: re.Match) -> str:
        name = m.group(1)
        if name in _XML_ENTITIES or name not in name2codepoint:
            return m.group(0)
        return f"&#{name2codepoint[name]};"

    return _ENTITY.sub(sub, text)


def _feed_links_in_html(body: bytes, base: str) -> list[str]:
    found = []
    for m in re.finditer(rb"<link\b[^>]*>", body[:200_000], re.I):
        tag = m.group(0).decode("latin-1")
        if re.search(r"type\s*=\s*[\"']?application/(rss|atom|feed)\+(xml|json)", tag, re.I):
            href = re.search(r"href\s*=\s*[\"']([^\"']+)", tag, re.I)
            if href:
                found.append(urljoin(base, html.unescape(href.group(1))))
    return list(dict.fromkeys(found))


# ------------------------------------------------------------------------------ entry point
def parse_feed(body: bytes, url: str, content_type: str | None = None) -> Feed:
    body = gunzip_if_needed(bytes(body or b""))
    if len(body) > MAX_BODY:
        raise FeedError(f"larger than {MAX_BODY // (1024 * 1024)} MB; refused")
    stripped = body.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not stripped:
        raise FeedError("empty body, not a feed")
    if looks_binary(body):
        raise FeedError("binary data, not a feed or sitemap")
    ctype = (content_type or "").lower()
    if stripped[:1] in (b"{", b"[") or "json" in ctype:
        return _parse_json_feed(body, url)
    if _HTML_START.match(stripped):
        links = _feed_links_in_html(body, url)
        hint = f"; it links to feed(s): {', '.join(links[:3])}" if links else ""
        raise FeedError(f"an HTML page, not a feed or sitemap{hint}")
    return _parse_xml_feed(body, url, content_type)


# ------------------------------------------------------------------------------ XML helpers
def _local(el) -> str:
    tag = el.tag
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1].lower() if "}" in tag else tag.split(":")[-1].lower()


def _ns(el) -> str:
    tag = el.tag if isinstance(el.tag, str) else ""
    return tag[1:].split("}", 1)[0] if tag.startswith("{") else ""


def _children(el, *names: str) -> list:
    return [c for c in el if _local(c) in names]


def _child(el, *names: str, ns_contains: str | None = None):
    for c in el:
        if _local(c) in names and (ns_contains is None or ns_contains in _ns(c)):
            return c
    return None


def _text(el) -> str | None:
    if el is None:
        return None
    s = "".join(el.itertext()).strip()
    return s or None


def _base(el, default: str) -> str:
    """xml:base in effect for el (nearest ancestor), resolved against the feed URL."""
    chain = []
    node = el
    while node is not None:
        b = node.get(XML_NS + "base")
        if b:
            chain.append(b)
        node = node.getparent()
    base = default
    for b in reversed(chain):
        base = urljoin(base, b)
    return base


def _clean_title(value: str | None) -> str | None:
    if not value:
        return None
    if "<" in value and re.search(r"<[a-zA-Z/!]", value):
        value = html_fragment_to_text(value).replace("\n\n", " ")
    elif re.search(r"&(#\d+|#x[0-9a-fA-F]+|[A-Za-z]+);", value):
        value = html.unescape(value)
    value = re.sub(r"\s+", " ", value).strip()
    return value or None


def _http_url(value: str | None, base: str) -> str | None:
    if not value:
        return None
    value = value.strip().strip("<>").strip()
    if not value:
        return None
    full = urljoin(base, value)
    parts = urlsplit(full)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return full


def _date(value: str | None) -> datetime | None:
    return parse_date(value)[0] if value else None


def _rss_author(value: str | None) -> str | None:
    """RSS <author> is "email (Name)" or an e-mail address or a name."""
    if not value:
        return None
    m = re.match(r"^\s*\S+@\S+\s*\((.+)\)\s*$", value)
    if m:
        return clean_author(m.group(1))
    return clean_author(value)


def _atom_text(el) -> tuple[str | None, bool]:
    """(content, is_html) of an Atom text construct (type text / html / xhtml)."""
    if el is None:
        return None, True
    kind = (el.get("type") or "text").lower()
    if kind == "xhtml":
        div = _child(el, "div")
        node = div if div is not None else el
        inner = (node.text or "") + "".join(
            etree.tostring(c, encoding="unicode", with_tail=True) for c in node)
        inner = re.sub(r"\s?xmlns(:\w+)?=\"[^\"]*\"", "", inner)
        inner = re.sub(r"<(/?)\w+:", r"<\1", inner)
        return inner.strip() or None, True
    value = el.text or ""
    if kind in ("html", "text/html"):
        return value.strip() or None, True
    if kind.startswith("text") or kind == "text":
        return value.strip() or None, False
    return None, True  # base64 / other media: not text


# ------------------------------------------------------------------------------ XML feeds
def _parse_xml(body: bytes, url: str, content_type: str | None):
    decoded = decode_xml(body, content_type)
    text = _html_entities_to_numeric(decoded.text)
    text = re.sub(r"^\s*<\?xml[^>]*\?>", "", text, count=1)
    data = text.encode("utf-8")
    strict = etree.XMLParser(encoding="utf-8", resolve_entities=False, no_network=True, huge_tree=True)
    try:
        return etree.fromstring(data, strict), decoded, None
    except etree.XMLSyntaxError as exc:
        error = exc
    if _BARE_AMP.search(text):  # "Q&A" in a title: invalid XML, but every feed reader accepts it
        try:
            return etree.fromstring(_BARE_AMP.sub("&amp;", text).encode("utf-8"), strict), decoded, None
        except etree.XMLSyntaxError:
            pass
    recover = etree.XMLParser(encoding="utf-8", resolve_entities=False, no_network=True, recover=True, huge_tree=True)
    try:
        root = etree.fromstring(data, recover)
    except etree.XMLSyntaxError:
        root = None
    detail = str(error.msg or error)
    if getattr(error, "lineno", None) and "line" not in detail:
        detail += f", line {error.lineno}"
    msg = f"invalid XML ({detail})"
    if root is None:
        raise FeedError(msg + "; nothing could be read")
    return root, decoded, msg


def _parse_xml_feed(body: bytes, url: str, content_type: str | None) -> Feed:
    root, decoded, problem = _parse_xml(body, url, content_type)
    name = _local(root)
    feed: Feed
    if name == "rss" or (name == "channel"):
        feed = _rss(root, url)
    elif name == "rdf":
        feed = _rdf(root, url)
    elif name == "feed":
        feed = _atom(root, url)
    elif name == "urlset":
        feed = _urlset(root, url)
    elif name == "sitemapindex":
        feed = _sitemapindex(root, url)
    elif name in ("html", "xhtml"):
        raise FeedError("an HTML page, not a feed or sitemap")
    else:
        raise FeedError(f"not a feed or sitemap (its root element is <{name or root.tag}>)"
                        + (f"; {problem}" if problem else ""))
    feed.encoding, feed.encoding_note, feed.problem = decoded.encoding, decoded.note, problem
    if problem and not feed.entries and not feed.sitemaps:
        raise FeedError(problem + "; no entries could be read")
    return feed


def _rss_item(item, base: str) -> FeedEntry:
    base = _base(item, base)
    link = None
    orig = _child(item, "origlink")  # feedburner:origLink: the publisher's own URL
    if orig is not None:
        link = _http_url(_text(orig), base)
    if not link:
        for el in _children(item, "link"):
            href = el.get("href")
            if href and (el.get("rel") or "alternate") == "alternate":
                link = _http_url(href, base)
            elif not href:
                link = _http_url(_text(el), base)
            if link:
                break
    guid_el = _child(item, "guid")
    guid = _text(guid_el)
    if not link and guid and (guid_el.get("isPermaLink") or "true").lower() != "false":
        link = _http_url(guid, base)
    if not link and item.get("{http://www.w3.org/1999/02/22-rdf-syntax-ns#}about"):
        link = _http_url(item.get("{http://www.w3.org/1999/02/22-rdf-syntax-ns#}about"), base)
    authors = [a for a in (_text(el) for el in _children(item, "creator")) if a]
    author = clean_author("; ".join(authors)) if authors else None
    if not author:
        author = _rss_author(_text(_child(item, "author")))
    content_el = _child(item, "encoded", ns_contains="content")
    if content_el is None:
        content_el = _child(item, "encoded")
    summary = _text(_child(item, "description")) or _text(_child(item, "summary"))
    tags = [t for t in (_text(c) for c in _children(item, "category", "subject")) if t]
    published = _date(_text(_child(item, "pubdate"))) or _date(_text(_child(item, "date"))) \
        or _date(_text(_child(item, "published"))) or _date(_text(_child(item, "issued")))
    updated = _date(_text(_child(item, "updated"))) or _date(_text(_child(item, "modified")))
    return FeedEntry(
        url=link,
        id=guid or link,
        title=_clean_title(_text(_child(item, "title"))),
        author=author,
        published=published,
        updated=updated,
        summary=summary,
        content=(content_el.text or "").strip() or None if content_el is not None else None,
        content_is_html=True,
        tags=list(dict.fromkeys(tags)),
        comments_url=_http_url(_text(_child(item, "comments")), base),
    )


def _rss(root, url: str) -> Feed:
    channel = root if _local(root) == "channel" else _child(root, "channel")
    if channel is None:
        raise FeedError("an RSS document without a <channel>")
    base = _base(channel, url)
    items = _children(channel, "item") or _children(root, "item")  # RSS 0.9x puts items at the top
    return Feed(
        kind="rss", url=url,
        title=_clean_title(_text(_child(channel, "title"))),
        link=_http_url(_text(_child(channel, "link")), base),
        language=_text(_child(channel, "language")),
        entries=[_rss_item(i, base) for i in items],
    )


def _rdf(root, url: str) -> Feed:
    channel = _child(root, "channel")
    items = _children(root, "item") or (_children(channel, "item") if channel is not None else [])
    return Feed(
        kind="rdf", url=url,
        title=_clean_title(_text(_child(channel, "title"))) if channel is not None else None,
        link=_http_url(_text(_child(channel, "link")), url) if channel is not None else None,
        language=_text(_child(channel, "language")) if channel is not None else None,
        entries=[_rss_item(i, url) for i in items],
    )


def _atom_link(el, base: str) -> str | None:
    best = None
    for link in _children(el, "link"):
        rel = (link.get("rel") or "alternate").lower()
        href = _http_url(link.get("href"), _base(link, base))
        if not href:
            continue
        if rel == "alternate":
            kind = (link.get("type") or "text/html").lower()
            if "html" in kind:
                return href
            best = best or href
    return best


def _atom(root, url: str) -> Feed:
    base = _base(root, url)
    feed_author = [a for a in (_text(_child(p, "name")) for p in _children(root, "author")) if a]
    entries = []
    for entry in _children(root, "entry"):
        ebase = _base(entry, base)
        names = [a for a in (_text(_child(p, "name")) or _text(p) for p in _children(entry, "author")) if a]
        content, is_html = _atom_text(_child(entry, "content"))
        summary, _ = _atom_text(_child(entry, "summary"))
        title_el = _child(entry, "title")
        title, title_html = _atom_text(title_el)
        if title and title_html:
            title = html_fragment_to_text(title).replace("\n\n", " ") if "<" in title else html.unescape(title)
        tags = [t for t in ((c.get("label") or c.get("term")) for c in _children(entry, "category")) if t]
        link = _atom_link(entry, ebase)
        eid = _text(_child(entry, "id"))
        if not link and eid:
            link = _http_url(eid, ebase)
        entries.append(FeedEntry(
            url=link,
            id=eid or link,
            title=_clean_title(title),
            author=clean_author("; ".join(names or feed_author)) if (names or feed_author) else None,
            published=_date(_text(_child(entry, "published"))) or _date(_text(_child(entry, "issued")))
            or _date(_text(_child(entry, "created"))),
            updated=_date(_text(_child(entry, "updated"))) or _date(_text(_child(entry, "modified"))),
            summary=summary,
            content=content,
            content_is_html=is_html,
            tags=list(dict.fromkeys(tags)),
        ))
    title, _ = _atom_text(_child(root, "title"))
    return Feed(kind="atom", url=url, title=_clean_title(title), link=_atom_link(root, base),
                language=root.get(XML_NS + "lang"), entries=entries)


def _urlset(root, url: str) -> Feed:
    entries = []
    for u in _children(root, "url"):
        loc = _http_url(_text(_child(u, "loc")), url)
        if not loc:
            continue
        news = _child(u, "news")
        title = published = None
        if news is not None:
            title = _clean_title(_text(_child(news, "title")))
            published = _date(_text(_child(news, "publication_date")))
        entries.append(FeedEntry(url=loc, id=loc, title=title, published=published,
                                 updated=_date(_text(_child(u, "lastmod")))))
    return Feed(kind="sitemap", url=url, entries=entries)


def _sitemapindex(root, url: str) -> Feed:
    locs = [_http_url(_text(_child(s, "loc")), url) for s in _children(root, "sitemap")]
    return Feed(kind="sitemapindex", url=url, sitemaps=[u for u in dict.fromkeys(locs) if u])


# ------------------------------------------------------------------------------ JSON Feed
def _parse_json_feed(body: bytes, url: str) -> Feed:
    decoded = decode_text(body)
    try:
        data = json.loads(decoded.text)
    except ValueError as exc:
        raise FeedError(f"invalid JSON ({exc})") from exc
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        raise FeedError("JSON, but not a JSON Feed (no \"items\" list)")
    version = str(data.get("version") or "")
    if version and "jsonfeed.org" not in version:
        raise FeedError(f"JSON, but not a JSON Feed (version {version!r})")
    base = _http_url(data.get("home_page_url"), url) or url

    def names(obj: Any) -> list[str]:
        if isinstance(obj, dict):
            return [str(obj["name"])] if obj.get("name") else []
        if isinstance(obj, list):
            return [n for o in obj for n in names(o)]
        return []

    feed_authors = names(data.get("authors")) or names(data.get("author"))
    entries = []
    for item in data["items"]:
        if not isinstance(item, dict):
            continue
        link = _http_url(item.get("url"), base) or _http_url(item.get("external_url"), base)
        if item.get("content_html"):
            content, is_html = str(item["content_html"]), True
        elif item.get("content_text"):
            content, is_html = str(item["content_text"]), False
        else:
            content, is_html = None, True
        authors = names(item.get("authors")) or names(item.get("author")) or feed_authors
        tags = [str(t) for t in item.get("tags") or [] if t]
        entries.append(FeedEntry(
            url=link,
            id=str(item["id"]) if item.get("id") is not None else link,
            title=_clean_title(item.get("title")),
            author=clean_author("; ".join(authors)) if authors else None,
            published=_date(item.get("date_published")),
            updated=_date(item.get("date_modified")),
            summary=item.get("summary"),
            content=content,
            content_is_html=is_html,
            tags=tags,
        ))
    return Feed(kind="jsonfeed", url=url, title=_clean_title(data.get("title")),
                link=_http_url(data.get("home_page_url"), url), language=data.get("language"),
                entries=entries, encoding=decoded.encoding, encoding_note=decoded.note)
