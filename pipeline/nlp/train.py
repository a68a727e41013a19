"""`debatelake train`: fit the label models on the project's training set plus user files.

Training data are JSON Lines in the guidelines' gold format (pipeline/nlp/training/*.jsonl and
any --extra FILE). Everything is seeded: the same data, code and parameters give the same model
and the same version (a hash of the three). Cross-validated figures on the training data are
computed from the same out-of-fold predictions that weigh the views of each head (which also
calibrates its probabilities) and tune the topic thresholds.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold

from .embeddings import get_encoder
from .features import FeatureParams, Featurizer, base_features
from .model import (AXES, POOLED, ConstantBinary, FusedLinear, Labeler, PlattScaled, TemperatureScaled, _scores,
                    _softmax, geometric_pool, models_dir)
from .rules import TOPICS

TRAINING_DIR = Path(__file__).resolve().parent / "training"
CODE_FILES = ("rules.py", "words.py", "tone.py", "features.py", "embeddings.py", "model.py", "train.py")
LABEL_KEYS = ("release", "moderation", "topics", "sentiment")


class TrainingDataError(ValueError):
    """A training or gold line that cannot be used; the message names file:line."""


@dataclass(frozen=True)
class TrainParams:
    features: FeatureParams = field(default_factory=FeatureParams)
    C: tuple[tuple[str, float], ...] = (("release", 0.1), ("moderation", 0.1), ("sentiment", 0.3), ("topics", 0.3))
    folds: int = 5
    seed: int = 13
    pool_weight: float = 0.5  # whole passage vs. its best sentence, for stance and topics (1.0: no pooling)
    max_iter: int = 2000
    # Per axis, groups of feature blocks ("views") fitted apart, then fused as a product of experts
    # whose view weights are fitted on out-of-fold scores. Fitted jointly, the heads leaned on the
    # word and cue features that our own prose makes decisive; apart, the embedding view must
    # stand on its own. An axis not named here is one view of all its blocks.
    views: tuple[tuple[str, tuple[tuple[str, ...], ...]], ...] = (
        ("release", (("emb",), ("cue", "tfidf", "frame"))),
        ("moderation", (("emb",), ("cue", "tfidf", "frame"))),
        ("sentiment", (("emb",), ("tone", "tfidf"))),
    )

    def c(self, head: str) -> float:
        return dict(self.C)[head]

    def to_dict(self) -> dict:
        d = asdict(self)
        d["features"] = self.features.to_dict()
        d["C"] = dict(self.C)
        d["views"] = {axis: [list(v) for v in views] for axis, views in self.views}
        return d

    def axis_views(self, axis: str, slices: dict[str, slice]) -> list[np.ndarray]:
        """Column indices of each view of an axis's head (blocks the head does not read are skipped)."""
        groups = dict(self.views).get(axis) or (tuple(slices),)
        cols = []
        for group in groups:
            idx = [np.arange(slices[b].start, slices[b].stop) for b in group if b in slices]
            if idx:
                cols.append(np.concatenate(idx))
        return cols


# --------------------------------------------------------------------------- reading data
def read_gold(path: str | os.PathLike[str], require_labels: bool = True) -> list[dict[str, Any]]:
    """Read a gold-format JSON Lines file; every problem names file:line. Rows keep their
    origin in `_where`."""
    path = Path(path)
    if not path.is_file():
        raise TrainingDataError(f"{path}: no such file")
    if path.suffix.lower() == ".csv":
        return _read_gold_csv(path, require_labels)
    rows: list[dict[str, Any]] = []
    errors: list[str] = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if len(errors) >= 20:
                break
            if not line.strip():
                continue
            where = f"{path}:{n}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                errors.append(f"{where}: not valid JSON ({exc.msg} at column {exc.colno})")
                continue
            problem = validate_row(row, require_labels)
            if problem:
                errors.append(f"{where}: {problem}")
                continue
            row = dict(row)
            row["_where"] = where
            rows.append(row)
    if errors:
        more = "" if len(errors) < 20 else "\n(stopped after 20 errors)"
        raise TrainingDataError("bad training data:\n" + "\n".join(errors) + more)
    return rows


def _read_gold_csv(path: Path, require_labels: bool) -> list[dict[str, Any]]:
    """The CSV that `label export` writes, once labelled: topics separated by ';' or ','."""
    import csv
    import re

    rows: list[dict[str, Any]] = []
    errors: list[str] = []
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in ("text", "release", "moderation", "topics", "sentiment") if c not in (reader.fieldnames or [])]
        if missing:
            raise TrainingDataError(f"{path}:1: missing column(s) {', '.join(missing)}")
        line = reader.line_num
        for rec in reader:
            where = f"{path}:{line + 1}"  # the record's first line
            line = reader.line_num
            row = {k: (v or "").strip() for k, v in rec.items() if k}
            row["topics"] = [t for t in re.split(r"[;,|\s]+", row.get("topics", "")) if t]
            problem = validate_row(row, require_labels)
            if problem:
                errors.append(f"{where}: {problem}")
                if len(errors) >= 20:
                    break
                continue
            row["_where"] = where
            rows.append(row)
    if errors:
        raise TrainingDataError("bad training data:\n" + "\n".join(errors))
    return rows


def validate_row(row: Any, require_labels: bool = True) -> str | None:
    if not isinstance(row, dict):
        return "a line must be a JSON object"
    text = row.get("text")
    if not isinstance(text, str) or not text.strip():
        return "'text' must be a non-empty string"
    if "id" in row and not isinstance(row["id"], (str, int)):
        return "'id' must be a string"
    for axis, labels in AXES.items():
        value = row.get(axis)
        if value in (None, "") and not require_labels:
            continue
        if value not in labels:
            shown = "missing" if axis not in row else ("empty" if value in ("", None) else f"{value!r}")
            return f"{axis} is {shown}; it must be one of {', '.join(labels)}"
    topics = row.get("topics")
    if topics is None and not require_labels:
        return None
    if not isinstance(topics, list) or not all(isinstance(t, str) for t in topics):
        return "'topics' must be a list of topic names (may be empty)"
    unknown = [t for t in topics if t not in TOPICS]
    if unknown:
        return f"unknown topic {unknown[0]!r}; topics are {', '.join(TOPICS)}"
    return None


def training_files() -> list[Path]:
    return sorted(TRAINING_DIR.glob("*.jsonl"))


def load_training(extra: Sequence[str | os.PathLike[str]] = (),
                  base: Sequence[str | os.PathLike[str]] | None = None) -> tuple[list[dict], list[dict]]:
    """All training rows (the project's files, or `base` instead, then --extra files; a later
    row with the same id replaces an earlier one) and a description of each file."""
    files = [*(training_files() if base is None else [Path(p) for p in base]), *[Path(p) for p in extra]]
    if not files:
        raise TrainingDataError(f"no training data: {TRAINING_DIR} holds no *.jsonl and no --extra file was given")
    by_key: dict[str, dict] = {}
    described = []
    for path in files:
        rows = read_gold(path)
        described.append({"file": str(path), "rows": len(rows), "sha256": hashlib.sha256(path.read_bytes()).hexdigest()})
        for i, row in enumerate(rows):
            key = str(row.get("id") or f"{path.name}#{i}")
            by_key.pop(key, None)
            by_key[key] = row
    rows = list(by_key.values())
    for axis in AXES:
        if len({r[axis] for r in rows}) < 2:
            raise TrainingDataError(f"the training data has only one {axis} label; a model needs at least two")
    return rows, described


# --------------------------------------------------------------------------- fitting
def _lr(C: float, seed: int, max_iter: int, binary: bool = False) -> LogisticRegression:
    # liblinear is ~10x faster than lbfgs for the binary topic heads and as exact
    return LogisticRegression(C=C, class_weight="balanced", max_iter=max_iter, random_state=seed,
                              solver="liblinear" if binary else "lbfgs")


def _fit_platt(d: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    if len(set(y.tolist())) < 2:
        return 1.0, 0.0
    lr = LogisticRegression(C=1e4, max_iter=1000).fit(d.reshape(-1, 1), y)
    return float(lr.coef_[0, 0]), float(lr.intercept_[0])


def _best_threshold(p: np.ndarray, y: np.ndarray) -> float:
    if y.sum() == 0:
        return 0.5
    grid = np.round(np.arange(0.1, 0.91, 0.025), 3)
    pred = p[None, :] >= grid[:, None]
    tp = (pred & (y[None, :] == 1)).sum(axis=1)
    f1s = 2 * tp / np.maximum(pred.sum(axis=1) + y.sum(), 1)
    return float(grid[int(np.argmax(f1s))])


def _strat_key(rows: list[dict], folds: int) -> list[str]:
    from collections import Counter

    keys = [f"{r['release']}|{r['moderation']}" for r in rows]
    counts = Counter(keys)
    keys = [k if counts[k] >= folds else f"{r['moderation']}" for k, r in zip(keys, rows)]
    counts = Counter(keys)
    keys = [k if counts[k] >= folds else "rare" for k in keys]
    if 0 < keys.count("rare") < folds:  # too few to spread over the folds: join the largest group
        largest = Counter(k for k in keys if k != "rare").most_common(1)
        keys = [largest[0][0] if k == "rare" and largest else k for k in keys]
    return keys


def _fused(weights: Sequence[float], view_scores: list[np.ndarray]) -> np.ndarray:
    """The product of experts' scores: the views' scores, weighted and summed."""
    return sum(w * v for w, v in zip(weights, view_scores))


def _fit_view_weights(view_scores: list[np.ndarray], y_idx: np.ndarray) -> list[float]:
    """Weights of the views' scores that minimise the log-loss of their fused softmax (one view:
    its inverse temperature)."""
    from scipy.optimize import minimize

    def nll(theta: np.ndarray) -> float:
        p = _softmax(_fused(np.exp(theta), view_scores))
        return float(-np.mean(np.log(np.clip(p[np.arange(len(y_idx)), y_idx], 1e-12, 1))))

    res = minimize(nll, np.zeros(len(view_scores)), method="L-BFGS-B", bounds=[(-5.0, 3.0)] * len(view_scores))
    return [float(np.exp(t)) for t in res.x]


def _fuse(views: list[tuple[np.ndarray, Any]], weights: list[float], classes: np.ndarray, n_cols: int) -> FusedLinear:
    """One linear model over all of a head's columns from its views' models and weights."""
    coef = np.zeros((len(classes), n_cols))
    icpt = np.zeros(len(classes))
    for (cols, model), w in zip(views, weights):
        c, b = np.asarray(model.coef_), np.ravel(model.intercept_)
        if c.shape[0] == 1:  # binary: scores (-d/2, d/2), as the prediction code reads them
            c, b = np.vstack([-c / 2, c / 2]), np.array([-b[0] / 2, b[0] / 2])
        rows = np.searchsorted(classes, model.classes_)
        coef[np.ix_(rows, cols)] += w * c
        icpt[rows] += w * b
    return FusedLinear(coef, icpt, classes)


def _fit_heads(X, rows: list[dict], params: TrainParams, fz: Featurizer):
    """Axis heads as lists of (columns, model), one per view; topic heads as models."""
    heads = {}
    for axis in AXES:
        y = np.array([r[axis] for r in rows])
        heads[axis] = [(cols, _lr(params.c(axis), params.seed, params.max_iter).fit(X[axis][:, cols], y))
                       for cols in params.axis_views(axis, fz.block_slices(axis))]
    topic_heads = {}
    for t in TOPICS:
        y = np.array([int(t in r["topics"]) for r in rows])
        if y.min() == y.max():
            topic_heads[t] = ConstantBinary(float(y[0]))
        else:
            topic_heads[t] = _lr(params.c("topics"), params.seed, params.max_iter, binary=True).fit(X["topics"], y)
    return heads, topic_heads


def code_digest() -> str:
    h = hashlib.sha256()
    here = Path(__file__).resolve().parent
    for name in CODE_FILES:
        h.update(name.encode())
        h.update((here / name).read_bytes())
    return h.hexdigest()


def model_version(rows: list[dict], params: TrainParams, embeddings: str, code: str | None = None) -> str:
    h = hashlib.sha256()
    data = sorted(json.dumps({k: r.get(k) for k in ("id", "text", *LABEL_KEYS)}, sort_keys=True, ensure_ascii=False)
                  for r in rows)
    for line in data:
        h.update(line.encode("utf-8"))
        h.update(b"\n")
    h.update((code or code_digest()).encode())
    h.update(json.dumps(params.to_dict(), sort_keys=True).encode())
    h.update(embeddings.encode())
    return h.hexdigest()[:16]


@dataclass
class TrainResult:
    labeler: Labeler
    version: str
    rows: int
    files: list[dict]
    cv: dict[str, Any]
    seconds: float
    path: Path

    def to_json(self) -> dict[str, Any]:
        return {"version": self.version, "rows": self.rows, "files": self.files, "cv": self.cv,
                "seconds": round(self.seconds, 2), "path": str(self.path)}


def _aligned_scores(head, X, classes: np.ndarray) -> np.ndarray:
    s = _scores(head, X)
    full = np.full((X.shape[0], len(classes)), -1e3)  # a class absent from this fold
    for j, c in enumerate(head.classes_):
        full[:, int(np.searchsorted(classes, c))] = s[:, j]
    return full


def _pool_rows(p: np.ndarray, sent: np.ndarray, starts: np.ndarray, weight: float, normalise: bool) -> np.ndarray:
    """Pool every passage's row of p with the max over its sentences' rows (sentences are stored
    in passage order; starts[i] is the first sentence of passage i)."""
    if weight >= 1.0:
        return p
    best = np.maximum.reduceat(sent, starts, axis=0)
    q = geometric_pool(p, best, weight)
    return q / q.sum(axis=1, keepdims=True) if normalise else q


def fit(rows: list[dict], params: TrainParams, encoder, progress: Callable[[str], None] | None = None):
    """Cross-validate, calibrate and fit every head. Returns (featurizer, heads, topic_heads,
    thresholds, cv figures). Out-of-fold scores of the passages and of their sentences give the
    cross-validated figures, the view weights (calibration) and the topic thresholds, with the
    same sentence pooling as prediction."""
    say = progress or (lambda msg: None)
    texts = [r["text"] for r in rows]
    base = base_features(encoder, texts)
    n = len(rows)
    pooling = params.pool_weight < 1.0
    n_flat = base.batch.n_sentences
    starts = base.batch.pass_starts[:-1].astype(int)
    folds = max(2, min(params.folds, n // 4))
    y_axis = {a: np.array([r[a] for r in rows]) for a in AXES}
    y_top = np.array([[int(t in r["topics"]) for t in TOPICS] for r in rows])
    classes = {a: np.array(sorted(set(y_axis[a].tolist()))) for a in AXES}
    oof: dict[str, list[np.ndarray]] = {a: [] for a in AXES}  # per axis, per view
    oof_s: dict[str, list[np.ndarray]] = {a: [] for a in AXES}
    oof_top = np.zeros((n, len(TOPICS)))
    oof_s_top = np.zeros((n_flat, len(TOPICS)))
    owner = base.batch.sentence_owner()
    skf = StratifiedKFold(n_splits=folds, shuffle=True, random_state=params.seed)
    for k, (tr, te) in enumerate(skf.split(np.zeros(n), _strat_key(rows, folds)), 1):
        say(f"cross-validation fold {k}/{folds}")
        train_part = base.subset(tr)
        fz = Featurizer(params.features).fit(train_part)
        Xtr, _ = fz.transform(train_part, sentences=False)
        Xte, Xs = fz.transform(base.subset(te), sentences=pooling)
        heads, topic_heads = _fit_heads(Xtr, [rows[i] for i in tr], params, fz)
        sm = np.flatnonzero(np.isin(owner, te))  # te is sorted: its sentences, in the same order
        for a in AXES:
            if not oof[a]:
                oof[a] = [np.zeros((n, len(classes[a]))) for _ in heads[a]]
                oof_s[a] = [np.zeros((n_flat, len(classes[a]))) for _ in heads[a]]
            for v, (cols, model) in enumerate(heads[a]):
                oof[a][v][te] = _aligned_scores(model, Xte[a][:, cols], classes[a])
                if pooling:
                    oof_s[a][v][sm] = _aligned_scores(model, Xs[a][:, cols], classes[a])
        for j, t in enumerate(TOPICS):
            oof_top[te, j] = np.asarray(topic_heads[t].decision_function(Xte["topics"]), dtype=float)
            if pooling:
                oof_s_top[sm, j] = np.asarray(topic_heads[t].decision_function(Xs["topics"]), dtype=float)
    say("calibrating and fitting the final models")
    cv: dict[str, Any] = {"folds": folds, "rows": n, "sentences": n_flat}
    view_weights = {}
    for a in AXES:
        y_idx = np.searchsorted(classes[a], y_axis[a])
        view_weights[a] = w = _fit_view_weights(oof[a], y_idx)
        probs = _softmax(_fused(w, oof[a]))
        if a in POOLED and pooling:
            probs = _pool_rows(probs, _softmax(_fused(w, oof_s[a])), starts, params.pool_weight, True)
        pred = classes[a][np.argmax(probs, axis=1)]
        cv[a] = {"macro_f1": float(f1_score(y_axis[a], pred, labels=list(AXES[a]), average="macro", zero_division=0))}
    platt, thresholds = {}, {}
    pred_top = np.zeros_like(y_top)
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    for j, t in enumerate(TOPICS):
        a_, b_ = _fit_platt(oof_top[:, j], y_top[:, j])
        platt[t] = (a_, b_)
        p = sig(a_ * oof_top[:, j] + b_)
        if "topics" in POOLED and pooling:
            p = _pool_rows(p[:, None], sig(a_ * oof_s_top[:, j:j + 1] + b_), starts, params.pool_weight, False)[:, 0]
        thresholds[t] = _best_threshold(p, y_top[:, j])
        pred_top[:, j] = p >= thresholds[t]
    cv["topics"] = {"micro_f1": float(f1_score(y_top, pred_top, average="micro", zero_division=0)),
                    "macro_f1": float(f1_score(y_top, pred_top, average="macro", zero_division=0))}
    cv["tone"] = cv["sentiment"]
    fz = Featurizer(params.features).fit(base)
    X, _ = fz.transform(base, sentences=False)
    heads, topic_heads = _fit_heads(X, rows, params, fz)
    heads = {a: TemperatureScaled(_fuse(heads[a], view_weights[a], classes[a], X[a].shape[1])) for a in AXES}
    topic_heads = {t: (m if isinstance(m, ConstantBinary) else PlattScaled(m, *platt[t])) for t, m in topic_heads.items()}
    cv["view_weights"] = view_weights
    cv["thresholds"] = thresholds
    return fz, heads, topic_heads, thresholds, cv


def train(root: str | os.PathLike[str] | None = None, extra: Iterable[str | os.PathLike[str]] = (),
          params: TrainParams | None = None, progress: Callable[[str], None] | None = None,
          make_current: bool = True, base: Sequence[str | os.PathLike[str]] | None = None) -> TrainResult:
    """Train on the project's training set (or the `base` files instead) plus `extra` files;
    write <root>/models/<version>/ and point <root>/models/CURRENT at it."""
    t0 = time.perf_counter()
    params = params or TrainParams()
    say = progress or (lambda msg: None)
    rows, files = load_training(list(extra), base)
    mdir = models_dir(root)
    say(f"{len(rows)} training passages from {len(files)} file(s); preparing embeddings")
    encoder = get_encoder(mdir)
    code = code_digest()  # once: the version and the metadata name the same code
    version = model_version(rows, params, encoder.digest, code)
    fz, heads, topic_heads, thresholds, cv = fit(rows, params, encoder, progress)
    seconds = time.perf_counter() - t0
    from collections import Counter

    import sklearn

    meta = {
        "version": version,
        "trained_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "params": params.to_dict(),
        "files": files,
        "rows": len(rows),
        "label_counts": {a: dict(Counter(r[a] for r in rows)) for a in AXES},
        "topic_counts": dict(Counter(t for r in rows for t in r["topics"])),
        "cv": cv,
        "embeddings": encoder.digest,
        "code": code[:16],
        "sklearn": sklearn.__version__,
        "seconds": round(seconds, 2),
    }
    labeler = Labeler(version=version, featurizer=fz, heads=heads, topic_heads=topic_heads,
                      thresholds=thresholds, encoder=encoder, meta=meta, pool_weight=params.pool_weight)
    mdir.mkdir(parents=True, exist_ok=True)
    path = labeler.save(mdir, make_current=make_current)
    return TrainResult(labeler=labeler, version=version, rows=len(rows), files=files, cv=cv,
                       seconds=time.perf_counter() - t0, path=path)
