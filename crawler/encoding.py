"""Bytes to text for pages, feeds and local files, when charsets are wrong, missing or lying.

Order of evidence, as browsers and feed readers use it: a byte-order mark, then the charset of
the HTTP Content-Type, then the document's own declaration (<meta charset>, the XML declaration;
also one that sits far beyond the usual 1 KB prescan window), then detection. Every declared
charset is *verified* before it is believed:

* a declared legacy charset (Latin-1, Shift_JIS, GB2312, ...) on bytes that are valid UTF-8 with
  multi-byte sequences is a mismatch: such bytes are UTF-8 (legacy text is practically never
  valid UTF-8 by accident);
* a declared charset that cannot decode the bytes is skipped for the next piece of evidence;
* UTF-8 with a few stray invalid bytes among many valid multi-byte sequences (pages stitched from
  differently encoded parts) decodes as UTF-8, each stray byte as Windows-1252.

Labels are resolved the WHATWG way (ISO-8859-1 and ASCII mean Windows-1252, GB2312 means GB18030,
Shift_JIS means CP932), through w3lib. Nothing here raises on bad input: the worst case is text
with U+FFFD in it, and `Decoded.guessed` / `Decoded.note` say how sure the result is.
"""
from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from w3lib.encoding import (
    html_body_declared_encoding,
    http_content_type_encoding,
    read_bom,
    resolve_encoding,
)

_UTF8_MULTIBYTE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")
_XML_DECL = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._:-]+)[\"']", re.I)
# <meta charset=...> or <meta http-equiv=content-type content="...; charset=..."> anywhere.
_META_CHARSET = re.compile(
    rb"<meta\s[^>]*?charset\s*=\s*[\"']?\s*([A-Za-z0-9._:-]+)", re.I | re.S)
_LATE_META_WINDOW = 512 * 1024


def _cp1252_fallback(exc: UnicodeError) -> tuple[str, int]:
    """Decode error handler: a byte UTF-8 (or CP1252) cannot decode is read as Windows-1252, and
    the five bytes CP1252 leaves undefined map to the code point of the same number (WHATWG)."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    byte = exc.object[exc.start]
    try:
        char = bytes([byte]).decode("cp1252")
    except UnicodeDecodeError:
        char = chr(byte)
    return char, exc.start + 1


codecs.register_error("debatelake-cp1252", _cp1252_fallback)


@dataclass
class Decoded:
    text: str
    encoding: str  # Python codec name actually used
    source: str  # bom / http / meta / xml / utf-8 / detected / fallback
    guessed: bool = False  # True when no declaration was usable and the charset was detected
    note: str | None = None  # a mismatch or repair worth logging

    def describe(self) -> str:
        return f"{self.encoding} (from {self.source})" + (f"; {self.note}" if self.note else "")


def _codec(label: str | None) -> str | None:
    """A declared label -> the codec to use, or None for an unknown label."""
    if not label:
        return None
    resolved = resolve_encoding(label.strip().strip("\"'"))
    if resolved is None:
        return None
    try:
        return codecs.lookup(resolved).name
    except LookupError:
        return None


def utf8_state(body: bytes) -> tuple[str, int, int]:
    """("ascii" | "valid" | "mostly" | "invalid", multi-byte sequences, invalid bytes).

    "mostly": invalid bytes are few (at most one per four valid multi-byte sequences)."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        if max(body, default=0) < 0x80:
            return "ascii", 0, 0
        return "valid", len(_UTF8_MULTIBYTE.findall(body)), 0
    good = len(_UTF8_MULTIBYTE.findall(body))
    bad = body.decode("utf-8", "replace").count("\ufffd") - body.decode("utf-8", "ignore").count("\ufffd")
    if good >= 4 and bad * 4 <= good:
        return "mostly", good, bad
    return "invalid", good, bad


def _is_utf8(codec: str) -> bool:
    return codec in ("utf-8", "utf-8-sig")


_MULTIBYTE_LEGACY = ("gb", "big5", "cp932", "shift_jis", "euc", "cp949", "cp950", "iso2022", "hz", "johab")


def _single_byte(codec: str) -> bool:
    return not codec.startswith(_MULTIBYTE_LEGACY) and not codec.startswith(("utf", "cp65001"))


def _strict(body: bytes, codec: str) -> str | None:
    errors = "debatelake-cp1252" if codec == "cp1252" else "strict"
    try:
        return body.decode(codec, errors)
    except (UnicodeDecodeError, LookupError):
        return None


_NON_ASCII_TOKEN = re.compile(r"\S*[^\x00-\x7f]\S*")
_WESTERN_PUNCT = set("’‘‚“”„–—…€«»°©®·§¶†‡•™¡¿ªº¹²³½¼¾×÷£¥¢µ\u00a0")


def western_plausible(body: bytes) -> bool:
    """Does Windows-1252 read these (non-UTF-8) bytes as Western European text? Accented letters
    sit inside mostly-ASCII words ("Notícias", "für"); text in another script read as CP1252
    gives words made entirely of Latin-1 letters and symbols ("Ïðèâåò", "»¥ÁªÍø")."""
    text = body[:400_000].decode("cp1252", "debatelake-cp1252")
    tokens = _NON_ASCII_TOKEN.findall(text)
    if not tokens:
        return True
    odd = shares = 0.0
    for tok in tokens:
        high = [c for c in tok if ord(c) > 0x7F]
        odd += sum(1 for c in high if not (c.isalpha() or c in _WESTERN_PUNCT))
        letters = [c for c in tok if c.isalpha()] or high
        shares += sum(1 for c in letters if ord(c) > 0x7F) / len(letters)
    n_high = sum(1 for c in text if ord(c) > 0x7F)
    return odd / max(n_high, 1) < 0.05 and shares / len(tokens) < 0.45


def detect(body: bytes) -> str | None:
    """A guess for bytes that are not UTF-8: Windows-1252 when it reads them as Western text,
    else charset_normalizer's best guess (a Python codec name), else None."""
    if western_plausible(body):
        return "cp1252"
    try:
        from charset_normalizer import from_bytes
    except ImportError:  # pragma: no cover - installed with requests/scrapy
        return None
    best = from_bytes(body[:200_000]).best()
    if best is None:
        return None
    return _codec(best.encoding)


def _decode_with(body: bytes, candidates: list[tuple[str | None, str]], strip_bom_text: bool = True) -> Decoded:
    bom_enc, bom = read_bom(body)
    if bom_enc and bom:
        return Decoded(body[len(bom):].decode(bom_enc, "replace"), bom_enc, "bom")

    state, _, bad = utf8_state(body)
    notes: list[str] = []
    seen: set[str] = set()
    for label, source in candidates:
        codec = _codec(label)
        if label and codec is None:
            notes.append(f"unknown charset {label!r} ({source}) ignored")
            continue
        if codec is None or codec in seen:
            continue
        seen.add(codec)
        if codec.startswith(("utf-16", "utf-32")):
            text = _strict(body, codec)
            if text is not None:
                return Decoded(text, codec, source, note="; ".join(notes) or None)
            notes.append(f"declared {label} ({source}) does not decode")
            continue
        if _is_utf8(codec):
            if state in ("ascii", "valid"):
                return Decoded(body.decode("utf-8"), "utf-8", source, note="; ".join(notes) or None)
            if state == "mostly":
                notes.append(f"{bad} invalid UTF-8 byte(s) read as Windows-1252")
                return Decoded(body.decode("utf-8", "debatelake-cp1252"), "utf-8", source, note="; ".join(notes))
            notes.append(f"declared utf-8 ({source}) but the bytes are not UTF-8")
            continue
        # a legacy charset
        if state == "valid" or (state == "mostly" and _single_byte(codec)):
            notes.append(f"declared {label} ({source}) but the bytes are UTF-8")
            return Decoded(body.decode("utf-8", "debatelake-cp1252"), "utf-8", "utf-8", note="; ".join(notes))
        if codec == "cp1252" and state != "ascii" and not western_plausible(body):
            notes.append(f"declared {label} ({source}) but the bytes do not read as Western text")
            continue
        text = _strict(body, codec)
        if text is not None:
            return Decoded(text, codec, source, note="; ".join(notes) or None)
        notes.append(f"declared {label} ({source}) does not decode the bytes")

    if state in ("ascii", "valid"):
        return Decoded(body.decode("utf-8"), "utf-8", "utf-8", note="; ".join(notes) or None)
    if state == "mostly":
        notes.append(f"{bad} invalid UTF-8 byte(s) read as Windows-1252")
        return Decoded(body.decode("utf-8", "debatelake-cp1252"), "utf-8", "utf-8", note="; ".join(notes))
    guess = detect(body)
    if guess and not _is_utf8(guess):
        text = _strict(body, guess)
        if text is not None:
            notes.append(f"charset detected as {guess}")
            return Decoded(text, guess, "detected", guessed=True, note="; ".join(notes))
    notes.append("charset unknown; read as Windows-1252")
    return Decoded(body.decode("cp1252", "debatelake-cp1252"), "cp1252", "fallback", guessed=True,
                   note="; ".join(notes))


def _late_meta(body: bytes) -> str | None:
    m = _META_CHARSET.search(body, 0, _LATE_META_WINDOW)
    return m.group(1).decode("ascii", "replace") if m else None


def decode_html(body: bytes, content_type: str | None = None) -> Decoded:
    """Decode an HTML page: BOM, HTTP charset, early <meta>/XML declaration, a late <meta>,
    then UTF-8 validation and detection; each declaration verified against the bytes."""
    candidates: list[tuple[str | None, str]] = [
        (http_content_type_encoding(content_type) if content_type else None, "http"),
        (html_body_declared_encoding(body), "meta"),
        (_late_meta(body), "meta"),
    ]
    return _decode_with(body, candidates)


def xml_declared_encoding(body: bytes) -> str | None:
    m = _XML_DECL.match(body[:512])
    return m.group(1).decode("ascii") if m else None


def decode_xml(body: bytes, content_type: str | None = None) -> Decoded:
    """Decode an XML document (feed, sitemap): BOM, HTTP charset, XML declaration, then UTF-8
    (the XML default) verified, then detection."""
    candidates: list[tuple[str | None, str]] = [
        (http_content_type_encoding(content_type) if content_type else None, "http"),
        (xml_declared_encoding(body), "xml"),
    ]
    return _decode_with(body, candidates)


def decode_text(body: bytes) -> Decoded:
    """Decode a local text file: BOM, UTF-8, then detection (`guessed` is then True)."""
    return _decode_with(body, [])


def looks_binary(body: bytes, sample: int = 8192) -> bool:
    """NUL bytes or many control characters in the first bytes: not text in any 8-bit charset
    (UTF-16 without a BOM aside, which nobody publishes)."""
    head = body[:sample]
    if not head:
        return False
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return False
    if b"\x00" in head:
        return True
    controls = sum(1 for b in head if b < 0x09 or 0x0E <= b < 0x20 or b == 0x7F)
    return controls / len(head) > 0.05
