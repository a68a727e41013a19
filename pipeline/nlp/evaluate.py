"""`debatelake evaluate`: measure the current model against a gold file, beside two baselines.

For each stance axis: macro-F1, per-class precision/recall/F1 and the confusion matrix; topics:
micro- and macro-F1 (and per topic); tone: macro-F1 (and the same detail). Baselines: the
majority class of the training data and the keyword/lexicon rules of `rules.py`.

Every headline figure comes with a 95% bootstrap interval (`*_ci95`: 1,000 resamples of the gold
passages, seeded): on a gold set of a few hundred passages a difference of a few points is
often inside it, and a reader should see that.
"""
from __future__ import annotations

import hashlib
import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support

from .rules import AXES, TOPICS, KeywordBaseline, MajorityBaseline
from .train import load_training, read_gold

# Report keys: the tone axis is `sentiment` in the data and `tone` in the report.
REPORT_AXES = (("release", "release"), ("moderation", "moderation"), ("tone", "sentiment"))
BOOTSTRAP = 1000
SEED = 0


def _resamples(n: int) -> np.ndarray:
    return np.random.default_rng(SEED).integers(0, n, size=(BOOTSTRAP, n)) if n else np.zeros((0, 0), dtype=np.int64)


def _interval(values: np.ndarray) -> list[float]:
    if not len(values):
        return [0.0, 0.0]
    lo, hi = np.percentile(values, [2.5, 97.5])
    return [float(lo), float(hi)]


def _f1(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
    """F1 from counts, 0 where there is nothing to count (scikit-learn's zero_division=0)."""
    denom = 2 * tp + fp + fn
    return np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0)


def macro_f1_ci(gold: Sequence[str], pred: Sequence[str], labels: Sequence[str]) -> list[float]:
    """95% bootstrap interval of macro-F1 over `labels` (a label with no gold and no prediction
    in a resample scores 0, as scikit-learn's zero_division=0 does)."""
    code = {lab: i for i, lab in enumerate(labels)}
    k = len(labels)
    g = np.array([code.get(x, k) for x in gold], dtype=np.int64)
    q = np.array([code.get(x, k) for x in pred], dtype=np.int64)
    idx = _resamples(len(g))
    if not idx.size:
        return [0.0, 0.0]
    G, Q = g[idx], q[idx]
    scores = np.zeros(BOOTSTRAP)
    for c in range(k):
        tp = ((G == c) & (Q == c)).sum(axis=1)
        fp = ((G != c) & (Q == c)).sum(axis=1)
        fn = ((G == c) & (Q != c)).sum(axis=1)
        scores += _f1(tp, fp, fn)
    return _interval(scores / k)


def micro_f1_ci(Y: np.ndarray, P: np.ndarray) -> list[float]:
    """95% bootstrap interval of micro-F1 of multi-label rows."""
    idx = _resamples(len(Y))
    if not idx.size:
        return [0.0, 0.0]
    tp = (Y & P).sum(axis=1)[idx].sum(axis=1)
    fp = ((1 - Y) & P).sum(axis=1)[idx].sum(axis=1)
    fn = (Y & (1 - P)).sum(axis=1)[idx].sum(axis=1)
    return _interval(_f1(tp, fp, fn))


def axis_report(gold: Sequence[str], pred: Sequence[str], labels: Sequence[str]) -> dict[str, Any]:
    labels = list(labels)
    p, r, f, s = precision_recall_fscore_support(gold, pred, labels=labels, zero_division=0)
    return {
        "macro_f1": float(f1_score(gold, pred, labels=labels, average="macro", zero_division=0)),
        "macro_f1_ci95": macro_f1_ci(gold, pred, labels),
        "accuracy": float(np.mean([g == q for g, q in zip(gold, pred)])) if len(gold) else 0.0,
        "per_class": {lab: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
                      for i, lab in enumerate(labels)},
        "labels": labels,
        "confusion": confusion_matrix(gold, pred, labels=labels).tolist(),  # rows: gold, columns: predicted
    }


def topics_report(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> dict[str, Any]:
    Y = np.array([[int(t in g) for t in TOPICS] for g in gold]).reshape(-1, len(TOPICS))
    P = np.array([[int(t in q) for t in TOPICS] for q in pred]).reshape(-1, len(TOPICS))
    p, r, f, s = precision_recall_fscore_support(Y, P, zero_division=0)
    return {
        "micro_f1": float(f1_score(Y, P, average="micro", zero_division=0)),
        "micro_f1_ci95": micro_f1_ci(Y, P),
        "macro_f1": float(f1_score(Y, P, average="macro", zero_division=0)),
        "per_topic": {t: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
                      for i, t in enumerate(TOPICS)},
    }


def score(gold_rows: list[dict], predictions: list[dict]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, axis in REPORT_AXES:
        out[key] = axis_report([g[axis] for g in gold_rows], [p[axis] for p in predictions], AXES[axis])
    out["topics"] = topics_report([g["topics"] for g in gold_rows], [p["topics"] for p in predictions])
    return out


def evaluate(gold_path: str | os.PathLike[str], root: str | os.PathLike[str] | None = None,
             labeler=None, extra: Sequence[str] = ()) -> dict[str, Any]:
    """Score the model (and both baselines) on a gold file."""
    from .model import Labeler

    gold = read_gold(gold_path)
    if not gold:
        raise ValueError(f"{gold_path}: no gold rows")
    labeler = labeler or Labeler.load(root)
    texts = [g["text"] for g in gold]
    preds = [{"release": p.release, "moderation": p.moderation, "sentiment": p.sentiment, "topics": p.topics}
             for p in labeler.predict_passages(texts)]
    report = score(gold, preds)
    meta = getattr(labeler, "meta", {}) or {}
    if meta.get("label_counts") and meta.get("rows"):
        majority = MajorityBaseline.from_counts(meta["label_counts"], meta.get("topic_counts", {}), meta["rows"])
    else:
        majority = MajorityBaseline(load_training(extra)[0])
    report["baselines"] = {
        "majority": score(gold, majority.predict(texts)),
        "keyword": score(gold, KeywordBaseline().predict(texts)),
    }
    report["model_version"] = labeler.version
    report["gold"] = {"file": str(gold_path), "rows": len(gold)}
    return report


def keep_with_model(report: dict[str, Any], model_path: str | os.PathLike[str]) -> Path:
    """Write `report` to the model's folder, where snapshot cards find it (the last evaluation of
    that model version wins). The gold file is named by its file name and SHA-256 only: a local
    path is not for publishing."""
    from pipeline.snapshots import EVALUATION_FILE

    gold = Path(report["gold"]["file"])
    kept = dict(report)
    kept["gold"] = {"file": gold.name, "rows": report["gold"]["rows"],
                    "sha256": hashlib.sha256(gold.read_bytes()).hexdigest() if gold.is_file() else None}
    kept["evaluated_at"] = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    target = Path(model_path) / EVALUATION_FILE
    tmp = target.with_name(f".{EVALUATION_FILE}.tmp")
    tmp.write_text(json.dumps(kept, indent=2), encoding="utf-8")
    tmp.replace(target)
    return target
