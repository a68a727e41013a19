"""The README's code keeps working: its Polars / DuckDB block runs against a real data root, in a
subprocess (so that an abort at interpreter exit would show as a failure too)."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

from pipeline.schema import Document, make_doc_id
from pipeline.store import Store

PROJECT = Path(__file__).resolve().parent.parent


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", (PROJECT / "README.md").read_text("utf-8"), re.S)


def test_readme_reads_the_tables_with_polars_and_duckdb(tmp_path):
    root = tmp_path / "datasets"
    t0 = datetime(2025, 5, 1, tzinfo=timezone.utc)
    docs = [Document(doc_id=make_doc_id("hackernews", str(i)), source="hn", platform="hackernews", kind="post",
                     title=f"Open weights thread {i}", text="Release the weights.", published_at=t0) for i in range(3)]
    docs += [Document(doc_id=make_doc_id("reddit", f"t3_{i}"), source="r", platform="reddit", kind="post",
                      title="Filters?", text="Ship it unfiltered.", published_at=t0) for i in range(2)]
    Store(root).merge_documents(docs, {"step": "readme test"})
    block = next(b for b in python_blocks() if "polars" in b and "duckdb" in b)
    script = block + "\nprint('POLARS', docs.height)\n"
    for _ in range(3):
        out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=tmp_path,
                             env={**os.environ, "PYTHONPATH": str(PROJECT)})
        assert out.returncode == 0, out.stderr
        assert "POLARS 5" in out.stdout
        counts = dict(re.findall(r"│\s*(hackernews|reddit)\s*│\s*(\d+)\s*│", out.stdout))
        assert counts == {"hackernews": "3", "reddit": "2"}, out.stdout
