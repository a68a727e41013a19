"""The one definition of debatelake's records and tables.

Every table's Arrow schema lives here, next to the typed record the crawler yields, so the
crawler, the store, the NLP pipeline and the snapshot writer can never disagree about a column.
"""
from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from typing import Any

import pyarrow as pa

UTC = timezone.utc
TS = pa.timestamp("us", tz="UTC")

PLATFORMS = ("blog", "hackernews", "reddit", "discourse", "files")
KINDS = ("post", "comment")

DOCUMENTS = pa.schema(
    [
        pa.field("doc_id", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("platform", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("url", pa.string()),
        pa.field("thread_id", pa.string()),
        pa.field("parent_id", pa.string()),
        pa.field("depth", pa.int32()),
        pa.field("title", pa.string()),
        pa.field("text", pa.string()),
        pa.field("author", pa.string()),
        pa.field("published_at", TS),
        pa.field("fetched_at", TS),
        pa.field("language", pa.string()),
        pa.field("score", pa.int64()),
        pa.field("content_hash", pa.string(), nullable=False),
        pa.field("deleted", pa.bool_()),
        pa.field("run_id", pa.string()),
        pa.field("raw", pa.map_(pa.string(), pa.string())),
    ]
)

RUNS = pa.schema(
    [
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("command", pa.string()),  # crawl / process / publish ...
        pa.field("source", pa.string()),
        pa.field("started_at", TS),
        pa.field("ended_at", TS),
        pa.field("status", pa.string()),  # running / finished / failed / aborted
        pa.field("requests", pa.int64()),
        pa.field("responses", pa.map_(pa.string(), pa.int64())),  # status code -> count
        pa.field("docs_new", pa.int64()),
        pa.field("docs_updated", pa.int64()),
        pa.field("docs_unchanged", pa.int64()),
        pa.field("errors", pa.int64()),
        pa.field("error_messages", pa.list_(pa.string())),
        pa.field("stats", pa.map_(pa.string(), pa.string())),
    ]
)


def _hash(*parts: str | None) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update((p or "").encode("utf-8", "surrogatepass"))
        h.update(b"\x1f")
    return h.hexdigest()


def deleted_by_author(deleted: bool, raw: Any) -> bool:
    """Whether a tombstone records its author's own deletion, which no later crawl undoes: a
    stale listing, a mirror or an API lag can still serve the text, but the author took it
    down. Removals by moderators or flags (Hacker News `dead`, Reddit `removed`) can be
    reversed, so a crawl that finds such a document's text again brings it back."""
    if not deleted:
        return False
    meta = dict(raw or {})
    if meta.get("tombstone") == "dead":
        return False
    removal = meta.get("removal")
    return not removal or removal in ("deleted", "author")  # Reddit's removed_by_category for the author


def make_doc_id(platform: str, native_id: str | None = None, url: str | None = None) -> str:
    """Stable id: platform + native id where the platform has one, else the canonical URL."""
    if native_id:
        return f"{platform}:{native_id}"
    if not url:
        raise ValueError("a document needs a native id or a canonical URL")
    return f"{platform}:u:{_hash(url)[:24]}"


def content_hash(title: str | None, text: str | None, author: str | None, deleted: bool) -> str:
    """What counts as 'changed': title, text, author and deletion. Scores and fetch times
    move on every crawl and must not make an unchanged document look new."""
    norm = lambda s: unicodedata.normalize("NFC", s or "").strip()  # noqa: E731
    return _hash(norm(title), norm(text), norm(author), "1" if deleted else "0")


def to_utc(value: Any) -> datetime | None:
    """Accept datetimes, ISO strings and epoch seconds; always return an aware UTC datetime."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, tz=UTC)
    if isinstance(value, str):
        from dateutil import parser as dateparser

        try:
            value = dateparser.parse(value)
        except (ValueError, OverflowError):
            return None
    if not isinstance(value, datetime):
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


@dataclass
class Document:
    """One post or comment. Spiders yield these; the store writes them as DOCUMENTS rows."""

    doc_id: str
    source: str
    platform: str
    kind: str = "post"
    url: str | None = None
    thread_id: str | None = None
    parent_id: str | None = None
    depth: int = 0
    title: str | None = None
    text: str | None = None
    author: str | None = None
    published_at: datetime | None = None
    fetched_at: datetime | None = None
    language: str | None = None
    score: int | None = None
    content_hash: str = ""
    deleted: bool = False
    run_id: str | None = None
    raw: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        self.published_at = to_utc(self.published_at)
        self.fetched_at = to_utc(self.fetched_at) or datetime.now(UTC)
        if self.deleted:
            self.text = None  # a tombstone keeps its place in the thread, never its text
        self.raw = {str(k): "" if v is None else str(v) for k, v in (self.raw or {}).items()}
        self.content_hash = content_hash(self.title, self.text, self.author, self.deleted)

    def to_row(self) -> dict[str, Any]:
        row = asdict(self)
        row["raw"] = list(self.raw.items())
        return row

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> "Document":
        names = {f.name for f in fields(cls)}
        data = {k: v for k, v in row.items() if k in names}
        if isinstance(data.get("raw"), list):
            data["raw"] = dict(data["raw"])
        return cls(**data)


def documents_table(docs: list[Document]) -> pa.Table:
    return pa.Table.from_pylist([d.to_row() for d in docs], schema=DOCUMENTS)


PASSAGES = pa.schema(
    [
        pa.field("passage_id", pa.string(), nullable=False),  # f"{doc_id}#{seq}"
        pa.field("doc_id", pa.string(), nullable=False),
        pa.field("seq", pa.int32(), nullable=False),
        pa.field("start", pa.int32()),  # character offsets into the document's cleaned text
        pa.field("end", pa.int32()),
        pa.field("text", pa.string()),
        pa.field("content_hash", pa.string()),  # of the document version it was cut from
    ]
)

ENTITY = pa.struct(
    [
        pa.field("id", pa.string()),  # canonical id, e.g. "llama-2"
        pa.field("label", pa.string()),  # MODEL / LAB / PERSON / ...
        pa.field("text", pa.string()),
        pa.field("start", pa.int32()),
        pa.field("end", pa.int32()),
    ]
)

EVIDENCE = pa.struct(
    [
        pa.field("axis", pa.string()),  # release / moderation / sentiment / topic:<name>
        pa.field("passage_id", pa.string()),
        pa.field("label", pa.string()),
        pa.field("prob", pa.float32()),
        pa.field("sentence", pa.string()),
    ]
)

# One row per (doc_id, model_version, passage_id); document-level rows have level="document"
# and passage_id = doc_id. Kept apart from DOCUMENTS so relabelling never touches crawled data.
ANNOTATIONS = pa.schema(
    [
        pa.field("doc_id", pa.string(), nullable=False),
        pa.field("passage_id", pa.string(), nullable=False),
        pa.field("level", pa.string(), nullable=False),  # document / passage
        pa.field("model_version", pa.string(), nullable=False),
        pa.field("content_hash", pa.string()),
        pa.field("language", pa.string()),
        pa.field("duplicate_of", pa.string()),
        pa.field("duplicate_kind", pa.string()),  # exact / near / None
        pa.field("release", pa.string()),
        pa.field("release_prob", pa.float32()),
        pa.field("moderation", pa.string()),
        pa.field("moderation_prob", pa.float32()),
        pa.field("topics", pa.list_(pa.string())),
        pa.field("topic_probs", pa.map_(pa.string(), pa.float32())),
        pa.field("sentiment", pa.string()),
        pa.field("sentiment_prob", pa.float32()),
        pa.field("entities", pa.list_(ENTITY)),
        pa.field("evidence", pa.list_(EVIDENCE)),
        pa.field("reason", pa.string()),  # why a unit has no real labels (empty, binary, ...)
        pa.field("labelled_at", TS),
        pa.field("run_id", pa.string()),
    ]
)

TABLES: dict[str, pa.Schema] = {
    "documents": DOCUMENTS,
    "passages": PASSAGES,
    "annotations": ANNOTATIONS,
    "runs": RUNS,
}
# Merge keys: a row with the same key is the same row, updated in place.
KEYS: dict[str, tuple[str, ...]] = {
    "documents": ("doc_id",),
    "passages": ("passage_id",),
    "annotations": ("passage_id", "model_version"),
    "runs": ("run_id",),
}

# Documents and authors kept out of every later snapshot (`debatelake takedown add`).
TAKEDOWNS = pa.schema(
    [
        pa.field("kind", pa.string(), nullable=False),  # url / author
        pa.field("value", pa.string(), nullable=False),
        pa.field("added_at", TS),
        pa.field("reason", pa.string()),
        pa.field("purged_at", TS),
    ]
)
TABLES["takedowns"] = TAKEDOWNS
KEYS["takedowns"] = ("kind", "value")

# Duplicate detection state (pipeline/nlp/dedup.py): one row per document version, numbered in
# the order processing first saw it; exact and near duplicates are found against earlier rows.
DEDUP = pa.schema(
    [
        pa.field("doc_id", pa.string(), nullable=False),
        pa.field("content_hash", pa.string(), nullable=False),
        pa.field("seq", pa.int64(), nullable=False),
        pa.field("text_hash", pa.string()),  # of the cleaned text; None when there is none
        pa.field("minhash", pa.binary()),  # 128 little-endian uint32; None when too short
        pa.field("run_id", pa.string()),
    ]
)
TABLES["dedup"] = DEDUP
KEYS["dedup"] = ("doc_id", "content_hash")
