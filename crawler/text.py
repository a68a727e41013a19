"""HTML fragments (HN comments, Discourse `cooked`, Reddit `body_html`, feed content) to clean
plain text with paragraph breaks kept."""
from __future__ import annotations

import html
import re

from lxml import etree
from lxml import html as lxml_html

_BLOCK = {"p", "div", "br", "li", "ul", "ol", "pre", "blockquote", "h1", "h2", "h3", "h4", "h5", "h6",
          "tr", "table", "section", "article", "aside", "figure", "hr"}
_DROP = {"script", "style", "noscript", "template", "svg", "iframe", "button", "form", "img", "picture", "source"}
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200b]+")
_BLANKS = re.compile(r"\n\s*\n\s*(\n\s*)+")


def html_to_text(fragment: str | None) -> str:
    """Text of an HTML fragment: block elements become paragraph breaks, markup disappears."""
    if not fragment:
        return ""
    if "<" not in fragment:
        return normalise_space(html.unescape(fragment))
    try:
        root = lxml_html.fragment_fromstring(fragment, create_parent="div")
    except (etree.ParserError, ValueError):
        return normalise_space(re.sub(r"<[^>]+>", " ", html.unescape(fragment)))
    parts: list[str] = []

    def walk(el) -> None:
        tag = el.tag if isinstance(el.tag, str) else ""
        if tag in _DROP:
            if el.tail:
                parts.append(el.tail)
            return
        if tag == "pre":  # code keeps its lines, fenced so that `process` leaves it unlabelled
            code = "".join(el.itertext()).strip("\n").rstrip()
            if code.strip():
                parts.append(f"\n\n```\n{code}\n```\n\n")
            if el.tail:
                parts.append(el.tail)
            return
        block = tag in _BLOCK
        if block:
            parts.append("\n\n" if tag not in ("br", "li", "tr") else "\n")
        if tag == "li":
            parts.append("- ")
        if el.text:
            parts.append(el.text)
        for child in el:
            walk(child)
        if block and tag not in ("br", "li", "tr"):
            parts.append("\n\n")
        if el.tail:
            parts.append(el.tail)

    walk(root)
    return normalise_space("".join(parts))


def normalise_space(text: str) -> str:
    lines = [_SPACES.sub(" ", line).strip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    out = "\n".join(lines)
    out = _BLANKS.sub("\n\n", out)
    return out.strip()
