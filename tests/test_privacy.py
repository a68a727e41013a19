"""Privacy in what is published: keyed pseudonyms stable across snapshots, contact details masked,
takedowns (URL, author, published pseudonym) kept out of later snapshots, `takedown purge` removing
them from the Delta history, and tombstones that never come back with text."""
from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from _snapshot_data import (BASE, KEY, OTHER_KEY, annotation_rows, blog_doc, build_root, cli, flat, hn_comment,
                            invoke, make_docs, passage_rows, write_config)
from pipeline import load
from pipeline.privacy import ENV_KEY, mask_contacts
from pipeline.schema import DEDUP, Document
from pipeline.snapshots import create_snapshot, read_snapshot_table, snapshot_path
from pipeline.store import Store


@pytest.fixture(autouse=True)
def _no_ambient_key(monkeypatch):
    monkeypatch.delenv(ENV_KEY, raising=False)


# --------------------------------------------------------------------------- masking
MASKED = [
    # (text, the contact that must disappear, what replaces it)
    ("write to jane.doe@example.org today", "jane.doe@example.org", "[email]"),
    ("alice.smith+tag@sub.example.co.uk wrote", "alice.smith+tag@sub.example.co.uk", "[email]"),
    ("mail bob [at] example [dot] com please", "bob [at] example [dot] com", "[email]"),
    ("call (415) 555-0132 after six", "(415) 555-0132", "[phone]"),
    ("call 415-555-0132 after six", "415-555-0132", "[phone]"),
    ("call 415.555.0132 after six", "415.555.0132", "[phone]"),
    ("call 415 555 0132 after six", "415 555 0132", "[phone]"),
    ("call 1-415-555-0132 after six", "1-415-555-0132", "[phone]"),  # NANP with the trunk 1
    ("call 1 415 555 0132 after six", "1 415 555 0132", "[phone]"),
    ("call +1 (415) 555-0132 after six", "+1 (415) 555-0132", "[phone]"),
    ("call +1 415 555 0132 after six", "+1 415 555 0132", "[phone]"),
    ("ring +49 30 12345678.", "+49 30 12345678", "[phone]"),  # international, long last group
    ("ring +49 (0)30 1234567 now", "+49 (0)30 1234567", "[phone]"),
    ("ring +44 20 7946 0958 now", "+44 20 7946 0958", "[phone]"),
    ("ring +442079460958 now", "+442079460958", "[phone]"),
    ("appelez le +33 1 23 45 67 89 demain", "+33 1 23 45 67 89", "[phone]"),  # French, international
    ("appelez le +33.6.12.34.56.78 demain", "+33.6.12.34.56.78", "[phone]"),
    ("appelez le 06 12 34 56 78 demain", "06 12 34 56 78", "[phone]"),  # French, national
    ("appelez le 06.12.34.56.78 demain", "06.12.34.56.78", "[phone]"),
    ("appelez le 01-23-45-67-89 demain", "01-23-45-67-89", "[phone]"),
    ("from abroad 0044 20 7946 0958.", "0044 20 7946 0958", "[phone]"),  # 00 instead of +
    ("from abroad 0033 1 23 45 67 89 too", "0033 1 23 45 67 89", "[phone]"),
    ("text me on 07700 900123 tonight", "07700 900123", "[phone]"),  # national, with the trunk 0
    ("Tel. 030 12345678 (Büro)", "030 12345678", "[phone]"),
    ("Tel.: 030/12345678, Fax", "030/12345678", "[phone]"),
    ("Telefon 044 123 45 67 oder", "044 123 45 67", "[phone]"),
    ("chiamare 06 1234 5678 dopo", "06 1234 5678", "[phone]"),
    ("bel 020-123 4567 maar", "020-123 4567", "[phone]"),
]

KEPT = [
    "scores 85 90 78 92 on four runs",
    "MMLU 86.4 88.7 90.2 across sizes",
    "gains of +12.5 13.4 14.2 15.0 16.1 17.2 18.3 points",
    "deltas +1.25 +2.50 +3.75",
    "released on 2024-05-13 and again 2026.03.01",
    "torch 2.13.0 and Windows 10.0.19045, llama.cpp b4567",
    "item?id=41234567 and id 12345678",
    "hackernews:1002 replies to blog:u:0003",
    "PR #12345 landed in 2024 2025 2026",
    "a 3-2-1 vote, 1,000,000 tokens, 175 000 000 000 parameters",
    "doi 10.1234/5678 and https://example.org/2024/05/13/post",
    "ISBN 978-3-16-148410-0",
    "ip 192.168.100.200 and 10.0.0.1",
    "Llama 3.1 405B 70B 8B",
    "ranks 1 2 3 4 5 6 and 12 34 56 78 90",
    "at 13:45 UTC+05:30, 2026-03-01T12:00:00+01:00",
    "1234 5678 9012 3456 is a list of four numbers",
    "zero-padded ids 00123456789, issues 0001 0002 0003, at 00:12, v1.00 123 456",
    "on 01-02-2024 at noon, 05/06/2025 and 09 2024 too, scores 05 10 15 20",
    "runs 0123 4567 and release 0.12 12345, 01:30:45 12345 and ref 012345-67",
]


@pytest.mark.parametrize("text,contact,mark", MASKED)
def test_contacts_are_masked(text, contact, mark):
    out = mask_contacts(text)
    assert contact not in out and mark in out, out
    # the words around the contact stay
    before, _, after = text.partition(contact)
    assert out == before + mark + after, out


@pytest.mark.parametrize("text", KEPT)
def test_numbers_that_are_not_contacts_are_kept(text):
    assert mask_contacts(text) == text


def test_several_contacts_in_one_text():
    text = "two: +49 30 12345678, or +44 20 7946 0958; mail a@b.io; score 85 90 78 92."
    assert mask_contacts(text) == "two: [phone], or [phone]; mail [email]; score 85 90 78 92."


def test_mask_keeps_empty_values():
    assert mask_contacts(None) is None and mask_contacts("") == ""


# --------------------------------------------------------------------------- a published world
CONTACTS = ("Reach me at zed.secret@mail.example.com or +33 6 12 34 56 78, or (415) 555-0132. "
            "Scores 85 90 78 92, released 2024-05-13, torch 2.13.0, item?id=41234567. ")
RAW_CONTACTS = ("zed.secret@mail.example.com", "+33 6 12 34 56 78", "(415) 555-0132", "6 12 34 56 78", "555-0132")
KEPT_IN_TEXT = ("85 90 78 92", "2024-05-13", "2.13.0", "item?id=41234567")
TAKEN_URL = "https://blog.example.org/posts/3"
TAKEN_AUTHOR = "Aaron Delete"  # sorts first: the Delta log keeps it as a min value
BY_PSEUDONYM = "Erin Quoted"


def people_docs() -> list[Document]:
    docs = make_docs()
    carol = blog_doc(10, text=CONTACTS * 2, author="Carol Contact")
    carol.title = "Write to carol@example.net or call 415-555-0199"
    carol.__post_init__()  # content hash of the new title
    docs.append(carol)
    docs.append(hn_comment(20, text="A zebra-quartz-8812 is what Aaron wrote.", author=TAKEN_AUTHOR))
    docs.append(hn_comment(21, text="More from Aaron: zebra-quartz-8813.", author=TAKEN_AUTHOR))
    docs.append(hn_comment(22, text="Erin writes: heliotrope-5521.", author=BY_PSEUDONYM))
    return docs


def strings_in(folder: Path) -> str:
    """Every value of every Parquet file under folder, and every other file's text, as one string."""
    out = []
    for p in sorted(folder.rglob("*")):
        if not p.is_file():
            continue
        if p.suffix == ".parquet":
            out.append(json.dumps(pq.read_table(p, use_threads=False).to_pylist(), default=str))
        else:
            out.append(p.read_bytes().decode("utf-8", "replace"))
    return "\n".join(out)


def authors_of(root: Path, name: str) -> dict[str, str | None]:
    t = load("documents", root=root, snapshot=name, columns=["doc_id", "author"])
    return dict(zip(t["doc_id"], t["author"]))


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """s1 (key A); then a new document, a changed text, takedowns of a URL, an author and a
    pseudonym quoted from s1; s2 (key A); s3 (another key)."""
    base = tmp_path_factory.mktemp("privacy")
    root = base / "data"
    cfg = write_config(base / "c.toml")
    docs = people_docs()
    store = build_root(root, docs)
    env = {ENV_KEY: KEY}
    r = invoke("snapshot", "create", "s1", "--root", str(root), "--config", str(cfg), env=env)
    assert r.exit_code == 0, r.output
    s1_authors = authors_of(root, "s1")

    later = [blog_doc(50, author="Blogger 1"), hn_comment(5, text="Comment 5, edited: filters are fine.")]
    store.merge_documents(later, {"run_id": "crawl-test-2"})
    store.upsert("passages", passage_rows(later), {"step": "passages"})
    store.upsert("annotations", annotation_rows(later), {"step": "labels"})
    erin = s1_authors["hackernews:1022"]
    for target in (TAKEN_URL, TAKEN_AUTHOR):
        r = invoke("takedown", "add", target, "--root", str(root), "--reason", "request")
        assert r.exit_code == 0, r.output
    # a removal request quoting the published pseudonym; with the key set, the name behind it is
    # listed too, so that the takedown still holds for a snapshot made with another key (s3)
    r = invoke("takedown", "add", erin, "--root", str(root), "--reason", "request", env=env)
    assert r.exit_code == 0, r.output
    assert "1crawledauthorname" in flat(r.stdout), r.stdout
    listed = cli("takedown", "list", "--root", str(root))
    assert listed.returncode == 0, listed.stderr
    narrow = cli("takedown", "list", "--root", str(root), env={"COLUMNS": "80"})
    assert narrow.returncode == 0 and "…" not in narrow.stdout  # values are folded, never cut
    r = invoke("snapshot", "create", "s2", "--root", str(root), "--config", str(cfg), env=env)
    assert r.exit_code == 0, r.output
    r = invoke("snapshot", "create", "s3", "--root", str(root), "--config", str(cfg), env={ENV_KEY: OTHER_KEY})
    assert r.exit_code == 0, r.output
    return {"root": root, "store": store, "docs": docs + later, "s1_authors": s1_authors, "erin": erin,
            "listed": listed.stdout}


def test_pseudonyms_are_stable_across_snapshots_with_one_key(world):
    root, docs = world["root"], {d.doc_id: d for d in world["docs"]}
    a1, a2, a3 = world["s1_authors"], authors_of(root, "s2"), authors_of(root, "s3")
    both = set(a1) & set(a2)
    assert len(both) >= 14
    for doc_id in both:
        assert a1[doc_id] == a2[doc_id], doc_id
    # one author, one pseudonym; distinct authors, distinct pseudonyms (per platform)
    by_name: dict[tuple[str, str], set[str]] = {}
    for doc_id, pseudonym in a2.items():
        d = docs[doc_id]
        by_name.setdefault((d.platform, d.author), set()).add(pseudonym)
    assert all(len(p) == 1 for p in by_name.values()), by_name
    assert len({next(iter(p)) for p in by_name.values()}) == len(by_name)
    # the author of the new document keeps the pseudonym their older posts had in s1
    blogger1 = {a1[i] for i in a1 if docs[i].author == "Blogger 1"}
    assert len(blogger1) == 1 and a2["blog:u:0050"] in blogger1
    for p in a2.values():
        assert re.fullmatch(r"user_[0-9a-f]{16}", p), p


def test_another_key_gives_other_pseudonyms(world):
    a2, a3 = authors_of(world["root"], "s2"), authors_of(world["root"], "s3")
    assert set(a2) == set(a3)
    assert all(a2[i] != a3[i] for i in a2)
    assert not set(a2.values()) & set(a3.values())
    m2 = json.loads((snapshot_path(world["store"], "s2") / "manifest.json").read_text())
    m3 = json.loads((snapshot_path(world["store"], "s3") / "manifest.json").read_text())
    assert m2["privacy"]["key_id"] != m3["privacy"]["key_id"]  # a reader can tell the key changed


def test_no_raw_author_name_is_published(world):
    names = {d.author for d in world["docs"] if d.author}
    for snap in ("s1", "s2", "s3"):
        text = strings_in(snapshot_path(world["store"], snap))
        found = sorted(n for n in names if n in text)
        assert not found, (snap, found)


def test_contacts_are_masked_in_published_text(world):
    root = world["root"]
    docs = load("documents", root=root, snapshot="s2").set_index("doc_id")
    row = docs.loc["blog:u:0010"]
    passages = load("passages", root=root, snapshot="s2")
    ptexts = list(passages.loc[passages["doc_id"] == "blog:u:0010", "text"])
    assert len(ptexts) == 2
    for text in [row["text"], *ptexts]:
        for raw in RAW_CONTACTS:
            assert raw not in text, (raw, text)
        assert text.count("[email]") >= 1 and text.count("[phone]") >= 2, text
        for kept in KEPT_IN_TEXT:
            assert kept in text, (kept, text)
    assert "carol@example.net" not in row["title"] and "415-555-0199" not in row["title"]
    assert "[email]" in row["title"] and "[phone]" in row["title"]
    # the whole published folder (card, Croissant, manifest included) quotes no contact
    everything = strings_in(snapshot_path(world["store"], "s2"))
    for raw in (*RAW_CONTACTS, "carol@example.net", "415-555-0199"):
        assert raw not in everything, raw
    # masking is for what is published: the crawled table keeps the text as it was
    current = load("documents", root=root).set_index("doc_id")
    assert "zed.secret@mail.example.com" in current.loc["blog:u:0010", "text"]


def test_takedowns_keep_url_author_and_pseudonym_out_of_later_snapshots(world):
    root = world["root"]
    gone = {"blog:u:0003", "hackernews:1020", "hackernews:1021", "hackernews:1022"}
    s1 = set(load("documents", root=root, snapshot="s1")["doc_id"])
    assert gone <= s1  # the earlier snapshot is untouched
    for snap in ("s2", "s3"):
        ids = set(load("documents", root=root, snapshot=snap)["doc_id"])
        assert not gone & ids, snap
        assert "blog:u:0050" in ids and len(ids) == len(s1) + 1 - len(gone)
        pids = set(load("passages", root=root, snapshot=snap)["doc_id"])
        assert not gone & pids and pids
        text = strings_in(snapshot_path(world["store"], snap) / "data")
        for word in ("zebra-quartz-8812", "zebra-quartz-8813", "heliotrope-5521", TAKEN_URL):
            assert word not in text, (snap, word)
    m2 = json.loads((snapshot_path(world["store"], "s2") / "manifest.json").read_text())
    assert m2["privacy"]["takedowns"] == {"urls": 1, "authors": 3}  # Aaron, Erin's pseudonym, Erin's name
    assert sorted(m2["diff"]["examples"]["removed"]) == sorted(gone)
    listed = flat(world["listed"])
    assert flat(TAKEN_URL) in listed and "AaronDelete" in listed and world["erin"] in listed
    assert "request" in listed


# --------------------------------------------------------------------------- purge
def everything_under(root: Path, tables=("documents", "passages", "annotations", "dedup", "cache")) -> str:
    return "\n".join(strings_in(root / t) for t in tables if (root / t).is_dir())


def test_purge_removes_them_from_the_history(tmp_path):
    root = tmp_path / "data"
    cfg = write_config(tmp_path / "c.toml")
    docs = people_docs()
    store = build_root(root, docs)
    # more history: an edit of Aaron's comment (so two versions hold her text) and a new document
    store.merge_documents([hn_comment(20, text="A zebra-quartz-9999, Aaron's edit.", author=TAKEN_AUTHOR),
                           blog_doc(40)], {"run_id": "crawl-test-2"})
    # the dedup layer: a row per document with hashes and a MinHash signature of its text
    dedup = [{"doc_id": d.doc_id, "content_hash": d.content_hash, "seq": i, "text_hash": f"h{i}",
              "minhash": bytes(512), "run_id": "process-test"} for i, d in enumerate(docs)]
    store.upsert("dedup", pa.Table.from_pylist(dedup, schema=DEDUP), {"run_id": "process-test"})
    env = {ENV_KEY: KEY}
    assert invoke("snapshot", "create", "before", "--root", str(root), "--config", str(cfg), env=env).exit_code == 0
    erin = authors_of(root, "before")["hackernews:1022"]
    secrets = ("zebra-quartz-8812", "zebra-quartz-8813", "zebra-quartz-9999", "heliotrope-5521", TAKEN_AUTHOR,
               BY_PSEUDONYM, TAKEN_URL)
    # a page the crawler's HTTP cache kept (crawler/httpcache.py), as fetched
    from crawler.httpcache import http_cache_dir

    page = http_cache_dir(str(root)) / "feeds" / "ab" / "ab12" / "response_body"
    page.parent.mkdir(parents=True)
    page.write_text(f"<p>heliotrope-5521 at {TAKEN_URL}</p>")
    before = everything_under(root)
    assert all(s in before for s in secrets)  # the log and the files hold them before the purge
    old_versions = [h["version"] for h in store.history("documents")]
    assert len(old_versions) >= 2
    for target in (TAKEN_URL, TAKEN_AUTHOR):
        assert invoke("takedown", "add", target, "--root", str(root)).exit_code == 0
    r = invoke("takedown", "add", erin, "--root", str(root))  # no key at hand: listed as it is, with a note
    assert r.exit_code == 0 and "nopseudonymisationkey" in flat(r.stderr)
    typo = invoke("takedown", "add", "user_0000000000000000", "--root", str(root), env=env)
    assert typo.exit_code == 0 and "nocrawledauthorhasthispseudonym" in flat(typo.stderr)

    # a pseudonym on the list needs the key to be found: without it nothing changes
    v = store.version("documents")
    r = cli("takedown", "purge", "--yes", "--root", str(root), "--config", str(cfg), env={ENV_KEY: ""})
    assert r.returncode == 2, r.stderr
    assert ENV_KEY in r.stderr and "pseudonym" in r.stderr
    assert store.version("documents") == v and everything_under(root).count("heliotrope-5521") >= 1

    r = cli("takedown", "purge", "--yes", "--root", str(root), "--config", str(cfg), env=env)
    assert r.returncode == 0, r.stderr
    assert "purged4documents" in flat(r.stdout), r.stdout
    assert not http_cache_dir(str(root)).exists()
    assert "before" in r.stderr and "immutable" in r.stderr  # the snapshot that still holds them is named

    store = Store(root)
    ids = set(load("documents", root=root)["doc_id"])
    assert not ids & {"blog:u:0003", "hackernews:1020", "hackernews:1021", "hackernews:1022"}
    assert len(ids) == len(docs) + 1 - 4
    for table in ("passages", "annotations", "dedup"):
        assert not set(load(table, root=root)["doc_id"]) & {"blog:u:0003", "hackernews:1020"}, table
    assert len(load("dedup", root=root)) == len(docs) - 4
    # no file of the tables, data or transaction log, holds their text, names or URL any more
    after = everything_under(root)
    for s in secrets:
        assert s not in after, s
    # older versions cannot bring them back: each is gone or holds none of them
    for version in old_versions:
        try:
            old = load("documents", root=root, version=version)
        except Exception:
            continue
        assert not set(old["doc_id"]) & {"blog:u:0003", "hackernews:1020", "hackernews:1022"}, version
    # the table still works: versions lists what is left, a new snapshot leaves them out
    listed = cli("versions", "documents", "--root", str(root), "--json")
    assert listed.returncode == 0, listed.stderr
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert rows and rows[-1]["rows"] == len(ids) and rows[-1]["step"] == "takedown purge"
    assert min(x["version"] for x in rows) > max(old_versions)  # the versions that held them are gone
    assert invoke("snapshot", "create", "after", "--root", str(root), "--config", str(cfg), env=env).exit_code == 0
    assert "heliotrope-5521" not in strings_in(snapshot_path(store, "after"))
    # and time travel keeps working after the purge, for the versions made after it
    store.merge_documents([blog_doc(41)], {"run_id": "crawl-test-3"})
    assert len(load("documents", root=root, version=store.version("documents") - 1)) == len(ids)


# --------------------------------------------------------------------------- tombstones
def test_tombstones_never_come_back_with_text(tmp_path):
    root = tmp_path / "data"
    docs = make_docs()
    docs.append(hn_comment(30, text="Soon deleted: obsidian-7731 and more words.", author="Gone User"))
    store = build_root(root, docs)  # it had text, passages and labels
    tomb = hn_comment(30, author="[deleted]", deleted=True)
    assert store.merge_documents([tomb], {"run_id": "crawl-test-2"}).updated == 1
    manifest = create_snapshot(store, "t1", privacy={"key": KEY})
    snap = snapshot_path(store, "t1")
    rows = {r["doc_id"]: r for r in read_snapshot_table(store, "t1", "documents").to_pylist()}
    row = rows["hackernews:1030"]
    assert row["deleted"] is True and row["text"] is None
    for col in ("release", "release_prob", "moderation", "sentiment", "model_version"):
        assert row[col] is None, col
    assert row["topics"] == [] and row["entities"] == []
    assert "hackernews:1030" not in set(load("passages", root=root, snapshot="t1")["doc_id"])
    assert "obsidian-7731" not in strings_in(snap)
    assert manifest["summary"]["tombstones"] == 1
    # its place in the thread is kept
    assert row["thread_id"] == "hackernews:1000" and row["parent_id"] == "hackernews:1000"
    # labels of the deleted text are not counted in the published label distribution
    live = [r for r in rows.values() if not r["deleted"]]
    assert sum(manifest["summary"]["label_distribution"]["release"].values()) == len(live) == len(rows) - 1
    # a crawl that sees the tombstone again keeps it a tombstone; the tables never hold its text again
    assert store.merge_documents([hn_comment(30, author="[deleted]", deleted=True)]).unchanged == 1
    current = {r["doc_id"]: r for r in store.read("documents", columns=["doc_id", "text", "deleted"]).to_pylist()}
    assert current["hackernews:1030"] == {"doc_id": "hackernews:1030", "text": None, "deleted": True}
    assert Document(doc_id="x", source="s", platform="p", kind="comment", text="words", deleted=True).text is None


def test_published_dates_are_not_shifted(world):
    """Masking must not touch the metadata columns (dates, scores, ids) either."""
    docs = load("documents", root=world["root"], snapshot="s2").set_index("doc_id")
    assert docs.loc["blog:u:0001", "published_at"].to_pydatetime() == BASE + timedelta(days=1)
    assert docs.loc["hackernews:1003", "url"] == "https://news.ycombinator.com/item?id=1003"
