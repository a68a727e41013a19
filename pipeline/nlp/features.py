"""Meaning-level features for the label models.

A passage becomes blocks of features:
- `emb`: its sentence embedding (static model2vec model distilled from all-MiniLM-L6-v2, 256-d),
- `cue`: negation- and attribution-aware lexicon cues (`rules.cue_features`),
- `tone`: sentence-level VADER tone scores pooled over the passage (`rules.tone_features`),
- `tfidf`: TF-IDF word uni/bigrams (fitted on the training texts).
Each head (release, moderation, sentiment, topics) reads its own weighted mix of the blocks:
dense blocks are standardised and scaled so that each block's total variance is about its
weight, and no block drowns the others. The tone head leans on embeddings and the tone
lexicon; the stance heads on embeddings and the stance cues, with words at half weight (word
counts learned from the project's own prose transfer worst to other writers).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import StandardScaler

from .embeddings import Encoder
from .rules import FEATURE_NAMES, cue_features, split_sentences, tone_features

BLOCKS = ("emb", "cue", "tone", "tfidf")
HEADS = ("release", "moderation", "sentiment", "topics")


@dataclass(frozen=True)
class FeatureParams:
    # per head: weights of (emb, cue, tone, tfidf)
    weights: tuple[tuple[str, tuple[float, float, float, float]], ...] = (
        ("release", (1.0, 1.0, 0.0, 0.5)),
        ("moderation", (1.0, 1.0, 0.0, 0.5)),
        ("sentiment", (1.0, 0.0, 1.0, 0.5)),
        ("topics", (1.0, 1.0, 0.0, 1.0)),
    )
    tfidf_max_features: int = 20000
    tfidf_min_df: int = 2
    tfidf_ngram_max: int = 2

    def head_weights(self, head: str) -> dict[str, float]:
        return dict(zip(BLOCKS, dict(self.weights)[head]))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["weights"] = {h: dict(zip(BLOCKS, w)) for h, w in self.weights}
        return d


def base_features(encoder: Encoder, texts: list[str], sentences: list[list[str]] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The parts that need no fitting: (embeddings, lexicon features = stance cues + tone).
    `sentences`, if given, is split_sentences() of each text."""
    if sentences is None:
        sentences = [split_sentences(t or "") for t in texts]
    return encoder.encode(texts), np.hstack([cue_features(texts, sentences), tone_features(texts, sentences)])


class Featurizer:
    """Fits the scalers and TF-IDF vocabulary on training texts; transforms any texts into
    one matrix per head."""

    def __init__(self, params: FeatureParams | None = None):
        self.params = params or FeatureParams()
        self.n_cue = len(FEATURE_NAMES)
        self.emb_scaler = StandardScaler()
        self.cue_scaler = StandardScaler()
        self.tone_scaler = StandardScaler()
        self.tfidf: TfidfVectorizer | None = None

    def fit(self, texts: list[str], emb: np.ndarray, lex: np.ndarray) -> "Featurizer":
        p = self.params
        self.emb_scaler.fit(emb)
        self.cue_scaler.fit(lex[:, :self.n_cue])
        self.tone_scaler.fit(lex[:, self.n_cue:])
        if any(dict(zip(BLOCKS, w))["tfidf"] > 0 for _, w in p.weights):
            self.tfidf = TfidfVectorizer(
                lowercase=True, ngram_range=(1, p.tfidf_ngram_max), min_df=p.tfidf_min_df,
                max_features=p.tfidf_max_features, sublinear_tf=True, strip_accents="unicode",
                token_pattern=r"(?u)\b\w[\w'-]*\b", dtype=np.float32,
            ).fit(texts)
        return self

    def blocks(self, texts: list[str], emb: np.ndarray, lex: np.ndarray) -> dict[str, sp.csr_matrix]:
        """Every block, standardised and scaled to unit total variance (TF-IDF rows are unit length)."""

        def dense(scaler: StandardScaler, a: np.ndarray) -> sp.csr_matrix:
            z = np.nan_to_num(scaler.transform(a)) / np.sqrt(max(1, a.shape[1]))
            return sp.csr_matrix(z.astype(np.float32))

        out = {"emb": dense(self.emb_scaler, emb), "cue": dense(self.cue_scaler, lex[:, :self.n_cue]),
               "tone": dense(self.tone_scaler, lex[:, self.n_cue:])}
        if self.tfidf is not None:
            out["tfidf"] = self.tfidf.transform(texts).tocsr()
        return out

    def assemble(self, blocks: dict[str, sp.csr_matrix], head: str) -> sp.csr_matrix:
        w = self.params.head_weights(head)
        parts = [blocks[b] * w[b] for b in BLOCKS if w[b] > 0 and b in blocks]
        return sp.hstack(parts, format="csr", dtype=np.float32)

    def transform(self, texts: list[str], emb: np.ndarray, lex: np.ndarray) -> dict[str, sp.csr_matrix]:
        """One feature matrix per head."""
        b = self.blocks(texts, emb, lex)
        return {h: self.assemble(b, h) for h in HEADS}
