"""`debatelake process` over real Delta tables with a real (small) trained label model.

One model is trained per session on 160 lines of the project's training set; each test copies
it into its own data root. Documents go in through Store.merge_documents, like a crawl's.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.compute as pc
import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.config import Config, ConfigError
from pipeline.nlp.clean import clean_text
from pipeline.nlp.model import Labeler
from pipeline.nlp.process import ProcessSettings, _KeySet, _tasks, process
from pipeline.nlp.rules import MODERATION, RELEASE, SENTIMENT, TOPICS
from pipeline.nlp.train import TRAINING_DIR, train
from pipeline.schema import Document
from pipeline.store import Store, StoreError

REPO = Path(__file__).resolve().parent.parent
N_TRAIN = 160

# ----------------------------------------------------------------------------- documents
# Texts written for these tests.
MARKUP = """---
title: Why we publish the weights
tags: llm
---
# Why we publish the weights

We think **open weights** are the only *credible* check on a handful of labs.[^1] The
<b>Llama 2</b> release showed it{.highlight}: people ran llama-2-70b-chat on their own
machines within days, and LLaMA-2 fine-tunes appeared the same week.¹

Subscribe to our newsletter for more posts like this.

Meta AI and FAIR deserve credit here, whatever one thinks of the licence terms that came with it.

[^1]: See our earlier post on access to models.

Share this post
"""

NEAR_BASE = (
    "The refusal rate of the new assistant is absurd. I asked it how to terminate a stuck Linux "
    "process and it lectured me about violence instead of answering the question. Safety tuning "
    "that cannot tell a shell command from a threat makes the product worse for everyone who uses "
    "it for ordinary work, and it pushes people towards uncensored community fine-tunes."
)
NEAR_COPY = NEAR_BASE.replace("absurd", "ridiculous") + " Fix the filter."

EXACT_BASE = (
    "Regulators in Brussels want frontier labs to document training data and to report serious "
    "incidents. Whether that should apply to models released with open weights is still argued."
)

LONG_SENTENCES = [
    "Staged release was supposed to buy time for the research community to study misuse.",
    "In practice the larger checkpoint leaked within a week and the careful plan fell apart.",
    "Some argue that this proves gating never works once a model is valuable enough to copy.",
    "Others answer that a week of delay still matters when a vulnerability needs to be patched.",
    "The honest answer is that nobody measured what the delay bought, so both camps guess.",
    "What would settle it is a record of incidents before and after each release, kept openly.",
]
LONG_PARAGRAPH = " ".join(LONG_SENTENCES * 5)  # one paragraph of ~2,600 characters

COMMENT = "Open weights or it didn't happen.\n\nSeriously, an API is not a release."
FRENCH = ("Les modèles ouverts permettent aux chercheurs de vérifier ce que font réellement ces systèmes, "
          "et cela vaut mieux que de faire confiance aux promesses des grandes entreprises.")
BINARY = bytes(range(256)).decode("latin-1") * 40
EMOJI = "🔥🔥🔥 😂👍"


def doc(doc_id: str, text: str | None, kind: str = "post", title: str | None = None, author: str = "ana",
        deleted: bool = False) -> Document:
    return Document(doc_id=f"test:{doc_id}", source="test", platform="files", kind=kind, title=title, text=text,
                    author=author, published_at="2025-03-01T12:00:00Z", deleted=deleted)


def corpus() -> list[Document]:
    return [
        doc("markup", MARKUP, title="Why we publish the weights"),
        doc("near-base", NEAR_BASE, kind="comment"),
        doc("near-copy", NEAR_COPY, kind="comment", author="ben"),
        doc("exact-base", EXACT_BASE),
        doc("exact-copy", EXACT_BASE, author="cross-poster"),
        doc("long", "Staged release, a year on\n\n" + LONG_PARAGRAPH),
        doc("comment", COMMENT, kind="comment"),
        doc("french", FRENCH, kind="comment"),
        doc("empty", "", kind="comment"),
        doc("tombstone", None, kind="comment", deleted=True),
        doc("removed", "[removed]", kind="comment"),
        doc("binary", BINARY),
        doc("emoji", EMOJI, kind="comment"),
    ]


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="session")
def model_dir(tmp_path_factory) -> Path:
    rows = []
    for path in sorted(TRAINING_DIR.glob("*.jsonl")):
        rows += [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
    rows.sort(key=lambda r: hashlib.sha256(str(r["id"]).encode()).hexdigest())
    d = tmp_path_factory.mktemp("process-model")
    base = d / "base.jsonl"
    base.write_text("".join(json.dumps(r) + "\n" for r in rows[:N_TRAIN]), "utf-8")
    extra = d / "extra.jsonl"  # for a second model version
    extra.write_text("".join(json.dumps(r) + "\n" for r in rows[N_TRAIN:N_TRAIN + 40]), "utf-8")
    train(d / "data", base=[base])
    return d


def with_model(root: Path, model_dir: Path) -> Path:
    shutil.copytree(model_dir / "data" / "models", root / "models")
    return root


@pytest.fixture
def data(root, model_dir) -> Path:
    Store(str(root)).merge_documents(corpus())
    return with_model(root, model_dir)


def table(store: Store, name: str, **kw) -> list[dict]:
    return store.read(name, **kw).to_pylist()


def doc_rows(store: Store, version: str | None = None) -> dict[str, dict]:
    flt = pc.field("level") == "document"
    if version:
        flt = flt & (pc.field("model_version") == version)
    return {r["doc_id"].removeprefix("test:"): r for r in table(store, "annotations", filter=flt)}


def versions(store: Store) -> dict[str, int | None]:
    return {n: store.version(n) for n in ("documents", "passages", "annotations", "dedup", "runs")}


# ----------------------------------------------------------------------------- tests
def test_process_writes_passages_entities_duplicates_and_labels(data):
    store = Store(str(data))
    docs_version = store.version("documents")
    labeler = Labeler.load(str(data))
    report = process(str(data), Config(), workers=1)

    n = len(corpus())
    assert (report.todo, report.processed, report.docs_new) == (n, n, n)
    assert store.version("documents") == docs_version  # documents are only read
    rows = doc_rows(store)
    assert sorted(rows) == sorted(d.doc_id.removeprefix("test:") for d in corpus())
    assert {r["model_version"] for r in rows.values()} == {labeler.version}

    # passages: offsets slice the document's cleaned text exactly, in order, without overlap
    texts = {d.doc_id: d.text for d in corpus()}
    passages = table(store, "passages")
    by_doc: dict[str, list[dict]] = {}
    for p in passages:
        by_doc.setdefault(p["doc_id"], []).append(p)
    for doc_id, ps in by_doc.items():
        cleaned = clean_text(texts[doc_id])
        ps.sort(key=lambda p: p["seq"])
        assert [p["seq"] for p in ps] == list(range(len(ps)))
        assert all(cleaned[p["start"]:p["end"]] == p["text"] for p in ps), doc_id
        assert all(a["end"] <= b["start"] for a, b in zip(ps, ps[1:])), doc_id
        assert all(p["passage_id"] == f"{doc_id}#{p['seq']}" for p in ps)

    # cleaning: no markup, footnote markers or boilerplate lines left; the prose is kept
    markup = " ".join(p["text"] for p in by_doc["test:markup"])
    for leftover in ("<b>", "**", "{.highlight}", "[^1]", "¹", "title:", "Subscribe", "Share this post", "# Why"):
        assert leftover not in markup, leftover
    assert "We think open weights are the only credible check on a handful of labs." in markup
    assert "See our earlier post on access to models." in markup

    # a long paragraph is cut at sentence boundaries; a short comment is one passage
    long = by_doc["test:long"]
    assert len(long) >= 3 and all(len(p["text"]) <= 1200 for p in long)
    assert all(p["text"].endswith(".") for p in long)
    assert len(by_doc["test:comment"]) == 1 and "\n\n" in by_doc["test:comment"][0]["text"]

    # entities link to canonical ids, with offsets into the cleaned text
    ents = rows["markup"]["entities"]
    linked = {(e["text"], e["id"]) for e in ents}
    for pair in [("Llama 2", "llama-2"), ("llama-2-70b-chat", "llama-2"), ("LLaMA-2", "llama-2"),
                 ("Meta AI", "meta"), ("FAIR", "meta")]:
        assert pair in linked, (pair, linked)
    cleaned = clean_text(MARKUP)
    assert all(cleaned[e["start"]:e["end"]] == e["text"] for e in ents)

    # duplicates: marked on every row of the copy, pointing at the earlier document
    assert (rows["exact-copy"]["duplicate_kind"], rows["exact-copy"]["duplicate_of"]) == ("exact", "test:exact-base")
    assert (rows["near-copy"]["duplicate_kind"], rows["near-copy"]["duplicate_of"]) == ("near", "test:near-base")
    for original in ("exact-base", "near-base", "markup", "long"):
        assert rows[original]["duplicate_of"] is None
    copy_passages = table(store, "annotations", filter=(pc.field("doc_id") == "test:near-copy")
                          & (pc.field("level") == "passage"))
    assert copy_passages and all(r["duplicate_of"] == "test:near-base" for r in copy_passages)
    assert (report.exact_duplicates, report.near_duplicates) == (1, 1)
    assert "test:exact-copy" in {p["doc_id"] for p in passages}  # nothing is deleted

    # labels on every passage and document of English text: probabilities, version, evidence
    labelled = ["markup", "near-base", "near-copy", "exact-base", "exact-copy", "long", "comment"]
    passage_rows = table(store, "annotations", filter=pc.field("level") == "passage")
    assert len(passage_rows) == len(passages)
    by_pid = {p["passage_id"]: p for p in passages}
    for r in passage_rows:
        if r["doc_id"].removeprefix("test:") not in labelled:
            continue
        assert r["reason"] is None and r["model_version"] == labeler.version
        assert r["release"] in RELEASE and r["moderation"] in MODERATION and r["sentiment"] in SENTIMENT
        assert all(0.0 < r[k] <= 1.0 for k in ("release_prob", "moderation_prob", "sentiment_prob"))
        assert sorted(k for k, _ in r["topic_probs"]) == sorted(TOPICS)
        assert set(r["topics"]) <= set(TOPICS)
        assert r["evidence"] and all(e["sentence"] in by_pid[r["passage_id"]]["text"] for e in r["evidence"])
    for name in labelled:
        r = rows[name]
        assert r["reason"] is None and r["language"] == "en"
        assert r["release"] in RELEASE and r["release_prob"] is not None
        assert any(e["axis"] == "sentiment" for e in r["evidence"])
        own = {p["passage_id"] for p in by_doc[f"test:{name}"]}
        assert all(e["passage_id"] in own and e["sentence"] in by_pid[e["passage_id"]]["text"] for e in r["evidence"])

    # bad input: no crash; labels `none` and a recorded reason
    expected = {"empty": "empty text", "tombstone": "deleted (tombstone)", "removed": "deleted (tombstone)",
                "binary": "binary or unreadable content", "emoji": "no words to label",
                "french": "language fr not labelled"}
    for name, reason in expected.items():
        r = rows[name]
        assert r["reason"] and r["reason"].startswith(reason), (name, r["reason"])
        assert (r["release"], r["moderation"], r["release_prob"], r["topics"]) == ("none", "none", None, []), name
    assert rows["french"]["language"] == "fr"
    assert "test:french" in by_doc and "test:binary" not in by_doc and "test:empty" not in by_doc
    assert report.reasons["language fr not labelled"] == 1

    # the run is recorded
    run = table(store, "runs", filter=pc.field("run_id") == report.run_id)[0]
    assert (run["command"], run["status"], run["docs_new"]) == ("process", "finished", n)


def test_second_run_writes_nothing_and_a_new_model_labels_beside_the_old(data, model_dir):
    store = Store(str(data))
    first = process(str(data), Config(), workers=1)
    before = versions(store)
    old = {(r["passage_id"], r["release"], r["release_prob"]) for r in table(store, "annotations")}

    again = process(str(data), Config(), workers=1)
    assert (again.todo, again.processed, again.run_id) == (0, 0, None)
    assert versions(store) == before  # not a single commit, not even a run row

    # retrain (a new model version), then process: new labels beside the old ones
    result = train(str(data), base=[model_dir / "base.jsonl"], extra=[model_dir / "extra.jsonl"])
    assert result.version != first.model_version
    third = process(str(data), Config(), workers=1)
    assert third.model_version == result.version and third.processed == len(corpus())
    after = versions(store)
    assert after["documents"] == before["documents"]
    assert after["passages"] == before["passages"]  # the documents did not change: same passages
    assert after["annotations"] > before["annotations"]
    by_version: dict[str, set[str]] = {}
    for r in table(store, "annotations", filter=pc.field("level") == "document"):
        by_version.setdefault(r["model_version"], set()).add(r["doc_id"])
    assert by_version == {first.model_version: {d.doc_id for d in corpus()},
                          result.version: {d.doc_id for d in corpus()}}
    kept = {(r["passage_id"], r["release"], r["release_prob"])
            for r in table(store, "annotations", filter=pc.field("model_version") == first.model_version)}
    assert kept == old  # the old version's rows are untouched
    # the duplicate decisions do not change with the model
    assert doc_rows(store, result.version)["exact-copy"]["duplicate_of"] == "test:exact-base"
    assert doc_rows(store, result.version)["exact-base"]["duplicate_of"] is None

    assert process(str(data), Config(), workers=1).run_id is None
    assert versions(store)["annotations"] == after["annotations"]


def test_a_changed_document_is_relabelled_and_its_passages_replaced(data):
    store = Store(str(data))
    process(str(data), Config(), workers=1)
    new_text = ("Second thoughts after a week with the model.\n\n" + NEAR_BASE + "\n\n"
                "Update: the vendor shipped a fix and the refusals are gone, which is good news.")
    assert store.merge_documents([doc("near-base", new_text, kind="comment")]).updated == 1
    report = process(str(data), Config(), workers=1)
    assert (report.processed, report.docs_updated, report.docs_new) == (1, 1, 0)

    rows = table(store, "annotations", filter=(pc.field("doc_id") == "test:near-base") & (pc.field("level") == "document"))
    assert len(rows) == 1  # replaced, not added
    current = [d for d in store.read("documents").to_pylist() if d["doc_id"] == "test:near-base"][0]
    assert rows[0]["content_hash"] == current["content_hash"]
    passages = table(store, "passages", filter=pc.field("doc_id") == "test:near-base")
    cleaned = clean_text(new_text)
    assert passages and all(cleaned[p["start"]:p["end"]] == p["text"] for p in passages)
    assert {p["content_hash"] for p in passages} == {current["content_hash"]}
    n_passage_rows = len(table(store, "annotations", filter=(pc.field("doc_id") == "test:near-base")
                               & (pc.field("level") == "passage")))
    assert n_passage_rows == len(passages)
    # the copy was a near duplicate of the old text; it still is of the document it was decided against
    assert doc_rows(store)["near-copy"]["duplicate_of"] == "test:near-base"


def test_worker_pool_and_small_batches_give_the_same_labels(root, tmp_path, model_dir):
    docs = corpus() + [doc(f"extra-{i}", f"Comment {i}: {s}", kind="comment") for i, s in enumerate(LONG_SENTENCES)]
    local_root = with_model(tmp_path / "local", model_dir)
    pool_root = with_model(root, model_dir)
    for r in (local_root, pool_root):
        Store(str(r)).merge_documents(docs)

    local = process(str(local_root), Config(), workers=1)
    pool = process(str(pool_root), Config(), workers=2, batch_size=4)
    assert (local.workers, pool.workers) == (1, 2)
    assert local.processed == pool.processed == len(docs)

    # written incrementally: one annotations commit per batch of 4 documents
    history = Store(str(pool_root)).history("annotations")
    appends = [h for h in history if h.get("operation") == "WRITE"]
    assert len(appends) >= len(docs) // 4

    def snapshot(r: Path) -> list[tuple]:
        out = []
        for a in table(Store(str(r)), "annotations"):
            out.append((a["passage_id"], a["level"], a["release"], round(a["release_prob"] or 0, 4), a["moderation"],
                        a["sentiment"], tuple(a["topics"]), a["duplicate_of"], a["duplicate_kind"], a["reason"],
                        tuple(e["id"] for e in a["entities"])))
        return sorted(out, key=repr)

    assert snapshot(local_root) == snapshot(pool_root)


def test_megabyte_document_and_language_settings(root, model_dir):
    big = ("Open weights let anyone audit the model, said nobody at the lab. " * 16 + "\n\n") * 1000  # ~1 MB
    paragraph = ("Les poids ouverts sont indispensables à la recherche indépendante, et les restrictions "
                 "actuelles favorisent surtout les grandes entreprises américaines.")
    store = Store(str(root))
    store.merge_documents([doc("big", big), doc("fr", paragraph, kind="comment"), doc("near-base", NEAR_BASE),
                           doc("near-copy", NEAR_COPY, author="ben")])
    with_model(root, model_dir)
    cfg = Config(process={"languages": ["en", "fr"], "near_duplicate_threshold": 0.99, "max_chars": 200_000})
    report = process(str(root), cfg, workers=1)
    assert report.processed == 4 and not report.errors
    rows = doc_rows(store)
    assert rows["fr"]["language"] == "fr" and rows["fr"]["reason"] is None and rows["fr"]["release_prob"] is not None
    assert rows["near-copy"]["duplicate_of"] is None  # below the configured threshold
    assert "only the start was processed" in rows["big"]["reason"] and rows["big"]["release_prob"] is not None
    passages = table(store, "passages", filter=pc.field("doc_id") == "test:big")
    assert passages and max(p["end"] for p in passages) <= 200_000
    cleaned = clean_text(big[:200_000])
    assert all(cleaned[p["start"]:p["end"]] == p["text"] for p in passages)


def _triple_and_pid(task: int) -> tuple[int, int]:
    return task * 3, os.getpid()


def test_pool_helped_by_this_process_keeps_task_order():
    import functools

    from pipeline.nlp.executor import PoolExecutor, make_executor

    here: list[int] = []

    def local():
        def run(task: int) -> tuple[int, int]:
            here.append(task)
            return _triple_and_pid(task)
        return run

    factory = functools.partial(functools.partial, _triple_and_pid)  # picklable; runs in the worker
    with make_executor(factory, 2, tasks_expected=40, local=local) as ex:
        assert isinstance(ex, PoolExecutor) and ex.workers == 2
        out = list(ex.imap(range(40)))
    assert [r[0] for r in out] == [3 * t for t in range(40)]  # in order, whoever ran them
    assert ex.local_tasks == len(here) >= 1  # this process ran some (the worker was still starting)
    assert all((pid == os.getpid()) == (t // 3 in here) for t, pid in out)


def test_tasks_stream_in_bounded_pieces(root):
    big = "x" * 300_000
    docs = [doc(f"d{i}", big if i in (3, 4, 5) else f"Short text number {i}.") for i in range(12)]
    store = Store(str(root))
    store.merge_documents(docs)
    tasks = [t[0] for t in _tasks(store, _KeySet(), task_size=5, todo=12, run_id=None, labelled_at=None,
                                  version="v", task_chars=250_000)]
    assert sum(t.num_rows for t in tasks) == 12 and max(t.num_rows for t in tasks) <= 5
    for t in tasks:  # a task ends as soon as its text reaches the limit: a big document ends its task
        lengths = [len(x) for x in t.column("text").to_pylist()]
        assert all(n < 300_000 for n in lengths[:-1]), lengths
    assert sum(t[0].num_rows for t in _tasks(store, _KeySet(), 5, 7, None, None, "v")) == 7  # --limit


def test_process_settings_are_checked():
    assert ProcessSettings.from_config({"near_duplicate_threshold": 0.9}).near_duplicate_threshold == 0.9
    for bad in ({"near_duplicate_treshold": 0.9}, {"near_duplicate_threshold": 1.5}, {"languages": "en"},
                {"batch_size": 0}, {"workers": "2"}):
        with pytest.raises(ConfigError, match="process"):
            ProcessSettings.from_config(bad, "x.toml")


def test_cli_process(data, tmp_path, model_dir):
    runner = CliRunner()
    cfg = tmp_path / "c.toml"
    cfg.write_text("[process]\nworkers = 1\n", "utf-8")
    res = runner.invoke(app, ["process", "--root", str(data), "--config", str(cfg)])
    assert res.exit_code == 0, res.output
    assert "process run process-" in res.output and "language fr not labelled" in res.output
    assert str(len(corpus())) in res.output

    # the real entry point, in a child process: exit code 0, nothing left to do
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-c", "from pipeline.cli import main; main()", "process", "--root",
                           str(data), "--config", str(cfg)], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "Nothing to process" in proc.stdout

    # user errors: one line, exit code 2
    empty = tmp_path / "empty"
    res = runner.invoke(app, ["process", "--root", str(empty), "--config", str(cfg)])
    assert res.exit_code == 2 and "debatelake crawl" in res.output
    Store(str(empty)).merge_documents([doc("one", COMMENT, kind="comment")])
    res = runner.invoke(app, ["process", "--root", str(empty), "--config", str(cfg)])
    assert res.exit_code == 2 and "debatelake train" in res.output
    bad = tmp_path / "bad.toml"
    bad.write_text("[process]\nnear_duplicate_threshold = 2\n", "utf-8")
    res = runner.invoke(app, ["process", "--root", str(data), "--config", str(bad)])
    assert res.exit_code == 2 and "near_duplicate_threshold" in res.output
    with pytest.raises(StoreError):
        process(str(tmp_path / "nothing"), Config())
