"""`debatelake versions`, load(version= / as_of= / snapshot=), and what tests/test_snapshots.py leaves
out of the snapshot contract: Croissant 1.1 and its responsible-AI fields, label shares then and now
in the manifest's diff, and the model's evaluation figures in the manifest and the card."""
from __future__ import annotations

import hashlib
import json
from collections import Counter
from datetime import datetime, timedelta

import pandas as pd
import pytest

from _snapshot_data import (KEY, MODEL, UTC, annotation_rows, blog_doc, build_root, cli, flat, hn_comment, invoke,
                            make_docs, passage_rows)
from pipeline import load
from pipeline.snapshots import create_snapshot, snapshot_path
from pipeline.store import Store


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """documents v0 (14 rows, crawl-test-1), v1 (+3, crawl-test-2), v2 (a comment deleted upstream,
    crawl-test-3); snapshot s1 at v1, s2 after a new model relabelled everything."""
    root = tmp_path_factory.mktemp("versions") / "data"
    t0 = datetime.now(UTC)
    docs = make_docs()
    store = build_root(root, docs)
    between = datetime.now(UTC)
    new = [blog_doc(i) for i in (6, 7, 8)]
    store.merge_documents(new, {"run_id": "crawl-test-2"})
    store.upsert("passages", passage_rows(new), {"run_id": "process-test-2"})
    store.upsert("annotations", annotation_rows(docs + new), {"run_id": "process-test-2"})
    create_snapshot(store, "s1", privacy={"key": KEY})
    store.merge_documents([hn_comment(7, author="[deleted]", deleted=True)], {"run_id": "crawl-test-3"})
    store.upsert("annotations", annotation_rows(docs + new, model="m-test-2", shift=1,
                                                when=datetime.now(UTC) + timedelta(seconds=5)),
                 {"run_id": "process-test-3"})
    create_snapshot(store, "s2", privacy={"key": KEY})
    return {"root": root, "store": store, "t0": t0, "between": between, "t1": datetime.now(UTC)}


def test_versions_json_lists_every_version_with_time_operation_run_and_rows(world):
    r = cli("versions", "documents", "--root", str(world["root"]), "--json")
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert [x["version"] for x in rows] == [0, 1, 2]
    assert [x["operation"] for x in rows] == ["WRITE", "MERGE", "MERGE"]
    assert [x["run_id"] for x in rows] == ["crawl-test-1", "crawl-test-2", "crawl-test-3"]
    assert [x["rows"] for x in rows] == [14, 17, 17]
    for x in rows:
        when = datetime.fromisoformat(x["time"])
        assert world["t0"] - timedelta(seconds=1) <= when <= world["t1"], x
        assert x["table"] == "documents"


def test_versions_table_for_every_table(world):
    r = cli("versions", "--root", str(world["root"]))
    assert r.returncode == 0, r.stderr
    out = flat(r.stdout)
    for header in ("version", "time(UTC)", "operation", "runid", "rows"):
        assert header in out, header
    for table in ("documents", "passages", "annotations"):
        assert table in out, table
    for run in ("crawl-test-1", "crawl-test-2", "crawl-test-3", "process-test-2", "process-test-3"):
        assert run in out, run
    store: Store = world["store"]
    assert f"│{store.version('annotations')}│" in out.replace("┃", "│")  # the newest annotations version is listed


def test_versions_errors_and_empty_root(world, tmp_path):
    bad = invoke("versions", "nope", "--root", str(world["root"]))
    assert bad.exit_code == 2 and "unknown table 'nope'" in bad.stderr and "documents" in bad.stderr
    empty = invoke("versions", "--root", str(tmp_path / "empty"))
    assert empty.exit_code == 0 and "No tables" in empty.stdout


def test_load_version_as_of_and_snapshot(world):
    root = world["root"]
    assert len(load("documents", root=root, version=0)) == 14
    assert len(load("documents", root=root, as_of=world["between"])) == 14
    assert len(load("documents", root=root, as_of=world["between"].isoformat())) == 14
    latest = load("documents", root=root)
    assert len(latest) == 17 and latest.set_index("doc_id").loc["hackernews:1007", "deleted"]
    v1 = load("documents", root=root, version=1).set_index("doc_id")
    assert not v1.loc["hackernews:1007", "deleted"] and "Comment 7" in v1.loc["hackernews:1007", "text"]
    s1 = load("documents", root=root, snapshot="s1")
    assert len(s1) == 17 and set(s1["model_version"]) == {MODEL}
    s2 = load("documents", root=root, snapshot="s2").set_index("doc_id")
    assert bool(s2.loc["hackernews:1007", "deleted"]) and pd.isna(s2.loc["hackernews:1007", "model_version"])


def test_croissant_is_1_1_with_checksums_and_rai_fields(world):
    folder = snapshot_path(world["store"], "s2")
    data = json.loads((folder / "croissant.json").read_text())
    assert data["@type"] == "sc:Dataset"
    assert data["conformsTo"] == "http://mlcommons.org/croissant/1.1"
    ctx = data["@context"]
    assert ctx["cr"] == "http://mlcommons.org/croissant/" and ctx["rai"] == "http://mlcommons.org/croissant/RAI/"
    assert data["isLiveDataset"] is False  # a snapshot never changes
    for field in ("rai:dataCollection", "rai:dataAnnotationProtocol", "rai:machineAnnotationTools",
                  "rai:personalSensitiveInformation", "rai:dataCollectionType", "rai:dataLimitations"):
        assert data.get(field), field
    assert "pseudonym" in json.dumps(data["rai:personalSensitiveInformation"]).lower()
    assert "m-test-2" in json.dumps(data["rai:machineAnnotationTools"]) + json.dumps(data["rai:dataAnnotationProtocol"])
    files = [d for d in data["distribution"] if d["@type"] == "cr:FileObject"]
    assert files and all(len(d["sha256"]) == 64 for d in files)
    for d in files:
        assert hashlib.sha256((folder / d["contentUrl"]).read_bytes()).hexdigest() == d["sha256"], d["contentUrl"]
    assert {rs["name"] for rs in data["recordSet"]} == {"documents", "passages"}
    fields = {f["name"] for rs in data["recordSet"] if rs["name"] == "documents" for f in rs["field"]}
    assert {"doc_id", "text", "author", "release", "moderation", "topics"} <= fields


def test_diff_has_label_shares_then_and_now(world):
    root = world["root"]
    m2 = json.loads((snapshot_path(world["store"], "s2") / "manifest.json").read_text())
    shares = m2["diff"]["label_shares"]

    def measured(name: str, axis: str) -> dict[str, float]:
        docs = load("documents", root=root, snapshot=name)
        docs = docs[~docs["deleted"].astype(bool)]
        counts = Counter(docs[axis].dropna())
        total = sum(counts.values())
        return {k: pytest.approx(v / total, abs=1e-4) for k, v in counts.items()}

    for axis in ("release", "moderation", "sentiment"):
        assert shares[axis]["then"] == measured("s1", axis), axis
        assert shares[axis]["now"] == measured("s2", axis), axis
    assert shares["release"]["then"] != shares["release"]["now"]  # the new model shifted the labels
    assert m2["diff"]["documents_relabelled"] > 0 and m2["diff"]["previous"] == "s1"


def test_evaluation_figures_from_the_trained_model(tmp_path):
    """meta.json as `debatelake train` writes it: only its cross-validation figures are published."""
    root = tmp_path / "data"
    store = build_root(root)
    folder = root / "models" / MODEL
    folder.mkdir(parents=True)
    meta = {"version": MODEL, "rows": 805, "files": ["/home/someone/private/train.jsonl"], "params": {"C": 1.0},
            "cv": {"folds": 5, "rows": 805, "release": {"macro_f1": 0.6125}, "moderation": {"macro_f1": 0.5211},
                   "sentiment": {"macro_f1": 0.55}, "tone": {"macro_f1": 0.55},
                   "topics": {"micro_f1": 0.7012, "macro_f1": 0.6}, "temperatures": {"release": 1.3}}}
    (folder / "meta.json").write_text(json.dumps(meta, sort_keys=True))
    manifest = create_snapshot(store, "e1", privacy={"key": KEY})
    ev = manifest["evaluation"]
    assert ev["release"] == {"macro_f1": 0.6125} and ev["topics"]["micro_f1"] == 0.7012
    assert "5-fold cross-validation" in ev["gold"] and "805" in ev["gold"]
    card = (snapshot_path(store, "e1") / "README.md").read_text()
    section = card.split("## Models and their evaluation", 1)[1].split("\n## ", 1)[0]
    assert "| release | macro_f1 | 0.613 |" in section and "| topics | micro_f1 | 0.701 |" in section
    assert "| moderation | macro_f1 | 0.521 |" in section and "| tone | macro_f1 | 0.550 |" in section
    everything = "".join(p.read_text() for p in snapshot_path(store, "e1").iterdir() if p.is_file())
    assert "/home/someone" not in everything and "temperatures" not in everything
    # an evaluation file kept with the model (the output of `debatelake evaluate --json`) comes first
    (folder / "evaluation.json").write_text(json.dumps({"gold": "eval/gold.jsonl", "release": {"macro_f1": 0.48}}))
    m2 = create_snapshot(store, "e2", privacy={"key": KEY})
    assert m2["evaluation"]["release"] == {"macro_f1": 0.48}
    assert "Measured on `eval/gold.jsonl`" in (snapshot_path(store, "e2") / "README.md").read_text()
