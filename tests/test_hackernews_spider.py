"""The hackernews spider, crawling a local copy of the Algolia HN API for real.

Recorded payloads: ../shared/fixtures/hn/algolia-fixtures-2014-bundle.json (real 2014 answers).
That bundle holds no story with its comment tree, so whole threads (with deleted and dead
comments) come from the project-written tests/data/api_hn_*.json in the same API shape."""
from __future__ import annotations

import json
import time
from datetime import datetime, timezone

import pytest

from crawler.spiders.hackernews import item_documents
from pipeline.demo.server import Response
from pipeline.schema import Document
from support_fixtures import DATA, JSON, Site, crawl, hn_bundle, hn_key, project_json, serve

UTC = timezone.utc


def hn_site(shared) -> Site:
    bundle = hn_bundle(shared)
    site = Site()

    def api(req):
        if req.path == "/api/v1/search_by_date" and req.arg("query") == "open weights":
            return Response(200, project_json(f"api_hn_search_open_weights_p{req.arg('page')}.json"), JSON)
        if req.path.startswith("/api/v1/items/"):
            own = DATA / f"api_hn_item_{req.path.rsplit('/', 1)[1]}.json"
            if own.is_file():
                return Response(200, own.read_bytes(), JSON)
        body = bundle.get(hn_key(req))
        return Response(200, body, JSON) if body else None

    site.fallbacks.append(api)
    return site


@pytest.fixture(scope="module")
def hn(shared, tmp_path_factory):
    site = hn_site(shared)
    srv = serve(site)
    tmp = tmp_path_factory.mktemp("hn")
    base = srv.url("/api/v1")
    try:
        result = crawl(tmp, [
            {"name": "hn-llm", "spider": "hackernews", "base_url": base, "queries": ["open weights"],
             "hits_per_page": 2, "since": "2024-03-01", "until": "2024-03-31"},
            {"name": "hn-apple", "spider": "hackernews", "base_url": base, "queries": ["apple"], "tags": "(story)",
             "hits_per_page": 1, "max_pages": 1},
            {"name": "hn-polls", "spider": "hackernews", "base_url": base, "tags": "(poll),author_pg",
             "endpoint": "search", "hits_per_page": 1, "max_pages": 1},
            {"name": "hn-comments", "spider": "hackernews", "base_url": base, "tags": "(comment)",
             "hits_per_page": 1, "max_pages": 1, "comments": False},
            {"name": "hn-week", "spider": "hackernews", "base_url": base, "queries": ["apple"], "tags": "(poll)",
             "hits_per_page": 1, "max_pages": 1, "days": 7},
        ])
        yield site, result
    finally:
        srv.stop()


def structure(docs):
    return {d: (r["kind"], r["thread_id"], r["parent_id"], r["depth"], r["author"], r["deleted"]) for d, r in docs.items()}


def test_story_trees_with_pagination_and_tombstones(hn):
    site, result = hn
    docs = result.docs("hn-llm")
    S1, S2, S3 = "hackernews:99000001", "hackernews:99000002", "hackernews:99000003"
    assert structure(docs) == {
        S1: ("post", S1, None, 0, "kestrel_dev", False),
        "hackernews:99000011": ("comment", S1, S1, 1, "moss", False),
        "hackernews:99000021": ("comment", S1, "hackernews:99000011", 2, None, True),  # deleted
        "hackernews:99000031": ("comment", S1, "hackernews:99000021", 3, "quill", False),  # kept under it
        "hackernews:99000022": ("comment", S1, "hackernews:99000011", 2, None, True),  # dead
        "hackernews:99000012": ("comment", S1, S1, 1, "fernwood", False),
        S2: ("post", S2, None, 0, "lanternfish", False),
        S3: ("post", S3, None, 0, "tidewater", False),
        "hackernews:99000041": ("comment", S3, S3, 1, "basalt", False),
        "hackernews:99000051": ("comment", S3, "hackernews:99000041", 2, "moss", False),
    }
    assert docs[S1]["title"] == "Ask HN: Should frontier labs publish their model weights?"
    assert docs[S1]["text"] == ("Every release thread ends in the same fight. Is publishing weights a public good "
                                "or an unacceptable misuse risk?\n\nCurious where people here land.")
    assert docs[S1]["score"] == 120
    assert docs[S1]["published_at"] == datetime(2024, 3, 5, 14, 0, tzinfo=UTC)
    assert docs[S1]["url"] == "https://news.ycombinator.com/item?id=99000001"
    assert docs["hackernews:99000012"]["text"] == (
        "Safety filters can be fine-tuned away in an afternoon once the weights are out, see this write-up."
        "\n\n```\nrefusal rate: 94% -> 3%\n```\n\nThat is the real trade-off.")  # <pre>: fenced
    assert docs["hackernews:99000051"]["text"] == (
        "Narrower, yes, but regulators still treat weights differently from hosted services & that matters.")
    assert docs["hackernews:99000051"]["published_at"] == datetime(2024, 3, 6, 14, 9, tzinfo=UTC)
    # tombstones keep their place but no text, not even the dead comment's spam
    for tomb in ("hackernews:99000021", "hackernews:99000022"):
        assert docs[tomb]["text"] is None
    assert docs["hackernews:99000022"]["raw"]["tombstone"] == "dead"
    # link stories keep their external link in raw; the document URL is the HN item
    assert docs[S3]["raw"]["link_url"] == "https://example.org/ai-rules-open-models"
    assert docs[S3]["url"] == "https://news.ycombinator.com/item?id=99000003"
    assert docs[S2]["raw"]["link_url"] == "https://example.org/tiny-runner"
    assert docs[S2]["text"] is None and docs[S2]["title"] == "Show HN: A tiny local runner for open-weight models"

    searches = [h for h in site.hits if h.path == "/api/v1/search_by_date" and h.query.get("query") == ["open weights"]]
    assert [h.query["page"] for h in searches] == [["0"], ["1"]]  # nbPages 2: exactly two pages
    for h in searches:
        assert h.query["tags"] == ["story"] and h.query["hitsPerPage"] == ["2"]
        assert h.query["numericFilters"] == ["created_at_i>1709251200,created_at_i<1711843200"]
    # one items request per story with comments; none for the story without comments
    assert site.count("/api/v1/items/99000001") == 1
    assert site.count("/api/v1/items/99000003") == 1
    assert site.count("/api/v1/items/99000002") == 0
    run = result.runs()["hn-llm"]
    assert (run["status"], run["errors"], run["docs_new"], run["responses"]) == ("finished", 0, 10, {"200": 4})


def test_recorded_algolia_pages(hn):
    site, result = hn
    apple = result.docs("hn-apple")
    assert list(apple) == ["hackernews:7919424"]
    d = apple["hackernews:7919424"]
    assert (d["kind"], d["thread_id"], d["parent_id"], d["depth"]) == ("post", "hackernews:7919424", None, 0)
    assert d["title"] == "Judge says concerned about Apple, Google hiring settlement"
    assert (d["author"], d["score"], d["text"]) == ("bradleyjg", 1, None)
    assert d["published_at"] == datetime(2014, 6, 20, 3, 35, 46, tzinfo=UTC)
    assert d["raw"]["link_url"] == "http://in.reuters.com/article/2014/06/19/apple-google-settlement-idINL2N0P01ZI20140619"
    assert site.count("/api/v1/items/7919424") == 0  # num_comments 0: the hit is the whole thread

    comments = result.docs("hn-comments")
    assert list(comments) == ["hackernews:7919431"]
    c = comments["hackernews:7919431"]
    assert (c["kind"], c["thread_id"], c["parent_id"], c["depth"], c["author"]) == (
        "comment", "hackernews:7919207", "hackernews:7919207", 1, "gohrt")
    assert c["text"].startswith("A perennial HN favorite\n\nhttps://hn.algolia.com/?q=Fibonacci+Flim-Flam#!/all/forever/...")
    assert c["text"].endswith("What's fascinating about this topic is that the reposts come at intervals that "
                              "approximates the Fibonacci sequence.")
    assert c["published_at"] == datetime(2014, 6, 20, 3, 39, 55, tzinfo=UTC)
    assert c["raw"]["story_title"] == "Fibonacci Flim-Flam"

    week = result.docs("hn-week")
    assert list(week) == ["hackernews:6604931"]
    assert week["hackernews:6604931"]["title"] == "Poll: Which iPad(s) do you use?"
    # days = 7: the window starts seven days before the crawl
    (hit,) = [h for h in site.hits if h.query.get("tags") == ["(poll)"]]
    since = int(hit.query["numericFilters"][0].removeprefix("created_at_i>"))
    assert abs(since - (time.time() - 7 * 86400)) < 600
    assert "<" not in hit.query["numericFilters"][0]  # no upper bound


def test_items_failure_keeps_the_story_from_the_hit(hn):
    site, result = hn
    polls = result.docs("hn-polls")
    assert list(polls) == ["hackernews:2595605"]
    p = polls["hackernews:2595605"]
    assert (p["title"], p["author"], p["score"], p["raw"]["hn_type"]) == (
        "Poll: Should HN display comment scores?", "pg", 606, "poll")
    assert p["text"].startswith("It's now been long enough since I hid comment scores")
    run = result.runs()["hn-polls"]
    items_url = site_url(result, "/api/v1/items/2595605")
    assert run["errors"] == 1
    assert run["error_messages"] == [f"{items_url}: HTTP 404; skipped"]
    assert run["responses"] == {"200": 1, "404": 1}
    assert len(result.errors_naming("/api/v1/items/2595605")) == 1
    # max_pages = 1 although the recorded answer reports nbPages 11
    assert [h.query.get("page") for h in site.hits if h.query.get("tags") == ["(poll),author_pg"]] == [["0"]]


def site_url(result, path):
    (line,) = [m for r in result.runs().values() for m in r["error_messages"] if path in m]
    return line.split(": HTTP")[0]


def test_item_tree_rooted_at_a_comment(shared):
    """The recorded /items/17 is a comment with two replies, answering comment 15 of story 1: the
    subtree joins story 1's thread; its depth below the story is unknown from this answer alone."""
    entries = json.loads((shared / "fixtures/hn/algolia-fixtures-2014-bundle.json").read_text("utf-8"))
    (item,) = [e["reply"] for e in entries if e["url"] == "/api/v1/items/17"]
    docs = item_documents(item, lambda **kw: Document(source="t", platform="hackernews", **kw))
    assert [(d.doc_id, d.thread_id, d.parent_id, d.depth, d.author, d.text) for d in docs] == [
        ("hackernews:17", "hackernews:1", "hackernews:15", None, "pg", "Is there anywhere to eat on Sandhill Road?"),
        ("hackernews:1079", "hackernews:1", "hackernews:17", None, "dmon", "sure"),
        ("hackernews:454426", "hackernews:1", "hackernews:17", None, "Arrington", "This is why we can't have nice things."),
    ]
    assert docs[0].published_at == datetime(2006, 10, 9, 19, 52, 45, tzinfo=UTC)
    assert [d.kind for d in docs] == ["comment"] * 3
    assert [d.score for d in docs] == [5, 4, 1]
    # a comment that answers the story itself does get its depth
    item = {**item, "parent_id": 1}
    docs = item_documents(item, lambda **kw: Document(source="t", platform="hackernews", **kw))
    assert [(d.parent_id, d.depth) for d in docs] == [("hackernews:1", 1), ("hackernews:17", 2), ("hackernews:17", 2)]


def test_bad_answers_each_give_one_error_and_the_crawl_goes_on(shared, tmp_path):
    bundle = hn_bundle(shared)
    good = bundle[("/api/v1/search_by_date", "(story)", "apple", "0")]
    answers = {
        "missing": Response(404, "no such page", "text/plain"),
        "oops": Response(500, "internal error", "text/plain"),
        "slow": Response(200, good, JSON, delay=3.0),
        "broken": Response(200, "<html><body>Too many requests, try later</body></html>", "text/html"),
        "cut": Response(200, good, JSON, truncate=True),
        "apple": Response(200, good, JSON),
    }
    site = Site()
    site.fallbacks.append(lambda req: answers.get(req.arg("query")) if req.path == "/api/v1/search_by_date" else None)
    srv = serve(site)
    try:
        result = crawl(tmp_path, [{"name": "hn-bad", "spider": "hackernews", "base_url": srv.url("/api/v1"),
                                   "queries": list(answers), "tags": "(story)", "hits_per_page": 1,
                                   "max_pages": 1}],
                       {"timeout": 1.0, "retries": 1})
    finally:
        srv.stop()
    assert list(result.docs()) == ["hackernews:7919424"]  # the good answer is kept
    run = result.runs()["hn-bad"]
    assert run["status"] == "finished"
    assert run["errors"] == 5
    by_query = {q: [m for m in run["error_messages"] if f"query={q}&" in m] for q in answers}
    assert {q: len(v) for q, v in by_query.items()} == {"missing": 1, "oops": 1, "slow": 1, "broken": 1, "cut": 1,
                                                         "apple": 0}
    assert by_query["missing"][0].endswith("HTTP 404; skipped")
    assert by_query["oops"][0].endswith("HTTP 500; skipped")
    assert by_query["slow"][0].endswith("timed out; will be fetched again on the next crawl")
    assert "invalid JSON" in by_query["broken"][0]
    assert "truncated" in by_query["cut"][0]
    for q in ("missing", "oops", "slow", "broken", "cut"):
        assert len(result.errors_naming(f"query={q}&")) == 1, q  # one logged error line per URL
    # 500 and the timeout were retried once (retries = 1); the truncated body too
    assert run["responses"] == {"200": 2, "404": 1, "500": 2}
    asked = [h.query["query"][0] for h in site.hits]
    assert {q: asked.count(q) for q in answers} == {"missing": 1, "oops": 2, "slow": 2, "broken": 1, "cut": 2,
                                                    "apple": 1}
