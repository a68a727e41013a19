"""Small real Delta roots for the snapshot, privacy, takedown and publish tests.

Documents go through pipeline.store (the same merge the crawler uses); passages and annotations are
rows in the PASSAGES / ANNOTATIONS schemas, written through Store.upsert."""
from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa

from pipeline.schema import ANNOTATIONS, PASSAGES, UTC, Document
from pipeline.store import Store

KEY = "test-key-0123456789abcdef"
OTHER_KEY = "another-key-fedcba9876543210"
MODEL = "m-test-1"
BASE = datetime(2026, 3, 1, tzinfo=UTC)
REPO = Path(__file__).resolve().parent.parent

RELEASES = ["open", "closed", "mixed", "neutral", "none"]
MODERATIONS = ["filter", "no_filter", "neutral", "none"]
TONES = ["positive", "negative", "neutral"]


def blog_doc(i: int, text: str | None = None, author: str | None = None, **kw) -> Document:
    return Document(
        doc_id=f"blog:u:{i:04d}", source="blogs", platform="blog", kind="post",
        url=f"https://blog.example.org/posts/{i}", title=f"Post {i} on open weights",
        text=text if text is not None else (f"Post {i}. Releasing model weights openly is argued about here. " * 3),
        author=author if author is not None else f"Blogger {i % 3}", published_at=BASE + timedelta(days=i), **kw,
    )


def hn_comment(i: int, text: str | None = None, author: str | None = None, deleted: bool = False) -> Document:
    return Document(
        doc_id=f"hackernews:{1000 + i}", source="hn", platform="hackernews", kind="comment",
        url=f"https://news.ycombinator.com/item?id={1000 + i}", thread_id="hackernews:1000",
        parent_id="hackernews:1000", depth=1, deleted=deleted,
        text=text if text is not None else f"Comment {i}: safety filters are a mixed blessing, says user {i}.",
        author=author if author is not None else f"hn_user_{i % 4}", published_at=BASE + timedelta(hours=i),
    )


def make_docs(n_blog: int = 6, n_hn: int = 8) -> list[Document]:
    return [blog_doc(i) for i in range(n_blog)] + [hn_comment(i) for i in range(n_hn)]


def labels_for(i: int, shift: int = 0) -> dict:
    return {
        "release": RELEASES[(i + shift) % len(RELEASES)], "release_prob": 0.7,
        "moderation": MODERATIONS[i % len(MODERATIONS)], "moderation_prob": 0.6,
        "topics": ["open_release"] if i % 2 == 0 else ["moderation", "regulation"],
        "topic_probs": [("open_release", 0.8)],
        "sentiment": TONES[i % len(TONES)], "sentiment_prob": 0.5,
        "entities": [{"id": "llama-3", "label": "MODEL", "text": "Llama 3", "start": 0, "end": 7}],
        "evidence": [],
    }


def passage_rows(docs: list[Document]) -> pa.Table:
    rows = []
    for d in docs:
        if d.deleted or not d.text:
            continue
        half = len(d.text) // 2
        for seq, (a, b) in enumerate(((0, half), (half, len(d.text)))):
            rows.append({"passage_id": f"{d.doc_id}#{seq}", "doc_id": d.doc_id, "seq": seq, "start": a, "end": b,
                         "text": d.text[a:b], "content_hash": d.content_hash})
    return pa.Table.from_pylist(rows, schema=PASSAGES)


def annotation_rows(docs: list[Document], model: str = MODEL, shift: int = 0,
                    when: datetime | None = None) -> pa.Table:
    when = when or datetime.now(UTC)
    rows = []
    for i, d in enumerate(docs):
        lab = labels_for(i, shift)
        common = {"doc_id": d.doc_id, "model_version": model, "content_hash": d.content_hash, "language": "en",
                  "labelled_at": when, "run_id": "process-test"}
        rows.append({**common, "passage_id": d.doc_id, "level": "document", **lab})
        if not d.deleted and d.text:
            for seq in range(2):
                rows.append({**common, "passage_id": f"{d.doc_id}#{seq}", "level": "passage", **lab})
    return pa.Table.from_pylist(rows, schema=ANNOTATIONS)


def build_root(root: Path, docs: list[Document] | None = None, model: str = MODEL, shift: int = 0) -> Store:
    """A data root with documents, passages and annotations; returns its Store."""
    store = Store(root)
    docs = docs if docs is not None else make_docs()
    store.merge_documents(docs, {"run_id": "crawl-test-1", "step": "crawl"})
    store.upsert("passages", passage_rows(docs), {"run_id": "process-test", "step": "passages"})
    store.upsert("annotations", annotation_rows(docs, model, shift), {"run_id": "process-test", "step": "labels"})
    return store


def write_config(path: Path, extra: str = "") -> Path:
    """A config with no [[sources]] (the spiders are being written elsewhere)."""
    path.write_text('[crawl]\ncontact = "mailto:test@example.org"\n' + extra, "utf-8")
    return path


def cli(*args: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run `debatelake ARGS` in a child process (the real entry point)."""
    full_env = {**os.environ, **(env or {})}
    full_env.setdefault("COLUMNS", "200")
    return subprocess.run([sys.executable, "-c", "from pipeline.cli import main; main()", *args],
                          capture_output=True, text=True, env=full_env, cwd=cwd or REPO, timeout=120)


def invoke(*args: str, env: dict | None = None):
    """Run `debatelake ARGS` in this process (typer's CliRunner); .stdout / .stderr / .exit_code."""
    from typer.testing import CliRunner

    from pipeline.cli import app

    return CliRunner().invoke(app, list(args), env=env)


def flat(text: str) -> str:
    """Output without the line breaks the terminal renderer adds."""
    return "".join(text.split())
