"""Takedowns: keep a URL or an author out of every later snapshot, and, for a real deletion
request, purge them from the tables and their history."""
from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Iterator

import pyarrow as pa
import pyarrow.compute as pc

from .privacy import PrivacyKeyMissing, pseudonym_key, pseudonymise
from .schema import TAKEDOWNS, UTC
from .store import Store


# Every table with a row per document (the dedup table keeps hashes and MinHash signatures of its text).
PURGED_TABLES = ("documents", "passages", "annotations", "dedup")
_PSEUDONYM = re.compile(r"user_[0-9a-f]{16}")  # as pipeline.privacy.pseudonymise writes them


def kind_of(value: str) -> str:
    return "url" if "://" in value else "author"


def add(store: Store, value: str, reason: str | None = None,
        privacy: dict[str, Any] | None = None) -> dict[str, Any]:
    """List a URL or an author. An author may be given by the pseudonym a snapshot published; with
    the key at hand (`privacy` or the environment), the crawled names behind it are listed too, so
    that the takedown holds after a change of key. The returned row says which in `resolved` (None:
    a pseudonym and no key at hand)."""
    value = value.strip()
    if not value:
        raise ValueError("give a URL or an author name to take down")
    now = datetime.now(UTC)
    row = {"kind": kind_of(value), "value": value, "added_at": now, "reason": reason}
    rows = [row]
    resolved: list[str] | None = []  # None: a pseudonym, and no key to look behind it
    if row["kind"] == "author" and _PSEUDONYM.fullmatch(value):
        try:
            key = pseudonym_key(privacy)
        except PrivacyKeyMissing:
            key, resolved = None, None
        if key is not None:
            resolved = sorted({author for _, author in _documents_behind(store, {value}, key)})
            note = f"behind pseudonym {value}" + (f": {reason}" if reason else "")
            rows += [{"kind": "author", "value": a, "added_at": now, "reason": note} for a in resolved]
    with store.lock("takedown add"):
        store.upsert("takedowns", pa.Table.from_pylist(rows, schema=TAKEDOWNS), {"step": "takedown add"})
    return {**row, "resolved": resolved}


def _documents_behind(store: Store, pseudonyms: set[str], key: bytes) -> Iterator[tuple[str, str]]:
    """(doc_id, crawled author name) of every document whose author's pseudonym (under `key`) is
    one of `pseudonyms`."""
    if not pseudonyms:
        return
    for batch in store.iter_batches("documents", columns=["doc_id", "author", "platform"]):
        for doc_id, author, platform in zip(*(batch.column(c).to_pylist() for c in ("doc_id", "author", "platform"))):
            if author and pseudonymise(author, platform, key) in pseudonyms:
                yield doc_id, author


def entries(store: Store) -> list[dict[str, Any]]:
    return store.read("takedowns").to_pylist() if store.exists("takedowns") else []


def _sql_list(values: list[str]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


def _forget_log(dt: Any) -> None:
    """Checkpoint, then delete the transaction log before it: its commits keep each old file's
    column statistics (min/max of text, author, url), which quote the purged rows. The log
    retention is set to zero for the cleanup only, then put back."""
    from deltalake import CommitProperties

    said = CommitProperties(custom_metadata={"step": "takedown purge"})  # what `debatelake versions` shows
    retention = dt.metadata().configuration.get("delta.logRetentionDuration") or "interval 30 days"
    dt.alter.set_table_properties({"delta.logRetentionDuration": "interval 0 seconds"}, raise_if_not_exists=False,
                                  commit_properties=said)
    dt.create_checkpoint()
    dt.cleanup_metadata()
    dt.alter.set_table_properties({"delta.logRetentionDuration": retention}, raise_if_not_exists=False,
                                  commit_properties=said)


def _clear_http_cache(store: Store) -> bool:
    """The crawler's page cache holds whole pages as they were fetched, the taken-down ones too;
    it only saves downloads, so all of it goes (the next crawl fetches each page once more)."""
    import shutil

    from crawler.httpcache import http_cache_dir

    path = http_cache_dir(store.root)
    if not path.exists():
        return False
    shutil.rmtree(path)
    return True


def purge(store: Store, privacy: dict[str, Any] | None = None) -> dict[str, Any]:
    """Delete every taken-down document from documents, passages and annotations, then vacuum
    with zero retention so that no older table version can bring them back. Time travel to
    versions before the purge stops working: that is the point of a real deletion.

    An author may be listed by the pseudonym a published snapshot shows; those are resolved with
    the pseudonymisation key (`privacy`: the config's [privacy] section, or the environment)."""
    items = entries(store)
    urls = [e["value"] for e in items if e["kind"] == "url"]
    authors = [e["value"] for e in items if e["kind"] == "author"]
    pseudonyms = {a for a in authors if _PSEUDONYM.fullmatch(a)}
    report: dict[str, Any] = {**{t: 0 for t in PURGED_TABLES}, "files_removed": 0}
    if not items or not store.exists("documents"):
        return report
    key = pseudonym_key(privacy) if pseudonyms else None  # before any change: raises if the key is missing
    with store.lock("takedown purge"):
        flt = None
        if urls:
            flt = pc.field("url").isin(pa.array(urls, pa.string()))
        if authors:
            by_author = pc.field("author").isin(pa.array(authors, pa.string()))
            flt = by_author if flt is None else flt | by_author
        doc_ids = store.read("documents", columns=["doc_id"], filter=flt).column("doc_id").to_pylist()
        if key is not None:
            seen = set(doc_ids)
            doc_ids += [d for d, _ in _documents_behind(store, pseudonyms, key) if d not in seen]
        if doc_ids:
            ids = _sql_list(doc_ids)
            for table in PURGED_TABLES:
                if store.exists(table):
                    result = store.table(table).delete(f"doc_id IN ({ids})")
                    report[table] = int(result.get("num_deleted_rows", 0) or 0)
        for table in PURGED_TABLES:
            if store.exists(table):
                dt = store.table(table)
                removed = dt.vacuum(retention_hours=0, dry_run=False, enforce_retention_duration=False, full=True)
                report["files_removed"] += len(removed)
                _forget_log(dt)
        now = datetime.now(UTC)
        for e in items:
            e["purged_at"] = now
        store.upsert("takedowns", pa.Table.from_pylist(items, schema=TAKEDOWNS), {"step": "takedown purge"})
        report["http_cache_cleared"] = _clear_http_cache(store)
    report["doc_ids"] = doc_ids
    return report
