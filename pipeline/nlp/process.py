"""`debatelake process`: label every document that has no labels for the current model version.

    from pipeline.nlp.process import process
    report = process(root)          # -> ProcessReport (run id, counts, duplicates, languages ...)

The documents to do are an anti-join of `documents` with the document-level rows of
`annotations` for the current model version, on (doc_id, content_hash): a document whose
content changed since it was labelled counts as unlabelled. They stream from the table in
record batches (never the whole table) through the steps, which are plain functions over one
batch (`DocumentProcessor`), run in this process or in worker processes (`executor.py`):

    clean -> language -> passages -> entities -> hashes and MinHash -> labels (Labeler)

The main process then decides duplicates in document order against every document seen before
(`dedup.DedupIndex`, rebuilt from the `dedup` table) and writes `dedup`, `passages` and
`annotations` once per batch of `batch_size` documents. `documents` is only read. Every
document gets a document-level annotation row, and a `reason` when it has no real labels
(tombstone, empty, binary, no words, a language not labelled, ...). A second run with nothing
to do writes nothing at all, not even a run row.
"""
from __future__ import annotations

import hashlib
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.config import Config, ConfigError, load_config
from pipeline.schema import ANNOTATIONS, PASSAGES, UTC
from pipeline.store import Store, StoreError

from .clean import clean_text, is_binary
from .dedup import DedupIndex, DedupItem, MinHasher, text_hash
from .executor import default_workers, fewer_collections, make_executor
from .language import DEFAULT_PREFIX, UNDETERMINED, LanguageDetector
from .passages import passage_spans
from .words import TokenBatch

DOC_COLUMNS = ["doc_id", "kind", "title", "text", "deleted", "content_hash"]
# What some platforms leave in place of a removed post's text.
TOMBSTONE_TEXTS = frozenset({"[deleted]", "[removed]", "[deleted by user]", "[removed by reddit]", "[dead]",
                             "[flagged]", "(deleted)", "(removed)"})
NONE_LABELS: dict[str, Any] = {
    "release": "none", "release_prob": None, "moderation": "none", "moderation_prob": None,
    "topics": [], "topic_probs": None, "sentiment": None, "sentiment_prob": None, "evidence": [],
}


# ============================================================================ settings
@dataclass(frozen=True)
class ProcessSettings:
    """The `[process]` section of the config."""

    languages: tuple[str, ...] = ("en",)  # languages to label; "und" (undetermined) always is
    near_duplicate_threshold: float = 0.8
    batch_size: int = 2000  # documents per written batch (one commit per table)
    task_size: int = 250  # documents per task sent to a worker
    task_chars: int = 4_000_000  # ... or fewer, so that a task holds at most about this much text
    workers: int = 0  # 0: every core
    max_passage_chars: int = 1200
    language_prefix: int = DEFAULT_PREFIX  # characters read by language identification
    max_chars: int = 2_000_000  # longer texts are processed up to here, the rest is noted

    @classmethod
    def from_config(cls, section: dict[str, Any] | None, path: str | None = None) -> "ProcessSettings":
        defaults = cls()
        values: dict[str, Any] = {}
        for key, value in (section or {}).items():
            where = f"{path or 'config'}: process.{key}"
            if not hasattr(defaults, key):
                known = ", ".join(sorted(defaults.__dataclass_fields__))
                raise ConfigError(f"{where}: unknown setting; [process] takes: {known}")
            expected = type(getattr(defaults, key))
            if expected is tuple:
                if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
                    raise ConfigError(f"{where} must be a list of language codes, e.g. [\"en\"]")
                value = tuple(v.lower() for v in value)
            elif expected is float:
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise ConfigError(f"{where} must be a number, got {value!r}")
                value = float(value)
            elif isinstance(value, bool) or not isinstance(value, expected):
                raise ConfigError(f"{where} must be {expected.__name__}, got {type(value).__name__} {value!r}")
            values[key] = value
        settings = cls(**values)
        if not 0.0 < settings.near_duplicate_threshold <= 1.0:
            raise ConfigError(f"{path or 'config'}: process.near_duplicate_threshold must be in (0, 1]")
        for key in ("batch_size", "task_size", "task_chars", "max_passage_chars", "language_prefix", "max_chars"):
            if getattr(settings, key) < 1:
                raise ConfigError(f"{path or 'config'}: process.{key} must be >= 1")
        if settings.workers < 0:
            raise ConfigError(f"{path or 'config'}: process.workers must be >= 0 (0: every core)")
        return settings

    def labels(self, language: str | None) -> bool:
        return language == UNDETERMINED or language in self.languages


# ============================================================================ the labeler
def load_labeler(root: str):
    """The current model of the data root (raises ModelMissing when there is none)."""
    from .model import Labeler

    return Labeler.load(root)


def _labels_row(labels: Any, passage_id: str | None = None) -> dict[str, Any]:
    row = labels.to_row(passage_id) if passage_id is not None else labels.to_row()
    return {k: row.get(k, NONE_LABELS[k]) for k in NONE_LABELS}


# ============================================================================ worker side
@dataclass
class BatchResult:
    """What a worker sends back for one batch of documents (in input order)."""

    doc_ids: list[str]
    content_hashes: list[str]
    passages: pa.Table
    annotations: pa.Table  # duplicate columns still empty: the main process fills them
    dedup: list[DedupItem]
    reasons: Counter = field(default_factory=Counter)
    languages: Counter = field(default_factory=Counter)
    labelled_passages: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass
class _Doc:
    doc_id: str
    content_hash: str
    kind: str
    text: str = ""  # cleaned
    language: str | None = None
    reason: str | None = None
    note: str | None = None  # said on the document row even when it is labelled
    spans: list[tuple[int, int]] = field(default_factory=list)
    entities: list[list[dict]] = field(default_factory=list)
    labels: list[Any] = field(default_factory=list)


class DocumentProcessor:
    """The per-document steps; one instance per process, reused for every batch."""

    def __init__(self, settings: ProcessSettings, labeler: Any):
        from .entities import EntityMatcher

        self.settings = settings
        self.labeler = labeler
        self.detector = LanguageDetector(prefix=settings.language_prefix)
        self.matcher = EntityMatcher()
        self.hasher = MinHasher()

    # ------------------------------------------------------------ one document
    def prepare(self, doc_id: str, content_hash: str, kind: str | None, title: str | None, text: str | None,
                deleted: bool | None) -> tuple[_Doc, DedupItem]:
        doc = _Doc(doc_id, content_hash, kind or "post")
        item = DedupItem(doc_id, content_hash)
        if deleted:
            doc.reason = "deleted (tombstone)"
            return doc, item
        raw = text if text and text.strip() else (title or "")  # a title-only post: its title is its text
        if not raw.strip():
            doc.reason = "empty text"
            return doc, item
        if len(raw) > self.settings.max_chars:
            raw = raw[: self.settings.max_chars]
            doc.note = f"text longer than {self.settings.max_chars} characters: only the start was processed"
        if is_binary(raw):
            doc.reason = "binary or unreadable content"
            return doc, item
        cleaned = clean_text(raw)
        if not cleaned:
            doc.reason = "no text left after cleaning"
            return doc, item
        if cleaned.lower() in TOMBSTONE_TEXTS:
            doc.reason = "deleted (tombstone)"
            return doc, item
        doc.text = cleaned
        doc.language, _ = self.detector.detect(cleaned)
        doc.spans = passage_spans(cleaned, doc.kind, max_chars=self.settings.max_passage_chars)
        item.text_hash = text_hash(cleaned)
        item.signature = self.hasher.signature(cleaned)
        if doc.language is None:
            doc.reason = "no words to label (emoji, numbers or symbols only)"
        elif not self.settings.labels(doc.language):
            doc.reason = f"language {doc.language} not labelled"
        return doc, item

    # ------------------------------------------------------------ labels
    def _entities(self, docs: list[_Doc], tokens: Any, labelled: list[_Doc]) -> None:
        """Entities of every passage: those labelled share the labeller's tokens (which let
        the matcher skip passages that cannot hold an alias), the others are matched alone."""
        chosen = {id(d) for d in labelled}
        for group, toks in ((labelled, tokens), ([d for d in docs if d.spans and id(d) not in chosen], None)):
            texts = [d.text[s:e] for d in group for s, e in d.spans]
            if not texts:
                continue
            found = iter(self.matcher.find_many(texts, tokens=toks))
            for d in group:
                d.entities = [next(found) for _ in d.spans]

    def _label(self, docs: list[_Doc], errors: list[str]) -> int:
        todo = [d for d in docs if d.reason is None and d.spans]
        texts = [d.text[s:e] for d in todo for s, e in d.spans]
        tokens = TokenBatch.build(texts) if texts else None
        self._entities(docs, tokens, todo)
        if not texts:
            return 0
        try:
            flat = self.labeler.predict_passages(texts, tokens=tokens)
            if len(flat) != len(texts):
                raise RuntimeError(f"the labeler returned {len(flat)} labels for {len(texts)} passages")
        except Exception:
            flat = None  # find the document that breaks it; label the others
        pos = 0
        for d in todo:
            n = len(d.spans)
            if flat is not None:
                d.labels = list(flat[pos:pos + n])
                pos += n
                continue
            try:
                d.labels = list(self.labeler.predict_passages([d.text[s:e] for s, e in d.spans]))
            except Exception as exc:
                d.reason = f"labelling failed: {type(exc).__name__}: {exc}"[:300]
                errors.append(f"{d.doc_id}: {traceback.format_exc(limit=3)}")
        return sum(len(d.labels) for d in todo)

    # ------------------------------------------------------------ rows
    def _rows(self, d: _Doc, common: dict[str, Any], passages: list[dict], annotations: list[dict]) -> None:
        pids = [f"{d.doc_id}#{i}" for i in range(len(d.spans))]
        doc_entities: list[dict] = []
        for i, ((s, e), pid, ents) in enumerate(zip(d.spans, pids, d.entities)):
            passages.append({"passage_id": pid, "doc_id": d.doc_id, "seq": i, "start": s, "end": e,
                             "text": d.text[s:e], "content_hash": d.content_hash})
            labels = _labels_row(d.labels[i], pid) if d.labels else NONE_LABELS
            annotations.append({**common, **labels, "doc_id": d.doc_id, "passage_id": pid, "level": "passage",
                                "content_hash": d.content_hash, "language": d.language, "entities": ents,
                                "reason": d.reason})
            doc_entities.extend({**x, "start": x["start"] + s, "end": x["end"] + s} for x in ents)
        if d.labels:
            labels = _labels_row(self.labeler.aggregate(d.labels, pids))
        else:
            labels = NONE_LABELS
        annotations.append({**common, **labels, "doc_id": d.doc_id, "passage_id": d.doc_id, "level": "document",
                            "content_hash": d.content_hash, "language": d.language, "entities": doc_entities,
                            "reason": d.reason or d.note})

    def __call__(self, task: tuple[pa.RecordBatch | pa.Table, str | None, datetime, str]) -> BatchResult:
        batch, run_id, labelled_at, model_version = task
        cols = batch.to_pydict()
        docs: list[_Doc] = []
        items: list[DedupItem] = []
        for row in zip(*(cols[c] for c in ("doc_id", "content_hash", "kind", "title", "text", "deleted"))):
            doc, item = self.prepare(*row)
            docs.append(doc)
            items.append(item)
        errors: list[str] = []
        labelled = self._label(docs, errors)
        common = {"model_version": model_version, "labelled_at": labelled_at, "run_id": run_id,
                  "duplicate_of": None, "duplicate_kind": None}
        passages: list[dict] = []
        annotations: list[dict] = []
        for d in docs:
            self._rows(d, common, passages, annotations)
        reasons = Counter(_reason_kind(d.reason) for d in docs if d.reason)
        languages = Counter(d.language or "-" for d in docs if d.text)
        return BatchResult(
            doc_ids=[d.doc_id for d in docs], content_hashes=[d.content_hash for d in docs],
            passages=pa.Table.from_pylist(passages, schema=PASSAGES),
            annotations=pa.Table.from_pylist(annotations, schema=ANNOTATIONS),
            dedup=items, reasons=reasons, languages=languages, labelled_passages=labelled, errors=errors,
        )


def _reason_kind(reason: str) -> str:
    return reason.split(":")[0] if reason.startswith("labelling failed") else reason


@dataclass
class ProcessorFactory:
    """Builds a DocumentProcessor inside a worker (pickled to it; loads the model there)."""

    root: str
    settings: ProcessSettings
    labeler_factory: Callable[[str], Any]
    model_version: str

    def __call__(self) -> DocumentProcessor:
        labeler = self.labeler_factory(self.root)
        if labeler.version != self.model_version:
            raise RuntimeError(f"the current model changed during the run ({self.model_version} -> "
                               f"{labeler.version}); run `debatelake process` again")
        return DocumentProcessor(self.settings, labeler)


# ============================================================================ main side
def _key(doc_id: str, content_hash: str | None) -> int:
    h = hashlib.blake2b(f"{doc_id}\x1f{content_hash or ''}".encode("utf-8", "surrogatepass"), digest_size=8)
    return int.from_bytes(h.digest(), "little")


class _KeySet:
    """A set of 64-bit keys kept as one sorted numpy array (8 bytes per document)."""

    def __init__(self, keys: Sequence[int] | np.ndarray = ()):
        self.keys = np.unique(np.asarray(keys, dtype=np.uint64))

    def contains(self, keys: Sequence[int]) -> np.ndarray:
        arr = np.asarray(keys, dtype=np.uint64)
        if not len(self.keys) or not len(arr):
            return np.zeros(len(arr), dtype=bool)
        pos = np.minimum(np.searchsorted(self.keys, arr), len(self.keys) - 1)
        return self.keys[pos] == arr

    def __len__(self) -> int:
        return len(self.keys)


def _scan_keys(store: Store, name: str, flt: pc.Expression | None) -> tuple[_KeySet, _KeySet]:
    """(doc_id + content_hash keys, doc_id keys) of the rows of a table matching `flt`, 8 bytes
    per row each (deduplicated per batch; the table streams through)."""
    both: list[np.ndarray] = []
    docs: list[np.ndarray] = []
    for batch in store.iter_batches(name, columns=["doc_id", "content_hash"], filter=flt, batch_size=65536):
        ids, hashes = batch.column("doc_id").to_pylist(), batch.column("content_hash").to_pylist()
        both.append(np.unique(np.fromiter((_key(d, h) for d, h in zip(ids, hashes)), np.uint64, len(ids))))
        docs.append(np.unique(np.fromiter((_key(d, None) for d in ids), np.uint64, len(ids))))
    empty = np.empty(0, dtype=np.uint64)
    return _KeySet(np.concatenate(both) if both else empty), _KeySet(np.concatenate(docs) if docs else empty)


@dataclass
class ProcessReport:
    run_id: str | None = None
    model_version: str | None = None
    todo: int = 0
    processed: int = 0
    docs_new: int = 0  # never labelled by this model version
    docs_updated: int = 0  # labelled before, content changed since
    passages_written: int = 0
    annotations_written: int = 0
    labelled_passages: int = 0
    exact_duplicates: int = 0
    near_duplicates: int = 0
    languages: Counter = field(default_factory=Counter)
    reasons: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    workers: int = 1
    seconds: float = 0.0

    @property
    def docs_per_second(self) -> float:
        return self.processed / self.seconds if self.seconds else 0.0

    def stats(self) -> dict[str, str]:
        return {
            "model_version": str(self.model_version), "todo": str(self.todo), "processed": str(self.processed),
            "passages": str(self.passages_written), "annotations": str(self.annotations_written),
            "labelled_passages": str(self.labelled_passages), "exact_duplicates": str(self.exact_duplicates),
            "near_duplicates": str(self.near_duplicates), "workers": str(self.workers),
            "seconds": f"{self.seconds:.2f}", "docs_per_second": f"{self.docs_per_second:.1f}",
            "languages": ",".join(f"{k}={v}" for k, v in self.languages.most_common()),
            "reasons": "; ".join(f"{k}={v}" for k, v in self.reasons.most_common()),
        }


def _sql_list(values: Sequence[str]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


class _Writer:
    """Writes processed batches: `dedup`, `passages` and `annotations`, one commit each."""

    def __init__(self, store: Store, report: ProcessReport, model_version: str, run_id: str,
                 labelled: tuple[_KeySet, _KeySet], with_passages: tuple[_KeySet, _KeySet], index: DedupIndex):
        self.store = store
        self.report = report
        self.model_version = model_version
        self.run_id = run_id
        self.labelled_docs = labelled[1]
        self.passage_keys, self.passage_docs = with_passages
        self.index = index
        self.pending: list[Any] = []
        self.pending_docs = 0

    def add(self, result: BatchResult) -> None:
        self.pending.append(result)
        self.pending_docs += len(result.doc_ids)

    def _write(self, name: str, table: pa.Table, replace_ids: list[str], extra_predicate: str = "") -> None:
        """Append rows of documents new to the table; replace all rows of `replace_ids`."""
        if not table.num_rows:
            return
        meta = {"run_id": self.run_id, "step": f"process {name}", "model_version": self.model_version}
        if replace_ids:
            from deltalake import write_deltalake

            from pipeline.store import _commit, _writer_properties

            is_replaced = pc.is_in(table.column("doc_id"), pa.array(replace_ids, pa.string()))
            new_rows = table.filter(pc.invert(is_replaced))
            if new_rows.num_rows:
                self.store.append(name, new_rows, meta)
            predicate = f"doc_id IN ({_sql_list(replace_ids)})" + extra_predicate
            write_deltalake(self.store.path(name), table.filter(is_replaced), mode="overwrite", predicate=predicate,
                            storage_options=self.store.storage_options, writer_properties=_writer_properties(),
                            commit_properties=_commit({**meta, "replaced_docs": len(replace_ids)}))
        else:
            self.store.append(name, table, meta)

    def flush(self) -> None:
        if not self.pending:
            return
        results, self.pending, self.pending_docs = self.pending, [], 0
        items = [it for r in results for it in r.dedup]
        decisions, dedup_rows = self.index.assign(items, self.run_id)
        doc_ids = [d for r in results for d in r.doc_ids]
        hashes = [h for r in results for h in r.content_hashes]
        passages = pa.concat_tables([r.passages for r in results])
        annotations = pa.concat_tables([r.annotations for r in results])

        # duplicates: every row of a document carries its document's decision
        dup_of = [d.duplicate_of for d in decisions]
        dup_kind = [d.kind for d in decisions]
        idx = pc.index_in(annotations.column("doc_id"), value_set=pa.array(doc_ids, pa.string()))
        annotations = annotations.set_column(annotations.schema.get_field_index("duplicate_of"), "duplicate_of",
                                             pc.take(pa.array(dup_of, pa.string()), idx))
        annotations = annotations.set_column(annotations.schema.get_field_index("duplicate_kind"), "duplicate_kind",
                                             pc.take(pa.array(dup_kind, pa.string()), idx))
        self.report.exact_duplicates += dup_kind.count("exact")
        self.report.near_duplicates += dup_kind.count("near")

        # passages: unchanged documents keep theirs; changed ones are replaced
        both = [_key(d, h) for d, h in zip(doc_ids, hashes)]
        only = [_key(d, None) for d in doc_ids]
        has_same = self.passage_keys.contains(both)
        has_any = self.passage_docs.contains(only)
        skip = [d for d, same in zip(doc_ids, has_same) if same]
        replace = [d for d, same, any_ in zip(doc_ids, has_same, has_any) if any_ and not same]
        if skip:
            passages = passages.filter(pc.invert(pc.is_in(passages.column("doc_id"), pa.array(skip, pa.string()))))

        # annotations: documents relabelled after a change replace their rows of this version
        relabel = [d for d, any_ in zip(doc_ids, self.labelled_docs.contains(only)) if any_]

        if dedup_rows.num_rows:
            self.store.append("dedup", dedup_rows, {"run_id": self.run_id, "step": "process dedup"})
        self._write("passages", passages, replace)
        version = self.model_version.replace("'", "''")
        self._write("annotations", annotations, relabel, extra_predicate=f" AND model_version = '{version}'")

        self.report.processed += len(doc_ids)
        self.report.docs_updated += len(relabel)
        self.report.docs_new += len(doc_ids) - len(relabel)
        self.report.passages_written += passages.num_rows
        self.report.annotations_written += annotations.num_rows
        for r in results:
            self.report.reasons.update(r.reasons)
            self.report.languages.update(r.languages)
            self.report.labelled_passages += r.labelled_passages
            self.report.errors.extend(r.errors)


def process(
    root: str | None = None,
    config: Config | str | None = None,
    *,
    batch_size: int | None = None,
    workers: int | None = None,
    limit: int | None = None,
    labeler_factory: Callable[[str], Any] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ProcessReport:
    """Label the documents of the data root that have no labels for the current model.

    `progress(done, total)` is called as batches come back. `labeler_factory(root)` returns
    the labeler (default: the current trained model, `Labeler.load`); workers call it too, so
    it must be importable (a module-level function or class)."""
    cfg = config if isinstance(config, Config) else load_config(config)
    settings = ProcessSettings.from_config(cfg.process, cfg.path)
    store = Store(root or cfg.root)
    if batch_size is not None:
        if batch_size < 1:
            raise ConfigError("--batch-size must be >= 1")
        settings = _replace(settings, batch_size=batch_size, task_size=min(settings.task_size, batch_size))
    if workers is not None and workers < 0:
        raise ConfigError("--workers must be >= 0 (0: every core)")
    n_workers = workers or settings.workers or default_workers()
    if limit is not None and limit < 0:
        raise ConfigError("--limit must be >= 0")
    if not store.exists("documents"):
        raise StoreError(f"no documents under {store.root} yet: run `debatelake crawl` (or `debatelake demo`) first")

    factory = labeler_factory or load_labeler
    labeler = factory(store.root)  # raises ModelMissing with what to run
    version = str(labeler.version)
    report = ProcessReport(model_version=version)
    started = time.perf_counter()

    with store.lock("process"):
        labelled = _scan_keys(store, "annotations",
                              (pc.field("level") == "document") & (pc.field("model_version") == version))
        todo = 0
        for batch in store.iter_batches("documents", columns=["doc_id", "content_hash"], batch_size=65536):
            keys = [_key(d, h) for d, h in zip(batch.column("doc_id").to_pylist(),
                                               batch.column("content_hash").to_pylist())]
            todo += int((~labelled[0].contains(keys)).sum())
        if limit is not None:
            todo = min(todo, limit)
        report.todo = todo
        if not todo:
            report.seconds = time.perf_counter() - started
            return report

        run_id = store.start_run("process")
        report.run_id = run_id
        try:
            index = DedupIndex.from_rows(store.iter_batches("dedup", batch_size=65536),
                                         threshold=settings.near_duplicate_threshold)
            writer = _Writer(store, report, version, run_id, labelled, _scan_keys(store, "passages", None), index)
            labelled_at = datetime.now(UTC)
            tasks = _tasks(store, labelled[0], settings.task_size, todo, run_id, labelled_at, version,
                           task_chars=settings.task_chars)
            n_tasks = -(-todo // settings.task_size)
            proc_factory = ProcessorFactory(store.root, settings, factory, version)
            executor = make_executor(proc_factory, n_workers, tasks_expected=n_tasks,
                                     local=lambda: DocumentProcessor(settings, labeler))
            report.workers = executor.workers
            done = 0
            with executor, fewer_collections():
                for result in executor.imap(tasks):
                    writer.add(result)
                    done += len(result.doc_ids)
                    if writer.pending_docs >= settings.batch_size:
                        writer.flush()
                    if progress:
                        progress(done, todo)
            writer.flush()
        except BaseException as exc:
            report.seconds = time.perf_counter() - started
            status = "aborted" if isinstance(exc, KeyboardInterrupt) else "failed"
            store.finish_run(run_id, status, docs_new=report.docs_new, docs_updated=report.docs_updated,
                             errors=len(report.errors) + 1,
                             error_messages=[*report.errors[:20], f"{type(exc).__name__}: {exc}"[:2000]],
                             stats=report.stats())
            raise
        report.seconds = time.perf_counter() - started
        store.finish_run(run_id, "finished", docs_new=report.docs_new, docs_updated=report.docs_updated,
                         docs_unchanged=0, errors=len(report.errors), error_messages=report.errors[:20],
                         stats=report.stats())
    return report


def _replace(settings: ProcessSettings, **changes: Any) -> ProcessSettings:
    from dataclasses import replace

    return replace(settings, **changes)


def _tasks(store: Store, labelled: _KeySet, task_size: int, todo: int, run_id: str | None, labelled_at: datetime,
           version: str, task_chars: int = 4_000_000) -> Iterator[tuple[pa.Table, str | None, datetime, str]]:
    """Stream the documents to do (at most `todo` in all) in tasks of `task_size` rows, or fewer
    when their texts add up to `task_chars` characters (a few megabyte-long documents must not
    make one task, and the tasks in flight, hold gigabytes)."""
    pending: list[pa.Table] = []
    n = chars = 0
    left = todo
    for batch in store.iter_batches("documents", columns=DOC_COLUMNS, batch_size=max(1024, task_size)):
        keys = [_key(d, h) for d, h in zip(batch.column("doc_id").to_pylist(), batch.column("content_hash").to_pylist())]
        mask = ~labelled.contains(keys)
        if not mask.any():
            continue
        rows = pa.Table.from_batches([batch]).filter(pa.array(mask))
        if rows.num_rows > left:
            rows = rows.slice(0, left)
        left -= rows.num_rows
        lengths = pc.fill_null(pc.binary_length(rows.column("text")), 0).to_numpy(zero_copy_only=False)
        start = 0
        for i, length in enumerate(lengths.tolist()):
            n += 1
            chars += length
            if n >= task_size or chars >= task_chars:
                pending.append(rows.slice(start, i + 1 - start))
                start = i + 1
                yield pa.concat_tables(pending).combine_chunks(), run_id, labelled_at, version
                pending, n, chars = [], 0, 0
        if start < rows.num_rows:
            pending.append(rows.slice(start))
        if left <= 0:
            break
    if pending:
        yield pa.concat_tables(pending).combine_chunks(), run_id, labelled_at, version
