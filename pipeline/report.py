"""`debatelake report`: a static HTML report of a snapshot or of the current tables.

    from pipeline.report import build_report
    result = build_report(root, snapshot="2026-11", out="report/")   # -> ReportResult
    result.index                                                     # report/index.html

The report is one folder that opens from disk with no server and no network:

    index.html     headline counts, date range, and every chart with its numbers (inline CSS,
                   one small inline script, no external JS, CSS or fonts)
    charts/*.png   matplotlib figures (Agg, fonts bundled with matplotlib)
    report.json    the numbers behind the charts, for whoever wants to redo a chart

Charts: documents per month by platform; monthly shares of each label on the release and the
moderation axis (model releases marked); label shares per platform; topics; sources; the most
mentioned models and labs; the classifiers' confidence (probability histograms). A dataset with
no labels yet gets the charts that need no labels and a note saying how to add them.

Everything is computed from one table of documents (one row per document, its labels joined):
a snapshot's `documents` (labels already joined there) or, for the current tables, `documents`
with the document-level `annotations` rows of the current model version.
"""
from __future__ import annotations

import html
import json
import os
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Iterable, Sequence

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .schema import UTC
from .store import Store, StoreError

RELEASE_LABELS = ("open", "closed", "mixed", "neutral", "none")
MODERATION_LABELS = ("filter", "no_filter", "mixed", "neutral", "none")
TONE_LABELS = ("positive", "negative", "neutral")
AXES = {"release": RELEASE_LABELS, "moderation": MODERATION_LABELS}
AXIS_TITLES = {"release": "Release: open or closed models", "moderation": "Moderation: safety filters or none"}

LABEL_COLORS = {
    "open": "#1b9e77", "closed": "#d95f02", "filter": "#386cb0", "no_filter": "#e7298a",
    "mixed": "#7570b3", "neutral": "#a6a6a6", "none": "#e6e6e6",
    "positive": "#66a61e", "negative": "#d95f02",
}
PLATFORM_COLORS = ["#386cb0", "#f0a202", "#1b9e77", "#e7298a", "#7570b3", "#666666", "#a6761d"]

# Public release (or open-weights publication) dates of models the debate keeps returning to.
# Marked on the stance-over-time charts when they fall inside the data's date range. Pass
# `releases=` (or `--mark DATE:NAME` on the command line) to add others.
MODEL_RELEASES: tuple[tuple[str, str], ...] = (
    ("2023-03-14", "GPT-4"),
    ("2023-07-18", "Llama 2"),
    ("2023-09-27", "Mistral 7B"),
    ("2023-12-11", "Mixtral 8x7B"),
    ("2024-02-21", "Gemma"),
    ("2024-03-17", "Grok-1 weights"),
    ("2024-04-18", "Llama 3"),
    ("2024-05-13", "GPT-4o"),
    ("2024-07-23", "Llama 3.1 405B"),
    ("2024-12-26", "DeepSeek-V3"),
    ("2025-01-20", "DeepSeek-R1"),
    ("2025-04-05", "Llama 4"),
    ("2025-08-05", "gpt-oss"),
    ("2025-08-07", "GPT-5"),
)

DOC_COLUMNS = ("doc_id", "source", "platform", "kind", "thread_id", "published_at", "deleted",
               "duplicate_of", "release", "release_prob", "moderation", "moderation_prob", "topics",
               "sentiment", "sentiment_prob", "entity_ids", "entity_labels")
LABEL_COLUMNS = ("release", "release_prob", "moderation", "moderation_prob", "topics", "sentiment",
                 "sentiment_prob")
MODEL_KINDS = ("MODEL", "MODEL_FAMILY")
LAB_KINDS = ("LAB",)
TOP_ENTITIES = 15
HIST_BINS = 20
REPORT_FILES = ("index.html", "report.json")
CHART_FILES = ("volume.png", "release_over_time.png", "moderation_over_time.png", "platform_shares.png",
               "topics.png", "sources.png", "entities.png", "confidence.png")


class ReportError(StoreError):
    """A report that cannot be made (the message says why and what to do)."""


# =========================================================================== reading
@dataclass
class ReportData:
    """One row per document, labels joined (columns: DOC_COLUMNS), and where it came from."""

    docs: pd.DataFrame
    what: str  # "snapshot 2026-11" / "current tables"
    root: str
    snapshot: str | None = None
    model_version: str | None = None
    passages: int | None = None
    table_versions: dict[str, Any] = field(default_factory=dict)
    created_at: str | None = None
    notes: list[str] = field(default_factory=list)


def _entity_names() -> dict[str, tuple[str, str]]:
    """Gazetteer id -> (label, display name). Snapshots keep entity ids only."""
    try:
        from .nlp.entities import load_gazetteer
    except ImportError:  # pragma: no cover - the gazetteer ships with the package
        return {}
    return {e.id: (e.label, e.name) for e in load_gazetteer()}


def _empty_lists(n: int) -> list[list[str]]:
    return [[] for _ in range(n)]


def _entities_from_structs(column: pa.ChunkedArray | pa.Array) -> tuple[list[list[str]], list[list[str]]]:
    """list<struct<id, label, ...>> per document -> (unique ids, their labels), in order seen."""
    ids_out: list[list[str]] = []
    labels_out: list[list[str]] = []
    for ents in column.to_pylist():
        seen: dict[str, str] = {}
        for e in ents or []:
            if e and e.get("id"):
                seen.setdefault(e["id"], e.get("label") or "")
        ids_out.append(list(seen))
        labels_out.append(list(seen.values()))
    return ids_out, labels_out


def _snapshot_folder(store: Store | None, name: str) -> Path:
    """A snapshot by name under the data root, or the path of a snapshot folder (a downloaded one)."""
    candidate = Path(name).expanduser()
    if (candidate / "manifest.json").is_file() and (candidate / "data" / "documents").is_dir():
        return candidate.resolve()
    from .snapshots import list_snapshots, snapshot_path, snapshots_dir

    if store is None:
        raise ReportError(f"{name!r} is not a snapshot folder")
    folder = snapshot_path(store, name)
    if not (folder / "manifest.json").is_file():
        known = ", ".join(m["name"] for m in list_snapshots(store)) or "none yet"
        raise ReportError(f"no snapshot {name!r} under {snapshots_dir(store)} (snapshots: {known}); "
                          f"leave NAME out for a report of the current tables")
    return folder


def read_snapshot(root: str | os.PathLike[str] | None, name: str) -> ReportData:
    import pyarrow.parquet as pq

    from .snapshots import SNAPSHOT_DOCUMENTS

    store = Store(root)
    folder = _snapshot_folder(store if store.is_local else None, name)
    manifest = json.loads((folder / "manifest.json").read_text("utf-8"))
    files = sorted(str(p) for p in (folder / "data" / "documents").glob("*.parquet"))
    cols = ["doc_id", "source", "platform", "kind", "thread_id", "published_at", "deleted", "duplicate_of",
            *LABEL_COLUMNS, "entities"]
    table = (pq.read_table(files, columns=cols, schema=SNAPSHOT_DOCUMENTS, use_threads=False) if files
             else SNAPSHOT_DOCUMENTS.empty_table().select(cols))
    names = _entity_names()
    ids = [list(dict.fromkeys(v or [])) for v in table.column("entities").to_pylist()]
    labels = [[names.get(i, ("", ""))[0] for i in row] for row in ids]
    docs = table.drop(["entities"]).to_pandas()
    docs["entity_ids"] = ids
    docs["entity_labels"] = labels
    return ReportData(
        docs=_normalise(docs), what=f"snapshot {manifest.get('name', name)}", root=store.root,
        snapshot=manifest.get("name", name), model_version=manifest.get("model_version"),
        passages=(manifest.get("rows") or {}).get("passages"), table_versions=manifest.get("table_versions") or {},
        created_at=manifest.get("created_at"),
    )


def read_current(root: str | os.PathLike[str] | None) -> ReportData:
    from .snapshots import current_model_version

    store = Store(root)
    if not store.exists("documents"):
        raise ReportError(f"no documents under {store.root} yet: run `debatelake crawl` (or `debatelake demo`) "
                          f"first, or pass --root")
    versions = {t: store.version(t) for t in ("documents", "passages", "annotations")}
    table = store.read("documents", version=versions["documents"],
                       columns=["doc_id", "source", "platform", "kind", "thread_id", "published_at", "deleted"])
    docs = table.to_pandas()
    model_version = current_model_version(store)
    notes: list[str] = []
    labels = None
    if model_version is not None and versions["annotations"] is not None:
        flt = (pc.field("level") == "document") & (pc.field("model_version") == model_version)
        ann = store.read("annotations", version=versions["annotations"],
                         columns=["doc_id", "duplicate_of", *LABEL_COLUMNS, "entities"], filter=flt)
        ids, kinds = _entities_from_structs(ann.column("entities"))
        labels = ann.drop(["entities"]).to_pandas()
        labels["entity_ids"] = ids
        labels["entity_labels"] = kinds
        labels = labels.drop_duplicates("doc_id", keep="last")
    if labels is not None:
        docs = docs.merge(labels, on="doc_id", how="left")
        deleted = docs["deleted"].fillna(False).astype(bool)
        for col in (*LABEL_COLUMNS, "entity_ids", "entity_labels"):  # a tombstone keeps no labels
            docs[col] = docs[col].where(~deleted, None)
    else:
        for col in ("duplicate_of", *LABEL_COLUMNS):
            docs[col] = None
        docs["entity_ids"] = _empty_lists(len(docs))
        docs["entity_labels"] = _empty_lists(len(docs))
    return ReportData(docs=_normalise(docs), what="current tables", root=store.root, model_version=model_version,
                      passages=store.count("passages") if versions["passages"] is not None else None,
                      table_versions=versions, notes=notes)


def _normalise(docs: pd.DataFrame) -> pd.DataFrame:
    for col in DOC_COLUMNS:
        if col not in docs.columns:
            docs[col] = None
    for col in ("topics", "entity_ids", "entity_labels"):
        docs[col] = [list(v) if v is not None and not isinstance(v, float) else [] for v in docs[col]]
    docs["deleted"] = docs["deleted"].fillna(False).astype(bool)
    docs["published_at"] = pd.to_datetime(docs["published_at"], utc=True)
    for col in ("release_prob", "moderation_prob", "sentiment_prob"):
        docs[col] = pd.to_numeric(docs[col], errors="coerce")
    return docs[list(DOC_COLUMNS)].reset_index(drop=True)


def read_data(root: str | os.PathLike[str] | None = None, snapshot: str | None = None) -> ReportData:
    return read_snapshot(root, snapshot) if snapshot else read_current(root)


# =========================================================================== numbers
def _ordered(labels: Iterable[str], preferred: Sequence[str]) -> list[str]:
    present = set(labels)
    return [l for l in preferred if l in present] + sorted(present - set(preferred))


def month_range(dates: pd.Series) -> list[str]:
    """Every month from the first to the last date, gaps included ("2025-01", ...)."""
    dates = dates.dropna()
    if dates.empty:
        return []
    start, end = dates.min(), dates.max()
    months = pd.period_range(start.tz_convert(None).to_period("M"), end.tz_convert(None).to_period("M"), freq="M")
    return [str(p) for p in months]


def months_of(dates: pd.Series) -> pd.Series:
    return dates.dt.tz_convert(None).dt.to_period("M").astype(str).where(dates.notna(), None)


def monthly_shares(docs: pd.DataFrame, axis: str, by: str | None = None) -> pd.DataFrame:
    """Share of each label per month among the documents labelled on `axis` (rows: month, or
    (by, month); columns: labels in the schema's order, plus `n`, the documents counted)."""
    labelled = docs[docs[axis].notna() & docs["published_at"].notna()].copy()
    labelled["month"] = months_of(labelled["published_at"])
    keys = [by, "month"] if by else ["month"]
    counts = labelled.groupby(keys + [axis]).size().unstack(axis, fill_value=0)
    order = _ordered(counts.columns, AXES.get(axis, TONE_LABELS))
    counts = counts.reindex(columns=order, fill_value=0)
    n = counts.sum(axis=1)
    shares = counts.div(n.where(n > 0, 1), axis=0)
    shares["n"] = n
    return shares


def _hist(values: pd.Series) -> dict[str, Any]:
    vals = values.dropna().clip(0, 1)
    counts = [0] * HIST_BINS
    for v in vals:
        counts[min(int(v * HIST_BINS), HIST_BINS - 1)] += 1
    return {
        "bins": [round(i / HIST_BINS, 3) for i in range(HIST_BINS + 1)], "counts": counts, "n": int(len(vals)),
        "mean": round(float(vals.mean()), 4) if len(vals) else None,
        "below_0_5": int((vals < 0.5).sum()),
    }


def _releases_in(months: list[str], releases: Iterable[tuple[str, str]]) -> list[dict[str, str]]:
    if not months:
        return []
    out = []
    for when, name in releases:
        month = str(when)[:7]
        if months[0] <= month <= months[-1]:
            out.append({"date": str(when)[:10], "name": name})
    return sorted(out, key=lambda r: r["date"])


def summarise(data: ReportData, releases: Iterable[tuple[str, str]] | None = None) -> dict[str, Any]:
    """Every number the report shows (this is report.json)."""
    docs = data.docs
    live = docs[~docs["deleted"]]
    labelled = live[live["release"].notna() | live["moderation"].notna()]
    dated = docs[docs["published_at"].notna()]
    months = month_range(docs["published_at"])
    threads = docs["thread_id"].dropna()
    headline = {
        "documents": int(len(docs)),
        "posts": int((docs["kind"] == "post").sum()),
        "comments": int((docs["kind"] == "comment").sum()),
        "threads": int(threads.nunique()),
        "sources": int(docs["source"].nunique()),
        "platforms": int(docs["platform"].nunique()),
        "tombstones": int(docs["deleted"].sum()),
        "duplicates": int(docs["duplicate_of"].notna().sum()),
        "labelled": int(len(labelled)),
        "passages": data.passages,
        "undated": int(len(docs) - len(dated)),
        "first_published": dated["published_at"].min().isoformat() if len(dated) else None,
        "last_published": dated["published_at"].max().isoformat() if len(dated) else None,
    }
    volume = (dated.assign(month=months_of(dated["published_at"])).groupby(["month", "platform"]).size()
              .unstack("platform", fill_value=0).reindex(months, fill_value=0))
    summary: dict[str, Any] = {
        "title": f"debatelake report: {data.what}",
        "what": data.what, "root": data.root, "snapshot": data.snapshot, "model_version": data.model_version,
        "created_at": data.created_at, "table_versions": data.table_versions,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "headline": headline, "months": months, "notes": list(data.notes),
        "volume_by_month": {p: [int(x) for x in volume[p]] for p in volume.columns},
        "sources": {f"{s}": {k: int(n) for k, n in g.groupby("kind").size().items()}
                    for s, g in docs.groupby("source")},
        "platforms": {p: int(n) for p, n in docs.groupby("platform").size().sort_values(ascending=False).items()},
        "releases": _releases_in(months, MODEL_RELEASES if releases is None else releases),
        "has_labels": bool(len(labelled)),
    }
    if not len(labelled):
        return summary
    axes: dict[str, Any] = {}
    for axis, order in AXES.items():
        on_axis = live[live[axis].notna()]
        counts = Counter(on_axis[axis])
        shares = monthly_shares(live, axis)
        labels = [c for c in shares.columns if c != "n"]
        shares = shares.reindex(months).fillna(0)
        by_platform = on_axis.groupby(["platform", axis]).size().unstack(axis, fill_value=0)
        axes[axis] = {
            "labels": _ordered(counts, order),
            "counts": {l: int(counts[l]) for l in _ordered(counts, order)},
            "monthly": {"labels": labels, "n": [int(x) for x in shares["n"]],
                        "shares": {l: [round(float(x), 4) for x in shares[l]] for l in labels}},
            "by_platform": {p: {l: int(row.get(l, 0)) for l in _ordered(counts, order)}
                            for p, row in by_platform.iterrows()},
        }
    summary["axes"] = axes
    tones = Counter(live["sentiment"].dropna())
    summary["tone"] = {l: int(tones[l]) for l in _ordered(tones, TONE_LABELS)}
    topics = Counter(t for ts in labelled["topics"] for t in ts)
    summary["topics"] = dict(topics.most_common())
    names = _entity_names()
    mentions: dict[str, Counter] = {"models": Counter(), "labs": Counter()}
    for ids, kinds in zip(live["entity_ids"], live["entity_labels"]):
        for i, kind in zip(ids, kinds):
            kind = kind or names.get(i, ("", ""))[0]
            if kind in MODEL_KINDS:
                mentions["models"][i] += 1
            elif kind in LAB_KINDS:
                mentions["labs"][i] += 1
    summary["entities"] = {
        group: [{"id": i, "name": names.get(i, ("", i))[1] or i, "documents": int(n)}
                for i, n in c.most_common(TOP_ENTITIES)]
        for group, c in mentions.items()
    }
    summary["confidence"] = {axis: _hist(live[f"{axis}_prob"]) for axis in ("release", "moderation", "sentiment")}
    return summary


# =========================================================================== charts
def _figure(width: float = 9.0, height: float = 4.2):
    from matplotlib.figure import Figure  # no pyplot: no global state, no GUI backend, Agg canvas

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    return fig


def _save(fig, path: Path) -> None:
    fig.savefig(path, format="png", dpi=100, facecolor="white")


def _month_ticks(ax, months: list[str]) -> None:
    step = max(1, (len(months) + 11) // 12)
    ticks = list(range(0, len(months), step))
    ax.set_xticks(ticks)
    ax.set_xticklabels([months[i] for i in ticks], rotation=45, ha="right", fontsize=8)
    ax.set_xlim(-0.6, len(months) - 0.4)


def _release_x(when: str, months: list[str]) -> float | None:
    """Position of a date on a month axis (month i spans i-0.5 .. i+0.5)."""
    month = when[:7]
    if month not in months:
        return None
    day = int(when[8:10]) if len(when) >= 10 else 15
    return months.index(month) - 0.5 + (day - 1) / 31


def _mark_releases(ax, releases: list[dict[str, str]], months: list[str]) -> None:
    for i, r in enumerate(releases):
        x = _release_x(r["date"], months)
        if x is None:
            continue
        ax.axvline(x, color="#333333", linestyle="--", linewidth=0.8, alpha=0.7)
        ax.annotate(r["name"], (x, 1.0), xytext=(2, -2 - 9 * (i % 3)), textcoords="offset points",
                    fontsize=7, color="#333333", va="top", ha="left", xycoords=("data", "axes fraction"))


def chart_volume(summary: dict[str, Any], path: Path) -> None:
    months = summary["months"]
    fig = _figure()
    ax = fig.add_subplot()
    bottom = [0] * len(months)
    for i, (platform, counts) in enumerate(sorted(summary["volume_by_month"].items())):
        ax.bar(range(len(months)), counts, bottom=bottom, label=platform,
               color=PLATFORM_COLORS[i % len(PLATFORM_COLORS)], width=0.85)
        bottom = [b + c for b, c in zip(bottom, counts)]
    _month_ticks(ax, months)
    ax.set_ylabel("documents")
    ax.set_title("Documents per month, by platform")
    ax.legend(fontsize=8, frameon=False, loc="upper left")
    _save(fig, path)


def chart_shares_over_time(summary: dict[str, Any], axis: str, path: Path) -> None:
    months = summary["months"]
    monthly = summary["axes"][axis]["monthly"]
    fig = _figure(9.0, 4.6)
    ax = fig.add_subplot()
    bottom = [0.0] * len(months)
    for label in monthly["labels"]:
        values = monthly["shares"][label]
        ax.bar(range(len(months)), values, bottom=bottom, label=label, width=0.85,
               color=LABEL_COLORS.get(label, "#999999"), edgecolor="white", linewidth=0.3)
        bottom = [b + v for b, v in zip(bottom, values)]
    for i, n in enumerate(monthly["n"]):
        if n == 0:
            ax.text(i, 0.5, "no data", rotation=90, ha="center", va="center", fontsize=6, color="#999999")
    _mark_releases(ax, summary["releases"], months)
    _month_ticks(ax, months)
    ax.set_ylim(0, 1)
    ax.set_ylabel("share of labelled documents")
    ax.set_title(f"{AXIS_TITLES[axis]}: monthly share of each label")
    ax.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    _save(fig, path)


def chart_platform_shares(summary: dict[str, Any], path: Path) -> None:
    fig = _figure(9.0, 1.6 + 0.9 * max(1, max(len(a["by_platform"]) for a in summary["axes"].values())))
    subplots = fig.subplots(1, len(AXES), squeeze=False)[0]
    for ax, axis in zip(subplots, AXES):
        data = summary["axes"][axis]
        platforms = sorted(data["by_platform"])
        left = [0.0] * len(platforms)
        for label in data["labels"]:
            vals = []
            for p in platforms:
                total = sum(data["by_platform"][p].values()) or 1
                vals.append(data["by_platform"][p].get(label, 0) / total)
            ax.barh(range(len(platforms)), vals, left=left, label=label, color=LABEL_COLORS.get(label, "#999999"),
                    edgecolor="white", linewidth=0.3)
            left = [a + b for a, b in zip(left, vals)]
        ax.set_yticks(range(len(platforms)))
        ax.set_yticklabels(platforms, fontsize=8)
        ax.set_xlim(0, 1)
        ax.invert_yaxis()
        ax.set_title(axis, fontsize=10)
        ax.legend(fontsize=7, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncols=3)
    fig.suptitle("Label shares by platform")
    _save(fig, path)


def _barh(ax, names: list[str], values: list[int], color: str, xlabel: str) -> None:
    ax.barh(range(len(names)), values, color=color)
    ax.set_yticks(range(len(names)))
    ax.set_yticklabels(names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel, fontsize=8)
    for i, v in enumerate(values):
        ax.text(v, i, f" {v}", va="center", fontsize=7)
    if values:
        ax.set_xlim(0, max(values) * 1.15)


def chart_topics(summary: dict[str, Any], path: Path) -> None:
    topics = summary["topics"]
    fig = _figure(9.0, 1.2 + 0.3 * max(1, len(topics)))
    ax = fig.add_subplot()
    _barh(ax, list(topics), list(topics.values()), "#386cb0", "documents")
    ax.set_title("Topics (a document may have several)")
    _save(fig, path)


def chart_sources(summary: dict[str, Any], path: Path) -> None:
    sources = summary["sources"]
    names = sorted(sources, key=lambda s: -sum(sources[s].values()))
    fig = _figure(9.0, 1.2 + 0.35 * max(1, len(names)))
    ax = fig.add_subplot()
    left = [0] * len(names)
    for kind, color in (("post", "#386cb0"), ("comment", "#f0a202")):
        vals = [sources[s].get(kind, 0) for s in names]
        ax.barh(range(len(names)), vals, left=left, label=f"{kind}s", color=color)
        left = [a + b for a, b in zip(left, vals)]
    ax.set_yticks(range(len(names)))
    ax.set_yticklabels(names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("documents", fontsize=8)
    ax.set_title("Documents per source")
    ax.legend(fontsize=8, frameon=False, loc="lower right")
    _save(fig, path)


def chart_entities(summary: dict[str, Any], path: Path) -> None:
    ents = summary["entities"]
    rows = max(1, len(ents["models"]), len(ents["labs"]))
    fig = _figure(10.0, 1.2 + 0.28 * rows)
    left, right = fig.subplots(1, 2)
    _barh(left, [e["name"] for e in ents["models"]], [e["documents"] for e in ents["models"]], "#1b9e77",
          "documents mentioning")
    left.set_title("Most-mentioned models", fontsize=10)
    _barh(right, [e["name"] for e in ents["labs"]], [e["documents"] for e in ents["labs"]], "#7570b3",
          "documents mentioning")
    right.set_title("Most-mentioned labs", fontsize=10)
    _save(fig, path)


def chart_confidence(summary: dict[str, Any], path: Path) -> None:
    conf = summary["confidence"]
    fig = _figure(10.0, 3.2)
    subplots = fig.subplots(1, len(conf))
    for ax, (axis, h) in zip(subplots, conf.items()):
        width = 1 / HIST_BINS
        ax.bar([b + width / 2 for b in h["bins"][:-1]], h["counts"], width=width * 0.95, color="#386cb0")
        ax.set_xlim(0, 1)
        ax.set_xlabel("probability of the chosen label", fontsize=8)
        mean = f", mean {h['mean']:.2f}" if h["mean"] is not None else ""
        ax.set_title(f"{'tone' if axis == 'sentiment' else axis} (n={h['n']}{mean})", fontsize=10)
    subplots[0].set_ylabel("documents")
    fig.suptitle("Label confidence")
    _save(fig, path)


@dataclass
class Chart:
    key: str
    title: str
    file: str
    caption: str
    table: str = ""  # the numbers, as an HTML table


# =========================================================================== HTML
def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]], numeric_from: int = 1) -> str:
    """An HTML table; numbers (int, float) are right-aligned in columns from `numeric_from` on."""
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = []
    for row in rows:
        cells = "".join(f"<td class=\"num\">{_e(v)}</td>" if i >= numeric_from and (isinstance(v, (int, float)) or str(v).endswith("%"))
                        else f"<td>{_e(v)}</td>" for i, v in enumerate(row))
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


CSS = """
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       margin: 0 auto; max-width: 1040px; padding: 1.5rem; color: #222; background: #fff; line-height: 1.45; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; }
h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #ddd; padding-bottom: .2rem; }
.meta { color: #555; font-size: .9rem; }
.cards { display: flex; flex-wrap: wrap; gap: .6rem; margin: 1rem 0; }
.card { border: 1px solid #ddd; border-radius: 6px; padding: .5rem .8rem; min-width: 7rem; }
.card .n { font-size: 1.4rem; font-weight: 600; }
.card .l { font-size: .8rem; color: #555; }
.note { background: #fff8e1; border: 1px solid #f0c36d; border-radius: 6px; padding: .6rem .9rem; }
.error { background: #fdecea; border: 1px solid #e57373; border-radius: 6px; padding: .6rem .9rem; }
figure { margin: 1rem 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: .85rem; color: #555; }
details { margin: .4rem 0 1rem; font-size: .85rem; }
table { border-collapse: collapse; margin: .5rem 0; }
th, td { border: 1px solid #ddd; padding: .15rem .5rem; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.hidden { display: none; }
"""

# On load, every chart says whether it rendered (data-loaded), and a banner appears if one did
# not: the usual cause is an index.html copied without its charts/ folder.
SCRIPT = """
window.addEventListener("load", function () {
  var imgs = document.querySelectorAll("img.chart"), ok = 0;
  for (var i = 0; i < imgs.length; i++) {
    var good = imgs[i].complete && imgs[i].naturalWidth > 0;
    imgs[i].setAttribute("data-loaded", good ? "true" : "false");
    if (good) { ok++; }
  }
  document.body.setAttribute("data-charts-loaded", String(ok));
  document.body.setAttribute("data-charts-total", String(imgs.length));
  if (ok < imgs.length) {
    var banner = document.getElementById("missing-charts");
    banner.textContent = (imgs.length - ok) + " of " + imgs.length +
      " charts could not be shown: keep the charts/ folder next to index.html.";
    banner.className = "error";
  }
});
"""


def _headline_html(s: dict[str, Any]) -> str:
    h = s["headline"]
    first = (h["first_published"] or "")[:10]
    last = (h["last_published"] or "")[:10]
    cards = [
        ("documents", h["documents"]), ("posts", h["posts"]), ("comments", h["comments"]),
        ("threads", h["threads"]), ("sources", h["sources"]), ("platforms", h["platforms"]),
        ("labelled", h["labelled"]),
    ]
    if h["passages"] is not None:
        cards.append(("passages", h["passages"]))
    cards += [("tombstones", h["tombstones"]), ("duplicates", h["duplicates"])]
    out = ["<div class=\"cards\">"]
    for label, n in cards:
        out.append(f"<div class=\"card\" data-count=\"{_e(label)}\"><div class=\"n\">{_e(n)}</div>"
                   f"<div class=\"l\">{_e(label)}</div></div>")
    out.append("</div>")
    if first:
        out.append(f"<p id=\"date-range\">Published from <strong>{_e(first)}</strong> to <strong>{_e(last)}</strong>"
                   f" ({len(s['months'])} months)" + (f"; {h['undated']} documents have no date and are left out "
                                                       f"of the monthly charts" if h["undated"] else "") + ".</p>")
    else:
        out.append("<p id=\"date-range\">No document has a publication date.</p>")
    return "\n".join(out)


def _charts(s: dict[str, Any], folder: Path) -> list[Chart]:
    charts: list[Chart] = []
    months = s["months"]
    if months:
        chart_volume(s, folder / "volume.png")
        rows = [[m, *[s["volume_by_month"][p][i] for p in sorted(s["volume_by_month"])]] for i, m in enumerate(months)]
        charts.append(Chart("volume", "Documents per month", "volume.png",
                            "Documents by month of publication, stacked by platform.",
                            _table(["month", *sorted(s["volume_by_month"])], rows)))
    if s["has_labels"] and months:
        for axis in AXES:
            chart_shares_over_time(s, axis, folder / f"{axis}_over_time.png")
            m = s["axes"][axis]["monthly"]
            rows = [[month, m["n"][i], *[_pct(m["shares"][l][i]) for l in m["labels"]]] for i, month in enumerate(months)]
            marks = ", ".join(f"{r['name']} ({r['date']})" for r in s["releases"])
            charts.append(Chart(
                f"{axis}_over_time", AXIS_TITLES[axis], f"{axis}_over_time.png",
                f"Monthly share of each {axis} label among labelled documents (document-level labels)."
                + (f" Dashed lines: model releases: {marks}." if marks else ""),
                _table(["month", "labelled", *m["labels"]], rows)))
    if s["has_labels"]:
        chart_platform_shares(s, folder / "platform_shares.png")
        rows = []
        for axis in AXES:
            a = s["axes"][axis]
            for p, counts in sorted(a["by_platform"].items()):
                total = sum(counts.values()) or 1
                rows.append([axis, p, total, ", ".join(f"{l} {_pct(counts.get(l, 0) / total)}" for l in a["labels"])])
        charts.append(Chart("platform_shares", "Stance by platform", "platform_shares.png",
                            "Share of each label per platform, over the whole date range.",
                            _table(["axis", "platform", "labelled", "shares"], rows, numeric_from=2)))
        if s["topics"]:
            chart_topics(s, folder / "topics.png")
            charts.append(Chart("topics", "Topics", "topics.png",
                                "Labelled documents per topic (multi-label).",
                                _table(["topic", "documents"], s["topics"].items())))
    chart_sources(s, folder / "sources.png")
    rows = [[src, kinds.get("post", 0), kinds.get("comment", 0)] for src, kinds in sorted(s["sources"].items())]
    charts.append(Chart("sources", "Sources and platforms", "sources.png",
                        "Documents per source, posts and comments. Platforms: "
                        + ", ".join(f"{p} {n}" for p, n in s["platforms"].items()) + ".",
                        _table(["source", "posts", "comments"], rows)))
    if s["has_labels"]:
        if s["entities"]["models"] or s["entities"]["labs"]:
            chart_entities(s, folder / "entities.png")
            rows = ([["model", e["name"], e["documents"]] for e in s["entities"]["models"]]
                    + [["lab", e["name"], e["documents"]] for e in s["entities"]["labs"]])
            charts.append(Chart("entities", "Models and labs", "entities.png",
                                f"The {TOP_ENTITIES} models and labs mentioned by the most documents.",
                                _table(["kind", "name", "documents"], rows, numeric_from=2)))
        if any(h["n"] for h in s["confidence"].values()):
            chart_confidence(s, folder / "confidence.png")
            rows = [[axis, h["n"], "" if h["mean"] is None else f"{h['mean']:.3f}", h["below_0_5"]]
                    for axis, h in s["confidence"].items()]
            charts.append(Chart("confidence", "Label confidence", "confidence.png",
                                "Histograms of the probability the classifiers gave their chosen label. Mass near "
                                "the left means uncertain labels; check them before drawing conclusions.",
                                _table(["axis", "documents", "mean probability", "below 0.5"], rows)))
    return charts


def render_html(s: dict[str, Any], charts: list[Chart]) -> str:
    meta = [f"Data root: <code>{_e(s['root'])}</code>"]
    if s["snapshot"]:
        meta.append(f"snapshot <strong>{_e(s['snapshot'])}</strong> created {_e((s['created_at'] or '')[:19])}")
    if s["model_version"]:
        meta.append(f"labels from model <code>{_e(s['model_version'])}</code>")
    if s["table_versions"]:
        meta.append("table versions " + ", ".join(f"{_e(k)} {_e(v)}" for k, v in s["table_versions"].items()
                                                  if v is not None))
    meta.append(f"generated {_e(s['generated_at'])}")
    notes = list(s["notes"])
    if not s["has_labels"]:
        notes.append("This dataset has no labels yet, so only the charts that need no labels are shown. "
                     "Run `debatelake process` (after `debatelake train` if no model is trained) and make the "
                     "report again.")
    parts = [
        "<!DOCTYPE html>", "<html lang=\"en\">", "<head>", "<meta charset=\"utf-8\">",
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
        f"<title>{_e(s['title'])}</title>", f"<style>{CSS}</style>", f"<script>{SCRIPT}</script>",
        "</head>", f"<body data-has-labels=\"{'true' if s['has_labels'] else 'false'}\">",
        f"<h1>{_e(s['title'])}</h1>", f"<p class=\"meta\">{' · '.join(meta)}</p>",
        "<div id=\"missing-charts\" class=\"hidden\"></div>",
    ]
    for note in notes:
        parts.append(f"<p class=\"note\">{_e(note)}</p>")
    parts.append(_headline_html(s))
    if s["has_labels"]:
        parts.append("<h2>Labels at a glance</h2>")
        rows = []
        for axis in AXES:
            counts = s["axes"][axis]["counts"]
            total = sum(counts.values()) or 1
            rows.append([axis, total, ", ".join(f"{l} {n} ({_pct(n / total)})" for l, n in counts.items())])
        tone_total = sum(s["tone"].values()) or 1
        rows.append(["tone", sum(s["tone"].values()),
                     ", ".join(f"{l} {n} ({_pct(n / tone_total)})" for l, n in s["tone"].items())])
        parts.append(_table(["axis", "documents", "labels"], rows, numeric_from=1))
    for c in charts:
        parts.append(f"<h2 id=\"{_e(c.key)}\">{_e(c.title)}</h2>")
        parts.append(f"<figure><img class=\"chart\" data-chart=\"{_e(c.key)}\" src=\"charts/{_e(c.file)}\" "
                     f"alt=\"{_e(c.title)}: {_e(c.caption)}\"><figcaption>{_e(c.caption)}</figcaption></figure>")
        if c.table:
            parts.append(f"<details><summary>The numbers</summary>{c.table}</details>")
    parts.append("<p class=\"meta\">Made by <code>debatelake report</code>. Every number is in report.json.</p>")
    parts += ["</body>", "</html>", ""]
    return "\n".join(parts)


# =========================================================================== entry point
@dataclass
class ReportResult:
    out: Path
    index: Path
    charts: list[Path]
    summary: dict[str, Any]

    @property
    def url(self) -> str:
        return self.index.resolve().as_uri()


def parse_marks(marks: Iterable[str]) -> list[tuple[str, str]]:
    """["2026-08-04:Meridian-3", ...] -> [("2026-08-04", "Meridian-3"), ...] (date checked)."""
    out = []
    for m in marks:
        when, sep, name = m.partition(":")
        try:
            day = date.fromisoformat(when.strip())
        except ValueError:
            raise ReportError(f"--mark {m!r}: write DATE:NAME with an ISO date, e.g. 2026-08-04:Meridian-3") from None
        if not sep or not name.strip():
            raise ReportError(f"--mark {m!r}: write DATE:NAME, e.g. 2026-08-04:Meridian-3")
        out.append((day.isoformat(), name.strip()))
    return out


def build_report(root: str | os.PathLike[str] | None = None, snapshot: str | None = None,
                 out: str | os.PathLike[str] = "report", releases: Iterable[tuple[str, str]] | None = None,
                 extra_releases: Iterable[tuple[str, str]] = ()) -> ReportResult:
    """Write the report of `snapshot` (a name under the root or a snapshot folder), or of the
    current tables, into `out`. `releases` replaces MODEL_RELEASES; `extra_releases` adds to it."""
    data = read_data(root, snapshot)
    marks = list(MODEL_RELEASES if releases is None else releases) + list(extra_releases)
    summary = summarise(data, marks)
    out = Path(out).expanduser()
    charts_dir = out / "charts"
    try:
        charts_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReportError(f"cannot write the report to {out}: {exc}") from exc
    for name in CHART_FILES:  # charts of an earlier report that this one may not have
        (charts_dir / name).unlink(missing_ok=True)
    charts = _charts(summary, charts_dir)
    (out / "report.json").write_text(json.dumps(summary, indent=2, default=str) + "\n", "utf-8")
    index = out / "index.html"
    index.write_text(render_html(summary, charts), "utf-8")
    return ReportResult(out=out.resolve(), index=index.resolve(), charts=[charts_dir / c.file for c in charts],
                        summary=summary)
