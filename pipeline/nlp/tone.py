"""Tone features: a valence lexicon scored over the shared word ids, with numpy.

The word valences are the VADER lexicon's (read in place from the installed vaderSentiment
package). The scoring rules are the project's own, simple and vectorised: a word's valence
is flipped and damped when one of the three words before it (in its sentence) negates it,
raised or lowered by an intensifier just before it, weighted down before a "but" and up
after it; a sentence scores the sum, squashed to [-1, 1], and the shares of positive,
negative and neutral words. A passage pools its sentences: means, the most positive and
most negative sentence, and the shares of clearly positive / negative / exclaimed sentences.
"""
from __future__ import annotations

import threading
from importlib import resources

import numpy as np

from .words import IdTable, TokenBatch, segment_sums

TONE_FEATURE_NAMES = ["tone_pos", "tone_neg", "tone_neu", "tone_compound", "tone_max", "tone_min",
                      "share_positive", "share_negative", "exclaim_share"]
NEGATORS = frozenset("""not no never none nobody nothing nowhere neither nor cannot without hardly barely
    isn't aren't wasn't weren't don't doesn't didn't won't wouldn't can't couldn't shouldn't mustn't
    haven't hasn't hadn't ain't isnt arent wasnt werent dont doesnt didnt wont wouldnt cant couldnt
    shouldnt havent hasnt hadnt n't""".split())
UP = frozenset("""very really extremely incredibly hugely deeply totally utterly absolutely completely so
    super highly truly seriously remarkably especially particularly exceptionally""".split())
DOWN = frozenset("""slightly somewhat barely marginally partly kinda sorta fairly mildly""".split())
NEGATION_DAMP = -0.74  # a negated word keeps part of its strength, reversed
INTENSIFIER = 0.3
BEFORE_BUT, AFTER_BUT = 0.5, 1.5
SQUASH = 15.0  # compound = s / sqrt(s^2 + SQUASH)
CLEAR = 0.3  # |compound| above this: a clearly positive / negative sentence

_LEXICON: dict[str, float] | None = None
_LOCK = threading.Lock()


def lexicon() -> dict[str, float]:
    global _LEXICON
    with _LOCK:
        if _LEXICON is None:
            text = resources.files("vaderSentiment").joinpath("vader_lexicon.txt").read_text("utf-8", errors="replace")
            lex: dict[str, float] = {}
            for line in text.splitlines():
                parts = line.split("\t")
                if len(parts) >= 2:
                    try:
                        lex[parts[0].strip().lower()] = float(parts[1])
                    except ValueError:
                        continue
            _LEXICON = lex
    return _LEXICON


def _word_rows(words: list[str]) -> np.ndarray:
    """Per word: valence, negator, intensifier (+1 / -1 / 0), is "but"."""
    lex = lexicon()
    out = np.zeros((len(words), 4), dtype=np.float32)
    for k, w in enumerate(words):
        w2 = w.replace("’", "'")
        out[k, 0] = lex.get(w2, 0.0)
        out[k, 1] = w2 in NEGATORS or w2.endswith("n't")
        out[k, 2] = 1.0 if w2 in UP else (-1.0 if w2 in DOWN else 0.0)
        out[k, 3] = w2 == "but"
    return out


_TABLE = IdTable(_word_rows)


def sentence_scores(batch: TokenBatch) -> np.ndarray:
    """(n_sentences, 4): positive share, negative share, neutral share, compound."""
    n = batch.n_sentences
    out = np.zeros((n, 4), dtype=np.float32)
    if n == 0 or len(batch.ids) == 0:
        out[:, 2] = 1.0
        return out
    rows = _TABLE.get()[batch.ids]
    val, neg, inten, but = rows[:, 0].astype(np.float64), rows[:, 1] > 0, rows[:, 2], rows[:, 3] > 0
    starts = batch.sent_starts
    lens = np.diff(starts)
    sent = np.repeat(np.arange(n), lens)
    pos_in = np.arange(len(val)) - np.repeat(starts[:-1], lens)
    negated = np.zeros(len(val), dtype=bool)
    for k in (1, 2, 3):
        prev = np.zeros(len(val), dtype=bool)
        prev[k:] = neg[:-k]
        negated |= prev & (pos_in >= k)
    boost = np.zeros(len(val))
    boost[1:] = inten[:-1]
    boost[pos_in == 0] = 0.0
    v = val + np.sign(val) * INTENSIFIER * boost * (val != 0)
    v = np.where(negated, v * NEGATION_DAMP, v)
    # "but": the sentence's words before its first "but" count less, those after count more
    but_pos = np.where(but, pos_in, np.iinfo(np.int64).max)
    first_but = np.full(n, np.iinfo(np.int64).max)
    np.minimum.at(first_but, sent, but_pos)
    fb = first_but[sent]
    has_but = fb < np.iinfo(np.int64).max
    v = np.where(has_but & (pos_in < fb), v * BEFORE_BUT, np.where(has_but & (pos_in > fb), v * AFTER_BUT, v))
    total = segment_sums(v, starts)
    pos = segment_sums(np.where(v > 0, v + 1.0, 0.0), starts)
    negs = segment_sums(np.where(v < 0, -v + 1.0, 0.0), starts)
    neu = segment_sums((v == 0).astype(np.float64), starts)
    denom = np.maximum(pos + negs + neu, 1e-9)
    out[:, 0], out[:, 1], out[:, 2] = pos / denom, negs / denom, neu / denom
    out[:, 3] = total / np.sqrt(total * total + SQUASH)
    return out


def pooled(scores: np.ndarray, exclaimed: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Tone features of segments of sentences (a passage's, or one sentence's)."""
    n = len(starts) - 1
    out = np.zeros((n, len(TONE_FEATURE_NAMES)), dtype=np.float32)
    counts = np.diff(starts).astype(np.float64)
    has = counts > 0
    if not has.any():
        return out
    c = counts[has][:, None]
    comp = scores[:, 3].astype(np.float64)
    out[has, 0:4] = segment_sums(scores.astype(np.float64), starts)[has] / c
    lo = starts[:-1][has]
    out[has, 4] = np.maximum.reduceat(comp, lo)
    out[has, 5] = np.minimum.reduceat(comp, lo)
    out[has, 6] = segment_sums((comp > CLEAR).astype(np.float64), starts)[has] / c[:, 0]
    out[has, 7] = segment_sums((comp < -CLEAR).astype(np.float64), starts)[has] / c[:, 0]
    out[has, 8] = segment_sums(exclaimed.astype(np.float64), starts)[has] / c[:, 0]
    return out


def tone_features(batch: TokenBatch) -> tuple[np.ndarray, np.ndarray]:
    """(passage features, sentence features) of a TokenBatch."""
    scores = sentence_scores(batch)
    exclaimed = np.fromiter((s.rstrip().endswith("!") for s in batch.flat_sentences), dtype=bool,
                            count=batch.n_sentences)
    per_sentence = np.arange(batch.n_sentences + 1, dtype=np.int64)
    return pooled(scores, exclaimed, batch.pass_starts), pooled(scores, exclaimed, per_sentence)
