"""Local documents to clean records: Markdown with YAML or TOML front matter, plain text, and a
plain-text header followed by an HTML body (a saved newsletter page). Pure functions over
decoded text; the files spider does the reading, decoding and error reporting.

Markdown goes through markdown-it (CommonMark: backslash escapes such as \\" and \\' resolve,
code blocks keep their lines) to HTML and then through the same renderer as article bodies
(crawler.extract.html_fragment_to_text), so images, raw HTML widgets and footnote markers go
the same way they go for web pages. Pandoc's extensions, which CommonMark does not know, are
rewritten first: `{#id .class key=value}` attributes become HTML attributes of the link or span
they decorate (so `.footnote-anchor` markers are dropped like their HTML twins) and `:::`
fenced divs become <div>s.
"""
from __future__ import annotations

import html
import re
import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from crawler.extract import html_fragment_to_text, parse_date


class FileFormatError(ValueError):
    """The file cannot be read as the document it claims to be (message fit for the crawl log)."""


@dataclass
class LocalDoc:
    text: str
    title: str | None = None
    author: str | None = None
    published_at: datetime | None = None
    language: str | None = None
    format: str = "text"  # markdown / text / text+html
    meta: dict[str, str] = field(default_factory=dict)  # front matter and header facts (raw map)


# ------------------------------------------------------------------------------ front matter
_FENCES = {"---": "yaml", "+++": "toml"}


def split_front_matter(text: str) -> tuple[dict[str, Any] | None, str]:
    """(front matter, body). YAML between `---` lines (closed by `---` or `...`) or TOML between
    `+++` lines. None when the text has none; FileFormatError when it is broken."""
    first, _, rest = text.partition("\n")
    kind = _FENCES.get(first.strip())
    if kind is None or first.rstrip() != first.strip() or first.startswith(" "):
        return None, text
    closers = ("---", "...") if kind == "yaml" else ("+++",)
    lines = rest.split("\n")
    for i, line in enumerate(lines):
        if line.rstrip() in closers:
            block, body = "\n".join(lines[:i]), "\n".join(lines[i + 1:])
            break
    else:
        raise FileFormatError(f"{kind.upper()} front matter opened by {first.strip()!r} is never closed")
    if kind == "yaml":
        import yaml

        try:
            data = yaml.safe_load(block) if block.strip() else {}
        except yaml.YAMLError as exc:
            where = getattr(exc, "problem_mark", None)
            at = f" at line {where.line + 2}" if where is not None else ""
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise FileFormatError(f"broken YAML front matter{at}: {problem}") from exc
    else:
        try:
            data = tomllib.loads(block)
        except tomllib.TOMLDecodeError as exc:
            raise FileFormatError(f"broken TOML front matter: {exc}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise FileFormatError(f"front matter is not a table of keys (got a {type(data).__name__})")
    return data, body


def _scalar(value: Any) -> str | None:
    if value is None or value == "" or isinstance(value, (dict, list, tuple)) and not value:
        return None
    if isinstance(value, (list, tuple)):
        parts = [_scalar(v) for v in value]
        return "; ".join(p for p in parts if p) or None
    if isinstance(value, dict):
        return _scalar(value.get("name") or value.get("title"))
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value).strip() or None


_DATE_KEYS = ("date", "published", "published_at", "publishdate", "pubdate", "created", "created_at")
_AUTHOR_KEYS = ("author", "authors", "byline", "creator")
_LANG_KEYS = ("lang", "language", "locale")


def front_matter_fields(data: dict[str, Any]) -> dict[str, Any]:
    """title, author, published_at, language and the rest as strings (for the raw map)."""
    low = {str(k).lower(): v for k, v in data.items()}
    out: dict[str, Any] = {"title": _scalar(low.get("title")), "author": None, "published_at": None, "language": None}
    for key in _AUTHOR_KEYS:
        if _scalar(low.get(key)):
            out["author"] = _scalar(low[key])
            break
    for key in _DATE_KEYS:
        if low.get(key) not in (None, ""):
            out["published_at"], _ = parse_date(low[key])
            if out["published_at"]:
                break
    for key in _LANG_KEYS:
        m = re.match(r"\s*([A-Za-z]{2,3})(?:[-_]|\s*$)", _scalar(low.get(key)) or "")
        if m:
            out["language"] = m.group(1).lower()
            break
    meta = {}
    for k, v in data.items():
        s = _scalar(v)
        if s is not None and str(k).lower() not in ("title", "content", "body"):
            meta[f"fm_{k}"] = s[:1000]
    out["meta"] = meta
    return out


# ------------------------------------------------------------------------------ markdown
_FENCE_OPEN = re.compile(r"^ {0,3}(`{3,}|~{3,})\s*(.*)$")
_DIV_FENCE = re.compile(r"^\s*(:{3,})\s*(.*?)\s*:*\s*$")
_ATTR_TOKEN = r'(?:#[\w:.-]+|\.[\w-]+|[\w:-]+=(?:"[^"\n]*"|\'[^\'\n]*\'|[^\s}"\']+))'
_ATTRS = rf"\{{\s*{_ATTR_TOKEN}(?:\s+{_ATTR_TOKEN})*\s*\}}"
_BRACKETED = r"\[((?:[^\[\]\n]|\[[^\[\]\n]*\])*)\]"
_LINK_ATTRS = re.compile(rf"(!?){_BRACKETED}\(\s*<?([^()\s>]*(?:\([^()\s]*\)[^()\s>]*)*)>?(?:\s+\"[^\"]*\")?\s*\)({_ATTRS})")
_SPAN_ATTRS = re.compile(rf"(?<![\]!]){_BRACKETED}({_ATTRS})")
_LONE_ATTRS = re.compile(rf"[ \t]*{_ATTRS}")
_NOTE_ANCHOR = re.compile(r"\[\^?\d{1,3}\]\(#[^)\s]*\)|\[\^[^\]\s]+\](?!:)")
_NOTE_DEF = re.compile(r"^\[\^[^\]\s]+\]:\s*")
_CODE_SPAN = re.compile(r"(`+)(?:.+?)\1")
_LIQUID_HIGHLIGHT = re.compile(r"^\s*\{%-?\s*highlight\s+([\w+-]*)[^%]*-?%\}\s*$")
_LIQUID_END = re.compile(r"^\s*\{%-?\s*endhighlight\s*-?%\}\s*$")
_LIQUID_LINE = re.compile(r"^\s*\{%.*%\}\s*$")


def _attrs(spec: str) -> dict[str, str]:
    """Pandoc attributes `{#id .a .b key="v"}` (or a bare class word of a fenced div)."""
    spec = spec.strip()
    if spec.startswith("{") and spec.endswith("}"):
        spec = spec[1:-1]
    out: dict[str, str] = {}
    classes = []
    for m in re.finditer(r'#([\w:.-]+)|\.([\w-]+)|([\w:-]+)=("[^"]*"|\'[^\']*\'|\S+)|([\w-]+)', spec):
        ident, cls, key, value, word = m.groups()
        if ident:
            out["id"] = ident
        elif cls or word:
            classes.append(cls or word)
        elif key:
            out[f"data-{key}" if key not in ("class", "id") else key] = value.strip("\"'")
    if classes:
        out["class"] = " ".join(classes)
    return out


def _tag(name: str, attrs: dict[str, str], extra: dict[str, str] | None = None) -> str:
    parts = [name] + [f'{k}="{html.escape(v, quote=True)}"' for k, v in {**(extra or {}), **attrs}.items()
                      if re.fullmatch(r"[\w:-]+", k)]
    return "<" + " ".join(parts) + ">"


def _inline_pandoc(segment: str) -> str:
    def link(m: re.Match) -> str:
        bang, label, href, spec = m.groups()
        if bang:  # an image: dropped from text anyway, keep it plain Markdown
            return f"![{label}]({href})"
        return f"{_tag('a', _attrs(spec), {'href': href})}{label}</a>"

    segment = _LINK_ATTRS.sub(link, segment)
    segment = _SPAN_ATTRS.sub(lambda m: f"{_tag('span', _attrs(m.group(2)))}{m.group(1)}</span>", segment)
    segment = _NOTE_ANCHOR.sub("", segment)
    return _LONE_ATTRS.sub("", segment)


def _outside_code_spans(line: str, fn) -> str:
    out, pos = [], 0
    for m in _CODE_SPAN.finditer(line):
        out.append(fn(line[pos:m.start()]))
        out.append(m.group(0))
        pos = m.end()
    out.append(fn(line[pos:]))
    return "".join(out)


def pandoc_to_commonmark(text: str) -> str:
    """Rewrite pandoc's attribute syntax, fenced divs, raw HTML blocks and footnote markers (and
    Jekyll's highlight tags) into what CommonMark renders; code blocks are left untouched."""
    out: list[str] = []
    fence: str | None = None  # the open code fence
    raw_html = False
    divs = 0
    for line in text.split("\n"):
        if fence is not None:
            stripped = line.strip()
            if stripped.startswith(fence[0] * len(fence)) and not stripped.strip(fence[0]):
                fence = None
                if raw_html:
                    raw_html = False
                    out.append("")
                    continue
            elif _LIQUID_END.match(line) and fence == "```":
                fence = None
                out.append("```")
                continue
            out.append(line)
            continue
        m = _FENCE_OPEN.match(line)
        if m and not (m.group(1)[0] == "`" and "`" in m.group(2)):
            fence = m.group(1)
            if m.group(2).replace(" ", "") in ("{=html}", "{=html5}"):
                raw_html = True  # pandoc raw HTML block: its content is HTML, not code
                out.append("")
                continue
            info = m.group(2)
            info = re.sub(r"^\{\s*\.?([\w+-]+)[^}]*\}$", r"\1", info.strip())  # ``` {.python} -> ```python
            out.append(f"{fence}{info}")
            continue
        m = _LIQUID_HIGHLIGHT.match(line)
        if m:
            fence = "```"
            out.append(f"```{m.group(1)}")
            continue
        if _LIQUID_LINE.match(line):
            continue
        m = _DIV_FENCE.match(line)
        if m:
            spec = m.group(2)
            if spec:
                divs += 1
                out += ["", _tag("div", _attrs(spec)), ""]
            elif divs:
                divs -= 1
                out += ["", "</div>", ""]
            continue
        line = _NOTE_DEF.sub("", line)
        out.append(_outside_code_spans(line, _inline_pandoc))
    out += ["", "</div>"] * divs
    return "\n".join(out)


_MD = None


def _markdown():
    global _MD
    if _MD is None:
        from markdown_it import MarkdownIt

        _MD = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    return _MD


_ATX_TITLE = re.compile(r"^\s{0,3}#\s+(.+?)\s*#*\s*$")
_SETEXT_TITLE = re.compile(r"^\s{0,3}(.+?)\s*\n\s{0,3}=+\s*$", re.M)


def markdown_to_text(markdown: str) -> str:
    """Clean text of a Markdown (CommonMark or pandoc-flavoured) body."""
    rendered = _markdown().render(pandoc_to_commonmark(markdown))
    return html_fragment_to_text(rendered)


def parse_markdown(text: str) -> LocalDoc:
    data, body = split_front_matter(text)
    fields = front_matter_fields(data) if data is not None else {"meta": {}}
    title = fields.get("title")
    if not title:  # a leading "# Title" (or Setext) heading is the title
        lead = body.lstrip("\n")
        first, _, rest = lead.partition("\n")
        m = _ATX_TITLE.match(first)
        if m:
            title, body = m.group(1), rest
        else:
            m = _SETEXT_TITLE.match(lead)
            if m and m.start() == 0:
                title, body = m.group(1), lead[m.end():]
        if title:
            title = html_fragment_to_text(_markdown().renderInline(_inline_pandoc(title))) or None
    return LocalDoc(
        text=markdown_to_text(body), title=title, author=fields.get("author"),
        published_at=fields.get("published_at"), language=fields.get("language"), format="markdown",
        meta={**fields["meta"], **({"front_matter": "yes"} if data is not None else {})},
    )


# ------------------------------------------------------------------------------ plain text
_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?"
_DATE_IN_LINE = re.compile(
    r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:\s?Z|\s?[+-]\d{2}:?\d{2})?)?\b"
    rf"|\b{_MONTH} \d{{1,2}},? \d{{4}}\b|\b\d{{1,2}} {_MONTH},? \d{{4}}\b",
    re.I,
)
_BYLINE = re.compile(r"^\s*(?:by|written by|posted by|author:)\s+(\S.{0,78})$", re.I)
_LIST_ITEM = re.compile(r"^\s*(?:[-*+•]|\d{1,3}[.)])\s+")
_NAV_CHARS = re.compile(r"[←→·|»«•]")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u3000]+")


def _date_line(line: str) -> datetime | None:
    """The date of a short header line that is mostly a date ("2023-10-04", "TIER 4  2023-10-04",
    "Posted on March 3, 2024")."""
    if len(line) > 80:
        return None
    m = _DATE_IN_LINE.search(line)
    if not m:
        return None
    rest = (line[: m.start()] + line[m.end():]).strip()
    if len(rest) > 30:
        return None
    when, _ = parse_date(m.group(0))
    return when


def _byline(line: str) -> str | None:
    m = _BYLINE.match(line)
    if not m or len(m.group(1).split()) > 8 or m.group(1).rstrip().endswith("."):
        return None
    return m.group(1).strip()


def _title_like(line: str) -> bool:
    line = line.strip()
    return 2 <= len(line) <= 150 and len(line.split()) <= 25 and not line.endswith((".", ",", ";", ":", "。"))


def plain_paragraphs(text: str) -> str:
    """Plain text with one blank line between paragraphs. Paragraphs are separated by blank lines;
    a text with none has one paragraph per line. Hard-wrapped lines of a paragraph are joined,
    list items keep their own lines; indentation and runs of spaces go."""
    lines = [_SPACES.sub(" ", line).strip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    if not lines:
        return ""
    if "" not in lines:  # single-newline paragraphs
        blocks: list[list[str]] = []
        for line in lines:
            if blocks and _LIST_ITEM.match(line) and _LIST_ITEM.match(blocks[-1][-1]):
                blocks[-1].append(line)
            else:
                blocks.append([line])
        return "\n\n".join("\n".join(b) for b in blocks)
    paras: list[str] = []
    current: list[str] = []
    for line in lines + [""]:
        if line:
            if current and not _LIST_ITEM.match(line):
                current[-1] += " " + line
            else:
                current.append(line)
        elif current:
            paras.append("\n".join(current))
            current = []
    return "\n\n".join(paras)


def parse_plain_text(text: str) -> LocalDoc:
    """A title line (short, no final full stop), then optionally a byline ("by Name") and a date
    line, then the body."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    i = 0
    while i < len(lines) and not lines[i].strip():
        i += 1
    title = author = None
    published = None
    meta: dict[str, str] = {}
    body_start = i
    if i < len(lines) and _title_like(lines[i]) and _byline(lines[i]) is None and _date_line(lines[i]) is None:
        rest = "\n".join(lines[i + 1:]).strip()
        if rest:
            title = _SPACES.sub(" ", lines[i]).strip()
            body_start = i + 1
            seen = 0
            j = body_start
            while j < len(lines) and seen < 3:
                line = lines[j].strip()
                j += 1
                if not line:
                    continue
                seen += 1
                if author is None and (by := _byline(line)):
                    author = by
                elif published is None and (when := _date_line(line)):
                    published = when
                    meta["date_line"] = line
                else:
                    break
                body_start = j
    body = plain_paragraphs("\n".join(lines[body_start:]))
    return LocalDoc(text=body, title=title, author=author, published_at=published, format="text", meta=meta)


# ------------------------------------------------------------------------------ header + HTML body
_FULL_HTML = re.compile(r"^\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*(?:<!doctype\s+html|<html[\s>])", re.I | re.S)
_BLOCK_TAG_LINE = re.compile(r"^\s*<(?:p|div|h[1-6]|ul|ol|table|section|article|figure|blockquote|pre|body)[\s>]", re.I)
_ANY_TAG = re.compile(r"</?(?:p|div|a|br|h[1-6]|li|ul|ol|img|span|strong|em|figure|section|table)\b[^>]*>", re.I)


def is_full_html(text: str) -> bool:
    return bool(_FULL_HTML.match(text[:4096]))


def html_body_start(text: str, max_header_lines: int = 20) -> int | None:
    """Offset of an HTML body that follows a short plain-text header (or starts the text), if
    the text is such a page; None for text that is not HTML."""
    offset = 0
    for n, line in enumerate(text.split("\n", max_header_lines + 1)):  # only the header lines are looked at
        if _BLOCK_TAG_LINE.match(line):
            body = text[offset:]
            return offset if len(_ANY_TAG.findall(body[:20000])) >= 3 else None
        if n >= max_header_lines:
            return None
        offset += len(line) + 1
    return None


def parse_header_and_html(text: str, start: int) -> LocalDoc:
    """A few plain-text header lines (site, title, date, byline) and then an HTML body."""
    header = [_SPACES.sub(" ", line).strip() for line in text[:start].split("\n")]
    header = [line for line in header if line]
    published = None
    author = None
    candidates: list[str] = []
    for line in header:
        when = _date_line(line)
        if when and published is None:
            published = when
            continue
        if by := _byline(line):
            author = author or by
            continue
        if _title_like(line) and not _NAV_CHARS.search(line):
            candidates.append(line)
    title = max(candidates, key=len) if candidates else None
    meta = {"header": " / ".join(header)[:1000]} if header else {}
    return LocalDoc(text=html_fragment_to_text(text[start:]), title=title, author=author, published_at=published,
                    format="text+html", meta=meta)


def parse_text_document(text: str, markdown: bool) -> LocalDoc:
    """A decoded local text document: Markdown when asked for or when it opens with front matter;
    a plain-text header over an HTML body; else plain text."""
    text = text.lstrip("\ufeff")
    if markdown or text.startswith(("---\n", "---\r\n", "+++\n", "+++\r\n")):
        return parse_markdown(text.replace("\r\n", "\n"))
    start = html_body_start(text)
    if start is not None:
        return parse_header_and_html(text, start)
    return parse_plain_text(text)
