"""The dataset store: Delta Lake tables under one data root.

All reads go through `Store.read` (see `_scan`): reading with `to_pyarrow_table()` or a threaded
dataset scan can abort the interpreter at exit (a known Arrow/delta-rs shutdown race, see
DESIGN.md), so the single-threaded scan below is the only way this project reads a table.
"""
from __future__ import annotations

import fcntl
import gc
import json
import os
import re
import sys
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads

from .schema import DOCUMENTS, KEYS, RUNS, TABLES, UTC, Document, deleted_by_author, documents_table

DEFAULT_ROOT = "datasets"
ENV_ROOT = "DEBATELAKE_ROOT"


class StoreError(RuntimeError):
    """A problem with the data root that the user must fix (message says how)."""


def resolve_root(root: str | os.PathLike[str] | None = None) -> str:
    """--root beats $DEBATELAKE_ROOT beats ./datasets."""
    value = str(root) if root else os.environ.get(ENV_ROOT) or DEFAULT_ROOT
    if "://" in value:
        return value.rstrip("/")
    return str(Path(value).expanduser().resolve())


def _writer_properties():
    from deltalake import WriterProperties

    # ZSTD: about a third smaller than snappy on this data (DESIGN.md, measured facts).
    return WriterProperties(compression="ZSTD")


def _commit(metadata: dict[str, Any] | None):
    from deltalake import CommitProperties

    meta = {k: v if isinstance(v, str) else json.dumps(v) for k, v in (metadata or {}).items()}
    return CommitProperties(custom_metadata=meta)


@dataclass
class MergeCounts:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    kept_deleted: int = 0  # of the unchanged: deleted by their authors, found with text again

    def __iadd__(self, other: "MergeCounts") -> "MergeCounts":
        self.new += other.new
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.kept_deleted += other.kept_deleted
        return self


class Store:
    def __init__(self, root: str | os.PathLike[str] | None = None, storage_options: dict[str, str] | None = None):
        self.root = resolve_root(root)
        self.storage_options = storage_options
        self.is_local = "://" not in self.root

    # ----------------------------------------------------------------- paths and tables
    def path(self, name: str) -> str:
        return f"{self.root}/{name}"

    def exists(self, name: str) -> bool:
        from deltalake import DeltaTable

        if self.is_local:
            return (Path(self.path(name)) / "_delta_log").is_dir()
        return DeltaTable.is_deltatable(self.path(name), storage_options=self.storage_options)

    def table(self, name: str, version: int | None = None, as_of: datetime | str | None = None):
        from deltalake import DeltaTable

        if not self.exists(name):
            raise StoreError(
                f"no table {name!r} under {self.root}: run `debatelake crawl` (or `debatelake demo`) first"
            )
        dt = DeltaTable(self.path(name), storage_options=self.storage_options)
        if version is not None or as_of is not None:
            target: int | str | datetime = version if version is not None else as_of  # type: ignore[assignment]
            if isinstance(target, datetime) and target.tzinfo is None:
                target = target.replace(tzinfo=UTC)
            try:
                dt.load_as_version(target)
            except Exception as exc:  # delta-rs raises several types here
                raise StoreError(f"table {name!r} has no version {target!r}: {exc}") from exc
            if isinstance(target, (datetime, str)):  # delta-rs falls back to version 0 before the first commit
                first = min(h["timestamp"] for h in dt.history())
                when = target if isinstance(target, datetime) else datetime.fromisoformat(target)
                if when.tzinfo is None:
                    when = when.replace(tzinfo=UTC)
                if when.timestamp() * 1000 < first:
                    raise StoreError(f"table {name!r} has no version as of {when.isoformat()}: its first commit is "
                                     f"{datetime.fromtimestamp(first / 1000, UTC).isoformat()}")
        return dt

    def version(self, name: str) -> int | None:
        return self.table(name).version() if self.exists(name) else None

    def tables(self) -> list[str]:
        return [n for n in TABLES if self.exists(n)]

    # ----------------------------------------------------------------- reading
    def read(
        self,
        name: str,
        *,
        version: int | None = None,
        as_of: datetime | str | None = None,
        columns: Sequence[str] | None = None,
        filter: pc.Expression | None = None,
    ) -> pa.Table:
        """The one way to read a table (single-threaded scan: see the module docstring)."""
        dt = self.table(name, version=version, as_of=as_of)
        return _scan(dt.to_pyarrow_dataset(), columns=columns, filter=filter)

    def iter_batches(
        self, name: str, *, columns: Sequence[str] | None = None, filter: pc.Expression | None = None,
        batch_size: int = 2048, version: int | None = None,
    ) -> Iterator[pa.RecordBatch]:
        """Stream a table batch by batch, never holding it whole (processing, snapshots)."""
        if not self.exists(name):
            return
        ds = self.table(name, version=version).to_pyarrow_dataset()
        yield from _batches(ds, columns=columns, filter=filter, batch_size=batch_size)

    def count(self, name: str, version: int | None = None) -> int:
        if not self.exists(name):
            return 0
        return self.table(name, version=version).to_pyarrow_dataset().count_rows(use_threads=False)

    def history(self, name: str) -> list[dict[str, Any]]:
        return self.table(name).history()

    # ----------------------------------------------------------------- writing
    def append(self, name: str, data: pa.Table, metadata: dict[str, Any] | None = None) -> None:
        from deltalake import write_deltalake

        data = data.cast(TABLES[name]) if data.schema != TABLES[name] else data
        write_deltalake(
            self.path(name), data, mode="append", storage_options=self.storage_options,
            writer_properties=_writer_properties(), commit_properties=_commit(metadata),
        )

    def upsert(self, name: str, data: pa.Table, metadata: dict[str, Any] | None = None) -> None:
        """Insert new rows and replace rows whose key exists, in one commit."""
        if data.num_rows == 0:
            return
        data = data.cast(TABLES[name]) if data.schema != TABLES[name] else data
        if not self.exists(name):
            self.append(name, data, metadata)
            return
        keys = KEYS[name]
        predicate = " AND ".join(f"t.{k} = s.{k}" for k in keys)
        (
            self.table(name)
            .merge(data, predicate=predicate, source_alias="s", target_alias="t",
                   writer_properties=_writer_properties(), commit_properties=_commit(metadata))
            .when_matched_update_all()
            .when_not_matched_insert_all()
            .execute()
        )

    def merge_documents(self, docs: Iterable[Document], metadata: dict[str, Any] | None = None) -> MergeCounts:
        """Merge crawled documents on doc_id. Unchanged documents (same content_hash) write
        nothing; if the whole batch is unchanged no table version is created. A document its
        author deleted stays a tombstone when a crawl finds its text again
        (`schema.deleted_by_author`); it counts as unchanged and in `kept_deleted`."""
        latest: dict[str, Document] = {}
        for d in docs:
            latest[d.doc_id] = d  # within one batch the last fetch wins
        counts = MergeCounts()
        if not latest:
            return counts
        known: dict[str, str] = {}
        final: set[str] = set()  # deleted by their authors
        if self.exists("documents"):
            ids = pa.array(list(latest), pa.string())
            seen = self.read("documents", columns=["doc_id", "content_hash", "deleted"],
                             filter=pc.field("doc_id").isin(ids))
            known = dict(zip(seen.column("doc_id").to_pylist(), seen.column("content_hash").to_pylist()))
            gone = pc.filter(seen.column("doc_id"), seen.column("deleted")).to_pylist()
            if gone:  # rare: only tombstones need their raw fields, to tell who deleted them
                why = self.read("documents", columns=["doc_id", "deleted", "raw"], filter=pc.field("doc_id").isin(gone))
                cols = (why.column(c).to_pylist() for c in ("doc_id", "deleted", "raw"))
                final = {doc_id for doc_id, deleted, raw in zip(*cols) if deleted_by_author(deleted, raw)}
        changed: list[Document] = []
        for doc_id, d in latest.items():
            if doc_id not in known:
                counts.new += 1
                changed.append(d)
            elif doc_id in final and not d.deleted:
                counts.unchanged += 1
                counts.kept_deleted += 1
            elif known[doc_id] != d.content_hash:
                counts.updated += 1
                changed.append(d)
            else:
                counts.unchanged += 1
        if changed:
            meta = {"new": counts.new, "updated": counts.updated, **(metadata or {})}
            self.upsert("documents", documents_table(changed), meta)
        return counts

    # ----------------------------------------------------------------- runs
    def start_run(self, command: str, source: str | None = None, run_id: str | None = None) -> str:
        run_id = run_id or new_run_id(command)
        self.upsert("runs", pa.Table.from_pylist([{
            "run_id": run_id, "command": command, "source": source,
            "started_at": datetime.now(UTC), "status": "running",
        }], schema=RUNS), {"run_id": run_id, "step": f"{command} start"})
        return run_id

    def finish_run(self, run_id: str, status: str, **stats: Any) -> None:
        current = self.read("runs", filter=pc.field("run_id") == run_id).to_pylist()
        row = current[0] if current else {"run_id": run_id}
        row.update({"ended_at": datetime.now(UTC), "status": status})
        for key, value in stats.items():
            if key == "responses" and isinstance(value, dict):
                value = [(str(k), int(v)) for k, v in value.items()]
            if key == "stats" and isinstance(value, dict):
                value = [(str(k), str(v)) for k, v in value.items()]
            row[key] = value
        self.upsert("runs", pa.Table.from_pylist([row], schema=RUNS), {"run_id": run_id, "step": f"{row.get('command')} end"})

    def mark_stale_runs(self) -> int:
        """Runs still 'running' when nobody holds the lock were killed: say so."""
        if not self.exists("runs"):
            return 0
        stale = self.read("runs", filter=pc.field("status") == "running").to_pylist()
        for row in stale:
            row["status"] = "aborted"
            if isinstance(row.get("responses"), dict):
                row["responses"] = list(row["responses"].items())
        if stale:
            self.upsert("runs", pa.Table.from_pylist(stale, schema=RUNS), {"step": "mark aborted runs"})
        return len(stale)

    # ----------------------------------------------------------------- locking
    @contextmanager
    def lock(self, what: str = "write", wait: float = 0.0, shared: bool = False) -> Iterator[None]:
        """One writer per data root at a time (a crawl, a process run, a snapshot). shared=True:
        held by several crawl workers of one shared frontier at once (crawler/frontier.py), which
        still keeps every other writer out."""
        if not self.is_local:
            yield  # object stores: delta-rs commits are atomic; coordinate writers outside
            return
        Path(self.root).mkdir(parents=True, exist_ok=True)
        path = Path(self.root) / ".lock"
        fh = open(path, "a+")
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fh, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    fh.seek(0)
                    holder = fh.read().strip() or "another process"
                    fh.close()
                    raise StoreError(
                        f"the data root {self.root} is busy ({holder}); wait for it to finish or "
                        f"use another --root"
                    ) from None
                time.sleep(0.2)
        try:
            fh.seek(0)
            fh.truncate()
            fh.write(f"{what} by pid {os.getpid()} since {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC\n")
            fh.flush()
            yield
        finally:
            if not shared:  # other shared holders may still be at work: their line stays
                fh.seek(0)
                fh.truncate()
            fcntl.flock(fh, fcntl.LOCK_UN)
            fh.close()


def _scan(dataset: pads.Dataset, columns: Sequence[str] | None = None, filter: pc.Expression | None = None) -> pa.Table:
    if filter is None:
        return dataset.to_table(columns=list(columns) if columns else None, use_threads=False)
    batches = list(_batches(dataset, columns, filter))
    return pa.Table.from_batches(batches, schema=None if batches else _project(dataset.schema, columns))


def _project(schema: pa.Schema, columns: Sequence[str] | None) -> pa.Schema:
    return pa.schema([schema.field(c) for c in columns]) if columns else schema


def _batches(dataset: pads.Dataset, columns: Sequence[str] | None = None, filter: pc.Expression | None = None,
             batch_size: int = 65536) -> Iterator[pa.RecordBatch]:
    """Single-threaded batches; a filter is applied to each batch after reading, never pushed down.

    Files that delta-rs merges write keep string columns as string_view, and pyarrow cannot compare
    string_view statistics when it pushes a string filter down to the Parquet files ("Function
    'greater_equal' has no kernel matching input types (string, string_view)"; delta-rs #4579).
    Once read, the batches have the table's string type and filter fine in memory."""
    cols = list(columns) if columns else None
    if filter is None:
        yield from dataset.to_batches(columns=cols, batch_size=batch_size, use_threads=False)
        return
    needed = cols
    if cols is not None:  # the filter's own columns too: pyarrow prints field references as bare names
        text = str(filter)
        needed = cols + [n for n in dataset.schema.names
                         if n not in cols and re.search(rf"(?<![\w.]){re.escape(n)}(?!\w)", text)]
    for batch in dataset.to_batches(columns=needed, batch_size=batch_size, use_threads=False):
        kept = pads.dataset(pa.Table.from_batches([batch])).to_table(columns=cols, filter=filter, use_threads=False)
        yield from kept.to_batches()


def new_run_id(command: str) -> str:
    return f"{command}-{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"


def load(
    table: str = "documents",
    root: str | os.PathLike[str] | None = None,
    version: int | None = None,
    as_of: datetime | str | None = None,
    snapshot: str | None = None,
    columns: Sequence[str] | None = None,
):
    """Load a debatelake table as a pandas DataFrame.

    >>> from pipeline import load
    >>> docs = load("documents")                 # latest version
    >>> old = load("documents", version=3)       # time travel
    """
    store = Store(root)
    try:
        if snapshot is not None:
            from .snapshots import read_snapshot_table  # lazily: snapshots are optional reading

            return read_snapshot_table(store, snapshot, table, columns=columns).to_pandas()
        if table not in TABLES:
            raise StoreError(f"unknown table {table!r}; tables are: {', '.join(TABLES)}")
        return store.read(table, version=version, as_of=as_of, columns=columns).to_pandas()
    finally:
        # Arrow scanner objects caught in reference cycles would otherwise be freed only by the
        # interpreter's last collection, after Arrow's C++ runtime is gone: their threads then
        # abort the process ("terminate called without an active exception", exit 134) although
        # every read succeeded. Collect now, while Arrow is alive.
        del store
        gc.collect()


def exit_without_teardown(code: int) -> None:
    """Leave the process once its work is committed and its output flushed, skipping the
    interpreter's teardown: delta-rs / Arrow can abort in their C++ destructors at exit
    (SIGABRT, "terminate called without an active exception"; DESIGN.md) after a run that did
    everything right, which would turn a good run into exit code 134 at random."""
    import logging

    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)
