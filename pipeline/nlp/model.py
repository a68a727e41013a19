"""The label models: load the current model of a data root, label passages, aggregate documents.

    from pipeline.nlp.model import Labeler, ModelMissing, PassageLabels, DocLabels
    labeler = Labeler.load(root)                 # <root>/models/CURRENT -> <root>/models/<version>/
    labeler.version                              # hash of training data, code and parameters
    labels = labeler.predict_passages(texts)     # list[PassageLabels]
    doc = labeler.aggregate(labels, passage_ids) # DocLabels (guidelines' document-level rules)

Models are written by `debatelake train` (pipeline/nlp/train.py).
"""
from __future__ import annotations

import json
import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .embeddings import Encoder, get_encoder
from .features import Featurizer, base_features
from .rules import MODERATION, RELEASE, SENTIMENT, TOPICS

MODEL_FILE = "model.pkl"
META_FILE = "meta.json"
CURRENT = "CURRENT"
MODEL_FORMAT = 3  # 2: features from shared word ids (words.py); 3: the frame block. Older pickles must be retrained
STANCE_AXES = ("release", "moderation")
AXES = {"release": RELEASE, "moderation": MODERATION, "sentiment": SENTIMENT}
# Which labels take a side, per stance axis (for document aggregation).
SIDES = {"release": ("open", "closed"), "moderation": ("filter", "no_filter")}


class ModelMissing(RuntimeError):
    """No trained model under the data root (the message says what to run)."""


def models_dir(root: str | os.PathLike[str] | None) -> Path:
    from pipeline.store import resolve_root

    resolved = resolve_root(root)
    if "://" in resolved:
        # Models are small local files; a remote data root keeps them in $DEBATELAKE_MODELS.
        env = os.environ.get("DEBATELAKE_MODELS")
        if not env:
            raise ModelMissing(f"the data root {resolved} is remote: set $DEBATELAKE_MODELS to a local folder for models")
        return Path(env).expanduser().resolve()
    return Path(resolved) / "models"


# --------------------------------------------------------------------------- label records
@dataclass
class PassageLabels:
    """Labels of one passage. `evidence` maps an axis (release, moderation, sentiment,
    topic:<name>) to the sentence of the passage that most supports the chosen label."""

    release: str
    release_prob: float
    moderation: str
    moderation_prob: float
    sentiment: str
    sentiment_prob: float
    topics: list[str]
    topic_probs: dict[str, float]
    evidence: dict[str, str] = field(default_factory=dict)
    evidence_probs: dict[str, float] = field(default_factory=dict)
    probs: dict[str, dict[str, float]] = field(default_factory=dict)  # axis -> {label: prob}
    n_chars: int = 0

    def label(self, axis: str) -> str:
        return getattr(self, axis)

    def prob(self, axis: str) -> float:
        return getattr(self, f"{axis}_prob")

    def margin(self, axis: str) -> float:
        """Top probability minus the runner-up on an axis (small = unsure)."""
        ps = sorted(self.probs.get(axis, {}).values(), reverse=True)
        return (ps[0] - ps[1]) if len(ps) > 1 else (ps[0] if ps else 0.0)

    def evidence_rows(self, passage_id: str | None = None) -> list[dict[str, Any]]:
        """Evidence as rows of the ANNOTATIONS `evidence` struct."""
        rows = []
        for axis, sentence in self.evidence.items():
            label = axis.split(":", 1)[1] if axis.startswith("topic:") else getattr(self, axis)
            rows.append({"axis": axis, "passage_id": passage_id, "label": label,
                         "prob": float(self.evidence_probs.get(axis, 0.0)), "sentence": sentence})
        return rows

    def to_row(self, passage_id: str | None = None) -> dict[str, Any]:
        """The label columns of an ANNOTATIONS row."""
        return {
            "release": self.release, "release_prob": float(self.release_prob),
            "moderation": self.moderation, "moderation_prob": float(self.moderation_prob),
            "topics": list(self.topics), "topic_probs": [(k, float(v)) for k, v in self.topic_probs.items()],
            "sentiment": self.sentiment, "sentiment_prob": float(self.sentiment_prob),
            "evidence": self.evidence_rows(passage_id),
        }


@dataclass
class DocLabels:
    """Document labels aggregated from its passages. `evidence` lists the passages and
    sentences that decided each axis (rows of the ANNOTATIONS `evidence` struct)."""

    release: str
    release_prob: float
    moderation: str
    moderation_prob: float
    sentiment: str
    sentiment_prob: float
    topics: list[str]
    topic_probs: dict[str, float]
    evidence: list[dict[str, Any]] = field(default_factory=list)
    passage_ids: list[str] = field(default_factory=list)

    def to_row(self) -> dict[str, Any]:
        return {
            "release": self.release, "release_prob": float(self.release_prob),
            "moderation": self.moderation, "moderation_prob": float(self.moderation_prob),
            "topics": list(self.topics), "topic_probs": [(k, float(v)) for k, v in self.topic_probs.items()],
            "sentiment": self.sentiment, "sentiment_prob": float(self.sentiment_prob),
            "evidence": [dict(e) for e in self.evidence],
        }


# --------------------------------------------------------------------------- the labeler
class Labeler:
    """A trained model: per-axis calibrated classifiers over shared features."""

    def __init__(self, *, version: str, featurizer: Featurizer, heads: dict[str, Any],
                 topic_heads: dict[str, Any], thresholds: dict[str, float], encoder: Encoder,
                 meta: dict[str, Any] | None = None, path: Path | None = None, pool_weight: float = 1.0):
        self.version = version
        self.pool_weight = float(pool_weight)  # weight of the whole passage against its best sentence
        self.featurizer = featurizer
        self.heads = heads  # axis -> fitted classifier with predict_proba and classes_
        self.topic_heads = topic_heads  # topic -> fitted binary classifier
        self.thresholds = thresholds
        self.encoder = encoder
        self.meta = meta or {}
        self.path = path

    # ------------------------------------------------------------ persistence
    @classmethod
    def load(cls, root: str | os.PathLike[str] | None = None, version: str | None = None) -> "Labeler":
        mdir = models_dir(root)
        if version is None:
            pointer = mdir / CURRENT
            if not pointer.is_file():
                raise ModelMissing(f"no trained model under {mdir}: run `debatelake train` first")
            version = pointer.read_text().strip()
        path = mdir / version
        if not (path / MODEL_FILE).is_file():
            raise ModelMissing(f"model version {version!r} is missing under {mdir}: run `debatelake train`")
        with open(path / MODEL_FILE, "rb") as fh:
            state = pickle.load(fh)
        if state.get("format") != MODEL_FORMAT:
            raise ModelMissing(f"model {version} under {mdir} was written by an older version of the code: "
                               "run `debatelake train` again")
        problem = state["featurizer"].layout_problem()
        if problem:
            raise ModelMissing(f"model {version} under {mdir} was trained by other feature code ({problem}): "
                               "run `debatelake train` again")
        meta = json.loads((path / META_FILE).read_text()) if (path / META_FILE).is_file() else {}
        encoder = get_encoder(mdir)
        if meta.get("embeddings") and encoder.digest != meta["embeddings"]:
            raise ModelMissing(
                f"model {version} was trained on other embeddings ({meta['embeddings']}, found {encoder.digest}) "
                f"under {mdir / 'embeddings'}: run `debatelake train` again"
            )
        return cls(version=version, featurizer=state["featurizer"], heads=state["heads"],
                   topic_heads=state["topic_heads"], thresholds=state["thresholds"], encoder=encoder,
                   meta=meta, path=path, pool_weight=state.get("pool_weight", 1.0))

    def save(self, mdir: Path, make_current: bool = True) -> Path:
        path = mdir / self.version
        tmp = mdir / f".{self.version}.tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        with open(tmp / MODEL_FILE, "wb") as fh:
            pickle.dump({"featurizer": self.featurizer, "heads": self.heads, "topic_heads": self.topic_heads,
                         "thresholds": self.thresholds, "pool_weight": self.pool_weight, "format": MODEL_FORMAT},
                        fh, protocol=4)
        (tmp / META_FILE).write_text(json.dumps(self.meta, indent=2, sort_keys=True))
        if path.exists():
            import shutil

            shutil.rmtree(path)
        tmp.rename(path)
        if make_current:
            pointer_tmp = mdir / f".{CURRENT}.tmp"
            pointer_tmp.write_text(self.version + "\n")
            pointer_tmp.replace(mdir / CURRENT)
        self.path = path
        return path

    # ------------------------------------------------------------ prediction
    def _head_probs(self, blocks: dict) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Probabilities of every axis head and every topic head for rows of blocks."""
        fz = self.featurizer
        axis_probs = {}
        for axis in AXES:
            head = self.heads[axis]
            lin = head.model
            d = fz.scores(blocks, axis, np.asarray(lin.coef_), np.asarray(lin.intercept_))
            scores = np.column_stack([-d[:, 0] / 2, d[:, 0] / 2]) if d.shape[1] == 1 else d
            axis_probs[axis] = _softmax(scores / head.temperature)
        n = next(iter(blocks.values())).shape[0]
        topic_probs = np.zeros((n, len(TOPICS)))
        linear = [(j, h) for j, h in enumerate(self.topic_heads[t] for t in TOPICS) if isinstance(h, PlattScaled)]
        if linear:
            coef = np.vstack([h.model.coef_ for _, h in linear])
            icpt = np.concatenate([np.ravel(h.model.intercept_) for _, h in linear])
            d = fz.scores(blocks, "topics", coef, icpt)
            a_ = np.array([h.a for _, h in linear])
            b_ = np.array([h.b for _, h in linear])
            topic_probs[:, [j for j, _ in linear]] = 1.0 / (1.0 + np.exp(-(a_ * d + b_)))
        for j, t in enumerate(TOPICS):
            h = self.topic_heads[t]
            if not isinstance(h, PlattScaled):
                topic_probs[:, j] = h.predict_proba(np.zeros((n, 1)))[:, 1]
        return axis_probs, topic_probs

    def predict_passages(self, texts: Sequence[str], tokens: Any = None) -> list[PassageLabels]:
        """Labels of each passage. `tokens`: the texts' words.TokenBatch, if the caller built it."""
        texts = [t or "" for t in texts]
        if not texts:
            return []
        # Every passage and every one of its sentences is scored in one pass: the sentences
        # pool into the passage's stance and topic probabilities and give the evidence.
        base = base_features(self.encoder, texts, tokens=tokens)
        p_blocks, s_blocks = self.featurizer.blocks(base)
        axis_probs, topic_probs = self._head_probs(p_blocks)
        if base.batch.n_sentences:
            s_axis, s_topics = self._head_probs(s_blocks)
        else:
            s_axis = {a: np.zeros((0, v.shape[1])) for a, v in axis_probs.items()}
            s_topics = np.zeros((0, len(TOPICS)))
        batch = base.batch
        sentences = batch.flat_sentences
        has = np.diff(batch.pass_starts) > 0
        first = batch.pass_starts[:-1][has]
        owner = batch.sentence_owner()
        pooling = self.pool_weight < 1.0 and bool(has.any())
        n = len(texts)
        rows = np.arange(n)

        def best_sentence(values: np.ndarray) -> np.ndarray:
            """Per passage, the index (into the flat sentences) of its highest value (first on ties)."""
            out = np.full(n, -1, dtype=np.int64)
            if len(values):
                order = np.lexsort((-values, owner))
                out[has] = order[first]
            return out

        def pooled(p: np.ndarray, s: np.ndarray, normalise: bool) -> np.ndarray:
            if not pooling:
                return p
            best = np.maximum.reduceat(s, first, axis=0)
            q = p.copy()
            q[has] = geometric_pool(p[has], best, self.pool_weight)
            if normalise:
                q[has] /= q[has].sum(axis=1, keepdims=True)
            return q

        per_axis = {}
        for axis in AXES:
            classes = [str(c) for c in self.heads[axis].classes_]
            p = pooled(axis_probs[axis], s_axis[axis], True) if axis in POOLED else axis_probs[axis]
            k = np.argmax(p, axis=1)
            ev = best_sentence(s_axis[axis][np.arange(len(owner)), k[owner]] if len(owner) else np.zeros(0))
            ev_p = s_axis[axis][np.maximum(ev, 0), k[rows]] if len(owner) else np.zeros(n)
            per_axis[axis] = (classes, p.tolist(), k.tolist(), p[rows, k].tolist(), ev.tolist(), ev_p.tolist())
        tp_all = pooled(topic_probs, s_topics, False) if "topics" in POOLED else topic_probs
        thresholds = np.array([self.thresholds.get(t, 0.5) for t in TOPICS])
        chosen_all = (tp_all >= thresholds).tolist()
        t_ev = np.column_stack([best_sentence(s_topics[:, j]) if len(owner) else np.full(n, -1) for j in range(len(TOPICS))])
        t_evp = np.take_along_axis(s_topics, np.maximum(t_ev, 0), axis=0) if len(owner) else np.zeros((n, len(TOPICS)))
        t_ev, t_evp, tp_list = t_ev.tolist(), t_evp.tolist(), tp_all.tolist()
        out: list[PassageLabels] = []
        for i, text in enumerate(texts):
            fields: dict[str, Any] = {}
            probs: dict[str, dict[str, float]] = {}
            evidence: dict[str, str] = {}
            ev_probs: dict[str, float] = {}
            for axis, (classes, p, k, pk, ev, evp) in per_axis.items():
                fields[axis] = classes[k[i]]
                fields[f"{axis}_prob"] = pk[i]
                probs[axis] = dict(zip(classes, p[i]))
                if ev[i] >= 0:
                    evidence[axis] = sentences[ev[i]]
                    ev_probs[axis] = evp[i]
            tp = dict(zip(TOPICS, tp_list[i]))
            chosen = [t for t, c in zip(TOPICS, chosen_all[i]) if c]
            for j, t in enumerate(TOPICS):
                if chosen_all[i][j] and t_ev[i][j] >= 0:
                    evidence[f"topic:{t}"] = sentences[t_ev[i][j]]
                    ev_probs[f"topic:{t}"] = t_evp[i][j]
            out.append(PassageLabels(topics=chosen, topic_probs=tp, evidence=evidence, evidence_probs=ev_probs,
                                     probs=probs, n_chars=len(text), **fields))
        return out

    def aggregate(self, passage_labels: Sequence[PassageLabels], passage_ids: Sequence[str]) -> DocLabels:
        return aggregate(passage_labels, passage_ids)


# --------------------------------------------------------------------------- aggregation
REAL_WEIGHT = 1 / 3  # the weaker side must carry at least this share of the stronger for `mixed`


def _axis_aggregate(axis: str, labels: Sequence[PassageLabels], ids: Sequence[str]) -> tuple[str, float, list[dict]]:
    pos, neg = SIDES[axis]
    on_topic = [(pl, pid) for pl, pid in zip(labels, ids) if pl.label(axis) != "none"]

    def ev(items):
        return [{"axis": axis, "passage_id": pid, "label": pl.label(axis), "prob": float(pl.prob(axis)),
                 "sentence": pl.evidence.get(axis, "")} for pl, pid in items]

    if not on_topic:
        # Nothing on topic: `none`, as sure as the least sure passage is of being off topic.
        prob = min((pl.probs.get(axis, {}).get("none", pl.prob(axis)) for pl in labels), default=1.0)
        return "none", float(prob), []
    weight = lambda items: sum(pl.prob(axis) * (1.0 + np.log1p(pl.n_chars / 500)) for pl, _ in items)  # noqa: E731
    side = {lab: [(pl, pid) for pl, pid in on_topic if pl.label(axis) == lab] for lab in (pos, neg, "mixed")}
    w_pos, w_neg, w_mix = weight(side[pos]), weight(side[neg]), weight(side["mixed"])
    strong, weak = max(w_pos, w_neg), min(w_pos, w_neg)

    def mean_prob(items):
        return float(np.mean([pl.prob(axis) for pl, _ in items])) if items else 0.0

    if strong > 0 and weak >= REAL_WEIGHT * strong:
        items = side[pos] + side[neg]
        top = lambda xs: sorted(xs, key=lambda x: -x[0].prob(axis))[:2]  # noqa: E731
        return "mixed", mean_prob(items), ev(top(side[pos]) + top(side[neg]))
    if w_mix > strong:
        items = side["mixed"]
        return "mixed", mean_prob(items), ev(sorted(items, key=lambda x: -x[0].prob(axis))[:3])
    if strong > 0:
        lab = pos if w_pos > w_neg else neg
        items = side[lab]
        return lab, mean_prob(items), ev(sorted(items, key=lambda x: -x[0].prob(axis))[:3])
    items = on_topic  # on topic, no side taken
    return "neutral", mean_prob(items), ev(sorted(items, key=lambda x: -x[0].prob(axis))[:2])


def aggregate(passage_labels: Sequence[PassageLabels], passage_ids: Sequence[str]) -> DocLabels:
    """Document labels per the guidelines: a side when the on-topic passages lean clearly one
    way, `mixed` when both sides carry real weight, `neutral` when on topic without a side,
    `none` when no passage is on topic; tone and topics from the passages' probabilities."""
    labels = list(passage_labels)
    ids = [str(p) for p in passage_ids]
    if len(labels) != len(ids):
        raise ValueError(f"{len(labels)} passage labels but {len(ids)} passage ids")
    if not labels:
        return DocLabels(release="none", release_prob=1.0, moderation="none", moderation_prob=1.0,
                         sentiment="neutral", sentiment_prob=1.0, topics=[], topic_probs={t: 0.0 for t in TOPICS})
    fields: dict[str, Any] = {}
    evidence: list[dict] = []
    for axis in STANCE_AXES:
        lab, prob, ev = _axis_aggregate(axis, labels, ids)
        fields[axis], fields[f"{axis}_prob"] = lab, prob
        evidence += ev
    # Tone: the length-weighted mean of the passages' tone distributions.
    weights = np.array([max(1, pl.n_chars) for pl in labels], dtype=float)
    classes = list(SENTIMENT)
    dist = np.zeros(len(classes))
    for w, pl in zip(weights, labels):
        p = pl.probs.get("sentiment") or {pl.sentiment: pl.sentiment_prob}
        dist += w * np.array([p.get(c, 0.0) for c in classes])
    dist /= max(weights.sum(), 1e-9)
    k = int(np.argmax(dist))
    fields["sentiment"], fields["sentiment_prob"] = classes[k], float(dist[k])
    best = max(range(len(labels)), key=lambda i: (labels[i].probs.get("sentiment", {}).get(classes[k], 0.0)))
    evidence.append({"axis": "sentiment", "passage_id": ids[best], "label": classes[k],
                     "prob": float(labels[best].probs.get("sentiment", {}).get(classes[k], labels[best].sentiment_prob)),
                     "sentence": labels[best].evidence.get("sentiment", "")})
    # Topics: a document has a topic when any passage has it; its probability is the highest.
    topic_probs = {t: float(max(pl.topic_probs.get(t, 0.0) for pl in labels)) for t in TOPICS}
    topics = [t for t in TOPICS if any(t in pl.topics for pl in labels)]
    for t in topics:
        i = max((i for i, pl in enumerate(labels) if t in pl.topics), key=lambda i: labels[i].topic_probs.get(t, 0.0))
        evidence.append({"axis": f"topic:{t}", "passage_id": ids[i], "label": t, "prob": topic_probs[t],
                         "sentence": labels[i].evidence.get(f"topic:{t}", "")})
    return DocLabels(topics=topics, topic_probs=topic_probs, evidence=evidence, passage_ids=ids, **fields)


# --------------------------------------------------------------------------- sentence pooling
# Stance and topics are often carried by one sentence of a long passage. A passage's
# distribution on those heads is the normalised geometric mean of its whole-passage
# probabilities and, per label, the highest probability any of its sentences gets.
POOLED = ("release", "moderation", "topics")


def geometric_pool(p: np.ndarray, best: np.ndarray, weight: float) -> np.ndarray:
    """Weighted geometric mean of passage probabilities and best-sentence probabilities
    (unnormalised; prediction and training's out-of-fold scores both use it)."""
    return np.exp(weight * np.log(np.clip(p, 1e-9, 1)) + (1 - weight) * np.log(np.clip(best, 1e-9, 1)))


# --------------------------------------------------------------------------- calibrated heads
def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _scores(model: Any, X) -> np.ndarray:
    d = np.asarray(model.decision_function(X), dtype=float)
    return np.column_stack([-d / 2, d / 2]) if d.ndim == 1 else d


class TemperatureScaled:
    """A multi-class linear model whose scores are divided by one temperature. The axis heads
    that `train` writes are FusedLinear models whose view weights, fitted on out-of-fold scores,
    already calibrate them (temperature 1)."""

    def __init__(self, model: Any, temperature: float = 1.0):
        self.model = model
        self.temperature = float(temperature)
        self.classes_ = model.classes_

    def predict_proba(self, X) -> np.ndarray:
        return _softmax(_scores(self.model, X) / self.temperature)

    def predict(self, X) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


class FusedLinear:
    """Several linear views of one axis fused into one linear model: each view's weights, fitted
    on its own blocks, times the view's weight (fitted on out-of-fold scores). Their product of
    experts is exactly a linear model over the joined columns, so prediction costs no more."""

    def __init__(self, coef: np.ndarray, intercept: np.ndarray, classes: np.ndarray):
        self.coef_ = np.asarray(coef, dtype=np.float64)
        self.intercept_ = np.asarray(intercept, dtype=np.float64)
        self.classes_ = np.asarray(classes)

    def decision_function(self, X) -> np.ndarray:
        return np.asarray(X @ self.coef_.T) + self.intercept_


class PlattScaled:
    """A binary linear model calibrated by Platt scaling fitted on out-of-fold scores."""

    def __init__(self, model: Any, a: float = 1.0, b: float = 0.0):
        self.model = model
        self.a, self.b = float(a), float(b)
        self.classes_ = np.array([0, 1])

    def predict_proba(self, X) -> np.ndarray:
        d = np.asarray(self.model.decision_function(X), dtype=float)
        p = 1.0 / (1.0 + np.exp(-(self.a * d + self.b)))
        return np.column_stack([1 - p, p])


class ConstantBinary:
    """A topic no training passage has (or every one has): a fixed probability."""

    def __init__(self, p: float):
        self.p = float(p)
        self.classes_ = np.array([0, 1])

    def decision_function(self, X) -> np.ndarray:
        return np.full(X.shape[0], np.log(max(self.p, 1e-6) / max(1 - self.p, 1e-6)))

    def predict_proba(self, X) -> np.ndarray:
        return np.column_stack([np.full(X.shape[0], 1 - self.p), np.full(X.shape[0], self.p)])
