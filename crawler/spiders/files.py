"""Local archives: Markdown (YAML or TOML front matter), plain text, HTML files and WARC / ARC
records, named by `paths` (files, folders searched recursively, or globs). In folders, files of
those kinds are read except hidden ones and the folder's own notes (README, LICENSE, ...).

There is nothing to download, so `start()` reads the files and yields Documents directly (Scrapy
>= 2.13 sends items from start() to the item pipelines). A file's doc_id comes from its absolute
path (file:// URI), a WARC record's from its WARC-Target-URI, so re-reading unchanged files writes
nothing; a URL captured more than once (in one archive or several) keeps its first capture.
Only 200 HTML responses become documents (requests, revisits, redirects, images, JSON are skipped). A bad file (missing, binary, undecodable, broken front matter, truncated archive) is one
logged error naming it; every good file and every record read before the damage is kept.
"""
from __future__ import annotations

import glob
import os
import re
import zlib
from pathlib import Path
from typing import Any, Callable, Iterator

from crawler.encoding import decode_text, looks_binary
from crawler.extract import ExtractionError, extract_page
from crawler.localfiles import FileFormatError, is_full_html, parse_text_document
from pipeline.schema import Document, make_doc_id

from .base import DebateSpider

MARKDOWN = (".md", ".markdown", ".mdown", ".mkd")
TEXT = (".txt", ".text")
HTML = (".html", ".htm", ".xhtml", ".html.gz", ".htm.gz")
WARC = (".warc", ".warc.gz", ".arc", ".arc.gz")
SUPPORTED = MARKDOWN + TEXT + HTML + WARC
MAX_BYTES = 50 * 1024 * 1024  # one text/HTML document; WARC files are streamed
# A folder's notes about itself are not documents of the debate (read them by naming them).
FOLDER_NOTES = re.compile(r"^(readme|license|licence|changelog|contributing|copying|notice)([._-].*)?$", re.I)


def kind_of(path: Path) -> str | None:
    name = path.name.lower()
    for kind, suffixes in (("warc", WARC), ("html", HTML), ("markdown", MARKDOWN), ("text", TEXT)):
        if name.endswith(suffixes):
            return kind
    return None


def file_doc_id(path: Path) -> str:
    return make_doc_id("files", url=path.as_uri())


def warc_doc_id(target_uri: str) -> str:
    return make_doc_id("files", url=target_uri)


class TruncatedArchive(Exception):
    """A WARC record is cut off before its declared length."""


class NotAnArchive(FileFormatError):
    """The file is no WARC or ARC file at all."""


def warc_html_records(fh) -> Iterator[tuple[str, bytes, str | None, str | None]]:
    """(target URI, payload, Content-Type, WARC-Date) of each 200 HTML response record.
    Raises TruncatedArchive when a record ends before its Content-Length (warcio itself
    reads a cut-off record as a short one without complaint)."""
    from warcio.archiveiterator import ArchiveIterator

    head = fh.read(4096)
    fh.seek(0)
    if head[:2] == b"\x1f\x8b":
        try:
            head = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head, 64)
        except zlib.error as exc:
            raise NotAnArchive(f"not a WARC or ARC file: corrupt gzip data ({exc})") from exc
    if not head.lstrip().startswith((b"WARC/", b"filedesc://")):
        raise NotAnArchive(f"not a WARC or ARC file (it starts with {head[:24]!r})")
    for record in ArchiveIterator(fh, arc2warc=True):
        if record.rec_type != "response":
            _drain(record)
            continue
        uri = (record.rec_headers.get_header("WARC-Target-URI") or "").strip().strip("<>")
        http = record.http_headers
        ctype = http.get_header("Content-Type") if http else record.rec_headers.get_header("Content-Type")
        status = http.get_statuscode() if http else "200"
        if status != "200" or "html" not in (ctype or "").lower() or not uri.startswith(("http://", "https://")):
            _drain(record)
            continue
        payload = record.content_stream().read()
        _drain(record)
        yield uri, payload, ctype, record.rec_headers.get_header("WARC-Date")


def _drain(record) -> None:
    stream = record.raw_stream
    while stream.read(65536):
        pass
    if getattr(stream, "limit", 0) > 0:
        uri = record.rec_headers.get_header("WARC-Target-URI") or record.rec_type
        raise TruncatedArchive(f"the archive is cut off inside the {record.rec_type} record of {uri}")


class FilesSpider(DebateSpider):
    name = "files"
    platform = "files"
    OPTIONS = {"paths": list}

    @classmethod
    def validate_options(cls, options: dict[str, Any], error: Callable[[str], Exception]) -> None:
        paths = options.get("paths")
        if not paths:
            raise error("paths is missing or empty: name the files, folders or globs to read")
        for i, p in enumerate(paths):
            if not isinstance(p, str) or not p.strip():
                raise error(f"paths[{i}] must be a non-empty string, got {p!r}")

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.seen: set[str] = set()

    # ------------------------------------------------------------------ paths
    def expand(self, spec: str) -> list[Path]:
        """The files a `paths` entry names; reports an entry that names nothing."""
        raw = os.path.expanduser(spec)
        if glob.has_magic(raw):
            hits = sorted(Path(p) for p in glob.glob(raw, recursive=True))
            files = [p for p in hits if p.is_file()] + [f for p in hits if p.is_dir() for f in self.walk(p)]
            if not files:
                self.report_error(spec, "the pattern matches no files")
            return files
        path = Path(raw)
        if path.is_dir():
            files = self.walk(path)
            if not files:
                self.report_error(spec, f"the folder holds no readable files ({', '.join(SUPPORTED)})")
            return files
        if path.is_file():
            return [path]
        self.report_error(spec, "no such file or folder")
        return []

    @staticmethod
    def walk(folder: Path) -> list[Path]:
        out = []
        for dirpath, dirnames, filenames in os.walk(folder):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            out += [Path(dirpath, f) for f in sorted(filenames)
                    if not f.startswith(".") and not FOLDER_NOTES.match(f) and kind_of(Path(f)) is not None]
        return out

    async def start(self):
        files: dict[Path, None] = {}  # in the order named, each file once
        for spec in self.opt("paths") or []:
            for path in self.expand(spec):
                files.setdefault(path.resolve(), None)
        for path in files:
            try:
                for doc in self.read_file(path):
                    if doc.doc_id in self.seen:
                        self.crawler.stats.inc_value("debatelake/files/duplicates")
                        continue
                    self.seen.add(doc.doc_id)
                    yield doc
            except FileFormatError as exc:
                self.report_error(str(path), f"{exc}; skipped")
            except OSError as exc:
                self.report_error(str(path), f"cannot be read ({exc.strerror or exc}); skipped")
            except Exception as exc:  # never let one file end the crawl
                self.report_error(str(path), f"unreadable ({exc!r}); skipped")

    # ------------------------------------------------------------------ files
    def read_file(self, path: Path) -> Iterator[Document]:
        self.crawler.stats.inc_value("debatelake/files/read")
        kind = kind_of(path)
        if kind == "warc":
            yield from self.read_warc(path)
            return
        if path.stat().st_size > MAX_BYTES:
            raise FileFormatError(f"larger than {MAX_BYTES // 2**20} MB; not a single document")
        body = path.read_bytes()
        if not body.strip():
            raise FileFormatError("the file is empty")
        if kind == "html":
            yield self.html_document(path, body)
            return
        if body[:2] == b"\x1f\x8b" or looks_binary(body):
            raise FileFormatError("binary data, not a text document")
        decoded = decode_text(body)
        if decoded.source == "fallback":
            raise FileFormatError(f"not UTF-8 and its character encoding cannot be told ({decoded.note})")
        if decoded.guessed:
            self.logger.warning("%s: not UTF-8; read as %s", path, decoded.encoding)
        if kind != "markdown" and is_full_html(decoded.text):
            yield self.html_document(path, body)
            return
        parsed = parse_text_document(decoded.text, markdown=kind == "markdown")
        if not parsed.text:
            raise FileFormatError("no text in it")
        raw = {"path": str(path), "format": parsed.format, "encoding": decoded.encoding, **parsed.meta}
        yield self.make_doc(
            doc_id=file_doc_id(path), kind="post", url=path.as_uri(), thread_id=file_doc_id(path), depth=0,
            title=parsed.title, text=parsed.text, author=parsed.author, published_at=parsed.published_at,
            language=parsed.language, raw=raw,
        )

    def html_document(self, path: Path, body: bytes) -> Document:
        try:
            page = extract_page(body, path.as_uri())
        except ExtractionError as exc:
            raise FileFormatError(str(exc)) from exc
        raw = {"path": str(path), "format": "html", "encoding": page.encoding, "canonical_url": page.canonical_url,
               "sitename": page.sitename, "encoding_note": page.encoding_note}
        return self.make_doc(
            doc_id=file_doc_id(path), kind="post", url=page.canonical_url or path.as_uri(),
            thread_id=file_doc_id(path), depth=0, title=page.title, text=page.text, author=page.author,
            published_at=page.published_at, language=page.language,
            raw={k: v for k, v in raw.items() if v},
        )

    # ------------------------------------------------------------------ WARC
    def read_warc(self, path: Path) -> Iterator[Document]:
        from warcio.exceptions import ArchiveLoadFailed

        kept = 0
        with open(path, "rb") as fh:
            try:
                for uri, payload, ctype, warc_date in warc_html_records(fh):
                    try:
                        page = extract_page(payload, uri, ctype)
                    except ExtractionError as exc:
                        self.report_error(f"{path} ({uri})", f"{exc}; record skipped")
                        continue
                    doc_id = warc_doc_id(uri)
                    kept += 1
                    yield self.make_doc(
                        doc_id=doc_id, kind="post", url=uri, thread_id=doc_id, depth=0, title=page.title,
                        text=page.text, author=page.author, published_at=page.published_at,
                        fetched_at=warc_date, language=page.language,
                        raw={k: v for k, v in {
                            "path": str(path), "format": "warc", "warc_date": warc_date,
                            "canonical_url": page.canonical_url, "encoding": page.encoding,
                            "sitename": page.sitename}.items() if v},
                    )
            except FileFormatError:
                raise
            except (TruncatedArchive, ArchiveLoadFailed, zlib.error, EOFError, ValueError) as exc:
                detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise FileFormatError(f"damaged WARC after {kept} good record(s): {detail}") from exc
        self.logger.info("%s: %d HTML page(s) from the archive", path, kept)
