"""The discourse spider, crawling local copies of a Discourse forum for real.

Recorded payloads (../shared/fixtures/discourse): /latest.json pages 0 and 1 and topics 11, 21
and 26 of sourcecred-test.discourse.group (26 has 21 posts, one beyond the first chunk), and
try.discourse.org's topic 57 (2013 field set). Category listings are assembled from the
recorded topic-list entries; topic 900 (nested replies, a deleted post, a small action) is
project-written (tests/data/api_discourse_topic_900.json)."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from pipeline.demo.server import LocalServer
from support_fixtures import crawl, discourse_site, serve

UTC = timezone.utc


@pytest.fixture(scope="module")
def forums(shared, tmp_path_factory):
    sites = {"cats": discourse_site(shared, True), "latest": discourse_site(shared, False),
             "first5": discourse_site(shared, False), "broken": discourse_site(shared, True, broken=True)}
    servers = {k: serve(s) for k, s in sites.items()}
    try:
        result = crawl(tmp_path_factory.mktemp("discourse"), [
            {"name": "forum-cats", "spider": "discourse", "base_url": servers["cats"].url(),
             "categories": ["uncategorized/1", 6]},
            {"name": "forum-latest", "spider": "discourse", "base_url": servers["latest"].url()},
            {"name": "forum-first5", "spider": "discourse", "base_url": servers["first5"].url(), "max_topics": 5},
            {"name": "forum-broken", "spider": "discourse", "base_url": servers["broken"].url(),
             "categories": ["uncategorized/1", 6]},
        ])
        yield sites, servers, result
    finally:
        for srv in servers.values():
            srv.stop()


def ids(server: LocalServer):
    host = server.base_url.removeprefix("http://")
    return lambda post_id: f"discourse:{host}:{post_id}"


def test_categories_topics_and_a_long_post_stream(forums):
    sites, servers, result = forums
    site, d = sites["cats"], ids(servers["cats"])
    docs = result.docs("forum-cats")
    assert len(docs) == 1 + 3 + 21 + 6 + 3  # topics 21, 11, 26, 900, 57
    # category listings: by slug/id with more_topics_url pagination, and by id
    assert sorted(p for p in site.paths() if p.startswith("/c/")) == [
        "/c/6.json", "/c/uncategorized/1.json", "/c/uncategorized/1/l/latest.json"]
    (page1,) = [h for h in site.hits if h.path == "/c/uncategorized/1/l/latest.json"]
    assert page1.query == {"page": ["1"]}
    # topic 26: 20 posts in /t/26.json, the 21st fetched by id
    (more,) = [h for h in site.hits if h.path == "/t/26/posts.json"]
    assert more.query["post_ids[]"] == ["54"]
    t26 = [r for r in docs.values() if r["raw"]["topic_id"] == "26"]
    assert len(t26) == 21
    assert sorted(int(r["raw"]["post_number"]) for r in t26) == list(range(1, 22))
    first = docs[d(34)]
    assert (first["kind"], first["thread_id"], first["parent_id"], first["depth"]) == ("post", d(34), None, 0)
    assert first["title"] == "Big Filler Topic 1"
    assert first["text"] == "This topic will have 2 pages.\nNeeding at least > 20 posts."
    last = docs[d(54)]
    assert (last["kind"], last["thread_id"], last["parent_id"], last["depth"], last["author"]) == (
        "comment", d(34), d(34), 1, "beanow.sc-test")
    assert last["text"] == "The quick brown fox jumps over the lazy dog.\n\nPost #21"
    assert last["published_at"] == datetime(2019, 11, 15, 17, 44, 32, 244000, tzinfo=UTC)
    assert last["url"] == servers["cats"].url("/t/big-filler-topic-1/26/21")

    assert {k: (r["kind"], r["parent_id"], r["depth"], r["author"], r["text"]) for k, r in docs.items()
            if r["raw"]["topic_id"] == "11"} == {
        d(14): ("post", None, 0, "d11", "This is a test post.\n\nEDIT: This test post was edited on October 24, 2019."),
        d(16): ("comment", d(14), 1, "dl-proto", "Ah, an excellent post. I will like it and reply."),
        d(22): ("comment", d(14), 1, "d11", "Adding another post, after having deleted a whole thread."),
    }
    assert docs[d(14)]["score"] == 1  # one like
    assert docs[d(14)]["url"] == servers["cats"].url("/t/my-first-test-post/11")
    assert docs[d(29)]["text"].startswith("Here is a mention: @dl-proto\nHere is a topic reference: 123 a post with")
    run = result.runs()["forum-cats"]
    assert (run["status"], run["errors"], run["responses"]) == ("finished", 0, {"200": 9})


def test_reply_tree_tombstones_and_skipped_actions(forums):
    sites, servers, result = forums
    d = ids(servers["cats"])
    docs = result.docs("forum-cats")
    t900 = {k: (r["kind"], r["parent_id"], r["depth"], r["author"], r["deleted"]) for k, r in docs.items()
            if r["raw"]["topic_id"] == "900"}
    assert t900 == {
        d(9001): ("post", None, 0, "maple_ops", False),
        d(9002): ("comment", d(9001), 1, "kiln", False),
        d(9003): ("comment", d(9002), 2, "harrow", False),  # reply_to_post_number 2
        d(9004): ("comment", d(9003), 3, None, True),  # deleted by its author: a tombstone
        d(9005): ("comment", d(9004), 4, "maple_ops", False),  # the reply to it stays
        d(9007): ("comment", d(9001), 1, "sorrel", False),  # reply to post 1; 9006 (closed notice) skipped
    }
    assert docs[d(9004)]["text"] is None
    # the quote of post 2 is not repeated in post 3's text
    assert docs[d(9003)]["text"] == "It helps when the same prompt is step one of a break-in. Filters exist for the tail cases."
    assert docs[d(9001)]["title"] == "Should hosted models refuse less?"
    assert docs[d(9001)]["score"] == 7
    assert docs[d(9001)]["raw"]["tags"] == "moderation,safety"
    # the 2013 topic: the moderator notice (post_type 2) is skipped, the reply to post 1 kept
    assert {k: (r["kind"], r["parent_id"], r["depth"], r["author"]) for k, r in docs.items()
            if r["raw"]["topic_id"] == "57"} == {
        d(83): ("post", None, 0, "samsaffron"),
        d(86): ("comment", d(83), 1, "stienman"),
        d(226): ("comment", d(83), 1, "splattne"),
    }
    assert docs[d(83)]["published_at"] == datetime(2013, 2, 4, 20, 26, 26, 278000, tzinfo=UTC)  # -05:00 -> UTC


def test_latest_pages_and_missing_topics(forums):
    sites, servers, result = forums
    site, d = sites["latest"], ids(servers["latest"])
    pages = [h for h in site.hits if h.path == "/latest.json"]
    assert [h.query.get("page") for h in pages] == [None, ["1"]]  # page 1 has no more_topics_url: stop
    assert pages[1].query["order"] == ["activity"]  # the rest of more_topics_url is kept
    asked = sorted(int(p.removeprefix("/t/").removesuffix(".json")) for p in site.paths()
                   if p.startswith("/t/") and p.endswith(".json") and p.count("/") == 2)
    assert len(asked) == 40 and len(set(asked)) == 40
    docs = result.docs("forum-latest")
    assert len(docs) == 25  # only topics 11, 21 and 26 are recorded
    # the same posts from two forums never collide: the host is part of the id
    assert d(14) in docs and ids(servers["cats"])(14) in result.docs("forum-cats") and d(14) != ids(servers["cats"])(14)
    run = result.runs()["forum-latest"]
    assert run["errors"] == 37
    assert run["responses"] == {"200": 6, "404": 37}
    assert len(result.errors_naming(servers["latest"].url("/t/58.json"))) == 1
    assert servers["latest"].url("/t/58.json") + ": HTTP 404; skipped" in run["error_messages"]


def test_max_topics(forums):
    sites, servers, result = forums
    site = sites["first5"]
    # the first five topics of page 0, and no second page
    assert sorted(site.paths()) == sorted(["/latest.json", "/t/7.json", "/t/37.json", "/t/58.json", "/t/57.json",
                                           "/t/56.json"])
    assert result.runs()["forum-first5"]["errors"] == 5


def test_bad_answers_keep_every_good_post(forums):
    sites, servers, result = forums
    d = ids(servers["broken"])
    docs = result.docs("forum-broken")
    # 21: invalid JSON, 900: HTTP 500, posts.json for 26 cut off: 20 of its 21 posts are kept
    assert sorted(r["raw"]["topic_id"] for r in docs.values()) == sorted(["11"] * 3 + ["26"] * 20 + ["57"] * 3)
    assert d(54) not in docs and d(53) in docs
    run = result.runs()["forum-broken"]
    assert run["errors"] == 3
    by_url = {m.split(": ", 1)[0]: m.split(": ", 1)[1] for m in run["error_messages"]}
    url = servers["broken"].url
    assert by_url[url("/t/21.json")].startswith("invalid JSON")
    assert by_url[url("/t/900.json")] == "HTTP 500; skipped"
    assert by_url[url("/t/26/posts.json?post_ids%5B%5D=54")].startswith("the response was cut off")
    for u in by_url:
        assert len(result.errors_naming(u)) == 1
    # 3 listing pages, topics 21 (not JSON), 11, 26 and 57; the cut-off answer has no status
    assert run["responses"] == {"200": 7, "500": 1}
