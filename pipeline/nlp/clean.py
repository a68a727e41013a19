"""Text cleaning: what is left of markup and page furniture once a document reaches the pipeline.

`clean_text` is the one definition of a document's *cleaned text*: passages carry character
offsets into it, exact duplicates are hashes of it, and language identification reads it.
Every step is a compiled regular expression that runs only when its trigger character occurs,
and every pattern is linear (no nested quantifiers), so a megabyte of text costs milliseconds.
"""
from __future__ import annotations

import html
import re
import unicodedata

# ------------------------------------------------------------------------ unreadable input
# C0/C1 controls other than tab/newline/CR, lone surrogates, U+FFFD, private use, non-characters.
_BAD_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ue000-\uf8ff\ufffd\ufffe\uffff]")
_INVISIBLE = re.compile(r"[\u00ad\u200b-\u200d\u2060\ufeff]")  # soft hyphen, zero-width chars, BOM
BINARY_RATIO = 0.05  # more unreadable characters than this and the text is not text


def unreadable_ratio(text: str, sample: int = 20_000) -> float:
    """Share of characters that no human-written text contains (controls, U+FFFD, ...),
    measured on the start of the text."""
    head = text[:sample]
    if not head:
        return 0.0
    return len(_BAD_CHARS.findall(head)) / len(head)


def is_binary(text: str) -> bool:
    """Binary data or text decoded with the wrong codec (random bytes read as Latin-1 or as
    UTF-8 with replacement characters)."""
    return unreadable_ratio(text) > BINARY_RATIO


# ------------------------------------------------------------------------ HTML
_HTML_TAGS = (
    "a|abbr|article|aside|audio|b|big|blockquote|body|br|button|caption|center|cite|code|col|colgroup|dd|del|"
    "details|dfn|div|dl|dt|em|embed|figcaption|figure|font|footer|form|h[1-6]|head|header|hr|html|i|iframe|img|"
    "input|ins|kbd|label|li|link|main|mark|meta|nav|noscript|object|ol|option|p|param|picture|pre|q|s|samp|"
    "section|select|small|source|span|strike|strong|sub|summary|sup|svg|table|tbody|td|textarea|tfoot|th|thead|"
    "time|title|tr|tt|u|ul|var|video|wbr|path|g|circle|rect|polyline|use|defs"
)
# Blocks whose content is never prose.
_HTML_DROP = re.compile(
    r"<(script|style|noscript|svg|template|head|button|select|textarea|form)\b[^>]*>.*?</\1\s*>",
    re.I | re.S)
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.S)
# Code blocks (<pre><code>, fenced Markdown) are dropped from the labelled text: code is not
# anyone's position in the debate, and identifiers like `output_filter = ...` read as cues.
# The document keeps them. A bare <pre> stays: mailing-list archives put whole posts in one.
_HTML_CODE_BLOCK = re.compile(r"<pre\b[^>]*>\s*<code\b[^>]*>.*?</code>\s*</pre\s*>", re.I | re.S)
# Footnote anchors (Substack and friends): <a ... class="footnote-anchor" ...>1</a>
_HTML_FOOTNOTE_ANCHOR = re.compile(r"<a\b[^>]*footnote[^>]*>\s*\d{1,3}\s*</a>", re.I)
_HTML_BLOCK_BREAK = re.compile(
    r"</?(?:p|div|section|article|header|footer|aside|nav|main|h[1-6]|blockquote|pre|table|tr|ul|ol|dl|figure|"
    r"figcaption|details|summary|hr|html|body)\b[^>]*>", re.I)
_HTML_LINE_BREAK = re.compile(r"<(?:br|li|dt|dd|td|th)\b[^>]*>", re.I)
_HTML_TAG = re.compile(rf"</?(?:{_HTML_TAGS})\b(?:[^<>\"']|\"[^\"]*\"|'[^']*')*/?>", re.I)
_HTML_DOCTYPE = re.compile(r"<!DOCTYPE[^>]*>|<\?xml[^>]*\?>", re.I)

# ------------------------------------------------------------------------ Markdown and pandoc
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(?:[\w-]+:[^\n]*\n|[ \t]+[^\n]*\n|-[ \t][^\n]*\n){1,60}?---[ \t]*(?:\n|\Z)")
_FENCE_LINE = re.compile(r"^[ \t]*(?:```|~~~)[^\n]*$", re.M)
_FENCE_OPEN = re.compile(r"^[ \t]*(```|~~~)", re.M)
_PANDOC_DIV = re.compile(r"^[ \t]*:{3,}[^\n]*$", re.M)  # ::: {.note} ... :::
_MD_IMAGE = re.compile(r"!\[[^\]\n]*\]\([^)\n]*\)(?:\{[^{}\n]*\})?")
_MD_IMAGE_REF = re.compile(r"!\[[^\]\n]*\]\[[^\]\n]*\]")
# Links whose target is a footnote anchor are footnote markers: drop them with their number.
_MD_FOOTNOTE_LINK = re.compile(r"\[\d{1,3}\]\(#[^)\s]*\)(?:\{[^{}\n]*\})?")
_MD_LINK = re.compile(r"\[([^\[\]\n]*)\]\((?:[^()\s]|\([^()\s]*\))*(?:\s+\"[^\"\n]*\")?\)")
_MD_REF_LINK = re.compile(r"\[([^\[\]\n]+)\]\[[^\[\]\n]*\]")
_MD_REF_DEF = re.compile(r"^[ \t]{0,3}\[[^\]\n]+\]:[ \t]+\S+[^\n]*$", re.M)
_MD_AUTOLINK = re.compile(r"<((?:https?|ftp|mailto):[^<>\s]+)>")
_PANDOC_SPAN = re.compile(r"\[([^\[\]\n]*)\]\{[^{}\n]*\}")  # [text]{.underline}
_PANDOC_ATTR = re.compile(r"\{[ \t]*[#.][^{}\n]*\}|\{[ \t]*[A-Za-z][\w-]*=[^{}\n]*\}")  # {.class} {#id} {k=v}
_FOOTNOTE_REF = re.compile(r"\[\^[^\]\s]{1,20}\](?!:)|\^\[\d{1,3}\]")  # [^1], ^[1]
_FOOTNOTE_DEF = re.compile(r"^([ \t]*)\[\^[^\]\s]{1,20}\]:[ \t]*", re.M)  # "[^1]: note" -> "note"
_NUMERIC_FOOTNOTE = re.compile(r"(?<=[^\s\[\d])\[\d{1,3}\](?![(\[:])")  # word.[1] (citation marker)
_SUPERSCRIPT_FOOTNOTE = re.compile(r"(?<=[^\W\d_]|[.,;:!?)\"'’”])[¹²³⁴⁵⁶⁷⁸⁹⁰]+")
_SUPERSCRIPT_DIGIT = re.compile(r"[¹²³⁴⁵⁶⁷⁸⁹⁰]")
_MD_HEADING = re.compile(r"^[ \t]{0,3}#{1,6}[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$", re.M)
_MD_SETEXT = re.compile(r"^[ \t]*(?:={3,}|-{3,})[ \t]*$", re.M)
_MD_RULE = re.compile(r"^[ \t]*(?:[-*_][ \t]*){3,}$", re.M)
_MD_QUOTE = re.compile(r"^[ \t]*(?:>[ \t]?)+", re.M)
_MD_BULLET = re.compile(r"^([ \t]*)[*+-][ \t]+(?=\S)", re.M)
_MD_BOLD = re.compile(r"(\*\*|__)(?=\S)([^\n]*?\S)\1")
_MD_STAR_EM = re.compile(r"(?<![\w*])\*(?=[^\s*])([^*\n]*?[^\s*])\*(?![\w*])")
_MD_UNDER_EM = re.compile(r"(?<![\w_])_(?=[^\s_])([^_\n]*?[^\s_])_(?![\w_])")
_MD_STRIKE = re.compile(r"~~(?=\S)([^\n]*?\S)~~")
_MD_CODE = re.compile(r"`{1,2}([^`\n]+)`{1,2}")
_MD_EMPTY_EMPHASIS = re.compile(r"(?<!\S)(?:\*{2,}|_{2,})(?!\S)")
_BACKSLASH_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!'\"<>~|^=$&@%])")

# ------------------------------------------------------------------------ boilerplate lines
_BOILERPLATE = re.compile(
    r"^(?:"
    r"(?:please\s+)?(?:subscribe|subscribed|sign\s*up|sign\s*in|log\s*in|upgrade\s+to\s+paid|join)\b.{0,100}?"
    r"\b(?:newsletter|inbox|subscribers?|subscription|free|paid|updates|posts|email|for\s+more|to\s+(?:read|get|receive|"
    r"continue|comment|support|reply))\b.*"
    r"|(?:share|share\s+this(?:\s+(?:post|article|page|story))?|share\s+on\s+\w+|click\s+to\s+share\b.*|tweet|email|"
    r"print|copy\s+link|permalink|report|reply|like|likes|comments?|leave\s+a\s+(?:comment|reply)\b.*|"
    r"\d[\d,.]*k?\s+(?:likes?|comments?|shares?|replies|restacks?|views)|read\s+more|continue\s+reading|"
    r"read\s+the\s+full\s+(?:post|article|story)|discussion\s+about\s+this\s+post|"
    r"advertisement|sponsored(?:\s+content)?|related(?:\s+(?:posts|articles|stories))?|you\s+may\s+also\s+like|"
    r"top|new|community|share\s+\S+|ready\s+for\s+more\?)[.!:…]*"
    r"|thanks\s+for\s+reading\b.{0,120}"
    r"|(?:posted|published|filed)\s+(?:by|in|under|on)\b.{0,80}"
    r"|tags?:.{0,120}"
    r"|(?:this\s+(?:site|website)|we)\s+uses?\s+cookies\b.*"
    r"|.{0,80}\bcookies?\b.{0,80}\b(?:accept|consent|policy|settings|preferences|agree)\b.{0,80}"
    r"|(?:accept|reject|manage)(?:\s+all)?\s+cookies\b.*"
    r"|(?:©|\(c\)|copyright\s+©?)\s*\d{4}.{0,100}|all\s+rights\s+reserved\.?"
    r"|a\s+(?:comment|like)\s+helps\s+.{0,80}"
    r"|(?:like|liked)\s+this\?.{0,120}"
    r")$",
    re.I,
)
BOILERPLATE_MAX_LINE = 200

# ------------------------------------------------------------------------ whitespace
# Runs of whitespace but newline (tabs, NBSP, thin spaces ...) that are not already one plain
# space: replacing them with " " normalises every run without rewriting each space between words.
_SPACES_TO_FIX = re.compile(r"[^\S\n]{2,}|[^\S\n ]")
_BLANK_LINES = re.compile(r"\n{3,}")


def is_boilerplate(line: str) -> bool:
    """A line of page furniture: subscribe/share/comment prompts, cookie notices, bylines."""
    line = line.strip()
    return bool(line) and len(line) <= BOILERPLATE_MAX_LINE and _BOILERPLATE.match(line) is not None


def strip_html(text: str) -> str:
    text = _HTML_COMMENT.sub(" ", text)
    text = _HTML_DOCTYPE.sub(" ", text)
    text = _HTML_DROP.sub(" ", text)
    if "<pre" in text or "<PRE" in text:
        text = _HTML_CODE_BLOCK.sub("\n\n", text)
    text = _HTML_FOOTNOTE_ANCHOR.sub("", text)
    text = _HTML_BLOCK_BREAK.sub("\n\n", text)
    text = _HTML_LINE_BREAK.sub("\n", text)
    return _HTML_TAG.sub("", text)


def drop_fenced_code(text: str) -> str:
    """Text without its fenced code blocks (opening fence line to the closing fence of the same
    kind). One pass over the fence lines; an unclosed fence keeps what follows it (only its line
    goes, later), since it may be a stray backtick run rather than code."""
    out, pos, opened = [], 0, None
    for m in _FENCE_OPEN.finditer(text):
        end = text.find("\n", m.end())
        end = len(text) if end < 0 else end
        if opened is None:
            opened = (m.start(), m.group(1))
        elif m.group(1) == opened[1] and not text[m.end():end].strip():
            out.append(text[pos:opened[0]])
            out.append("\n")
            pos, opened = end, None
    out.append(text[pos:])
    return "".join(out)


def strip_markdown(text: str) -> str:
    if text.startswith("---"):
        text = _FRONT_MATTER.sub("", text, count=1)  # YAML front matter of Markdown exports
    if "```" in text or "~~~" in text:
        text = drop_fenced_code(text)
        text = _FENCE_LINE.sub("", text)
    if ":::" in text:
        text = _PANDOC_DIV.sub("", text)
    if "\\" in text:
        text = _BACKSLASH_ESCAPE.sub(r"\1", text)
    if "[" in text or "^" in text:
        text = _MD_IMAGE.sub("", text)
        text = _MD_IMAGE_REF.sub("", text)
        text = _MD_FOOTNOTE_LINK.sub("", text)
        text = _FOOTNOTE_DEF.sub(r"\1", text)
        text = _FOOTNOTE_REF.sub("", text)
        text = _NUMERIC_FOOTNOTE.sub("", text)
        text = _MD_REF_DEF.sub("", text)
        text = _PANDOC_SPAN.sub(r"\1", text)
        text = _MD_LINK.sub(r"\1", text)
        text = _MD_REF_LINK.sub(r"\1", text)
    if "{" in text:
        text = _PANDOC_ATTR.sub("", text)
    if "<" in text:
        text = _MD_AUTOLINK.sub(r"\1", text)
    if "#" in text:
        text = _MD_HEADING.sub(r"\1", text)
    if "=" in text or "-" in text or "*" in text or "_" in text:
        text = _MD_SETEXT.sub("", text)
        text = _MD_RULE.sub("", text)
    if ">" in text:
        text = _MD_QUOTE.sub("", text)
    if "*" in text or "+" in text or "-" in text:
        text = _MD_BULLET.sub(r"\1", text)
    if "*" in text or "_" in text:
        for _ in range(2):  # nested emphasis: ***x***, **_x_**
            text = _MD_BOLD.sub(r"\2", text)
            text = _MD_STAR_EM.sub(r"\1", text)
            text = _MD_UNDER_EM.sub(r"\1", text)
        if "**" in text or "__" in text:
            text = _MD_EMPTY_EMPHASIS.sub("", text)
    if "~~" in text:
        text = _MD_STRIKE.sub(r"\1", text)
    if "`" in text:
        text = _MD_CODE.sub(r"\1", text)
    return text


def drop_boilerplate(text: str) -> str:
    """Remove lines of page furniture. A one-line text is left alone: a comment that says
    "Share this" is what its author wrote. Returns `text` itself when no line goes."""
    lines = text.split("\n")
    if sum(1 for line in lines if line.strip()) < 2:
        return text
    kept = [line for line in lines if not is_boilerplate(line)]
    if len(kept) == len(lines) or not any(line.strip() for line in kept):
        return text
    return "\n".join(kept)


def normalise_whitespace(text: str) -> str:
    """CR and CRLF to LF, runs of other whitespace to one space, lines stripped, at most one
    blank line in a row, no whitespace at either end. Idempotent."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _SPACES_TO_FIX.sub(" ", text)
    text = "\n".join(line.strip() for line in text.split("\n"))
    if "\n\n\n" in text:
        text = _BLANK_LINES.sub("\n\n", text)
    return text.strip()


def clean_text(text: str | None) -> str:
    """The cleaned text of a document: Unicode NFKC, no HTML or Markdown/pandoc markup, no
    footnote markers, no boilerplate lines, single spaces, paragraphs separated by one blank line."""
    if not text:
        return ""
    if "\x00" in text or _BAD_CHARS.search(text):
        text = _BAD_CHARS.sub("", text)
    if "\u00ad" in text or "\u200b" in text or "\u200c" in text or "\u200d" in text or "\u2060" in text \
            or "\ufeff" in text:
        text = _INVISIBLE.sub("", text)
    if _SUPERSCRIPT_DIGIT.search(text):
        text = _SUPERSCRIPT_FOOTNOTE.sub("", text)  # before NFKC turns "models¹" into "models1"
    if "<" in text:
        text = strip_html(text)
    if "&" in text:
        text = html.unescape(text)
    text = unicodedata.normalize("NFKC", text)
    text = strip_markdown(text)
    text = normalise_whitespace(text)
    if "\n" in text:
        kept = drop_boilerplate(text)
        if kept is not text:  # normalised already otherwise
            text = normalise_whitespace(kept)
    return text
