"""Takedowns: keep a URL or an author out of every later snapshot, and, for a real deletion
request, purge them from the tables and their history."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from .schema import TAKEDOWNS, UTC
from .store import Store


def kind_of(value: str) -> str:
    return "url" if "://" in value else "author"


def add(store: Store, value: str, reason: str | None = None) -> dict[str, Any]:
    value = value.strip()
    if not value:
        raise ValueError("give a URL or an author name to take down")
    row = {"kind": kind_of(value), "value": value, "added_at": datetime.now(UTC), "reason": reason}
    with store.lock("takedown add"):
        store.upsert("takedowns", pa.Table.from_pylist([row], schema=TAKEDOWNS), {"step": "takedown add"})
    return row


def entries(store: Store) -> list[dict[str, Any]]:
    return store.read("takedowns").to_pylist() if store.exists("takedowns") else []


def _sql_list(values: list[str]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


def purge(store: Store) -> dict[str, Any]:
    """Delete every taken-down document from documents, passages and annotations, then vacuum
    with zero retention so that no older table version can bring them back. Time travel to
    versions before the purge stops working: that is the point of a real deletion."""
    items = entries(store)
    urls = [e["value"] for e in items if e["kind"] == "url"]
    authors = [e["value"] for e in items if e["kind"] == "author"]
    report: dict[str, Any] = {"documents": 0, "passages": 0, "annotations": 0, "files_removed": 0}
    if not items or not store.exists("documents"):
        return report
    with store.lock("takedown purge"):
        flt = None
        if urls:
            flt = pc.field("url").isin(pa.array(urls, pa.string()))
        if authors:
            by_author = pc.field("author").isin(pa.array(authors, pa.string()))
            flt = by_author if flt is None else flt | by_author
        doc_ids = store.read("documents", columns=["doc_id"], filter=flt).column("doc_id").to_pylist()
        if doc_ids:
            ids = _sql_list(doc_ids)
            for table in ("documents", "passages", "annotations"):
                if store.exists(table):
                    result = store.table(table).delete(f"doc_id IN ({ids})")
                    report[table] = int(result.get("num_deleted_rows", 0) or 0)
        for table in ("documents", "passages", "annotations"):
            if store.exists(table):
                dt = store.table(table)
                removed = dt.vacuum(retention_hours=0, dry_run=False, enforce_retention_duration=False, full=True)
                report["files_removed"] += len(removed)
                dt.create_checkpoint()
        now = datetime.now(UTC)
        for e in items:
            e["purged_at"] = now
        store.upsert("takedowns", pa.Table.from_pylist(items, schema=TAKEDOWNS), {"step": "takedown purge"})
    report["doc_ids"] = doc_ids
    return report
