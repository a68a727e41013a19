"""Exact and near duplicates, found against every document processed before.

* exact: the same cleaned text (a 128-bit BLAKE2 hash of it);
* near: MinHash over word 3-shingles, looked up with LSH banding and confirmed with the
  signatures' estimated Jaccard similarity >= the configured threshold.

Workers compute hashes and signatures (`MinHasher`, vectorised with numpy: one matrix product
per document instead of a Python loop per shingle). The main process owns the index
(`DedupIndex`) and decides in document order, so "earlier" is well defined: the order in which
the pipeline first saw each document version. That order and the signatures are persisted in
the `dedup` table, one row per document version, and the index is rebuilt from it at the start
of every run; a document that is processed again (a new model version) keeps its place, so it
is never marked as a duplicate of a later copy of itself.
"""
from __future__ import annotations

import hashlib
import re
import zlib
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
import pyarrow as pa

NUM_PERM = 128
NGRAM = 3
MIN_SHINGLES = 5  # fewer word 3-grams than this (under ~7 words): exact duplicates only
_WORD = re.compile(r"\w+")
# ASCII text: bytes.translate + split finds the same words as _WORD, ~4x faster.
_ASCII_NONWORD = bytes(b if chr(b).isalnum() or b == ord("_") else ord(" ") for b in range(128)) + b" " * 128
_M1 = np.uint64(0x9E3779B97F4A7C15)
_M2 = np.uint64(0xC2B2AE3D27D4EB4F)


def _mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: a well-mixed 64-bit hash of each element (uint64 wraps)."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def text_hash(text: str) -> str:
    """Hash of a cleaned text: equal hashes are exact duplicates."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


class _Crc32Cache(dict):
    """word (str or its UTF-8 bytes) -> CRC32 of its UTF-8 bytes, computed on first use."""

    def __missing__(self, word: str | bytes) -> int:
        h = self[word] = zlib.crc32(word if isinstance(word, bytes) else word.encode("utf-8", "surrogatepass"))
        return h


class MinHasher:
    """MinHash signatures of word n-gram sets. Stable across processes and runs (no salted
    `hash()`): words are CRC32-hashed, shingles combined and mixed in numpy, and each of the
    `num_perm` hash functions is a multiply-shift of the mixed value."""

    def __init__(self, num_perm: int = NUM_PERM, ngram: int = NGRAM, seed: int = 1, chunk: int = 8192):
        rng = np.random.default_rng(seed)
        self.num_perm = num_perm
        self.ngram = ngram
        self.chunk = chunk
        self._a = rng.integers(1, 2**63, size=num_perm, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
        self._b = rng.integers(0, 2**63, size=num_perm, dtype=np.uint64)
        self._words = _Crc32Cache()

    def _word_hashes(self, words: list[str] | list[bytes]) -> np.ndarray:
        """CRC32 of each word's UTF-8 bytes (words as str, or as their bytes)."""
        if len(self._words) > 500_000:
            self._words.clear()
        return np.fromiter(map(self._words.__getitem__, words), dtype=np.uint64, count=len(words))

    @staticmethod
    def words(text: str) -> list[str] | list[bytes]:
        """The lower-cased words (runs of `\\w`) of a text; as bytes when the text is ASCII."""
        low = text.lower()
        if low.isascii():
            return low.encode("ascii").translate(_ASCII_NONWORD).split()
        return _WORD.findall(low)

    def shingles(self, text: str) -> np.ndarray:
        words = self.words(text)
        if len(words) < self.ngram:
            return np.empty(0, dtype=np.uint64)
        w = self._word_hashes(words)
        n = len(words) - self.ngram + 1
        h = w[:n].copy()
        for k in range(1, self.ngram):
            h = h * _M1 + w[k:k + n] * _M2
        return _mix64(h)

    def signature(self, text: str, min_shingles: int = MIN_SHINGLES) -> np.ndarray | None:
        sh = self.shingles(text)
        if len(sh) < min_shingles:
            return None
        sig = np.full(self.num_perm, np.iinfo(np.uint32).max, dtype=np.uint64)
        for i in range(0, len(sh), self.chunk):
            part = np.multiply(sh[i:i + self.chunk, None], self._a[None, :])  # in place from here on
            part += self._b[None, :]
            part >>= np.uint64(32)
            np.minimum(sig, part.min(axis=0), out=sig)
        return sig.astype(np.uint32)


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Estimated Jaccard similarity of two signatures."""
    return float(np.mean(a == b))


def lsh_params(threshold: float, num_perm: int = NUM_PERM) -> tuple[int, int]:
    """(bands, rows) minimising false positives below and false negatives above the threshold
    (equal weights), the usual choice for MinHash LSH."""
    s_lo = np.linspace(0.0, threshold, 200)
    s_hi = np.linspace(threshold, 1.0, 200)
    best, best_err = (1, num_perm), float("inf")
    for b in range(1, num_perm + 1):
        for r in range(1, num_perm // b + 1):
            fp = np.trapezoid(1 - (1 - s_lo**r) ** b, s_lo)
            fn = np.trapezoid((1 - s_hi**r) ** b, s_hi)
            if fp + fn < best_err:
                best, best_err = (b, r), fp + fn
    return best


class _KeyIndex:
    """uint64 key -> rows: a sorted base array plus a dict of keys added since the last merge
    (merged between batches), so millions of keys cost ~16 bytes each, not a Python dict entry."""

    def __init__(self) -> None:
        self.keys = np.empty(0, dtype=np.uint64)
        self.rows = np.empty(0, dtype=np.int64)
        self.pending: dict[int, list[int]] = {}
        self._pending_n = 0

    def add(self, key: int, row: int) -> None:
        self.pending.setdefault(key, []).append(row)
        self._pending_n += 1

    def extend(self, keys: np.ndarray, rows: np.ndarray) -> None:
        self.keys = np.concatenate([self.keys, keys.astype(np.uint64)])
        self.rows = np.concatenate([self.rows, rows.astype(np.int64)])
        order = np.argsort(self.keys, kind="stable")
        self.keys, self.rows = self.keys[order], self.rows[order]

    def base_ranges(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return (np.searchsorted(self.keys, keys, side="left"), np.searchsorted(self.keys, keys, side="right"))

    def merge(self, force: bool = False) -> None:
        if not self._pending_n or (not force and self._pending_n < max(4096, len(self.keys) // 8)):
            return
        keys = np.fromiter((k for k, rows in self.pending.items() for _ in rows), dtype=np.uint64, count=self._pending_n)
        rows = np.fromiter((r for rs in self.pending.values() for r in rs), dtype=np.int64, count=self._pending_n)
        self.pending.clear()
        self._pending_n = 0
        self.extend(keys, rows)


@dataclass
class DedupItem:
    doc_id: str
    content_hash: str
    text_hash: str | None = None  # None: the document has no text (tombstone, empty, binary)
    signature: np.ndarray | None = None  # None: too short for near duplicates


@dataclass
class Decision:
    duplicate_of: str | None = None
    kind: str | None = None  # "exact" / "near"
    similarity: float | None = None


def _text_key(h: str) -> int:
    return int(h[:16], 16)


class DedupIndex:
    """Every document version seen so far, in order, with its text hash and signature."""

    def __init__(self, threshold: float = 0.8, num_perm: int = NUM_PERM):
        if not 0.0 < threshold <= 1.0:
            raise ValueError("the near-duplicate threshold must be in (0, 1]")
        self.threshold = threshold
        self.num_perm = num_perm
        self.bands, self.rows_per_band = lsh_params(threshold, num_perm)
        rng = np.random.default_rng(7)
        self._band_mult = rng.integers(1, 2**63, size=(self.bands, self.rows_per_band), dtype=np.uint64) * \
            np.uint64(2) + np.uint64(1)
        self.doc_ids: list[str] = []
        self.content_hashes: list[str] = []
        self.seqs = np.empty(0, dtype=np.int64)
        self.alive = np.empty(0, dtype=bool)
        self.has_sig = np.empty(0, dtype=bool)
        self.sigs = np.empty((0, num_perm), dtype=np.uint32)
        self.n = 0
        self.next_seq = 0
        self.doc_row: dict[str, int] = {}
        self.exact = _KeyIndex()
        self.band_index = [_KeyIndex() for _ in range(self.bands)]

    # ------------------------------------------------------------------ storage
    def _grow(self, extra: int) -> None:
        need = self.n + extra
        if need <= len(self.seqs):
            return
        cap = max(need, 2 * len(self.seqs), 1024)
        for name in ("seqs", "alive", "has_sig"):
            old = getattr(self, name)
            new = np.zeros(cap, dtype=old.dtype)
            new[: self.n] = old[: self.n]
            setattr(self, name, new)
        sigs = np.zeros((cap, self.num_perm), dtype=np.uint32)
        sigs[: self.n] = self.sigs[: self.n]
        self.sigs = sigs

    def band_keys(self, sigs: np.ndarray) -> np.ndarray:
        """(n, num_perm) signatures -> (n, bands) uint64 keys."""
        used = sigs[:, : self.bands * self.rows_per_band].astype(np.uint64)
        used = used.reshape(len(sigs), self.bands, self.rows_per_band)
        return _mix64((used * self._band_mult[None]).sum(axis=2, dtype=np.uint64))

    def _append(self, doc_id: str, content_hash: str, seq: int, text_key: int | None, sig: np.ndarray | None,
                keys: np.ndarray | None, *, index_now: bool) -> int:
        self._grow(1)
        row = self.n
        self.n += 1
        self.doc_ids.append(doc_id)
        self.content_hashes.append(content_hash)
        self.seqs[row] = seq
        self.alive[row] = True
        self.next_seq = max(self.next_seq, seq + 1)
        previous = self.doc_row.get(doc_id)
        if previous is not None:
            if self.seqs[previous] > seq:  # loading out of order: the later version stays alive
                self.alive[row] = False
            else:
                self.alive[previous] = False
                self.doc_row[doc_id] = row
        else:
            self.doc_row[doc_id] = row
        if sig is not None:
            self.sigs[row] = sig
            self.has_sig[row] = True
        if index_now:
            if text_key is not None:
                self.exact.add(text_key, row)
            if keys is not None:
                for j, k in enumerate(keys.tolist()):
                    self.band_index[j].add(k, row)
        return row

    @classmethod
    def from_rows(cls, batches: Iterable[pa.RecordBatch | pa.Table], threshold: float = 0.8,
                  num_perm: int = NUM_PERM) -> "DedupIndex":
        """Rebuild the index from stored `dedup` rows (streamed batch by batch)."""
        index = cls(threshold, num_perm)
        text_keys: list[int] = []
        text_rows: list[int] = []
        band_keys: list[np.ndarray] = []
        band_rows: list[np.ndarray] = []
        for batch in batches:
            d = batch.to_pydict()
            sig_rows = []
            for doc_id, ch, seq, th, mh in zip(d["doc_id"], d["content_hash"], d["seq"], d["text_hash"], d["minhash"]):
                sig = np.frombuffer(mh, dtype="<u4") if mh and len(mh) == 4 * num_perm else None
                row = index._append(doc_id, ch, int(seq), None, sig, None, index_now=False)
                if th:
                    text_keys.append(_text_key(th))
                    text_rows.append(row)
                if sig is not None:
                    sig_rows.append(row)
            if sig_rows:
                rows = np.array(sig_rows, dtype=np.int64)
                band_keys.append(index.band_keys(index.sigs[rows]))
                band_rows.append(rows)
        if text_keys:
            index.exact.extend(np.array(text_keys, dtype=np.uint64), np.array(text_rows, dtype=np.int64))
        if band_keys:
            keys, rows = np.concatenate(band_keys), np.concatenate(band_rows)
            for j in range(index.bands):
                index.band_index[j].extend(keys[:, j], rows)
        return index

    # ------------------------------------------------------------------ deciding
    def _best_earlier(self, candidates: Iterable[int], seq: int) -> list[int]:
        return [r for r in set(candidates) if self.alive[r] and self.seqs[r] < seq]

    def assign(self, items: Sequence[DedupItem], run_id: str | None = None) -> tuple[list[Decision], pa.Table]:
        """Decide, in order, whether each document duplicates an earlier one, register the
        document versions not seen before, and return the decisions and the rows to persist."""
        from pipeline.schema import TABLES

        sig_pos = [i for i, it in enumerate(items) if it.signature is not None]
        keys = None
        lo = hi = None
        if sig_pos:
            keys = self.band_keys(np.stack([items[i].signature for i in sig_pos]))
            lo = np.empty_like(keys, dtype=np.int64)
            hi = np.empty_like(keys, dtype=np.int64)
            for j in range(self.bands):
                lo[:, j], hi[:, j] = self.band_index[j].base_ranges(keys[:, j])
        key_of = {i: k for k, i in enumerate(sig_pos)}

        decisions: list[Decision] = []
        new_rows: list[dict] = []
        for i, it in enumerate(items):
            prev = self.doc_row.get(it.doc_id)
            known = prev is not None and self.content_hashes[prev] == it.content_hash
            seq = int(self.seqs[prev]) if known else self.next_seq
            text_key = _text_key(it.text_hash) if it.text_hash else None
            decision = Decision()
            if text_key is not None:
                ex = self.exact
                lo_e, hi_e = np.searchsorted(ex.keys, text_key, "left"), np.searchsorted(ex.keys, text_key, "right")
                rows = self._best_earlier([*ex.rows[lo_e:hi_e].tolist(), *ex.pending.get(text_key, [])], seq)
                if rows:
                    first = min(rows, key=lambda r: self.seqs[r])
                    decision = Decision(self.doc_ids[first], "exact", 1.0)
            k = key_of.get(i)
            if decision.kind is None and k is not None:
                cands: list[int] = []
                for j in range(self.bands):
                    bi = self.band_index[j]
                    if hi[k, j] > lo[k, j]:
                        cands.extend(bi.rows[lo[k, j]:hi[k, j]].tolist())
                    cands.extend(bi.pending.get(int(keys[k, j]), ()))
                rows = [r for r in self._best_earlier(cands, seq) if self.has_sig[r]]
                if rows:
                    arr = np.array(rows, dtype=np.int64)
                    sims = (self.sigs[arr] == it.signature[None, :]).mean(axis=1)
                    ok = sims >= self.threshold
                    if ok.any():
                        # most similar first, then the earliest
                        order = sorted(np.flatnonzero(ok).tolist(), key=lambda x: (-sims[x], self.seqs[arr[x]]))
                        best = int(arr[order[0]])
                        decision = Decision(self.doc_ids[best], "near", float(sims[order[0]]))
            decisions.append(decision)
            if not known:
                self._append(it.doc_id, it.content_hash, seq, text_key, it.signature,
                             keys[k] if k is not None else None, index_now=True)
                new_rows.append({
                    "doc_id": it.doc_id, "content_hash": it.content_hash, "seq": seq, "text_hash": it.text_hash,
                    "minhash": it.signature.astype("<u4").tobytes() if it.signature is not None else None,
                    "run_id": run_id,
                })
        self.exact.merge()
        for bi in self.band_index:
            bi.merge()
        return decisions, pa.Table.from_pylist(new_rows, schema=TABLES["dedup"])
