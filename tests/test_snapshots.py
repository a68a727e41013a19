"""Snapshots: create (sharded files, card, Croissant, checksums, manifest with a diff), immutability,
verify, load(snapshot=...), and the key that must be set."""
from __future__ import annotations

import hashlib
import json
import random
import shutil
import stat
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow.compute as pc
import pytest
import yaml

from _snapshot_data import (KEY, MODEL, UTC, annotation_rows, blog_doc, build_root, cli, flat, invoke, make_docs,
                            passage_rows, write_config)
from pipeline import __version__, load
from pipeline.privacy import ENV_KEY
from pipeline.snapshots import SnapshotError, create_snapshot, read_checksums, snapshot_path
from pipeline.store import Store

MAX_MB = 0.012


def checksum(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A root snapshotted twice (s1, then s2 after new documents, a takedown and a new model that
    relabels two documents), through the command line."""
    base = tmp_path_factory.mktemp("snaps")
    root = base / "data"
    cfg = write_config(base / "c.toml")
    docs = make_docs()
    store = build_root(root, docs)
    env = {ENV_KEY: KEY}
    r1 = invoke("snapshot", "create", "s1", "--root", str(root), "--config", str(cfg), "--max-file-mb", str(MAX_MB),
                env=env)
    assert r1.exit_code == 0, r1.output
    s1 = snapshot_path(store, "s1")
    before = {p: (checksum(p), p.stat().st_mtime_ns) for p in s1.rglob("*") if p.is_file()}
    versions_s1 = {t: store.version(t) for t in ("documents", "passages", "annotations", "takedowns")}

    new = [blog_doc(i) for i in (6, 7, 8)]
    store.merge_documents(new, {"run_id": "crawl-test-2"})
    all_docs = docs + new
    store.upsert("passages", passage_rows(new), {"step": "passages"})
    m2 = annotation_rows(all_docs, model="m-test-2", when=datetime.now(UTC) + timedelta(seconds=5))
    rows = m2.to_pylist()
    relabel = {"hackernews:1002", "blog:u:0003"}
    for r in rows:
        if r["doc_id"] in relabel and r["level"] == "document":
            r["release"] = "closed" if r["release"] != "closed" else "open"
    store.upsert("annotations", m2.from_pylist(rows, schema=m2.schema), {"step": "labels"})
    assert invoke("takedown", "add", "https://blog.example.org/posts/0", "--root", str(root)).exit_code == 0
    r2 = invoke("snapshot", "create", "s2", "--root", str(root), "--config", str(cfg), env=env)
    assert r2.exit_code == 0, r2.output
    return {"root": root, "cfg": cfg, "store": store, "docs": all_docs, "annotations_m2": rows,
            "s1": s1, "s2": snapshot_path(store, "s2"), "before": before, "versions_s1": versions_s1,
            "relabelled": relabel, "r1": r1, "r2": r2}


def test_files_are_sharded_and_checksummed(world):
    s1 = world["s1"]
    manifest = json.loads((s1 / "manifest.json").read_text())
    docs = manifest["files"]["documents"]
    assert len(docs) >= 3, docs
    sums = read_checksums(s1)
    on_disk = {p.relative_to(s1).as_posix() for p in s1.rglob("*") if p.is_file()} - {"SHA256SUMS"}
    assert set(sums) == on_disk
    for rel, digest in sums.items():
        assert checksum(s1 / rel) == digest
    # the shards hold every row exactly once
    assert sorted(load("documents", root=world["root"], snapshot="s1")["doc_id"]) == sorted(
        d.doc_id for d in world["docs"][:14])


def test_shards_stay_under_the_limit(tmp_path):
    rng = random.Random(7)
    words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9))) for _ in range(3000)]
    docs = [blog_doc(i, text=" ".join(rng.choice(words) for _ in range(250))) for i in range(200)]
    store = build_root(tmp_path / "data", docs)
    limit_mb = 0.05
    manifest = create_snapshot(store, "big", privacy={"key": KEY}, max_file_mb=limit_mb)
    folder = snapshot_path(store, "big")
    for table in ("documents", "passages"):
        sizes = [(folder / rel).stat().st_size for rel in manifest["files"][table]]
        assert len(sizes) >= 4, sizes
        assert max(sizes) <= 1.1 * limit_mb * 1024 * 1024, sizes  # Parquet footers included
        assert sum(sizes[:-1]) / (len(sizes) - 1) > 0.6 * limit_mb * 1024 * 1024, sizes  # and not tiny
    assert manifest["rows"] == {"documents": 200, "passages": 400}
    assert len(load("passages", root=store.root, snapshot="big")) == 400


def test_dataset_card_front_matter_and_sections(world):
    text = (world["s1"] / "README.md").read_text()
    assert text.startswith("---\n")
    meta = yaml.safe_load(text.split("---\n")[1])
    for key in ("license", "language", "task_categories", "size_categories", "annotations_creators",
                "source_datasets", "configs", "pretty_name"):
        assert meta.get(key), key
    assert meta["language"] == ["en"] and meta["size_categories"] == ["n<1K"]
    configs = {c["config_name"]: c for c in meta["configs"]}
    assert set(configs) == {"documents", "passages"}
    for name, c in configs.items():
        pattern = c["data_files"][0]["path"]
        matched = sorted(p.relative_to(world["s1"]).as_posix() for p in world["s1"].glob(pattern))
        manifest = json.loads((world["s1"] / "manifest.json").read_text())
        assert matched == sorted(manifest["files"][name])
    for section in ("## Loading", "## Sources and how they were crawled", "## Label schema",
                    "## Models and their evaluation", "## Changes since the previous snapshot",
                    "## Personal information", "## Known limitations", "## How to cite"):
        assert section in text, section
    assert "| blogs/post | 6 |" in text and "| hn/comment | 8 |" in text
    s2 = (world["s2"] / "README.md").read_text()
    assert "Compared with `s1`: 3 documents added, 1 removed, 2 relabelled" in s2


@pytest.mark.filterwarnings("ignore")  # mlcroissant's own deprecation warnings (rdflib, pandas)
def test_croissant_validates_and_reads_with_mlcroissant(world):
    mlc = pytest.importorskip("mlcroissant")
    ds = mlc.Dataset(jsonld=str(world["s1"] / "croissant.json"))
    assert not ds.metadata.issues.errors
    docs = list(ds.records(record_set="documents"))
    assert len(docs) == 14
    ids = {r["documents/doc_id"].decode() for r in docs}
    assert ids == {d.doc_id for d in world["docs"][:14]}
    assert all(r["documents/author"].decode().startswith("user_") for r in docs)
    assert len(list(ds.records(record_set="passages"))) == 28
    data = json.loads((world["s1"] / "croissant.json").read_text())
    files = {d["contentUrl"]: d["sha256"] for d in data["distribution"] if d["@type"] == "cr:FileObject"}
    sums = read_checksums(world["s1"])
    assert files == {rel: sums[rel] for rel in files} and len(files) == sum(1 for r in sums if r.startswith("data/"))
    assert data["rai:personalSensitiveInformation"] and data["rai:dataCollection"]


def test_manifest_versions_counts_labels_and_diff(world):
    store = world["store"]
    m1 = json.loads((world["s1"] / "manifest.json").read_text())
    m2 = json.loads((world["s2"] / "manifest.json").read_text())
    assert m1["table_versions"] == world["versions_s1"]
    assert m2["table_versions"] == {t: store.version(t) for t in ("documents", "passages", "annotations", "takedowns")}
    assert m2["table_versions"]["documents"] > m1["table_versions"]["documents"]
    assert m1["code_version"].startswith(__version__) and m1["model_version"] == MODEL
    assert m2["model_version"] == "m-test-2"
    assert m1["summary"]["by_source_and_kind"] == {"blogs/post": 6, "hn/comment": 8}
    assert m2["summary"]["by_source_and_kind"] == {"blogs/post": 8, "hn/comment": 8}
    assert m1["rows"] == {"documents": 14, "passages": 28}

    kept = {d.doc_id for d in world["docs"]} - {"blog:u:0000"}
    doc_rows = [r for r in world["annotations_m2"] if r["level"] == "document" and r["doc_id"] in kept]
    for axis in ("release", "moderation", "sentiment"):
        assert m2["summary"]["label_distribution"][axis] == dict(Counter(r[axis] for r in doc_rows)), axis
    assert m2["summary"]["label_distribution"]["topics"] == dict(Counter(t for r in doc_rows for t in r["topics"]))

    assert m1["diff"] is None
    d = m2["diff"]
    assert d["previous"] == "s1"
    assert (d["documents_added"], d["documents_removed"], d["documents_relabelled"]) == (3, 1, 2)
    assert sorted(d["examples"]["added"]) == ["blog:u:0006", "blog:u:0007", "blog:u:0008"]
    assert d["examples"]["removed"] == ["blog:u:0000"]
    assert sorted(d["examples"]["relabelled"]) == sorted(world["relabelled"])
    assert m2["privacy"]["takedowns"] == {"urls": 1, "authors": 0}


def test_snapshots_are_immutable(world):
    for path, (digest, mtime) in world["before"].items():
        assert checksum(path) == digest and path.stat().st_mtime_ns == mtime, path  # s2 did not touch s1
        assert not path.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH), path
    r = invoke("snapshot", "create", "s1", "--root", str(world["root"]), "--config", str(world["cfg"]),
               env={ENV_KEY: KEY})
    assert r.exit_code == 2
    assert "alreadyexists" in flat(r.stderr) and "immutable" in r.stderr
    for path, (digest, mtime) in world["before"].items():
        assert checksum(path) == digest and path.stat().st_mtime_ns == mtime
    with pytest.raises(SnapshotError, match="already exists"):
        create_snapshot(world["store"], "s2", privacy={"key": KEY})
    with pytest.raises(SnapshotError, match="not a usable snapshot name"):
        create_snapshot(world["store"], "../escape", privacy={"key": KEY})
    assert sorted(p.name for p in (world["root"] / "snapshots").iterdir()) == ["s1", "s2"]


def test_verify_names_altered_missing_and_extra_files(world, tmp_path):
    ok = invoke("snapshot", "verify", "s1", "--root", str(world["root"]))
    assert ok.exit_code == 0 and "every checksum matches" in ok.stdout
    root = tmp_path / "data"
    shutil.copytree(world["root"] / "snapshots", root / "snapshots")
    snap = root / "snapshots" / "s1"
    for p in snap.rglob("*"):
        p.chmod(0o755 if p.is_dir() else 0o644)
    (snap / "croissant.json").write_text((snap / "croissant.json").read_text().replace("debatelake", "debate-lake"))
    (snap / "data/passages/part-00000.parquet").unlink()
    (snap / "data/extra.txt").write_text("not part of it")
    r = cli("snapshot", "verify", "s1", "--root", str(root))  # the real entry point, in a child process
    assert r.returncode == 1
    err = r.stderr
    assert "checksum differs: croissant.json" in err
    assert "missing: data/passages/part-00000.parquet" in err
    assert "not in SHA256SUMS: data/extra.txt" in err
    assert "README.md" not in err


def test_load_snapshot(world):
    docs = load("documents", root=world["root"], snapshot="s2")
    assert len(docs) == 16 and "blog:u:0000" not in set(docs["doc_id"])
    assert docs.set_index("doc_id").loc["blog:u:0003", "model_version"] == "m-test-2"
    passages = load("passages", root=world["root"], snapshot="s1", columns=["passage_id", "doc_id"])
    assert list(passages.columns) == ["passage_id", "doc_id"] and len(passages) == 28
    with pytest.raises(SnapshotError, match="no snapshot 'nope'.*s1, s2"):
        load("documents", root=world["root"], snapshot="nope")


def test_missing_key_stops_and_writes_nothing(world, tmp_path):
    root = tmp_path / "data"
    build_root(root)
    r = invoke("snapshot", "create", "s9", "--root", str(root), "--config", str(world["cfg"]), env={ENV_KEY: ""})
    assert r.exit_code == 2
    assert ENV_KEY in r.stderr and "is not set" in r.stderr
    assert not (root / "snapshots").exists() or list((root / "snapshots").iterdir()) == []
    short = invoke("snapshot", "create", "s9", "--root", str(root), "--config", str(world["cfg"]),
                   env={ENV_KEY: "short"})
    assert short.exit_code == 2 and "too short" in short.stderr
    # the key may also come from the config's [privacy] section
    cfg = write_config(tmp_path / "k.toml", f'\n[privacy]\nkey = "{KEY}"\n')
    ok = invoke("snapshot", "create", "s9", "--root", str(root), "--config", str(cfg), env={ENV_KEY: ""})
    assert ok.exit_code == 0, ok.output
    listed = invoke("snapshot", "list", "--root", str(root))
    assert "s9" in listed.stdout


def test_no_documents_yet(tmp_path):
    with pytest.raises(SnapshotError, match="no documents to snapshot"):
        create_snapshot(Store(tmp_path / "empty"), "s1", privacy={"key": KEY})
