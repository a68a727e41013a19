"""The `debatelake` command line in real subprocesses, many times over.

A process that reads a Delta table the wrong way aborts at interpreter exit in 20-50% of runs
("terminate called without an active exception", exit code 134; DESIGN.md). Ten-plus runs of the
commands that read tables make that race show up here instead of at random in CI."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from pipeline.schema import Document, make_doc_id
from pipeline.store import Store

PROJECT = Path(__file__).resolve().parent.parent
RUNS = 6  # of each command below: 12 processes in all


def debatelake() -> list[str]:
    exe = shutil.which("debatelake", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-c", "from pipeline.cli import main; main()"]


def run(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, cwd=PROJECT, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(PROJECT), "COLUMNS": "200", **env})


@pytest.fixture(scope="module")
def data_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cli") / "data"
    store = Store(root)
    t0 = datetime(2025, 6, 1, tzinfo=timezone.utc)
    thread = make_doc_id("reddit", "t3_abc")
    docs = [Document(doc_id=thread, source="r", platform="reddit", kind="post", thread_id=thread,
                     title="Should open weights ship with a filter?", text="Asking for a policy memo.",
                     author="op", published_at=t0)]
    docs += [Document(doc_id=make_doc_id("reddit", f"t1_c{i}"), source="r", platform="reddit", kind="comment",
                      thread_id=thread, parent_id=thread, depth=1, text=f"Reply {i}: filters belong in the app.",
                      author=f"u{i}", published_at=t0 + timedelta(minutes=i)) for i in range(40)]
    run_id = store.start_run("crawl", "r")
    store.merge_documents(docs[:25], {"run_id": run_id})
    store.merge_documents(docs[25:], {"run_id": run_id})
    store.finish_run(run_id, "finished", requests=3, docs_new=len(docs))
    return root


LOAD = ("from pipeline import load; import sys; docs = load('documents', root=sys.argv[1]); "
        "print(len(docs), docs['thread_id'].nunique(), len(load('documents', root=sys.argv[1], version=0)))")


def test_status_and_load_exit_cleanly_every_time(data_root):
    failures = []
    for i in range(RUNS):
        status = run([*debatelake(), "status", "--root", str(data_root)])
        if status.returncode != 0:
            failures.append(f"status run {i}: exit {status.returncode}: {status.stderr[-500:]}")
        else:
            assert "documents" in status.stdout and "41" in status.stdout, status.stdout
            assert "finished" in status.stdout
        loaded = run([sys.executable, "-c", LOAD, str(data_root)])
        if loaded.returncode != 0:
            failures.append(f"load run {i}: exit {loaded.returncode}: {loaded.stderr[-500:]}")
        else:
            assert loaded.stdout.split() == ["41", "1", "25"]
    assert not failures, "\n".join(failures)


def test_status_takes_the_root_from_the_environment(data_root, tmp_path):
    from_env = run([*debatelake(), "status"], DEBATELAKE_ROOT=str(data_root))
    assert from_env.returncode == 0, from_env.stderr
    assert str(data_root) in from_env.stdout.replace("\n", "")
    # --root beats $DEBATELAKE_ROOT
    flag = run([*debatelake(), "status", "--root", str(tmp_path / "empty")], DEBATELAKE_ROOT=str(data_root))
    assert flag.returncode == 0, flag.stderr
    assert "No tables under" in flag.stdout and "debatelake demo" in flag.stdout


def test_a_user_error_is_one_line_and_exit_code_2(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[crawl]\ndownload_delay = "slow"\n')
    out = run([*debatelake(), "crawl", "--root", str(tmp_path / "d"), "--config", str(bad)])
    assert out.returncode == 2
    assert "crawl.download_delay must be float" in out.stderr
    assert "Traceback" not in out.stderr
