"""Snapshots: immutable, citable folders of the dataset.

    snapshots/NAME/
      data/documents/part-00000.parquet ...   documents joined with their current labels
      data/passages/part-00000.parquet ...    passages with their labels and entities
      README.md        dataset card (Hugging Face YAML metadata + prose)
      croissant.json   Croissant 1.1 JSON-LD with responsible-AI fields
      manifest.json    table versions, code and model versions, counts, labels, diff
      SHA256SUMS       one line per file

A snapshot is built in a hidden temporary folder and renamed into place only when complete, so
a half-written snapshot never exists under its name; its files are then made read-only.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable, Iterator

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .privacy import mask_contacts, pseudonym_key, pseudonymise
from .schema import TS, UTC
from .store import Store, StoreError

SNAPSHOTS = "snapshots"
SNAPSHOT_TABLES = ("documents", "passages")
DEFAULT_MAX_FILE_MB = 64.0
AXES = ("release", "moderation", "sentiment")

SNAPSHOT_DOCUMENTS = pa.schema(
    [
        ("doc_id", pa.string()), ("source", pa.string()), ("platform", pa.string()), ("kind", pa.string()),
        ("url", pa.string()), ("thread_id", pa.string()), ("parent_id", pa.string()), ("depth", pa.int32()),
        ("title", pa.string()), ("text", pa.string()), ("author", pa.string()), ("published_at", TS),
        ("language", pa.string()), ("score", pa.int64()), ("deleted", pa.bool_()),
        ("duplicate_of", pa.string()), ("duplicate_kind", pa.string()),
        ("release", pa.string()), ("release_prob", pa.float32()),
        ("moderation", pa.string()), ("moderation_prob", pa.float32()),
        ("topics", pa.list_(pa.string())), ("sentiment", pa.string()), ("sentiment_prob", pa.float32()),
        ("entities", pa.list_(pa.string())), ("model_version", pa.string()),
    ]
)
SNAPSHOT_PASSAGES = pa.schema(
    [
        ("passage_id", pa.string()), ("doc_id", pa.string()), ("seq", pa.int32()),
        ("start", pa.int32()), ("end", pa.int32()), ("text", pa.string()),
        ("release", pa.string()), ("release_prob", pa.float32()),
        ("moderation", pa.string()), ("moderation_prob", pa.float32()),
        ("topics", pa.list_(pa.string())), ("sentiment", pa.string()), ("sentiment_prob", pa.float32()),
        ("entities", pa.list_(pa.string())), ("model_version", pa.string()),
    ]
)
SNAPSHOT_SCHEMAS = {"documents": SNAPSHOT_DOCUMENTS, "passages": SNAPSHOT_PASSAGES}


class SnapshotError(StoreError):
    pass


# --------------------------------------------------------------------------- locations
def snapshots_dir(store: Store) -> Path:
    if not store.is_local:
        raise SnapshotError(
            f"snapshots are built on a local data root; {store.root} is remote. Create the snapshot from a "
            f"local copy, then `debatelake publish NAME --to s3://...`"
        )
    return Path(store.root) / SNAPSHOTS


def snapshot_path(store: Store, name: str) -> Path:
    return snapshots_dir(store) / name


def _check_name(name: str) -> None:
    if not name or name.startswith(".") or "/" in name or "\\" in name or name.strip() != name:
        raise SnapshotError(f"{name!r} is not a usable snapshot name: use letters, digits, dots, dashes, e.g. 2026-11")


def list_snapshots(store: Store) -> list[dict[str, Any]]:
    """Manifests of every complete snapshot, oldest first."""
    base = snapshots_dir(store)
    out = []
    if base.is_dir():
        for d in base.iterdir():
            m = d / "manifest.json"
            if d.is_dir() and not d.name.startswith(".") and m.is_file():
                out.append(json.loads(m.read_text("utf-8")))
    return sorted(out, key=lambda m: m["created_at"])


def read_snapshot_table(store: Store, name: str, table: str, columns: Iterable[str] | None = None) -> pa.Table:
    if table not in SNAPSHOT_TABLES:
        raise SnapshotError(f"snapshots hold the tables {', '.join(SNAPSHOT_TABLES)}, not {table!r}")
    folder = snapshot_path(store, name) / "data" / table
    if not folder.is_dir():
        known = ", ".join(m["name"] for m in list_snapshots(store)) or "none yet"
        raise SnapshotError(f"no snapshot {name!r} under {snapshots_dir(store)} (snapshots: {known})")
    files = sorted(str(p) for p in folder.glob("*.parquet"))
    if not files:
        return SNAPSHOT_SCHEMAS[table].empty_table()
    return pq.read_table(files, columns=list(columns) if columns else None, schema=SNAPSHOT_SCHEMAS[table],
                         use_threads=False)


# --------------------------------------------------------------------------- writing
class ShardedParquetWriter:
    """Writes record batches to part-00000.parquet, part-00001.parquet, ... keeping each file under
    `max_bytes` (so no published file is unwieldy).

    Before each row group it predicts the file's size: bytes written so far, the next rows at the
    compressed size measured on the rows already written, and the footer (which grows with every
    row group and is written only at close). A new file starts when the next row would not fit."""

    MAX_ROWS_PER_GROUP = 1000

    def __init__(self, folder: Path, schema: pa.Schema, max_bytes: int):
        self.folder, self.schema, self.max_bytes = folder, schema, max_bytes
        folder.mkdir(parents=True, exist_ok=True)
        self.files: list[Path] = []
        self.rows = 0
        self._writer: pq.ParquetWriter | None = None
        self._sink: pa.NativeFile | None = None
        self._groups = 0  # row groups in the open file
        self._row_bytes: float | None = None  # compressed bytes per row, measured
        self._footer_per_group = 400.0 * len(schema)  # refined from each closed file

    def _open(self) -> pq.ParquetWriter:
        path = self.folder / f"part-{len(self.files):05d}.parquet"
        self.files.append(path)
        self._sink = pa.OSFile(str(path), "wb")
        self._writer = pq.ParquetWriter(self._sink, self.schema, compression="zstd")
        self._groups = 0
        return self._writer

    def write(self, table: pa.Table) -> None:
        offset = 0
        while offset < table.num_rows:
            writer = self._writer or self._open()
            per_row = self._row_bytes or max(1.0, table.nbytes / table.num_rows)  # in memory: an overestimate
            room = self.max_bytes - self._sink.tell() - self._footer_per_group * (self._groups + 1)
            if self._groups and room < per_row:
                self.close()
                continue
            # at most a quarter of a file per row group, so a wrong guess overshoots by little
            n = int(max(1, min(room, self.max_bytes / 4) // per_row))
            n = min(n, self.MAX_ROWS_PER_GROUP, table.num_rows - offset)
            before = self._sink.tell()
            writer.write_table(table.slice(offset, n))
            self._groups += 1
            self._row_bytes = max(1.0, (self._sink.tell() - before) / n)
            offset += n
            self.rows += n

    def close(self) -> None:
        if self._writer is not None:
            before = self._sink.tell()
            self._writer.close()
            self._sink.close()
            footer = self.files[-1].stat().st_size - before
            if self._groups:  # includes the fixed part of the footer: errs on the small side
                self._footer_per_group = footer / self._groups
            self._writer = self._sink = None

    def finish(self) -> list[Path]:
        self.close()
        if not self.files:  # an empty table is still a readable, typed file
            pq.write_table(self.schema.empty_table(), self.folder / "part-00000.parquet", compression="zstd")
            self.files.append(self.folder / "part-00000.parquet")
        return self.files


@dataclass
class Takedowns:
    urls: set[str]
    authors: set[str]

    @classmethod
    def load(cls, store: Store) -> "Takedowns":
        urls: set[str] = set()
        authors: set[str] = set()
        if store.exists("takedowns"):
            for row in store.read("takedowns").to_pylist():
                (urls if row["kind"] == "url" else authors).add(row["value"])
        return cls(urls, authors)

    def blocks(self, url: str | None, author: str | None, pseudonym: str | None = None) -> bool:
        """A URL or an author on the list; the author may be listed as crawled or by the pseudonym
        a published snapshot shows (what a removal request will quote)."""
        return ((url is not None and url in self.urls) or (author is not None and author in self.authors)
                or (pseudonym is not None and pseudonym in self.authors))


def current_model_version(store: Store) -> str | None:
    """The model version whose labels a snapshot publishes: <root>/models/CURRENT, else the
    newest version found in the annotations table."""
    if store.is_local:
        pointer = Path(store.root) / "models" / "CURRENT"
        if pointer.is_file():
            return pointer.read_text("utf-8").strip() or None
    if not store.exists("annotations"):
        return None
    t = store.read("annotations", columns=["model_version", "labelled_at"])
    if t.num_rows == 0:
        return None
    idx = pc.index(t.column("labelled_at"), pc.max(t.column("labelled_at"))).as_py()
    return t.column("model_version")[max(idx, 0)].as_py()


def _labels_for(store: Store, version: int | None, model_version: str | None, level: str,
                key: str, ids: list[str]) -> dict[str, dict[str, Any]]:
    if model_version is None or version is None or not ids:
        return {}
    flt = (pc.field(key).isin(pa.array(ids, pa.string())) & (pc.field("model_version") == model_version)
           & (pc.field("level") == level))
    cols = [key, "release", "release_prob", "moderation", "moderation_prob", "topics", "sentiment",
            "sentiment_prob", "entities", "duplicate_of", "duplicate_kind", "language"]
    rows = store.read("annotations", version=version, columns=cols, filter=flt).to_pylist()
    return {r[key]: r for r in rows}


def _entity_ids(entities: list[dict[str, Any]] | None) -> list[str]:
    seen: dict[str, None] = {}
    for e in entities or []:
        if e and e.get("id"):
            seen.setdefault(e["id"], None)
    return list(seen)


def _document_rows(store: Store, versions: dict[str, int | None], model_version: str | None, key: bytes,
                   takedowns: Takedowns, kept_ids: dict[str, str]) -> Iterator[pa.Table]:
    """Snapshot rows of the documents; fills kept_ids with {doc_id: content_hash} of the published
    documents that have text (whose passages may be published)."""
    cols = ["doc_id", "source", "platform", "kind", "url", "thread_id", "parent_id", "depth", "title", "text",
            "author", "published_at", "language", "score", "deleted", "content_hash"]
    for batch in store.iter_batches("documents", columns=cols, version=versions["documents"]):
        rows = batch.to_pylist()
        labels = _labels_for(store, versions.get("annotations"), model_version, "document", "doc_id",
                             [r["doc_id"] for r in rows])
        out = []
        for r in rows:
            pseudonym = pseudonymise(r["author"], r["platform"], key)
            if takedowns.blocks(r["url"], r["author"], pseudonym):
                continue
            # A tombstone keeps its place in the thread and nothing of the text it had: no
            # passages, no labels or entities computed from that text.
            lab = {} if r["deleted"] else labels.get(r["doc_id"], {})
            if not r["deleted"]:
                kept_ids[r["doc_id"]] = r.pop("content_hash")
            r.pop("content_hash", None)
            out.append({
                **r,
                "title": mask_contacts(r["title"]),
                "text": None if r["deleted"] else mask_contacts(r["text"]),
                "author": pseudonym,
                "language": lab.get("language") or r["language"],
                "duplicate_of": lab.get("duplicate_of"), "duplicate_kind": lab.get("duplicate_kind"),
                **{k: lab.get(k) for k in ("release", "release_prob", "moderation", "moderation_prob",
                                             "sentiment", "sentiment_prob")},
                "topics": lab.get("topics") or [],
                "entities": _entity_ids(lab.get("entities")),
                "model_version": model_version if lab else None,
            })
        yield pa.Table.from_pylist(out, schema=SNAPSHOT_DOCUMENTS)


def _passage_rows(store: Store, versions: dict[str, int | None], model_version: str | None,
                  kept_ids: dict[str, str]) -> Iterator[pa.Table]:
    if versions.get("passages") is None:
        return
    for batch in store.iter_batches("passages", version=versions["passages"],
                                    columns=["passage_id", "doc_id", "seq", "start", "end", "text", "content_hash"]):
        # Only passages cut from the text the document has now: those of an edited or deleted
        # text would publish what its author took back.
        rows = [r for r in batch.to_pylist() if r["doc_id"] in kept_ids
                and (r.pop("content_hash") or kept_ids[r["doc_id"]]) == kept_ids[r["doc_id"]]]
        labels = _labels_for(store, versions.get("annotations"), model_version, "passage", "passage_id",
                             [r["passage_id"] for r in rows])
        out = []
        for r in rows:
            lab = labels.get(r["passage_id"], {})
            out.append({
                **r, "text": mask_contacts(r["text"]),
                **{k: lab.get(k) for k in ("release", "release_prob", "moderation", "moderation_prob",
                                             "sentiment", "sentiment_prob")},
                "topics": lab.get("topics") or [], "entities": _entity_ids(lab.get("entities")),
                "model_version": model_version if lab else None,
            })
        yield pa.Table.from_pylist(out, schema=SNAPSHOT_PASSAGES)


# --------------------------------------------------------------------------- statistics
def _summary(table: pa.Table) -> dict[str, Any]:
    rows = table.select(["doc_id", "source", "platform", "kind", "release", "moderation", "sentiment",
                         "topics", "published_at", "language", "deleted"]).to_pylist()
    per_source = Counter(f"{r['source']}/{r['kind']}" for r in rows)
    labels = {axis: dict(Counter(r[axis] for r in rows if r[axis] is not None and not r["deleted"]))
              for axis in AXES}
    labels["topics"] = dict(Counter(t for r in rows for t in (r["topics"] or [])))
    dates = [r["published_at"] for r in rows if r["published_at"] is not None]
    return {
        "documents": len(rows),
        "by_source_and_kind": dict(sorted(per_source.items())),
        "by_platform": dict(Counter(r["platform"] for r in rows)),
        "languages": dict(Counter(r["language"] or "unknown" for r in rows)),
        "tombstones": sum(1 for r in rows if r["deleted"]),
        "labelled": sum(1 for r in rows if r["release"] is not None),
        "label_distribution": labels,
        "first_published": min(dates).isoformat() if dates else None,
        "last_published": max(dates).isoformat() if dates else None,
    }


def _shares(dist: dict[str, int]) -> dict[str, float]:
    total = sum(dist.values())
    return {k: round(v / total, 4) for k, v in sorted(dist.items())} if total else {}


def _diff(previous: dict[str, Any] | None, prev_table: pa.Table | None, table: pa.Table,
          summary: dict[str, Any]) -> dict[str, Any] | None:
    if previous is None or prev_table is None:
        return None
    def keyed(t: pa.Table) -> dict[str, tuple]:
        cols = t.select(["doc_id", "release", "moderation", "sentiment", "topics"]).to_pylist()
        return {r["doc_id"]: (r["release"], r["moderation"], r["sentiment"], tuple(sorted(r["topics"] or [])))
                for r in cols}
    before, now = keyed(prev_table), keyed(table)
    added = sorted(set(now) - set(before))
    removed = sorted(set(before) - set(now))
    relabelled = sorted(d for d in set(now) & set(before) if now[d] != before[d])
    prev_dist = previous.get("summary", {}).get("label_distribution", {})
    return {
        "previous": previous["name"],
        "documents_added": len(added), "documents_removed": len(removed), "documents_relabelled": len(relabelled),
        "examples": {"added": added[:20], "removed": removed[:20], "relabelled": relabelled[:20]},
        "label_shares": {
            axis: {"then": _shares(prev_dist.get(axis, {})), "now": _shares(summary["label_distribution"].get(axis, {}))}
            for axis in (*AXES, "topics")
        },
    }


def code_version() -> str:
    from pipeline import __version__

    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                cwd=Path(__file__).resolve().parent, timeout=5)
        if commit.returncode == 0 and commit.stdout.strip():
            return f"{__version__}+g{commit.stdout.strip()}"
    except (OSError, subprocess.SubprocessError):
        pass
    return __version__


EVALUATION_FILE = "evaluation.json"  # in a model's folder, written by `debatelake evaluate`


def model_evaluation(store: Store, model_version: str | None) -> dict[str, Any] | None:
    """Evaluation figures kept with the model: evaluation.json / metrics.json as they are, else the
    cross-validation figures `debatelake train` writes in meta.json (only those: the rest of meta.json,
    parameters and local file paths, is not for publishing)."""
    if not model_version or not store.is_local:
        return None
    folder = Path(store.root) / "models" / model_version
    for name in (EVALUATION_FILE, "metrics.json", "meta.json"):
        f = folder / name
        if f.is_file():
            try:
                data = json.loads(f.read_text("utf-8"))
            except ValueError:
                return None
            if name != "meta.json":
                return data
            cv = data.get("cv") if isinstance(data, dict) else None
            if not isinstance(cv, dict):
                return None
            figures = {axis: cv[axis] for axis in ("release", "moderation", "topics", "tone") if isinstance(cv.get(axis), dict)}
            if not figures:
                return None
            return {"gold": f"{cv.get('folds', '?')}-fold cross-validation on the training set "
                            f"({cv.get('rows', data.get('rows', '?'))} passages)", **figures}
    return None


# --------------------------------------------------------------------------- create / verify
def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def create_snapshot(store: Store, name: str, *, privacy: dict[str, Any] | None = None,
                    publish: dict[str, Any] | None = None, max_file_mb: float | None = None,
                    description: str | None = None) -> dict[str, Any]:
    """Freeze the current table versions into snapshots/NAME. Returns the manifest."""
    from . import cards

    _check_name(name)
    publish = publish or {}
    final = snapshot_path(store, name)
    if final.exists():
        raise SnapshotError(f"snapshot {name!r} already exists at {final}; snapshots are immutable, pick a new name")
    if not store.exists("documents"):
        raise SnapshotError("there are no documents to snapshot yet: run `debatelake crawl` or `debatelake demo` first")
    key = pseudonym_key(privacy)  # before any work: never publish raw names
    max_bytes = int((max_file_mb or publish.get("max_file_mb") or DEFAULT_MAX_FILE_MB) * 1024 * 1024)

    versions = {t: store.version(t) for t in ("documents", "passages", "annotations", "takedowns")}
    model_version = current_model_version(store)
    takedowns = Takedowns.load(store)
    previous = (list_snapshots(store) or [None])[-1]

    base = snapshots_dir(store)
    tmp = base / f".{name}.building-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    try:
        kept: dict[str, str] = {}
        files: dict[str, list[Path]] = {}
        doc_writer = ShardedParquetWriter(tmp / "data" / "documents", SNAPSHOT_DOCUMENTS, max_bytes)
        for part in _document_rows(store, versions, model_version, key, takedowns, kept):
            doc_writer.write(part)
        files["documents"] = doc_writer.finish()
        p_writer = ShardedParquetWriter(tmp / "data" / "passages", SNAPSHOT_PASSAGES, max_bytes)
        for part in _passage_rows(store, versions, model_version, kept):
            p_writer.write(part)
        files["passages"] = p_writer.finish()

        docs = pq.read_table([str(p) for p in files["documents"]], schema=SNAPSHOT_DOCUMENTS, use_threads=False)
        summary = _summary(docs)
        prev_docs = read_snapshot_table(store, previous["name"], "documents") if previous else None
        manifest: dict[str, Any] = {
            "name": name,
            "created_at": datetime.now(UTC).isoformat(),
            "description": description or publish.get("description"),
            "data_root": store.root,
            "table_versions": versions,
            "code_version": code_version(),
            "model_version": model_version,
            "rows": {"documents": doc_writer.rows, "passages": p_writer.rows},
            "summary": summary,
            "evaluation": model_evaluation(store, model_version),
            "privacy": {"authors": "pseudonymised (HMAC-SHA256, keyed)", "contacts": "e-mail and phone masked",
                        "key_id": pseudonymise("debatelake-key-check", "key", key),
                        "takedowns": {"urls": len(takedowns.urls), "authors": len(takedowns.authors)}},
            "files": {t: [str(p.relative_to(tmp)) for p in ps] for t, ps in files.items()},
            "diff": _diff(previous, prev_docs, docs, summary),
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str) + "\n", "utf-8")
        (tmp / "README.md").write_text(cards.dataset_card(manifest, publish), "utf-8")
        (tmp / "croissant.json").write_text(
            json.dumps(cards.croissant(manifest, tmp, publish), indent=2) + "\n", "utf-8")
        write_checksums(tmp)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.rename(tmp, final)  # atomic on one filesystem: the snapshot appears whole or not at all
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _make_read_only(final)
    return manifest


def write_checksums(folder: Path) -> None:
    lines = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != "SHA256SUMS"):
        lines.append(f"{sha256_file(path)}  {path.relative_to(folder).as_posix()}")
    (folder / "SHA256SUMS").write_text("\n".join(lines) + "\n", "utf-8")


def read_checksums(folder: Path) -> dict[str, str]:
    sums = folder / "SHA256SUMS"
    if not sums.is_file():
        raise SnapshotError(f"{sums} is missing: this folder is not a complete snapshot")
    out = {}
    for i, line in enumerate(sums.read_text("utf-8").splitlines(), 1):
        if line.strip():
            digest, _, rel = line.partition("  ")
            if len(digest) != 64 or not rel:
                raise SnapshotError(f"{sums}:{i}: malformed line {line!r}")
            out[rel] = digest
    return out


def verify_folder(folder: Path) -> list[str]:
    """Problems found, one line each (empty: every checksum matches and no file is extra)."""
    expected = read_checksums(folder)
    problems = []
    for rel, digest in expected.items():
        path = folder / rel
        if not path.is_file():
            problems.append(f"missing: {rel}")
        elif sha256_file(path) != digest:
            problems.append(f"checksum differs: {rel}")
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != "SHA256SUMS"):
        rel = path.relative_to(folder).as_posix()
        if rel not in expected:
            problems.append(f"not in SHA256SUMS: {rel}")
    return problems


def verify_snapshot(store: Store, name: str) -> list[str]:
    folder = snapshot_path(store, name)
    if not folder.is_dir():
        known = ", ".join(m["name"] for m in list_snapshots(store)) or "none yet"
        raise SnapshotError(f"no snapshot {name!r} under {snapshots_dir(store)} (snapshots: {known})")
    return verify_folder(folder)


def _make_read_only(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            path.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
