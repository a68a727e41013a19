"""Word tokens of a batch of passages, found once and shared by every feature block.

The label model reads a passage and each of its sentences. Embeddings, TF-IDF counts and the
tone lexicon all start from the same lower-cased word tokens, so a batch is tokenised once, at
sentence level, into integer ids of a process-wide vocabulary (`WordIndex`); each block then
works on arrays of ids with numpy, and a passage's figures are sums over its sentences.

    batch = TokenBatch.build(texts)          # texts: passages
    batch.sentences[i]                       # sentences of passage i (rules.split_sentences)
    batch.ids, batch.sent_starts             # word ids of all sentences, flat; where each starts
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from .rules import split_sentences

# A word (inner hyphens and apostrophes kept: "open-weights", "don't") or one other symbol.
WORD_RE = re.compile(r"\w+(?:['’-]\w+)*|[^\w\s]")
MAX_SENTENCES = 200  # per passage: the rest of a pathological passage adds nothing to its labels
MAX_WORD_CHARS = 40  # a longer "word" (a hash, a URL's tail, binary residue) becomes one shared id
LONG_WORD = "<long>"


class WordIndex:
    """A process-wide vocabulary: word -> id, growing as new words arrive. Feature tables that
    hold one row per id (`IdTable`) grow with it. Past `limit` words everything starts again
    (generation + 1), so a process that reads millions of documents keeps bounded memory."""

    def __init__(self, limit: int = 400_000):
        self.limit = limit
        self.generation = 0
        self._reset()

    def _reset(self) -> None:
        self.ids: dict[str, int] = {LONG_WORD: 0}
        self.words: list[str] = [LONG_WORD]

    def __len__(self) -> int:
        return len(self.words)

    def lookup(self, tokens: list[str]) -> list[int]:
        out = list(map(self.ids.get, tokens))
        if None in out:  # new words (rare once a process has read a few batches)
            ids, words = self.ids, self.words
            for k, i in enumerate(out):
                if i is None:
                    w = tokens[k]
                    i = ids.get(w)
                    if i is None:
                        i = ids[w] = len(words) if len(w) <= MAX_WORD_CHARS else 0
                        if i:
                            words.append(w)
                    out[k] = i
        return out

    def make_room(self, incoming: int) -> None:
        """Start again if `incoming` more words could pass the limit (call between batches)."""
        if len(self.words) + incoming > self.limit:
            self.generation += 1
            self._reset()


_INDEX = WordIndex()
_LOCK = threading.Lock()


def word_index() -> WordIndex:
    return _INDEX


class IdTable:
    """Per-id rows computed from the words by `compute(words) -> np.ndarray (n, ...)`,
    kept in step with the word index."""

    def __init__(self, compute: Callable[[list[str]], np.ndarray], index: WordIndex | None = None,
                 on_reset: Callable[[], None] | None = None):
        self.compute = compute
        self.on_reset = on_reset
        self.index = index or _INDEX
        self.generation = -1
        self.rows: np.ndarray | None = None

    def get(self) -> np.ndarray:
        idx = self.index
        if self.generation != idx.generation or self.rows is None:
            if self.on_reset is not None:
                self.on_reset()
            self.rows, self.generation = self.compute(list(idx.words)), idx.generation
        elif len(self.rows) < len(idx):
            new = self.compute(idx.words[len(self.rows):])
            self.rows = np.concatenate([self.rows, new])
        return self.rows


@dataclass
class TokenBatch:
    """Passages, their sentences and the word ids of every sentence."""

    texts: list[str]
    sentences: list[list[str]]
    ids: np.ndarray  # int32, word ids of every sentence in order
    sent_starts: np.ndarray  # int64, start of each sentence's ids in `ids` (len = n_sentences + 1)
    pass_starts: np.ndarray  # int64, first sentence of each passage (len = n_passages + 1)

    @property
    def n_sentences(self) -> int:
        return len(self.sent_starts) - 1

    @property
    def flat_sentences(self) -> list[str]:
        return [s for ss in self.sentences for s in ss]

    def sentence_owner(self) -> np.ndarray:
        """The passage of each sentence."""
        return np.repeat(np.arange(len(self.texts)), np.diff(self.pass_starts))

    @classmethod
    def build(cls, texts: Sequence[str], index: WordIndex | None = None) -> "TokenBatch":
        texts = [t or "" for t in texts]
        sentences = [split_sentences(t)[:MAX_SENTENCES] for t in texts]
        idx = index or _INDEX
        find = WORD_RE.findall
        tokens = [find(s.lower()) for ss in sentences for s in ss]
        lens = np.fromiter(map(len, tokens), dtype=np.int64, count=len(tokens))
        words = [w for t in tokens for w in t]
        with _LOCK:
            idx.make_room(len(words))
            flat = idx.lookup(words)
        sent_starts = np.zeros(len(tokens) + 1, dtype=np.int64)
        np.cumsum(lens, out=sent_starts[1:])
        pass_starts = np.zeros(len(texts) + 1, dtype=np.int64)
        np.cumsum([len(s) for s in sentences], out=pass_starts[1:])
        return cls(texts=texts, sentences=sentences,
                   ids=np.asarray(flat, dtype=np.int32), sent_starts=sent_starts, pass_starts=pass_starts)


def segment_sums(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Sums of `values` rows over consecutive segments [starts[i], starts[i+1]) (empty -> 0)."""
    n = len(starts) - 1
    shape = (n,) + values.shape[1:]
    out = np.zeros(shape, dtype=np.float64 if values.dtype.kind != "f" else values.dtype)
    if n == 0 or len(values) == 0:
        return out
    lo = starts[:-1]
    nonempty = starts[1:] > lo
    if nonempty.any():
        out[nonempty] = np.add.reduceat(values, lo[nonempty], axis=0)
    return out
