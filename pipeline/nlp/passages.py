"""Cutting a cleaned text into passages, the unit that gets labelled.

A passage is a paragraph; a paragraph longer than `max_chars` is cut at sentence boundaries
into pieces of at most about `max_chars`; a short comment is one passage; a heading or other
very short paragraph is joined to the paragraph after it. Every passage is a (start, end)
span of the cleaned text, so `text[start:end]` is the passage exactly.

Sentences come from a rule-based splitter (a regular expression plus an abbreviation list):
spaCy's sentencizer costs ~0.1 ms per document and is only needed for the rare long paragraph,
where a regex does as well on the prose this project reads.
"""
from __future__ import annotations

import re

MAX_CHARS = 1200
MIN_CHARS = 60  # shorter paragraphs (headings, "Update:") are joined to the next one
SHORT_COMMENT = 1200  # a comment up to this long is one passage, whatever its paragraphs

_PARA_BREAK = re.compile(r"\n[ \t]*\n\s*")
_LINE_BREAK = re.compile(r"\n")
# A sentence ends at . ! ? or … (possibly repeated, possibly followed by closing quotes or
# brackets) before whitespace and a character that can start a sentence.
_SENT_END = re.compile(r"[.!?…]+[\"'’”)\]]*(?=\s+[\"'‘“(\[]*[A-Z0-9À-ÖØ-Þ])|[.!?…]+[\"'’”)\]]*(?=\s*\n)")
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof sr jr st vs etc e.g i.e cf fig al approx inc ltd co corp dept est no vol ed eds "
    "jan feb mar apr jun jul aug sep sept oct nov dec u.s u.k u.n e.u a.i gen sen rep gov".split()
)
_WORD_BEFORE = re.compile(r"([\w.]+)$")


def _is_abbreviation(text: str, end: int) -> bool:
    """Is the '.' just before `end` the end of an abbreviation or an initial ("J. Smith")?"""
    if text[end - 1] != ".":
        return False
    m = _WORD_BEFORE.search(text, max(0, end - 12), end - 1)
    if not m:
        return False
    word = m.group(1).lower().rstrip(".")
    return word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha())


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Sentences of text[start:end] as (start, end) spans without surrounding whitespace."""
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    pos = start
    for m in _SENT_END.finditer(text, start, end):
        stop = m.end()
        if _is_abbreviation(text, m.start() + 1) and m.group(0) == ".":
            continue
        _append_span(text, pos, stop, spans)
        pos = stop
    _append_span(text, pos, end, spans)
    return spans


def sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in sentence_spans(text)]


def _append_span(text: str, start: int, end: int, out: list[tuple[int, int]]) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        out.append((start, end))


def _blocks(text: str, pattern: re.Pattern[str], start: int, end: int) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    pos = start
    for m in pattern.finditer(text, start, end):
        _append_span(text, pos, m.start(), out)
        pos = m.end()
    _append_span(text, pos, end, out)
    return out


def _cut_long(text: str, start: int, end: int, max_chars: int) -> list[tuple[int, int]]:
    """Pack the sentences of a long block into pieces of at most ~max_chars; a sentence longer
    than that (a list without full stops, a URL dump, code) is cut at the last space before the
    limit, or hard at the limit when it has none."""
    pieces: list[tuple[int, int]] = []
    cur_s = cur_e = None
    for s, e in sentence_spans(text, start, end):
        while e - s > max_chars:
            if cur_s is not None:
                pieces.append((cur_s, cur_e))
                cur_s = cur_e = None
            cut = text.rfind(" ", s + max_chars // 2, s + max_chars)
            cut = cut if cut > s else s + max_chars
            _append_span(text, s, cut, pieces)
            s = cut
            while s < e and text[s].isspace():
                s += 1
        if s >= e:
            continue
        if cur_s is None:
            cur_s, cur_e = s, e
        elif e - cur_s <= max_chars:
            cur_e = e
        else:
            pieces.append((cur_s, cur_e))
            cur_s, cur_e = s, e
    if cur_s is not None:
        pieces.append((cur_s, cur_e))
    return pieces


def passage_spans(text: str, kind: str = "post", max_chars: int = MAX_CHARS, min_chars: int = MIN_CHARS,
                  short_comment: int = SHORT_COMMENT) -> list[tuple[int, int]]:
    """The passages of a cleaned text as (start, end) spans."""
    spans: list[tuple[int, int]] = []
    _append_span(text, 0, len(text), spans)
    if not spans:
        return []
    if kind == "comment" and len(text) <= short_comment:
        return spans
    paragraphs: list[tuple[int, int]] = []
    for s, e in _blocks(text, _PARA_BREAK, 0, len(text)):
        if e - s > max_chars and "\n" in text[s:e]:
            # paragraphs separated by single newlines (plain-text exports): one per line
            paragraphs.extend(_blocks(text, _LINE_BREAK, s, e))
        else:
            paragraphs.append((s, e))
    # join headings and other tiny paragraphs to what follows them (the last one to what precedes)
    joined: list[tuple[int, int]] = []
    carry: int | None = None
    for s, e in paragraphs:
        if carry is not None:
            s = carry
            carry = None
        if e - s < min_chars:
            carry = s
            continue
        joined.append((s, e))
    if carry is not None:
        if joined and paragraphs[-1][1] - joined[-1][0] <= max_chars:
            joined[-1] = (joined[-1][0], paragraphs[-1][1])
        else:
            joined.append((carry, paragraphs[-1][1]))
    out: list[tuple[int, int]] = []
    for s, e in joined:
        if e - s > max_chars:
            out.extend(_cut_long(text, s, e, max_chars))
        else:
            out.append((s, e))
    return out
