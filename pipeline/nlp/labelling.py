"""`debatelake label export --uncertain N`: the passages the current model is least sure of,
written for people to label (JSON Lines in the gold format with empty labels, and a CSV).

Uncertainty: the lowest top-class probability on either stance axis (release, moderation), read
from the annotations the current model version wrote (`debatelake process`). After labelling,
`debatelake train --extra FILE` adds the file to the training data (a new model version), and
`debatelake process` writes that version's labels beside the old ones.
"""
from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from pipeline.store import Store, StoreError

SOURCE_TYPES = {("hackernews", "comment"): "hn_comment", ("hackernews", "post"): "hn_post",
                ("reddit", "comment"): "reddit_comment", ("reddit", "post"): "reddit_post",
                ("discourse", "comment"): "forum_comment", ("discourse", "post"): "forum_post",
                ("blog", "post"): "blog", ("blog", "comment"): "blog_comment"}
CSV_COLUMNS = ["id", "doc_id", "url", "source_type", "text", "release", "moderation", "topics", "sentiment",
               "model_release", "model_release_prob", "model_moderation", "model_moderation_prob",
               "model_topics", "model_sentiment", "uncertainty"]


@dataclass
class ExportResult:
    jsonl: Path
    csv: Path
    rows: int
    model_version: str
    candidates: int


def source_type(platform: str | None, kind: str | None) -> str:
    return SOURCE_TYPES.get((platform or "", kind or ""), "other")


def uncertain_passages(store: Store, version: str, n: int) -> tuple[list[dict[str, Any]], int]:
    """The n labelled passages with the lowest stance confidence, most uncertain first."""
    if not store.exists("annotations"):
        raise StoreError(f"no annotations under {store.root}: run `debatelake process` first")
    cols = ["doc_id", "passage_id", "release", "release_prob", "moderation", "moderation_prob", "topics",
            "sentiment", "sentiment_prob", "reason"]
    ann = store.read("annotations", columns=cols,
                     filter=(pc.field("model_version") == version) & (pc.field("level") == "passage"))
    rows = [r for r in ann.to_pylist() if r["release_prob"] is not None and r["moderation_prob"] is not None
            and not r["reason"]]
    if not rows:
        raise StoreError(f"no passage labels of model {version} under {store.root}: run `debatelake process` first")
    for r in rows:
        r["uncertainty"] = 1.0 - min(float(r["release_prob"]), float(r["moderation_prob"]))
    rows.sort(key=lambda r: (-r["uncertainty"], r["passage_id"]))
    picked = rows[:n]
    ids = pa.array([r["passage_id"] for r in picked], pa.string())
    texts = {p["passage_id"]: p["text"] for p in store.read("passages", columns=["passage_id", "text"],
                                                              filter=pc.field("passage_id").isin(ids)).to_pylist()}
    doc_ids = pa.array(sorted({r["doc_id"] for r in picked}), pa.string())
    docs = {d["doc_id"]: d for d in store.read("documents", columns=["doc_id", "url", "platform", "kind"],
                                               filter=pc.field("doc_id").isin(doc_ids)).to_pylist()} \
        if store.exists("documents") else {}
    out = []
    for r in picked:
        text = texts.get(r["passage_id"])
        if not text:
            continue
        d = docs.get(r["doc_id"], {})
        out.append({**r, "text": text, "url": d.get("url") or "", "source_type": source_type(d.get("platform"), d.get("kind"))})
    return out, len(rows)


def export_uncertain(root: str | os.PathLike[str] | None, n: int, out: str | os.PathLike[str] | None = None) -> ExportResult:
    if n < 1:
        raise ValueError("--uncertain must be at least 1")
    store = Store(root)
    labeler_version = _current_version(root)
    picked, candidates = uncertain_passages(store, labeler_version, n)
    prefix = Path(out) if out else Path(f"uncertain-{labeler_version}")
    if prefix.suffix in (".jsonl", ".csv"):
        prefix = prefix.with_suffix("")
    prefix.parent.mkdir(parents=True, exist_ok=True)
    jsonl, csv_path = prefix.with_name(prefix.name + ".jsonl"), prefix.with_name(prefix.name + ".csv")
    with open(jsonl, "w", encoding="utf-8") as fh:
        for r in picked:
            fh.write(json.dumps({
                "id": r["passage_id"], "text": r["text"], "url": r["url"], "source_type": r["source_type"],
                "release": "", "moderation": "", "topics": [], "sentiment": "",
                "doc_id": r["doc_id"],
                "model": {"version": labeler_version, "release": r["release"], "release_prob": round(r["release_prob"], 4),
                          "moderation": r["moderation"], "moderation_prob": round(r["moderation_prob"], 4),
                          "topics": list(r["topics"] or []), "sentiment": r["sentiment"]},
            }, ensure_ascii=False) + "\n")
    with open(csv_path, "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=CSV_COLUMNS)
        w.writeheader()
        for r in picked:
            w.writerow({"id": r["passage_id"], "doc_id": r["doc_id"], "url": r["url"], "source_type": r["source_type"],
                        "text": r["text"], "release": "", "moderation": "", "topics": "", "sentiment": "",
                        "model_release": r["release"], "model_release_prob": f"{r['release_prob']:.4f}",
                        "model_moderation": r["moderation"], "model_moderation_prob": f"{r['moderation_prob']:.4f}",
                        "model_topics": ";".join(r["topics"] or []), "model_sentiment": r["sentiment"] or "",
                        "uncertainty": f"{r['uncertainty']:.4f}"})
    return ExportResult(jsonl=jsonl, csv=csv_path, rows=len(picked), model_version=labeler_version, candidates=candidates)


def _current_version(root) -> str:
    from .model import CURRENT, ModelMissing, models_dir

    pointer = models_dir(root) / CURRENT
    if not pointer.is_file():
        raise ModelMissing(f"no trained model under {models_dir(root)}: run `debatelake train` first")
    return pointer.read_text().strip()


__all__ = ["export_uncertain", "uncertain_passages", "ExportResult"]
