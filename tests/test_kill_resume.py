"""A crawl killed with SIGKILL mid-way keeps every batch it committed, and the next crawl finishes
the work: no duplicate doc_ids, and the killed run is marked aborted."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from pipeline.crawling import run_crawl
from pipeline.demo.site import CONTENT_DIR, DemoSite
from pipeline.store import Store

PROJECT = Path(__file__).resolve().parent.parent


def expected_hn_documents() -> int:
    """Stories plus every comment of the HN threads in the demo content (read from the file)."""
    def count(comments):
        return sum(1 + count(c.get("replies") or []) for c in comments)

    threads = [json.loads(line) for line in (CONTENT_DIR / "threads.jsonl").read_text("utf-8").splitlines() if line.strip()]
    return sum(1 + count(t["comments"]) for t in threads if t["platform"] == "hn")


def write_config(path: Path, site: DemoSite) -> Path:
    path.write_text(f"""
[crawl]
contact = "mailto:tests@localhost"
autothrottle = false
download_delay = 0.0
concurrency_per_domain = 1
flush_items = 5
retries = 0

[[sources]]
name = "slow-hn"
spider = "hackernews"
base_url = "{site.hn_api_url}"
since = "2024-01-01"
hits_per_page = 5
max_pages = 20
""", "utf-8")
    return path


def test_sigkill_mid_crawl_then_resume(tmp_path):
    root = tmp_path / "data"
    total = expected_hn_documents()
    store = Store(root)
    with DemoSite(delay=0.4) as site:  # every answer takes 0.4 s, one request at a time
        config = write_config(tmp_path / "crawl.toml", site)
        child = subprocess.Popen([sys.executable, "-m", "crawler.run", "--root", str(root), "--config", str(config)],
                                 cwd=PROJECT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                 env={**os.environ, "PYTHONPATH": str(PROJECT)})
        try:
            deadline = time.monotonic() + 90
            while (store.version("documents") or 0) < 2 and time.monotonic() < deadline:
                assert child.poll() is None, "the crawl ended before it could be killed: make the site slower"
                time.sleep(0.05)
            assert (store.version("documents") or 0) >= 2, "no batches were committed in 90 s"
            assert child.poll() is None, "the crawl ended before it could be killed: make the site slower"
            os.kill(child.pid, signal.SIGKILL)
        finally:
            if child.poll() is None:
                child.kill()
            child.wait(timeout=30)
        assert child.returncode == -signal.SIGKILL

        # every table is readable at its last commit, and so is every earlier version
        killed_at = store.version("documents")
        kept = store.read("documents", columns=["doc_id"]).column("doc_id").to_pylist()
        assert 0 < len(kept) < total, "the kill was not mid-way"
        assert len(set(kept)) == len(kept)
        sizes = [store.count("documents", version=v) for v in range(killed_at + 1)]
        assert sizes == sorted(sizes) and sizes[-1] == len(kept)
        runs = store.read("runs").to_pylist()
        assert [r["status"] for r in runs] == ["running"]  # nobody could write its end
        killed_run = runs[0]["run_id"]

        site.delay = 0.0
        resumed = run_crawl(str(root), [], config=str(config), log_file=tmp_path / "resume.log")

    docs = store.read("documents", columns=["doc_id", "thread_id", "parent_id", "kind"]).to_pylist()
    ids = [d["doc_id"] for d in docs]
    assert len(ids) == len(set(ids)) == total
    known = set(ids)
    assert all(d["parent_id"] in known for d in docs if d["kind"] == "comment")
    status = {r["run_id"]: r for r in store.read("runs").to_pylist()}
    assert status[killed_run]["status"] == "aborted"
    assert len(resumed) == 1 and status[resumed[0]]["status"] == "finished"
    assert status[resumed[0]]["docs_new"] == total - len(kept)
    assert status[resumed[0]]["docs_unchanged"] >= 1  # it fetched again what the killed run had kept
