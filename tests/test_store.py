"""The Delta store: merge semantics, runs, time travel through load(), root resolution, the lock."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pyarrow.compute as pc
import pytest

from pipeline import load
from pipeline.schema import Document, make_doc_id
from pipeline.store import Store, StoreError, resolve_root

UTC = timezone.utc
PROJECT = Path(__file__).resolve().parent.parent


def doc(n: int, text: str | None = None, **kw) -> Document:
    fields = dict(
        doc_id=make_doc_id("hackernews", str(1000 + n)), source="test", platform="hackernews", kind="comment",
        thread_id=make_doc_id("hackernews", "1000"), parent_id=make_doc_id("hackernews", "1000"), depth=1,
        text=text if text is not None else f"Comment number {n} on whether weights should be published.",
        author=f"user{n}", published_at=datetime(2025, 3, 1, tzinfo=UTC) + timedelta(hours=n), score=n,
    )
    fields.update(kw)
    return Document(**fields)


def test_merge_new_unchanged_updated(root):
    store = Store(root)
    first = store.merge_documents([doc(i) for i in range(5)])
    assert (first.new, first.updated, first.unchanged) == (5, 0, 0)
    assert store.version("documents") == 0
    assert store.count("documents") == 5

    # the same documents again, with new scores and fetch times: nothing is written
    again = store.merge_documents([doc(i, score=99) for i in range(5)])
    assert (again.new, again.updated, again.unchanged) == (0, 0, 5)
    assert store.version("documents") == 0
    assert len(store.history("documents")) == 1

    # one changed text and one new document: one new version holding both
    changed = store.merge_documents([doc(i) for i in range(4)] + [doc(4, "An edited comment."), doc(5)])
    assert (changed.new, changed.updated, changed.unchanged) == (1, 1, 4)
    assert store.version("documents") == 1
    assert store.count("documents") == 6
    rows = {r["doc_id"]: r for r in store.read("documents").to_pylist()}
    assert rows[doc(4).doc_id]["text"] == "An edited comment."
    old = {r["doc_id"]: r for r in store.read("documents", version=0).to_pylist()}
    assert old[doc(4).doc_id]["text"].startswith("Comment number 4")
    assert doc(5).doc_id not in old


def test_merge_batch_last_fetch_wins_and_tombstones(root):
    store = Store(root)
    counts = store.merge_documents([doc(1, "first fetch"), doc(1, "second fetch")])
    assert (counts.new, counts.updated) == (1, 0)
    assert store.read("documents").column("text").to_pylist() == ["second fetch"]

    counts = store.merge_documents([doc(1, author="[deleted]", deleted=True)])
    assert counts.updated == 1
    row = store.read("documents").to_pylist()[0]
    assert row["deleted"] is True and row["text"] is None  # a tombstone keeps no text
    assert store.version("documents") == 1


def test_runs_rows(root):
    store = Store(root)
    run = store.start_run("crawl", "demo-hn")
    assert store.read("runs").to_pylist()[0]["status"] == "running"
    store.finish_run(run, "finished", requests=12, responses={200: 11, 404: 1}, docs_new=7, errors=1,
                     error_messages=["http://x/y: HTTP 404; skipped"], stats={"items": 7})
    row = store.read("runs").to_pylist()[0]
    assert row["run_id"] == run and row["source"] == "demo-hn" and row["status"] == "finished"
    assert row["requests"] == 12 and row["docs_new"] == 7 and row["errors"] == 1
    assert dict(row["responses"]) == {"200": 11, "404": 1}
    assert row["ended_at"] >= row["started_at"]

    stale = store.start_run("crawl", "demo-reddit")
    assert store.mark_stale_runs() == 1
    status = {r["run_id"]: r["status"] for r in store.read("runs").to_pylist()}
    assert status == {run: "finished", stale: "aborted"}
    assert store.mark_stale_runs() == 0


def test_load_latest_version_and_as_of(root):
    store = Store(root)
    store.merge_documents([doc(i) for i in range(3)])
    time.sleep(0.05)
    store.merge_documents([doc(3)])
    time.sleep(0.05)
    store.merge_documents([doc(0, "rewritten")])

    assert len(load("documents", root=root)) == 4
    assert len(load("documents", root=root, version=0)) == 3
    v1 = load("documents", root=root, version=1)
    assert len(v1) == 4 and "rewritten" not in set(v1["text"])
    assert "rewritten" in set(load("documents", root=str(root))["text"])

    commits = {h["version"]: h["timestamp"] for h in store.history("documents")}
    at_v0 = datetime.fromtimestamp(commits[0] / 1000, tz=UTC)
    assert len(load("documents", root=root, as_of=at_v0)) == 3
    assert len(load("documents", root=root, as_of=at_v0.replace(tzinfo=None))) == 3  # naive means UTC
    at_v1 = datetime.fromtimestamp(commits[1] / 1000, tz=UTC)
    assert "rewritten" not in set(load("documents", root=root, as_of=at_v1)["text"])
    assert list(load("documents", root=root, columns=["doc_id"]).columns) == ["doc_id"]


def test_clear_errors_for_missing_table_and_version(root, tmp_path):
    with pytest.raises(StoreError, match=r"no table 'documents'.*debatelake crawl"):
        load("documents", root=tmp_path / "empty")
    Store(root).merge_documents([doc(1)])
    with pytest.raises(StoreError, match=r"has no version 7"):
        load("documents", root=root, version=7)
    with pytest.raises(StoreError, match=r"unknown table 'docs'.*documents"):
        load("docs", root=root)
    with pytest.raises(StoreError, match=r"no version"):
        load("documents", root=root, as_of=datetime(2001, 1, 1, tzinfo=UTC))


def test_root_resolution(tmp_path, monkeypatch):
    env_root, flag_root = tmp_path / "env", tmp_path / "flag"
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DEBATELAKE_ROOT", raising=False)
    assert resolve_root(None) == str(tmp_path / "datasets")
    monkeypatch.setenv("DEBATELAKE_ROOT", str(env_root))
    assert resolve_root(None) == str(env_root)
    assert resolve_root(flag_root) == str(flag_root)  # --root beats the environment
    assert resolve_root("s3://bucket/debate/") == "s3://bucket/debate"

    Store(env_root).merge_documents([doc(1)])
    Store(flag_root).merge_documents([doc(1), doc(2)])
    assert len(load("documents")) == 1  # from $DEBATELAKE_ROOT
    assert len(load("documents", root=flag_root)) == 2


LOCK_SCRIPT = """
import sys
from pipeline.store import Store, StoreError
try:
    with Store(sys.argv[1]).lock("crawl demo-blog", wait=float(sys.argv[2])):
        print("acquired")
except StoreError as exc:
    print(f"refused: {exc}")
"""


def _try_lock(root: Path, wait: float = 0.0) -> str:
    out = subprocess.run([sys.executable, "-c", LOCK_SCRIPT, str(root), str(wait)], capture_output=True, text=True,
                         cwd=PROJECT, timeout=60, env={**os.environ, "PYTHONPATH": str(PROJECT)})
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_lock_refuses_a_second_writer(root):
    store = Store(root)
    with store.lock("crawl demo-hn"):
        started = time.monotonic()
        message = _try_lock(root, wait=0.6)
        assert time.monotonic() - started >= 0.6
    assert message.startswith("refused: ")
    assert f"data root {store.root} is busy" in message
    assert f"crawl demo-hn by pid {os.getpid()}" in message  # names who holds it
    assert "use another --root" in message
    assert _try_lock(root) == "acquired"  # released on exit


def test_lock_is_released_when_the_holder_dies(root):
    holder = subprocess.Popen([sys.executable, "-c", LOCK_SCRIPT.replace('print("acquired")',
                               'print("acquired", flush=True); import time; time.sleep(60)'), str(root), "0"],
                              stdout=subprocess.PIPE, text=True, cwd=PROJECT,
                              env={**os.environ, "PYTHONPATH": str(PROJECT)})
    try:
        assert holder.stdout.readline().strip() == "acquired"
        assert _try_lock(root).startswith("refused")
    finally:
        holder.kill()
        holder.wait()
    assert _try_lock(root) == "acquired"


def test_filtered_reads_after_merges(root):
    """delta-rs merges write string columns as string_view; a pushed-down string filter on such a file
    used to fail ('greater_equal' has no kernel for string and string_view), losing the next batch."""
    import pyarrow as pa
    import pyarrow.compute as pc

    store = Store(root)
    for start in (0, 10, 20):  # an append, then two merges writing files that span each other's ids
        store.merge_documents([doc(i) for i in range(start, start + 10)] + [doc(start + 5, f"edit {start}")])
    again = store.merge_documents([doc(i) for i in range(0, 30, 3)] + [doc(31)])
    assert (again.new, again.updated, again.unchanged) == (1, 1, 9)
    assert store.count("documents") == 31
    ids = pa.array([doc(i).doc_id for i in (2, 17, 31)])
    picked = store.read("documents", columns=["text"], filter=pc.field("doc_id").isin(ids))
    assert picked.column_names == ["text"] and picked.num_rows == 3
    streamed = list(store.iter_batches("documents", columns=["doc_id"], filter=pc.field("author") == "user17"))
    assert [r for b in streamed for r in b.column("doc_id").to_pylist()] == [doc(17).doc_id]
    assert store.read("documents", filter=pc.field("doc_id") == "nobody").num_rows == 0


# --------------------------------------------------------------------------- deletions
def _comment(doc_id: str, text: str | None, raw: dict | None = None, deleted: bool = False) -> Document:
    platform = doc_id.split(":", 1)[0]
    return Document(doc_id=doc_id, source=platform, platform=platform, kind="comment", text=text,
                    author=None if deleted else "someone", deleted=deleted, raw=raw or {})


def test_an_authors_deletion_is_final_but_a_moderators_removal_can_be_undone(tmp_path):
    """Tombstones as the spiders write them: HN `deleted` / `dead`, Reddit `[deleted]` / `[removed]`,
    and a tombstone with no stated reason (Discourse's "deleted by author")."""
    store = Store(tmp_path / "data")
    words = "Words the author later took down: quartz-5521."
    ids = ["hackernews:1", "hackernews:2", "reddit:t1_a", "reddit:t1_b", "discourse:x:7"]
    assert store.merge_documents([_comment(i, words) for i in ids]).new == 5
    tombstones = [
        _comment("hackernews:1", None, {"tombstone": "deleted"}, deleted=True),
        _comment("hackernews:2", None, {"tombstone": "dead"}, deleted=True),
        _comment("reddit:t1_a", None, {"removal": "deleted"}, deleted=True),
        _comment("reddit:t1_b", None, {"removal": "removed"}, deleted=True),
        _comment("discourse:x:7", None, {}, deleted=True),
    ]
    assert store.merge_documents(tombstones).updated == 5
    # a later crawl finds the text again everywhere (a stale listing, a vouched or re-approved post)
    back = store.merge_documents([_comment(i, words + " (seen again)") for i in ids])
    assert (back.updated, back.unchanged, back.kept_deleted) == (2, 3, 3)
    rows = {r["doc_id"]: r for r in store.read("documents", columns=["doc_id", "text", "deleted"]).to_pylist()}
    for i in ("hackernews:1", "reddit:t1_a", "discourse:x:7"):
        assert rows[i]["deleted"] is True and rows[i]["text"] is None, i
    for i in ("hackernews:2", "reddit:t1_b"):
        assert rows[i]["deleted"] is False and "seen again" in rows[i]["text"], i
    # nothing of the deleted text reached any version written after the deletion
    assert store.merge_documents([_comment("hackernews:1", words)]).kept_deleted == 1
    latest = store.read("documents", filter=pc.field("doc_id") == "hackernews:1").to_pylist()
    assert latest[0]["text"] is None
