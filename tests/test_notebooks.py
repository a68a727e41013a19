"""The notebooks in notebooks/ run top to bottom (nbclient, a real python3 kernel) against the demo
dataset, so they never go stale.

The dataset is a copy of the session's demo dataset (tests/_demo_data.py: `debatelake demo`
crawls the bundled site and labels it with a small model trained first); snapshot A is written, then the data changes (a comment added, one edited, one deleted upstream, an author
taken down, processing run again) and snapshot B is written. Each notebook runs with an extra last
cell that prints what it computed as JSON; the test compares that with the tables read directly.
"""
from __future__ import annotations

import json
import os
import shutil
from collections import Counter, defaultdict
from datetime import timedelta
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

from _snapshot_data import cli  # noqa: E402

from pipeline.schema import Document  # noqa: E402
from pipeline.store import Store  # noqa: E402

PROJECT = Path(__file__).resolve().parent.parent
NOTEBOOKS = PROJECT / "notebooks"
NAMES = ("quickstart.ipynb", "stance_over_time.ipynb", "snapshot_comparison.ipynb")
KEY = "notebook-test-key-0123456789"
OLD, NEW = "nb-a", "nb-b"
MARK = "__NOTEBOOK_RESULT__"

ADDED_TEXT = ("Release the weights. Keeping frontier models locked behind an API only helps three companies, "
              "and open models are the only counterweight we have.")
EDITED_TEXT = ("The model refused to explain how to kill a Linux process and lectured me about safety instead. "
               "These guardrails are useless and paternalistic; ship it uncensored.")


# ----------------------------------------------------------------------------- the dataset
def _ok(result) -> None:
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def _change(store: Store) -> dict:
    """Between the snapshots: a new comment, an edited comment, a comment deleted upstream, and
    the author with the fewest documents taken down. Returns what was changed."""
    rows = store.read("documents").to_pylist()
    by_thread = Counter(r["thread_id"] for r in rows if r["kind"] == "comment" and r["platform"] == "hackernews")
    post = next(r for r in rows if r["doc_id"] == max(sorted(by_thread), key=by_thread.get))
    added = Document(doc_id="hackernews:990000001", source=post["source"], platform="hackernews", kind="comment",
                     url="https://news.ycombinator.com/item?id=990000001", thread_id=post["doc_id"],
                     parent_id=post["doc_id"], depth=1, text=ADDED_TEXT, author="notebook_nora",
                     published_at=post["published_at"] + timedelta(hours=6))

    comments = sorted((r for r in rows if r["kind"] == "comment" and r["platform"] == "reddit"
                       and not r["deleted"] and r["text"] and len(r["text"]) > 80), key=lambda r: r["doc_id"])
    edited_row, deleted_row = comments[0], comments[1]
    edited = Document.from_row({**edited_row, "text": EDITED_TEXT})
    deleted = Document.from_row({**deleted_row, "deleted": True})
    counts = store.merge_documents([added, edited, deleted], {"step": "notebook test changes"})
    assert (counts.new, counts.updated) == (1, 2)

    spared = {edited_row["author"], deleted_row["author"], post["author"]}
    per_author = Counter(r["author"] for r in rows if r["author"] and r["author"] not in spared)
    author = min(sorted(per_author), key=per_author.get)
    return {"added": added.doc_id, "edited": edited.doc_id, "deleted": deleted.doc_id, "author": author,
            "author_docs": {r["doc_id"] for r in rows if r["author"] == author}}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory, demo_runs):
    tmp = tmp_path_factory.mktemp("notebooks")
    root = tmp / "data"
    shutil.copytree(demo_runs.root, root)  # the shared demo dataset stays as the demo left it
    store = Store(root)
    assert store.exists("annotations"), "the demo should have labelled the documents with the model trained here"
    env = {"DEBATELAKE_PSEUDONYM_KEY": KEY}
    _ok(cli("snapshot", "create", OLD, "--root", str(root), env=env))
    changed = _change(store)
    _ok(cli("takedown", "add", changed["author"], "--root", str(root), env=env))
    _ok(cli("process", "--root", str(root), "--workers", "1", env=env))
    _ok(cli("snapshot", "create", NEW, "--root", str(root), env=env))
    return {"root": root, **changed}


def execute(name: str, root: Path, report: str) -> tuple[dict, list]:
    """Run notebooks/NAME with `report` (code printing a JSON dict) appended as its last cell;
    any cell error fails the test. Returns (that dict, the executed cells)."""
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(f"import json\nprint({MARK!r} + json.dumps({report}))"))
    client = nbclient.NotebookClient(nb, kernel_name="python3", timeout=300,
                                     resources={"metadata": {"path": str(NOTEBOOKS)}})
    client.execute(env={**os.environ, "DEBATELAKE_ROOT": str(root), "DEBATELAKE_PSEUDONYM_KEY": KEY,
                        "PYTHONPATH": str(PROJECT)})
    text = "".join(o.get("text", "") for o in nb.cells[-1].outputs if o.output_type == "stream")
    assert MARK in text, text
    return json.loads(text.split(MARK, 1)[1]), nb.cells


def outputs_text(cells: list) -> str:
    out = []
    for cell in cells:
        for o in cell.get("outputs", []):
            out.append(o.get("text", "") or o.get("data", {}).get("text/plain", ""))
    return "\n".join(out)


def images(cells: list) -> int:
    return sum("image/png" in o.get("data", {}) for c in cells for o in c.get("outputs", []))


def month(ts) -> str:
    return f"{ts:%Y-%m}"


# ----------------------------------------------------------------------------- the files
def test_notebooks_are_committed_without_outputs():
    for name in NAMES:
        nb = nbformat.read(NOTEBOOKS / name, as_version=4)
        nbformat.validate(nb)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert code and all(not c.outputs and c.execution_count is None for c in code), name
        assert sum(c.cell_type == "markdown" for c in nb.cells) >= 4, f"{name}: explain the steps"
        assert "DEBATELAKE_ROOT" in "".join(c.source for c in code), name


# ----------------------------------------------------------------------------- quickstart
QUICKSTART_REPORT = """{
    "documents": len(docs),
    "counts": {f"{m}|{s}": int(n) for (m, s), n in counts.drop(columns="all").stack().items() if n},
    "thread_id": thread_id,
    "thread": list(thread["doc_id"]),
}"""


@pytest.mark.slow
@pytest.mark.timeout(480)  # the first of these builds the dataset (~1-2 min)
def test_quickstart(dataset):
    got, cells = execute("quickstart.ipynb", dataset["root"], QUICKSTART_REPORT)
    rows = Store(dataset["root"]).read(
        "documents", columns=["doc_id", "source", "kind", "thread_id", "parent_id", "published_at"]).to_pylist()
    assert got["documents"] == len(rows)
    want = Counter(f"{month(r['published_at'])}|{r['source']}" for r in rows if r["published_at"] is not None)
    assert got["counts"] == dict(want)
    assert "pandas, DuckDB and Polars agree" in outputs_text(cells)

    # the thread: the one with the most comments, every document of it once, in reply order
    comments = Counter(r["thread_id"] for r in rows if r["kind"] == "comment")
    assert comments[got["thread_id"]] == max(comments.values())
    by_id = {r["doc_id"]: r for r in rows}
    members = {r["doc_id"] for r in rows if r["thread_id"] == got["thread_id"]}
    order = got["thread"]
    assert sorted(order) == sorted(members) and order[0] == got["thread_id"]
    assert by_id[order[0]]["kind"] == "post"
    path = [order[0]]  # the chain of ancestors of the previous row: each reply follows its parent
    for doc_id in order[1:]:
        parent = by_id[doc_id]["parent_id"]
        parent = parent if parent in members else order[0]
        assert parent in path, (doc_id, parent)
        path = path[:path.index(parent) + 1] + [doc_id]
    siblings = defaultdict(list)  # replies to the same document: oldest first (undated ones last)
    for doc_id in order[1:]:
        parent = by_id[doc_id]["parent_id"]
        siblings[parent if parent in members else order[0]].append(by_id[doc_id]["published_at"])
    for times in siblings.values():
        assert times == sorted(times, key=lambda t: (t is None, t))


# ----------------------------------------------------------------------------- stance over time
STANCE_REPORT = """{
    "model": MODEL,
    "shares": {axis: {f"{m:%Y-%m}": {k: float(v) for k, v in row.items()} for m, row in shares[axis].iterrows()}
               for axis in AXES},
    "platform_shares": {axis: {p: {k: float(v) for k, v in row.items()} for p, row in platform_shares[axis].iterrows()}
                        for axis in AXES},
    "releases": {name: day.isoformat() for name, day in RELEASES.items()},
    "around": {f"{m}|{w}": int(n) for (m, w), n in around[("documents", "")].items()},
}"""


@pytest.mark.slow
@pytest.mark.timeout(480)  # the first of these builds the dataset (~1-2 min)
def test_stance_over_time(dataset):
    from datetime import datetime, timezone

    got, cells = execute("stance_over_time.ipynb", dataset["root"], STANCE_REPORT)
    store = Store(dataset["root"])
    model = (dataset["root"] / "models" / "CURRENT").read_text().strip()
    assert got["model"] == model
    labels = store.read("annotations", columns=["doc_id", "release", "moderation", "reason"],
                        filter=(pc.field("level") == "document") & (pc.field("model_version") == model)).to_pylist()
    docs = {r["doc_id"]: r for r in store.read("documents", columns=["doc_id", "platform", "published_at"]).to_pylist()}
    labelled = [{**docs[r["doc_id"]], **r} for r in labels
                if r["reason"] is None and docs[r["doc_id"]]["published_at"] is not None]
    assert len(labelled) > 100

    for axis in ("release", "moderation"):
        for key, group_of in (("shares", lambda r: month(r["published_at"])), ("platform_shares", lambda r: r["platform"])):
            counts: dict[str, Counter] = defaultdict(Counter)
            for r in labelled:
                counts[group_of(r)][r[axis]] += 1
            shown = {g: s for g, s in got[key][axis].items() if sum(s.values()) > 0}  # months with no documents: 0
            assert set(shown) == set(counts), (key, axis)
            for group, c in counts.items():
                total = sum(c.values())
                assert set(c) <= set(shown[group])
                for label, share in shown[group].items():
                    assert share == pytest.approx(c[label] / total, abs=1e-9), (key, axis, group, label)

    for name, day in got["releases"].items():
        day = datetime.fromisoformat(day).replace(tzinfo=timezone.utc)
        before = sum(day - timedelta(days=30) <= r["published_at"] < day for r in labelled)
        after = sum(day <= r["published_at"] < day + timedelta(days=30) for r in labelled)
        assert (got["around"][f"{name}|before"], got["around"][f"{name}|after"]) == (before, after), name
    assert sum(got["around"].values()) > 0, "the release windows should hold documents of the demo"
    assert images(cells) >= 3


# ----------------------------------------------------------------------------- snapshot comparison
COMPARISON_REPORT = """{
    "old": OLD, "new": NEW,
    "added": sorted(added), "removed": sorted(removed), "relabelled": sorted(relabelled),
    "text_changed": sorted(text_changed),
    "shares": {axis: {w: {k: float(v) for k, v in t[w].items()} for w in ("then", "now")} for axis, t in shares.items()},
}"""


def _snapshot_docs(root: Path, name: str) -> dict[str, dict]:
    files = sorted(str(p) for p in (root / "snapshots" / name / "data" / "documents").glob("*.parquet"))
    table = pq.read_table(files, columns=["doc_id", "text", "deleted", "release", "moderation", "sentiment", "topics"])
    return {r["doc_id"]: r for r in table.to_pylist()}


@pytest.mark.slow
@pytest.mark.timeout(480)  # the first of these builds the dataset (~1-2 min)
def test_snapshot_comparison(dataset):
    root = dataset["root"]
    got, cells = execute("snapshot_comparison.ipynb", root, COMPARISON_REPORT)
    assert (got["old"], got["new"]) == (OLD, NEW)  # by default: the two newest snapshots

    then, now = _snapshot_docs(root, OLD), _snapshot_docs(root, NEW)
    assert got["added"] == sorted(set(now) - set(then)) == [dataset["added"]]
    assert got["removed"] == sorted(set(then) - set(now)) == sorted(dataset["author_docs"])

    def labels(r):
        return (r["release"], r["moderation"], r["sentiment"], tuple(sorted(r["topics"] or [])))

    relabelled = sorted(d for d in set(then) & set(now) if labels(then[d]) != labels(now[d]))
    assert got["relabelled"] == relabelled and dataset["deleted"] in relabelled
    assert got["text_changed"] == sorted([dataset["edited"], dataset["deleted"]])
    manifest = json.loads((root / "snapshots" / NEW / "manifest.json").read_text("utf-8"))
    diff = manifest["diff"]
    assert (diff["documents_added"], diff["documents_removed"], diff["documents_relabelled"]) == \
        (len(got["added"]), len(got["removed"]), len(relabelled))
    text = outputs_text(cells)
    assert "the manifest's diff agrees" in text and "the manifest's label shares agree" in text

    for axis in ("release", "moderation"):
        for when, docs in (("then", then), ("now", now)):
            c = Counter(r[axis] for r in docs.values() if r[axis] is not None and not r["deleted"])
            total = sum(c.values())
            assert {k: v for k, v in got["shares"][axis][when].items() if v} == \
                pytest.approx({k: v / total for k, v in c.items()}, abs=1e-9), (axis, when)
    assert images(cells) >= 1
