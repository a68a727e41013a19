"""Article pages to clean records: main text by trafilatura, metadata from the page's own
declarations (JSON-LD, Open Graph / article: meta, <link rel=canonical>, <html lang>) with
trafilatura's guesses as the fallback.

`extract_page(html, url, content_type=None)` takes the page as bytes (decoded here, see
crawler.encoding) or str and returns an `ExtractedPage`, or raises `ExtractionError` with a
message fit for the crawl log (binary data, no text at all). Truncated or malformed HTML gives
best-effort text, never an exception from the parser.

`html_fragment_to_text` turns an article body that is already isolated (a feed's
content:encoded, the HTML body of an exported newsletter) into the same clean text, with
Substack/WordPress widgets (subscribe forms, share buttons, image-expand buttons, srcsets, footnote
anchors) removed. Text always has paragraphs separated by one blank line and list items on their
own lines; code blocks keep their line breaks and indentation.
"""
from __future__ import annotations

import gzip
import json
import re
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterable
from urllib.parse import urljoin, urlsplit

from lxml import etree
from lxml import html as lxml_html

from crawler.encoding import Decoded, decode_html, looks_binary
from pipeline.schema import to_utc

UTC = timezone.utc


class ExtractionError(ValueError):
    """The page has no extractable article (binary data, empty page, no text)."""


@dataclass
class ExtractedPage:
    url: str
    title: str | None = None
    text: str = ""
    author: str | None = None
    published_at: datetime | None = None
    updated_at: datetime | None = None
    canonical_url: str | None = None
    sitename: str | None = None
    language: str | None = None
    description: str | None = None
    tags: list[str] = field(default_factory=list)
    encoding: str | None = None
    encoding_note: str | None = None
    date_precise: bool = False  # False: only a day is known (published_at is midnight UTC)

    @property
    def doc_url(self) -> str:
        """The URL that identifies the document: the canonical URL when there is a usable one."""
        return self.canonical_url or self.url


# ------------------------------------------------------------------------------ text rendering
_SPACES = re.compile(r"[ \t\r\n\f\v\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_BREAK = "\x00"
_INDENT = "\x01"

# trafilatura's internal XML vocabulary
_TRAF_ROLES = {
    "p": "block", "head": "block", "ab": "block", "quote": "block", "div": "block", "note": "block",
    "list": "list", "item": "item", "lb": "br", "table": "table", "row": "row", "cell": "cell",
    "graphic": "drop", "fw": "drop",
}
# HTML
_HTML_BLOCK = {"p", "div", "section", "article", "main", "header", "footer", "h1", "h2", "h3", "h4", "h5", "h6",
               "blockquote", "figure", "figcaption", "dl", "dt", "dd", "address", "center", "details", "summary",
               "hr", "body", "html", "caption"}
_HTML_DROP = {"script", "style", "noscript", "template", "svg", "iframe", "button", "form", "input", "select",
              "textarea", "img", "picture", "source", "video", "audio", "object", "embed", "canvas", "map", "nav",
              "head", "title", "meta", "link", "label", "dialog", "math"}
# Class tokens (or prefixes ending in "-") of widgets and page furniture inside article bodies.
_JUNK_CLASSES = (
    "subscription-widget", "subscribe-widget", "subscribe", "subscription", "button-wrapper", "image-link-expand",
    "footnote-anchor", "footnote-number", "share", "sharing", "sharedaddy", "share-", "social-", "jp-relatedposts",
    "post-ufi", "like-button", "pencraft", "icon-container", "restack-", "comments-", "comment-respond",
    "wp-block-buttons", "addtoany", "a2a_", "newsletter-", "signup", "embedded-post", "digest-post-embed",
    "captioned-button", "cta-", "advert", "ad-container", "screen-reader-text",
)
_JUNK_EXACT = {"share", "subscribe", "subscription-widget-wrap", "subscription-widget-wrap-editor", "comments"}


def _is_junk_class(classes: str) -> bool:
    for tok in classes.split():
        tok = tok.lower()
        if tok in _JUNK_EXACT:
            return True
        for junk in _JUNK_CLASSES:
            if junk.endswith("-") or junk.endswith("_"):
                if tok.startswith(junk):
                    return True
            elif tok == junk or tok.startswith(junk + "-"):
                return True
    return False


def _html_role(el) -> str:
    tag = el.tag if isinstance(el.tag, str) else ""
    tag = tag.lower().rsplit("}", 1)[-1]
    if not tag:
        return "drop"
    if tag in _HTML_DROP:
        return "drop"
    cls = el.get("class")
    if cls and _is_junk_class(cls):
        return "drop"
    if el.get("data-component-name") in ("SubscribeWidgetToDOM", "ButtonCreateButton", "FootnoteAnchorToDOM"):
        return "drop"
    if el.get("aria-hidden") == "true" or el.get("hidden") is not None:
        return "drop"
    if tag == "br":
        return "br"
    if tag == "pre":
        return "pre"
    if tag in ("ul", "ol", "menu"):
        return "list"
    if tag == "li":
        return "item"
    if tag == "table":
        return "table"
    if tag == "tr":
        return "row"
    if tag in ("td", "th"):
        return "cell"
    if tag in _HTML_BLOCK:
        return "block"
    return "inline"


def _traf_role(el) -> str:
    tag = el.tag if isinstance(el.tag, str) else ""
    if not tag:
        return "drop"
    if tag == "code":
        parent = el.getparent()
        if parent is None or parent.tag == "code":
            return "inline"
        if parent.tag in ("body", "quote", "div", "list"):
            return "pre"
        if "\n" in "".join(el.itertext()).strip():
            return "pre"
        return "inline"
    return _TRAF_ROLES.get(tag, "inline")


class _Renderer:
    """Walks an element tree and collects blocks: paragraphs (joined by a blank line), list items
    and table rows (joined by a single line break), preformatted code (kept verbatim)."""

    def __init__(self, role: Callable[[Any], str]):
        self.role = role
        self.blocks: list[tuple[str, bool]] = []  # (text, tight)
        self.buf: list[str] = []

    def flush(self, tight: bool = False) -> None:
        text = "".join(self.buf)
        self.buf = []
        text = _SPACES.sub(" ", text)
        # <br> is a line break; two or more in a row (<br><br>) end a paragraph
        group: list[str] = []
        for line in [line.strip() for line in text.split(_BREAK)] + [""]:
            if line:
                group.append(line.replace(_INDENT, "  "))
            elif group:
                self.blocks.append(("\n".join(group), tight))
                group = []

    def walk(self, el, depth: int = 0, ordered: bool = False) -> None:
        role = self.role(el)
        if role == "drop":
            return
        if role == "br":
            self.buf.append(_BREAK)
            return
        if role == "pre":
            self.flush()
            code = "".join(el.itertext()).strip("\n").rstrip()
            if code.strip():
                # fenced, so the text says what is code: `process` leaves it unlabelled
                self.blocks.append((f"```\n{code}\n```", False))
            return
        if role == "list":
            self.flush()
            is_ordered = (el.tag == "ol") or (el.get("rend") == "ol")
            n = 0
            for child in el:
                if self.role(child) == "item":
                    n += 1
                    self._item(child, depth, f"{n}. " if is_ordered else "- ")
                else:
                    self.walk(child, depth, is_ordered)
                    self._tail(child)
            self.flush(tight=True)
            return
        if role == "item":  # an item outside a list
            self._item(el, depth, "- ")
            return
        if role == "table":
            self.flush()
            for row in el.iter():
                if row is not el and self.role(row) == "row":
                    cells = []
                    for cell in row:
                        sub = _Renderer(self.role)
                        sub.walk_children(cell)
                        sub.flush()
                        cells.append(" ".join(b for b, _ in sub.blocks))
                    line = " | ".join(c for c in cells if c)
                    if line:
                        self.blocks.append((_SPACES.sub(" ", line).strip(), True))
            return
        if role == "block":
            self.flush()
            self.walk_children(el, depth)
            self.flush()
            return
        # inline
        self.walk_children(el, depth)

    def _item(self, el, depth: int, bullet: str) -> None:
        self.flush(tight=True)
        self.buf.append(_INDENT * depth + bullet)
        self.buf.append(el.text or "")
        for child in el:
            role = self.role(child)
            if role == "list":
                self.flush(tight=True)
                is_ordered = (child.tag == "ol") or (child.get("rend") == "ol")
                n = 0
                for sub in child:
                    if self.role(sub) == "item":
                        n += 1
                        self._item(sub, depth + 1, f"{n}. " if is_ordered else "- ")
            elif role in ("block", "item"):  # <li><p>..</p></li>: keep the item on one line
                self.walk_children(child, depth)
                self.buf.append(" ")
            else:
                self.walk(child, depth)
            self._tail(child)
        self.flush(tight=True)
        # a nested item's leftovers must not be glued to the bullet of the next item
        if self.blocks and self.blocks[-1][0].strip() in ("-", "- ") :
            self.blocks.pop()

    def walk_children(self, el, depth: int = 0) -> None:
        if el.text:
            self.buf.append(el.text)
        for child in el:
            self.walk(child, depth)
            self._tail(child)

    def _tail(self, child) -> None:
        if child.tail:
            self.buf.append(child.tail)

    def text(self) -> str:
        self.flush()
        out: list[str] = []
        prev_tight = False
        for text, tight in self.blocks:
            if out:
                out.append("\n" if (tight and prev_tight) else "\n\n")
            out.append(text)
            prev_tight = tight
        return "".join(out).strip()


def render_text(root, role: Callable[[Any], str] = _html_role) -> str:
    r = _Renderer(role)
    r.walk(root)
    return r.text()


_BOILERPLATE_LINE = re.compile(
    r"^(share|share this( post| article)?:?|tweet|email|print|subscribe( now)?|sign up|like this:?|loading\.*|"
    r"leave a (reply|comment)|(no |\d+ )?comments?|related( posts)?:?|read more|continue reading.*|"
    r"posted in .{0,80}|filed under:? .{0,80}|tags?: .{0,120}|share on (twitter|facebook|linkedin)|"
    r"copy link|facebook|twitter|linkedin|reddit|whatsapp|pocket|mastodon)$",
    re.I,
)


def strip_boilerplate(text: str) -> str:
    """Drop widget lines (Share, Subscribe, Like this:, N comments ...) at the start and end, and
    whole-paragraph widget labels anywhere."""
    paras = text.split("\n\n")
    kept = [p for p in paras if not _BOILERPLATE_LINE.match(p.strip())]
    return "\n\n".join(kept).strip()


def html_fragment_to_text(fragment: str | None) -> str:
    """An isolated article body (HTML) to clean text, widgets removed."""
    if not fragment or not fragment.strip():
        return ""
    if "<" not in fragment:
        import html as _html

        return _normalise_plain(_html.unescape(fragment))
    try:
        root = lxml_html.fragment_fromstring(fragment, create_parent="div")
    except (etree.ParserError, ValueError):
        try:
            root = lxml_html.fromstring(f"<div>{fragment}</div>")
        except (etree.ParserError, ValueError):
            return _normalise_plain(re.sub(r"<[^>]+>", " ", fragment))
    return strip_boilerplate(render_text(root))


def _normalise_plain(text: str) -> str:
    paras = re.split(r"\n[ \t]*\n", text.replace("\r\n", "\n").replace("\r", "\n"))
    out = []
    for p in paras:
        lines = [_SPACES.sub(" ", line).strip() for line in p.split("\n")]
        p = "\n".join(line for line in lines if line)
        if p:
            out.append(p)
    return "\n\n".join(out)


# ------------------------------------------------------------------------------ metadata
_ARTICLE_TYPES = {"article", "newsarticle", "blogposting", "reportagenewsarticle", "analysisnewsarticle",
                  "opinionnewsarticle", "techarticle", "scholarlyarticle", "posting", "socialmediaposting",
                  "webpage", "discussionforumposting", "liveblogposting", "backgroundnewsarticle", "report",
                  "creativework", "podcastepisode"}
_AUTHOR_PREFIX = re.compile(r"^\s*(?:(?:view|see) all posts by|posted by|written by|published by|author:|by)\s+", re.I)
_DATE_META = ("article:published_time", "og:published_time", "og:article:published_time", "datepublished",
              "parsely-pub-date", "sailthru.date", "dc.date.issued", "dcterms.issued", "dc.date", "dcterms.date",
              "dcterms.created", "dc.date.created", "citation_publication_date", "citation_date", "pubdate",
              "publish-date", "publish_date", "date", "article.published", "article_date_original")
_MODIFIED_META = ("article:modified_time", "og:updated_time", "datemodified", "dcterms.modified", "last-modified")
_AUTHOR_META = ("author", "article:author", "dc.creator", "dcterms.creator", "parsely-author", "sailthru.author",
                "citation_author")
_TITLE_SEPARATORS = (" | ", " - ", " – ", " — ", " :: ", " · ", " » ", " •  ", " • ")


def _text_of(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        parts = [_text_of(v) for v in value]
        parts = [p for p in parts if p]
        return "; ".join(dict.fromkeys(parts)) or None
    if isinstance(value, dict):
        return _text_of(value.get("name") or value.get("@value"))
    s = _SPACES.sub(" ", str(value)).strip()
    return s or None


def _jsonld_objects(tree) -> list[dict]:
    out: list[dict] = []

    def add(obj: Any) -> None:
        if isinstance(obj, list):
            for o in obj:
                add(o)
        elif isinstance(obj, dict):
            out.append(obj)
            if "@graph" in obj:
                add(obj["@graph"])

    for script in tree.xpath('//script[@type="application/ld+json" or @type="application/json+ld"]'):
        raw = (script.text or "").strip()
        if not raw:
            continue
        raw = re.sub(r"^\s*<!\[CDATA\[|\]\]>\s*$", "", raw)
        try:
            add(json.loads(raw, strict=False))
        except ValueError:
            continue
    return out


def _types(obj: dict) -> set[str]:
    t = obj.get("@type")
    if isinstance(t, list):
        return {str(x).lower() for x in t}
    return {str(t).lower()} if t else set()


def _pick_article(objs: list[dict]) -> dict:
    ranked = sorted(
        (o for o in objs if _types(o) & _ARTICLE_TYPES),
        key=lambda o: (0 if _types(o) - {"webpage", "creativework"} else 1),
    )
    return ranked[0] if ranked else {}


def _metas(tree) -> dict[str, str]:
    out: dict[str, str] = {}
    for meta in tree.iter("meta"):
        key = meta.get("property") or meta.get("name") or meta.get("itemprop") or meta.get("http-equiv")
        value = meta.get("content")
        if key and value and value.strip():
            out.setdefault(key.strip().lower(), value.strip())
    return out


def parse_date(value: Any) -> tuple[datetime | None, bool]:
    """(aware UTC datetime, precise?) for a date string; (None, False) for junk or absurd dates.
    `precise` is False for a bare day ("2023-10-06"), which becomes midnight UTC."""
    if value is None:
        return None, False
    if isinstance(value, datetime):
        dt = to_utc(value)
        precise = True
    elif hasattr(value, "year") and hasattr(value, "month") and hasattr(value, "day"):  # a date
        dt = datetime(value.year, value.month, value.day, tzinfo=UTC)
        precise = False
    else:
        s = str(value).strip()
        if not s or len(s) > 64:
            return None, False
        if re.fullmatch(r"\d{10}(\.\d+)?", s):
            return parse_date(datetime.fromtimestamp(float(s), tz=UTC))
        try:
            from email.utils import parsedate_to_datetime

            if re.match(r"^[A-Za-z]{3},? ", s) or re.search(r"\d{1,2} [A-Za-z]{3} \d{4} \d", s):
                dt = parsedate_to_datetime(s)
                return (to_utc(dt), True) if dt and _sane(to_utc(dt)) else (None, False)
        except (TypeError, ValueError, IndexError):
            pass
        dt = to_utc(s)
        precise = bool(re.search(r"\d:\d\d", s))
    if dt is None or not _sane(dt):
        return None, False
    return dt, precise


def _sane(dt: datetime) -> bool:
    return datetime(1990, 1, 1, tzinfo=UTC) <= dt <= datetime.now(UTC) + timedelta(days=2)


def clean_author(value: str | None, sitename: str | None = None) -> str | None:
    if not value:
        return None
    names = []
    for part in re.split(r"\s*;\s*", value):
        part = _AUTHOR_PREFIX.sub("", part).strip(" ,|-–—")
        if not part or "://" in part or (part.startswith("@") and " " not in part):
            continue
        if "@" in part and re.search(r"\S+@\S+\.\w+", part):
            part = re.sub(r"\(?\S+@\S+\.\w+\)?", "", part).strip(" ()")
            if not part:
                continue
        if len(part) > 80:
            continue
        names.append(part)
    names = list(dict.fromkeys(names))
    return "; ".join(names) or None


def clean_title(title: str | None, sitename: str | None, author: str | None = None) -> str | None:
    """A title without the " | Site" / " - Author" decorations pages add to it."""
    title = _text_of(title)
    if not title:
        return None
    for extra in (sitename, *(author or "").split("; "), sitename):
        extra = (extra or "").strip().lower()
        if not extra:
            continue
        for sep in _TITLE_SEPARATORS:
            if title.lower().endswith(sep + extra) and len(title) > len(sep + extra):
                title = title[: -len(sep + extra)].strip()
                break
            if title.lower().startswith(extra + sep) and len(title) > len(sep + extra):
                title = title[len(extra + sep):].strip()
                break
    return title


def _language(tree, metas: dict[str, str], article: dict) -> str | None:
    root = tree.getroottree().getroot() if hasattr(tree, "getroottree") else tree
    candidates = [
        root.get("lang") if root is not None else None,
        root.get("{http://www.w3.org/XML/1998/namespace}lang") if root is not None else None,
        metas.get("content-language"), metas.get("language"), metas.get("og:locale"), metas.get("dc.language"),
        _text_of(article.get("inLanguage")),
    ]
    for c in candidates:
        if c:
            m = re.match(r"\s*([A-Za-z]{2,3})(?:[-_]|\s*$)", c)
            if m:
                return m.group(1).lower()
    return None


def _canonical(tree, metas: dict[str, str], article: dict, base: str) -> str | None:
    candidates = []
    for link in tree.xpath('//link[@href]'):
        rel = (link.get("rel") or "").lower().split()
        if "canonical" in rel:
            candidates.append(link.get("href"))
    main_entity = article.get("mainEntityOfPage")
    if isinstance(main_entity, dict):
        main_entity = main_entity.get("@id") or main_entity.get("url")
    candidates += [metas.get("og:url"), _text_of(main_entity), _text_of(article.get("url"))]
    page_path = urlsplit(base).path if base else ""
    for c in candidates:
        if not c:
            continue
        c = c.strip()
        url = urljoin(base, c) if base else c
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            continue
        # a canonical pointing at the home page of an article is a CMS misconfiguration
        if parts.path in ("", "/") and page_path not in ("", "/"):
            continue
        return url
    return None


# ------------------------------------------------------------------------------ the page
def _to_text(html: str | bytes, content_type: str | None) -> tuple[str, Decoded | None]:
    if isinstance(html, str):
        return html, None
    body = bytes(html)
    if body[:2] == b"\x1f\x8b":
        try:
            body = gzip.decompress(body)
        except (OSError, EOFError, zlib.error):
            d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            try:
                body = d.decompress(body)
            except zlib.error as exc:
                raise ExtractionError(f"corrupt gzip data ({exc})") from exc
    if not body.strip():
        raise ExtractionError("empty page")
    if looks_binary(body):
        raise ExtractionError("not an HTML page: binary data")
    decoded = decode_html(body, content_type)
    return decoded.text, decoded


def _parse_tree(text: str):
    text = re.sub(r"^\s*<\?xml[^>]*\?>", "", text, count=1)
    text = text.replace("\x00", "")
    if not text.strip():
        raise ExtractionError("empty page")
    try:
        return lxml_html.document_fromstring(text)
    except (etree.ParserError, ValueError) as exc:
        raise ExtractionError(f"unparseable HTML ({exc})") from exc


_TRAFILATURA_CONFIG = None
# Below this many characters trafilatura distrusts its own extraction and falls back to a "baseline"
# that flattens the whole page (menus, share buttons) into one paragraph: its default, 250, does
# that to every short post (a note, a link with two paragraphs of comment).
MIN_EXTRACTED_SIZE = 25


def _trafilatura(text: str, url: str | None):
    import trafilatura

    global _TRAFILATURA_CONFIG
    if _TRAFILATURA_CONFIG is None:
        from trafilatura.settings import use_config

        _TRAFILATURA_CONFIG = use_config()
        _TRAFILATURA_CONFIG.set("DEFAULT", "MIN_EXTRACTED_SIZE", str(MIN_EXTRACTED_SIZE))
    try:
        return trafilatura.bare_extraction(
            text, url=url, with_metadata=True, include_comments=False, include_tables=True,
            include_formatting=False, include_links=False, include_images=False,
            date_extraction_params={"extensive_search": False, "original_date": True},
            config=_TRAFILATURA_CONFIG,
        )
    except Exception:  # trafilatura on hostile markup: fall back to our own walk
        return None


def _fallback_text(tree) -> str:
    """Main text without trafilatura: the <article>/<main> element (or <body>) minus furniture."""
    for xp in ("//article", "//main", "//*[@role='main']", "//body"):
        found = tree.xpath(xp)
        if found:
            node = max(found, key=lambda n: len("".join(n.itertext())))
            for bad in node.xpath(".//header|.//footer|.//aside|.//nav|.//form|.//*[contains(@class,'comment')]"):
                if bad.getparent() is not None and bad is not node:
                    bad.drop_tree()
            return strip_boilerplate(render_text(node))
    return ""


def _first(*values: Any) -> Any:
    for v in values:
        if v:
            return v
    return None


def extract_page(html: str | bytes, url: str, content_type: str | None = None) -> ExtractedPage:
    """Main text and metadata of an article page. Raises ExtractionError when there is none."""
    text, decoded = _to_text(html, content_type)
    tree = _parse_tree(text)
    metas = _metas(tree)
    objs = _jsonld_objects(tree)
    article = _pick_article(objs)
    publisher = article.get("publisher") if isinstance(article.get("publisher"), dict) else {}
    website = next((o for o in objs if "website" in _types(o)), {})

    doc = _trafilatura(text, url)
    body_text = ""
    if doc is not None and getattr(doc, "body", None) is not None:
        body_text = strip_boilerplate(render_text(doc.body, _traf_role))
    if not body_text:
        body_text = _fallback_text(_parse_tree(text))
    if not body_text:
        raise ExtractionError("no article text found")

    sitename = _first(metas.get("og:site_name"), _text_of(publisher.get("name")), _text_of(website.get("name")),
                      metas.get("application-name"), getattr(doc, "sitename", None))
    title_tag = tree.findtext(".//title")
    author = clean_author(_first(
        _text_of(article.get("author")), _text_of(article.get("creator")),
        *[metas.get(k) for k in _AUTHOR_META if metas.get(k) and "://" not in metas.get(k, "")],
        re.sub(r"^(?:Author|By)\s+", "", getattr(doc, "author", None) or ""),
    ), sitename)

    headline = _text_of(article.get("headline"))
    if not headline and _types(article) - {"webpage", "creativework"}:
        headline = _text_of(article.get("name"))
    title = _first(
        clean_title(headline, sitename, author),
        clean_title(metas.get("og:title"), sitename, author),
        clean_title(metas.get("twitter:title"), sitename, author),
        clean_title(getattr(doc, "title", None), sitename, author),
        clean_title(title_tag, sitename, author),
    )
    published, precise = None, False
    for cand in [article.get("datePublished"), article.get("dateCreated"), *[metas.get(k) for k in _DATE_META],
                 *tree.xpath("//*[@itemprop='datePublished']/@content|//*[@itemprop='datePublished']/@datetime"),
                 *tree.xpath("//time[@pubdate]/@datetime|//time[contains(@class,'publish') or contains(@class,'entry-date') or contains(@class,'post-date')]/@datetime")]:
        published, precise = parse_date(_text_of(cand))
        if published:
            break
    if published is None and getattr(doc, "date", None):
        published, precise = parse_date(doc.date)
    updated = None
    for cand in [article.get("dateModified"), *[metas.get(k) for k in _MODIFIED_META]]:
        updated, _ = parse_date(_text_of(cand))
        if updated:
            break

    tags: list[str] = []
    for t in (metas.get("article:tag"), _text_of(article.get("keywords")), getattr(doc, "tags", None),
              getattr(doc, "categories", None)):
        if isinstance(t, list):
            tags += [str(x) for x in t]
        elif t:
            tags += [x.strip() for x in re.split(r"[;,]", str(t)) if x.strip()]
    for meta in tree.xpath("//meta[@property='article:tag']/@content"):
        tags.append(meta.strip())
    tags = list(dict.fromkeys(t for t in tags if t and not re.fullmatch(r"\w+:\S+", t)))[:50]

    # the title repeated as the first paragraph
    if title and body_text:
        first, _, rest = body_text.partition("\n\n")
        if rest and _SPACES.sub(" ", first).strip().lower() == title.lower():
            body_text = rest.strip()

    return ExtractedPage(
        url=url,
        title=title,
        text=body_text,
        author=author,
        published_at=published,
        updated_at=updated,
        canonical_url=_canonical(tree, metas, article, url),
        sitename=_text_of(sitename),
        language=_language(tree, metas, article) or getattr(doc, "language", None),
        description=_first(metas.get("description"), metas.get("og:description"), getattr(doc, "description", None)),
        tags=tags,
        encoding=decoded.encoding if decoded else None,
        encoding_note=decoded.note if decoded else None,
        date_precise=precise,
    )


def iter_blocks(text: str) -> Iterable[str]:
    return (p for p in text.split("\n\n") if p.strip())
