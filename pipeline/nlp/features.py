"""Meaning-level features for the label models.

A batch of passages is tokenised once, at sentence level (`words.TokenBatch`), and every
passage *and* every one of its sentences becomes blocks of features:
- `emb`: the static embedding (model2vec distilled from all-MiniLM-L6-v2, 256-d): the mean of
  its tokens' vectors, so a passage's is the sum of its sentences' (`Encoder.sentence_sums`),
- `cue`: negation- and attribution-aware lexicon cues (`rules.cue_features`),
- `tone`: valence-lexicon tone scores per sentence, pooled (`tone.tone_features`),
- `tfidf`: TF-IDF of word unigrams and within-sentence bigrams (`WordTfidf`, fitted on the
  training passages), a passage's counts being the sum of its sentences',
- `frame`: target-dependent tone (`frame_features`): a sentence's valence or modal verb or
  negation *together with* what it is about (release, moderation, regulation, misuse). Stance
  is an evaluation of a target ("X enabled an ecosystem", "without guardrails it is one prompt
  from disaster", "needs to be filtered"), which a sum of word vectors cannot express; these
  products let a linear head weigh "positive about openness" apart from "mentions openness".
Each head (release, moderation, sentiment, topics) reads its own weighted mix of the blocks:
dense blocks are standardised and scaled so that each block's total variance is about its
weight, and no block drowns the others. The tone head leans on embeddings and the tone
lexicon; the stance heads on embeddings, the stance cues and the frames (at double weight), and
words. On ../shared/eval/dev.jsonl the frames moved release / moderation macro-F1 from
0.511 / 0.538 to 0.563 / 0.586 at weight 2 (0.53-0.57 / 0.55-0.59 for weights 1-5), with the
cross-validated figures unchanged: the weight was chosen on dev, so read that gain as optimistic.
The stance and tone heads are then fitted per view (`TrainParams.views`: the embedding block
apart from the lexical blocks) and fused (train.py); the weights above scale each block within
its view. Words had half weight while one head read every block (word counts learned from our
own prose transfer worst, and jointly they crowded out the embeddings); in its own view they no
longer can, and full weight scored better on cross-validation, on dev (release 0.590 -> ~0.60,
three fold seeds) and the same on labelled real seed passages (session 6 note).

The heads are linear: at prediction time `Featurizer.scores` computes a head's scores block by
block (dense blocks as dense products), never building the joined matrix.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.preprocessing import StandardScaler

from .embeddings import Encoder
from .rules import FEATURE_NAMES, cue_features
from .tone import TONE_FEATURE_NAMES, tone_features
from .words import IdTable, TokenBatch, segment_sums

BLOCKS = ("emb", "cue", "tone", "tfidf", "frame")
HEADS = ("release", "moderation", "sentiment", "topics")
_IS_WORD = re.compile(r"\w").match


@dataclass(frozen=True)
class FeatureParams:
    # per head: weights of (emb, cue, tone, tfidf, frame)
    weights: tuple[tuple[str, tuple[float, float, float, float, float]], ...] = (
        ("release", (1.0, 1.0, 0.0, 1.0, 2.0)),
        ("moderation", (1.0, 1.0, 0.0, 1.0, 2.0)),
        ("sentiment", (1.0, 0.0, 1.0, 0.5, 0.0)),
        ("topics", (1.0, 1.0, 0.0, 1.0, 0.0)),
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


@dataclass
class BaseFeatures:
    """The parts that need no fitting, for passages and for each of their sentences:
    embeddings, lexicon features (stance cues then tone), target-dependent tone (frame) and
    the tokens (for TF-IDF)."""

    batch: TokenBatch
    emb: np.ndarray
    lex: np.ndarray
    s_emb: np.ndarray
    s_lex: np.ndarray
    frame: np.ndarray
    s_frame: np.ndarray

    def __len__(self) -> int:
        return len(self.batch.texts)

    def subset(self, idx) -> "BaseFeatures":
        """The same features for passages `idx` (in that order) and their sentences."""
        idx = np.asarray(idx, dtype=np.int64)
        b = self.batch
        ps = b.pass_starts
        sent_idx = np.concatenate([np.arange(ps[i], ps[i + 1]) for i in idx]) if len(idx) else np.zeros(0, np.int64)
        ss = b.sent_starts
        tok_idx = np.concatenate([np.arange(ss[j], ss[j + 1]) for j in sent_idx]) if len(sent_idx) else np.zeros(0, np.int64)
        new_ss = np.zeros(len(sent_idx) + 1, dtype=np.int64)
        np.cumsum(ss[sent_idx + 1] - ss[sent_idx], out=new_ss[1:])
        new_ps = np.zeros(len(idx) + 1, dtype=np.int64)
        np.cumsum(ps[idx + 1] - ps[idx], out=new_ps[1:])
        batch = TokenBatch(texts=[b.texts[i] for i in idx], sentences=[b.sentences[i] for i in idx],
                           ids=b.ids[tok_idx], sent_starts=new_ss, pass_starts=new_ps)
        return BaseFeatures(batch, self.emb[idx], self.lex[idx], self.s_emb[sent_idx], self.s_lex[sent_idx],
                            self.frame[idx], self.s_frame[sent_idx])


def _normalise(sums: np.ndarray, counts: np.ndarray) -> np.ndarray:
    v = sums / np.maximum(counts, 1.0)[:, None]
    return (v / (np.linalg.norm(v, axis=1, keepdims=True) + 1e-32)).astype(np.float32)


def base_features(encoder: Encoder, texts: list[str], tokens: TokenBatch | None = None) -> BaseFeatures:
    """Embeddings and lexicon features of passages and their sentences, from one tokenisation.
    `tokens`, if given, is the texts' TokenBatch (built by the caller, who uses it too)."""
    if tokens is not None and tokens.texts != list(texts):
        raise ValueError("tokens were built from other texts")
    batch = tokens if tokens is not None else TokenBatch.build(texts)
    s_sums, s_counts = encoder.sentence_sums(batch)
    emb = _normalise(segment_sums(s_sums, batch.pass_starts), segment_sums(s_counts, batch.pass_starts))
    s_emb = _normalise(s_sums, s_counts)
    flat = batch.flat_sentences
    cues = cue_features(batch.texts + flat, batch.sentences + [[s] for s in flat])
    tone_p, tone_s = tone_features(batch)
    n = len(batch.texts)
    s_lex = np.hstack([cues[n:], tone_s])
    frame, s_frame = frame_features(s_lex, batch.pass_starts)
    return BaseFeatures(batch, emb, np.hstack([cues[:n], tone_p]), s_emb, s_lex, frame, s_frame)


_COL = {name: i for i, name in enumerate(FEATURE_NAMES)}
_COMPOUND = len(FEATURE_NAMES) + TONE_FEATURE_NAMES.index("tone_compound")
# (valence, target) pairs: valence is pos / neg (the sentence's compound tone, split by sign),
# modal (should, must, needs to) or neg (a negator); targets are the sentence's topic cues, alone
# or in pairs ("regulation" and "open_release": restricting open models).
FRAMES = (
    ("pos", "open_release"), ("neg", "open_release"), ("modal", "open_release"), ("neg_words", "open_release"),
    ("pos", "moderation"), ("neg", "moderation"), ("modal", "moderation"), ("neg_words", "moderation"),
    ("neg", "regulation+open_release"), ("pos", "regulation+open_release"), ("modal", "regulation"),
    ("neg", "misuse_risk+open_release"), ("neg", "misuse_risk+moderation"), ("modal", "misuse_risk"), ("pos", "misuse_risk"),
    ("neg", "industry+open_release"), ("pos", "transparency"), ("modal", "transparency"), ("neg", "licensing+open_release"),
    ("modal+neg_words", "moderation"), ("modal+neg_words", "open_release"),
)
FRAME_NAMES = [f"{kind}:{v}@{t}" for kind in ("mean", "max") for v, t in FRAMES]


def frame_features(s_lex: np.ndarray, pass_starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(passage, sentence) target-dependent tone features from the sentences' lexicon features:
    per sentence, valence x target products; per passage, their mean and max over its sentences
    (a sentence's own mean and max are itself)."""
    n_s = s_lex.shape[0]
    comp = s_lex[:, _COMPOUND].astype(np.float64) if n_s else np.zeros(0)
    has = {name: (s_lex[:, _COL[name]] > 0).astype(np.float64) for name in ("modal", "neg_words")}
    valence = {"pos": np.maximum(comp, 0.0), "neg": np.maximum(-comp, 0.0), **has}
    topic = lambda t: (s_lex[:, _COL["topic:" + t]] > 0).astype(np.float64)  # noqa: E731
    cols = []
    for v, t in FRAMES:
        col = np.ones(n_s)
        for part in v.split("+"):
            col = col * valence[part]
        for part in t.split("+"):
            col = col * topic(part)
        cols.append(col)
    per_sentence = np.stack(cols, axis=1) if n_s else np.zeros((0, len(FRAMES)))
    n = len(pass_starts) - 1
    counts = np.diff(pass_starts)
    mean = segment_sums(per_sentence, pass_starts) / np.maximum(counts, 1)[:, None]
    mx = np.zeros((n, len(FRAMES)))
    full = counts > 0
    if full.any():
        mx[full] = np.maximum.reduceat(per_sentence, pass_starts[:-1][full], axis=0)
    return (np.hstack([mean, mx]).astype(np.float32),
            np.hstack([per_sentence, per_sentence]).astype(np.float32))


class WordTfidf:
    """TF-IDF of word unigrams and within-sentence bigrams over a TokenBatch (sublinear tf,
    smoothed idf, unit-length rows): sklearn's TfidfVectorizer arithmetic on the shared word
    ids, so no second tokenisation. The vocabulary is kept as strings (word ids are per process)."""

    def __init__(self, max_features: int = 20000, min_df: int = 2, bigrams: bool = True):
        self.max_features, self.min_df, self.bigrams = max_features, min_df, bigrams
        self.unigrams: dict[str, int] = {}
        self.bigram_words: dict[str, int] = {}  # word -> position, for the words that start or end a bigram
        self.bigram_keys = np.zeros(0, dtype=np.int64)  # sorted a * B + b
        self.bigram_cols = np.zeros(0, dtype=np.int64)
        self.idf = np.zeros(0, dtype=np.float32)
        self._tables = None

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_tables"] = None
        return state

    # ------------------------------------------------------------ word ids -> columns
    def _columns(self, words: list[str]) -> np.ndarray:
        uni, bw = self.unigrams, self.bigram_words
        out = np.full((len(words), 3), -1, dtype=np.int64)
        for k, w in enumerate(words):
            out[k, 0] = uni.get(w, -1)
            out[k, 1] = bw.get(w, -1)
            out[k, 2] = 1 if _IS_WORD(w) else 0
        return out

    def _word_table(self) -> np.ndarray:
        if self._tables is None:
            self._tables = IdTable(self._columns)
        return self._tables.get()

    @staticmethod
    def _word_positions(batch: TokenBatch, is_word: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Word-token ids (punctuation dropped) and the sentence each belongs to."""
        sent = np.repeat(np.arange(batch.n_sentences), np.diff(batch.sent_starts))
        keep = is_word[batch.ids] == 1 if len(batch.ids) else np.zeros(0, dtype=bool)
        return batch.ids[keep], sent[keep]

    def sentence_counts(self, batch: TokenBatch) -> sp.csr_matrix:
        """Raw term counts of every sentence (rows) over the fitted vocabulary."""
        table = self._word_table()
        ids, sent = self._word_positions(batch, table[:, 2])
        cols = table[ids, 0]
        rows = [sent[cols >= 0]]
        cs = [cols[cols >= 0]]
        if self.bigrams and len(ids) > 1 and len(self.bigram_keys):
            a, b = table[ids[:-1], 1], table[ids[1:], 1]
            ok = (sent[:-1] == sent[1:]) & (a >= 0) & (b >= 0)
            keys = a[ok] * len(self.bigram_words) + b[ok]
            pos = np.searchsorted(self.bigram_keys, keys)
            pos = np.minimum(pos, len(self.bigram_keys) - 1)
            hit = self.bigram_keys[pos] == keys
            rows.append(sent[:-1][ok][hit])
            cs.append(self.bigram_cols[pos[hit]])
        r, c = np.concatenate(rows), np.concatenate(cs)
        return sp.csr_matrix((np.ones(len(r), dtype=np.float32), (r, c)), shape=(batch.n_sentences, len(self.idf)))

    def weigh(self, counts: sp.csr_matrix) -> sp.csr_matrix:
        """Counts -> sublinear tf x idf, rows scaled to unit length."""
        m = counts.tocsr(copy=True).astype(np.float32)
        m.sum_duplicates()
        m.data = (1.0 + np.log(m.data)) * self.idf[m.indices]
        norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        return sp.csr_matrix(sp.diags(1.0 / norms).astype(np.float32) @ m)

    # ------------------------------------------------------------ fitting
    def fit(self, batch: TokenBatch) -> "WordTfidf":
        from collections import Counter

        from .words import word_index

        words = word_index().words
        is_word = np.fromiter((1 if _IS_WORD(w) else 0 for w in words), dtype=np.int64, count=len(words))
        ids, sent = self._word_positions(batch, is_word)
        owner = batch.sentence_owner()[sent] if len(sent) else sent
        tf: Counter = Counter()
        df: Counter = Counter()
        terms_by_passage: list[set] = [set() for _ in batch.texts]
        for k in range(len(ids)):
            w = words[ids[k]]
            tf[w] += 1
            terms_by_passage[owner[k]].add(w)
            if self.bigrams and k + 1 < len(ids) and sent[k + 1] == sent[k]:
                bg = (w, words[ids[k + 1]])
                tf[bg] += 1
                terms_by_passage[owner[k]].add(bg)
        for terms in terms_by_passage:
            df.update(terms)
        kept = [t for t in tf if df[t] >= self.min_df]
        kept.sort(key=lambda t: (-tf[t], t if isinstance(t, str) else " ".join(t)))
        kept = kept[: self.max_features]
        terms = sorted(kept, key=lambda t: t if isinstance(t, str) else " ".join(t))
        n = len(batch.texts)
        self.idf = np.array([np.log((1 + n) / (1 + df[t])) + 1.0 for t in terms], dtype=np.float32)
        self.unigrams = {t: j for j, t in enumerate(terms) if isinstance(t, str)}
        bigram_terms = [(t, j) for j, t in enumerate(terms) if not isinstance(t, str)]
        bw = sorted({w for (a, b), _ in bigram_terms for w in (a, b)})
        self.bigram_words = {w: k for k, w in enumerate(bw)}
        B = len(bw)
        keys = np.array([self.bigram_words[a] * B + self.bigram_words[b] for (a, b), _ in bigram_terms], dtype=np.int64)
        cols = np.array([j for _, j in bigram_terms], dtype=np.int64)
        order = np.argsort(keys)
        self.bigram_keys, self.bigram_cols = keys[order], cols[order]
        self._tables = None
        return self


def _frame_block(frame: np.ndarray) -> np.ndarray:
    # Not standardised: most products are zero in most passages, and z-scores would blow a rare
    # one up until it drowns every other block. They are already in [0, 1].
    return (frame / np.sqrt(max(1, frame.shape[1]))).astype(np.float32)


class Featurizer:
    """Fits the scalers and TF-IDF vocabulary on training passages; turns base features into
    one matrix per head (training) or one score matrix per head (prediction)."""

    def __init__(self, params: FeatureParams | None = None):
        self.params = params or FeatureParams()
        self.n_cue = len(FEATURE_NAMES)
        self.emb_scaler = StandardScaler()
        self.cue_scaler = StandardScaler()
        self.tone_scaler = StandardScaler()
        self.tfidf: WordTfidf | None = None

    def fit(self, base: BaseFeatures) -> "Featurizer":
        p = self.params
        self.emb_scaler.fit(base.emb)
        self.cue_scaler.fit(base.lex[:, :self.n_cue])
        self.tone_scaler.fit(base.lex[:, self.n_cue:])
        self.n_frame = base.frame.shape[1]
        if any(dict(zip(BLOCKS, w))["tfidf"] > 0 for _, w in p.weights):
            self.tfidf = WordTfidf(p.tfidf_max_features, p.tfidf_min_df, p.tfidf_ngram_max > 1).fit(base.batch)
        return self

    def layout_problem(self) -> str | None:
        """Why this (unpickled) featurizer cannot run under the current code, or None: the
        lexicon, tone and frame columns it was fitted on must be the ones the code computes."""
        have = {"cue": getattr(self.cue_scaler, "n_features_in_", None),
                "tone": getattr(self.tone_scaler, "n_features_in_", None),
                "frame": getattr(self, "n_frame", None)}
        want = {"cue": len(FEATURE_NAMES), "tone": len(TONE_FEATURE_NAMES), "frame": len(FRAME_NAMES)}
        wrong = [f"{k}: {have[k]} columns, the code computes {want[k]}" for k in want if have[k] != want[k]]
        return "; ".join(wrong) or None

    def block_slices(self, head: str) -> dict[str, slice]:
        """Where each of a head's blocks sits among the columns `assemble` joins for it."""
        dims = {"emb": self.emb_scaler.n_features_in_, "cue": self.n_cue, "tone": self.tone_scaler.n_features_in_,
                "tfidf": len(self.tfidf.idf) if self.tfidf is not None else 0, "frame": self.n_frame}
        w = self.params.head_weights(head)
        out, col = {}, 0
        for b in BLOCKS:
            if w[b] > 0 and dims[b] > 0:
                out[b] = slice(col, col + dims[b])
                col += dims[b]
        return out

    def _dense(self, emb: np.ndarray, lex: np.ndarray, frame: np.ndarray) -> dict[str, np.ndarray]:
        def z(scaler: StandardScaler, a: np.ndarray) -> np.ndarray:
            return (np.nan_to_num(scaler.transform(a)) / np.sqrt(max(1, a.shape[1]))).astype(np.float32)

        return {"emb": z(self.emb_scaler, emb), "cue": z(self.cue_scaler, lex[:, :self.n_cue]),
                "tone": z(self.tone_scaler, lex[:, self.n_cue:]), "frame": _frame_block(frame)}

    def blocks(self, base: BaseFeatures) -> tuple[dict, dict]:
        """(passage blocks, sentence blocks): dense blocks standardised and scaled to unit
        total variance, TF-IDF rows unit length."""
        p_blocks, s_blocks = self._dense(base.emb, base.lex, base.frame), self._dense(base.s_emb, base.s_lex, base.s_frame)
        if self.tfidf is not None:
            b = base.batch
            s_counts = self.tfidf.sentence_counts(b)
            owner = sp.csr_matrix((np.ones(b.n_sentences, dtype=np.float32), (b.sentence_owner(), np.arange(b.n_sentences))),
                                  shape=(len(b.texts), b.n_sentences))
            p_blocks["tfidf"] = self.tfidf.weigh(owner @ s_counts)
            s_blocks["tfidf"] = self.tfidf.weigh(s_counts)
        return p_blocks, s_blocks

    def assemble(self, blocks: dict, head: str) -> sp.csr_matrix:
        """The joined matrix a head is trained on."""
        w = self.params.head_weights(head)
        parts = [sp.csr_matrix(blocks[b]) * w[b] for b in BLOCKS if w[b] > 0 and b in blocks]
        return sp.hstack(parts, format="csr", dtype=np.float32)

    def transform(self, base: BaseFeatures, sentences: bool = True) -> tuple[dict[str, sp.csr_matrix], dict[str, sp.csr_matrix] | None]:
        """One feature matrix per head, for the passages and (if asked) for their sentences."""
        pb, sb = self.blocks(base)
        return {h: self.assemble(pb, h) for h in HEADS}, ({h: self.assemble(sb, h) for h in HEADS} if sentences else None)

    def scores(self, blocks: dict, head: str, coef: np.ndarray, intercept: np.ndarray) -> np.ndarray:
        """coef (k, d) over the head's joined columns -> (n, k) scores, block by block."""
        w = self.params.head_weights(head)
        out = None
        col = 0
        for b in BLOCKS:
            if w[b] <= 0 or b not in blocks:
                continue
            m = blocks[b]
            d = m.shape[1]
            part = m @ (coef[:, col:col + d].T * w[b])
            part = np.asarray(part.todense() if sp.issparse(part) else part)
            out = part if out is None else out + part
            col += d
        if col != coef.shape[1]:  # a model fitted by other feature code: never score silently wrong
            raise ValueError(f"the {head} head has {coef.shape[1]} weights but the features have {col} columns; "
                             "retrain with `debatelake train`")
        return out + intercept
