"""Meaning-level features for the label models.

A passage becomes one row of:
- its sentence embedding (static model2vec model distilled from all-MiniLM-L6-v2, 256-d),
- negation- and attribution-aware lexicon cues (`rules.cue_features`),
- TF-IDF word uni/bigrams (fitted on the training texts),
each block standardised and weighted so that no block drowns the others.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import StandardScaler

from .embeddings import Encoder
from .rules import cue_features


@dataclass(frozen=True)
class FeatureParams:
    emb_weight: float = 1.0
    cue_weight: float = 0.5
    tfidf_weight: float = 1.0
    tfidf_max_features: int = 20000
    tfidf_min_df: int = 2
    tfidf_ngram_max: int = 2

    def to_dict(self) -> dict:
        return asdict(self)


def base_features(encoder: Encoder, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """The parts that need no fitting: (embeddings, cue features)."""
    return encoder.encode(texts), cue_features(texts)


class Featurizer:
    """Fits the scalers and TF-IDF vocabulary on training texts; transforms any texts."""

    def __init__(self, params: FeatureParams | None = None):
        self.params = params or FeatureParams()
        self.emb_scaler = StandardScaler()
        self.cue_scaler = StandardScaler()
        self.tfidf: TfidfVectorizer | None = None

    def fit(self, texts: list[str], emb: np.ndarray, cues: np.ndarray) -> "Featurizer":
        p = self.params
        self.emb_scaler.fit(emb)
        self.cue_scaler.fit(cues)
        if p.tfidf_weight > 0:
            self.tfidf = TfidfVectorizer(
                lowercase=True, ngram_range=(1, p.tfidf_ngram_max), min_df=p.tfidf_min_df,
                max_features=p.tfidf_max_features, sublinear_tf=True, strip_accents="unicode",
                token_pattern=r"(?u)\b\w[\w'-]*\b", dtype=np.float32,
            ).fit(texts)
        return self

    def transform(self, texts: list[str], emb: np.ndarray, cues: np.ndarray) -> sp.csr_matrix:
        p = self.params
        # Standardised dense blocks, scaled so each block's total variance is about `weight`.
        e = self.emb_scaler.transform(emb) * (p.emb_weight / np.sqrt(emb.shape[1]))
        c = np.nan_to_num(self.cue_scaler.transform(cues)) * (p.cue_weight / np.sqrt(cues.shape[1]))
        blocks = [sp.csr_matrix(e.astype(np.float32)), sp.csr_matrix(c.astype(np.float32))]
        if self.tfidf is not None:
            blocks.append(self.tfidf.transform(texts) * p.tfidf_weight)
        return sp.hstack(blocks, format="csr", dtype=np.float32)
