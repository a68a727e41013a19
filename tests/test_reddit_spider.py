"""The reddit spider, crawling a local copy of Reddit's JSON endpoints for real.

Recorded payloads (../shared/fixtures/reddit): raw bodies and PRAW betamax cassettes recorded on
oauth.reddit.com (same JSON shapes as the public .json endpoints), served by path and query.
A thread's own first listing (the [post] half of /comments/<id>) stands in for the subreddit
listing that led to it. The second page of r/askreddit/new is project-written (tests/data)."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from pipeline.demo.server import Response
from support_fixtures import JSON, Site, cassette, crawl, project_json, serve

UTC = timezone.utc
T = "reddit:t3_3hahrw"


def reddit_site(shared) -> Site:
    fx = shared / "fixtures/reddit"
    site = Site()
    thread = cassette(fx / "praw-cassette-thread-3hahrw-morechildren.json")
    big = cassette(fx / "praw-cassette-thread-fo7p5b-large.json")
    more = {frozenset(i.form["children"][0].split(",")): i.body for i in thread if i.path == "/api/morechildren"}
    threads = {i.path: i.body for i in thread + big if i.path.startswith("/comments/")}
    first_half = lambda body: json.dumps(json.loads(body)[0]).encode()  # noqa: E731
    askreddit = cassette(fx / "praw-cassette-r-askreddit-new.json")[1].body
    search = cassette(fx / "praw-cassette-search.json")[1].body
    edited = (fx / "comments-thread-raw-edited.json").read_bytes()

    site.route("/r/funny/new.json", first_half(threads["/comments/3hahrw"]))
    site.route("/r/announcements/new.json", first_half(threads["/comments/fo7p5b"]))
    site.route("/r/test/hot.json", first_half(edited))
    site.route("/comments/testpost.json", edited)
    site.route("/r/test/search.json", (fx / "subreddit-listing-raw.json").read_bytes())

    def askreddit_new(req):
        after = req.arg("after")
        if after is None:
            return Response(200, askreddit, JSON)
        if after == "t3_48f6io":
            return Response(200, project_json("api_reddit_askreddit_new_after_t3_48f6io.json"), JSON)
        return None

    site.route("/r/askreddit/new.json", askreddit_new)
    site.route("/search.json", lambda req: Response(200, search, JSON) if req.arg("q") == "praw oauth search" else None)
    site.route("/api/morechildren.json",
               lambda req: Response(200, more[frozenset(req.arg("children").split(","))], JSON)
               if frozenset(req.arg("children", "").split(",")) in more else None)
    site.fallbacks.append(lambda req: Response(200, threads[req.path.removesuffix(".json")], JSON)
                          if req.path.removesuffix(".json") in threads else None)
    return site


@pytest.fixture(scope="module")
def rd(shared, tmp_path_factory):
    site = reddit_site(shared)
    srv = serve(site)
    base = srv.url()
    try:
        result = crawl(tmp_path_factory.mktemp("reddit"), [
            {"name": "r-funny", "spider": "reddit", "base_url": base, "subreddits": ["funny"], "max_pages": 1},
            {"name": "r-announcements", "spider": "reddit", "base_url": base, "subreddits": ["announcements"],
             "max_pages": 1, "expand_more": False},
            {"name": "r-askreddit", "spider": "reddit", "base_url": base, "subreddits": ["askreddit"],
             "max_pages": 3, "comments": False},
            {"name": "r-search", "spider": "reddit", "base_url": base, "queries": ["praw oauth search"],
             "comments": False},
            {"name": "r-test", "spider": "reddit", "base_url": base, "subreddits": ["test"], "listing": "hot"},
            {"name": "r-test-search", "spider": "reddit", "base_url": base, "subreddits": ["test"],
             "queries": ["test"], "max_pages": 1},
        ])
        yield site, result
    finally:
        srv.stop()


def test_thread_with_more_and_continue_stubs_expanded(rd):
    site, result = rd
    docs = result.docs("r-funny")
    # 476 comments in the first answer + 57 from 12 morechildren answers + 8 from 6 "continue
    # this thread" answers, and the post
    assert len(docs) == 542
    assert sum(1 for d in docs.values() if d["kind"] == "comment") == 541
    assert site.count("/api/morechildren.json") == 12
    assert sum(1 for p in site.paths() if p.startswith("/comments/3hahrw/_/")) == 6
    assert site.count("/comments/3hahrw.json") == 1
    morechildren = [h for h in site.hits if h.path == "/api/morechildren.json"]
    assert all(h.query["link_id"] == ["t3_3hahrw"] and h.query["api_type"] == ["json"] for h in morechildren)

    post = docs[T]
    assert (post["kind"], post["thread_id"], post["parent_id"], post["depth"]) == ("post", T, None, 0)
    assert (post["title"], post["author"], post["score"], post["text"]) == ("Ba Dum Tsss", "your_local_librarian", 11702, None)
    assert post["published_at"] == datetime.fromtimestamp(1439797480, UTC)
    assert post["url"] == "https://www.reddit.com/r/funny/comments/3hahrw/ba_dum_tsss/"
    assert post["raw"]["link_url"] == "http://i.imgur.com/eoF76hj.gifv"
    assert post["raw"]["subreddit"] == "funny"
    assert post["raw"]["permalink"] == "/r/funny/comments/3hahrw/ba_dum_tsss/"

    # every comment hangs in the one thread, under a parent that is in the table
    assert all(d["thread_id"] == T for d in docs.values())
    assert all(d["parent_id"] in docs for d in docs.values() if d["kind"] == "comment")
    depths = {}
    for d in docs.values():
        depths[d["depth"]] = depths.get(d["depth"], 0) + 1
    assert depths == {0: 1, 1: 144, 2: 85, 3: 75, 4: 48, 5: 40, 6: 34, 7: 35, 8: 29, 9: 23, 10: 20, 11: 6, 12: 2}
    for d in docs.values():  # depth is the parent's depth + 1
        if d["kind"] == "comment":
            assert d["depth"] == docs[d["parent_id"]]["depth"] + 1

    # from a morechildren answer: the stub's first child, one level under its parent
    c = docs["reddit:t1_cu5pg2h"]
    assert (c["parent_id"], c["depth"], c["author"], c["score"]) == ("reddit:t1_cu5p1hh", 2, "Nak4000", -142)
    assert c["text"].startswith("You... HOW DARE YOU!!\n\nYou stole from me!!")
    assert c["published_at"] == datetime.fromtimestamp(1439801364, UTC)
    assert c["url"] == "https://www.reddit.com/r/funny/comments/3hahrw/ba_dum_tsss/cu5pg2h/"
    top = docs["reddit:t1_cu5tead"]  # from the top-level stub
    assert (top["parent_id"], top["depth"], top["author"]) == (T, 1, "lava1o")
    assert top["text"] == "He saw the chance and he took it, this kid is going places"
    nested = docs["reddit:t1_cu5x49i"]  # answered inside a morechildren answer, below its sibling
    assert (nested["parent_id"], nested["depth"]) == ("reddit:t1_cu5tlgk", 4)
    assert docs["reddit:t1_cu5wgsi"]["depth"] == 12  # reached through a "continue this thread" answer

    # deleted comments: tombstones, never the text "[deleted]"
    tombs = sorted(d for d, r in docs.items() if r["deleted"])
    assert tombs == sorted(f"reddit:{n}" for n in
                           ["t1_cu61rpx", "t1_cu5w5hz", "t1_cu5y4ro", "t1_cu60yyr", "t1_cu61dgb", "t1_cu61tk1"])
    for t in tombs:
        assert docs[t]["text"] is None and docs[t]["author"] is None
    assert not any(r["text"] in ("[deleted]", "[removed]") for r in docs.values())
    # a deleted comment whose replies continue in a "continue this thread" answer keeps them
    assert sum(1 for r in docs.values() if r["parent_id"] == "reddit:t1_cu61tk1") >= 1
    # an account deleted after writing: text kept, author gone
    kept = docs["reddit:t1_cu5v4e7"]
    assert (kept["deleted"], kept["author"]) == (False, None)
    assert kept["text"].startswith("That lady recording who says i")
    run = result.runs()["r-funny"]
    assert (run["status"], run["errors"], run["docs_new"]) == ("finished", 0, 542)
    assert run["responses"] == {"200": 20}


def test_large_thread_without_expansion(rd):
    site, result = rd
    docs = result.docs("r-announcements")
    assert len(docs) == 493  # the post + 492 comments; 221 more stubs left alone
    assert site.count("/api/morechildren.json") == 12  # all from r-funny
    assert not any(p.startswith("/comments/fo7p5b/_/") for p in site.paths())
    post = docs["reddit:t3_fo7p5b"]
    assert post["title"] == "Introducing Reddit Polls, An All-New Post Type"
    assert post["text"].startswith("If you’re looking for an opinion on anything")
    assert post["text"].endswith("[View Poll](https://www.reddit.com/poll/fo7p5b)")  # self post: markdown as written
    assert "link_url" not in post["raw"]
    assert (post["author"], post["score"]) == ("LanterneRougeOG", 66707)
    tombs = [r for r in docs.values() if r["deleted"]]
    assert len(tombs) == 10
    assert sum(1 for r in docs.values() if r["author"] is None) == 19  # 10 tombstones + 9 deleted accounts
    t = docs["reddit:t1_fldxn3v"]
    assert (t["deleted"], t["text"], t["author"], t["parent_id"], t["depth"]) == (
        True, None, None, "reddit:t1_fldkixl", 2)
    assert t["published_at"] == datetime.fromtimestamp(1585073716, UTC)
    # tombstones with replies keep them
    assert sum(1 for r in docs.values() if r["parent_id"] == "reddit:t1_fldkva3") == 2
    first = docs["reddit:t1_fldvw9o"]
    assert (first["author"], first["score"], first["depth"]) == ("gold_tie", 578, 1)
    assert first["url"] == ("https://www.reddit.com/r/announcements/comments/fo7p5b/"
                            "introducing_reddit_polls_an_allnew_post_type/fldvw9o/")


def test_listing_pagination_follows_after_until_it_runs_out(rd):
    site, result = rd
    docs = result.docs("r-askreddit")
    assert len(docs) == 102  # 100 recorded + 2 on the project-written second page
    listing = [h for h in site.hits if h.path == "/r/askreddit/new.json"]
    assert [h.query.get("after") for h in listing] == [None, ["t3_48f6io"]]  # after=null: stop before max_pages
    assert all(h.query["limit"] == ["100"] for h in listing)
    assert not any(p.startswith("/comments/48") for p in site.paths())  # comments = false
    first = docs["reddit:t3_48fbm9"]
    assert first["title"] == "[Serious] Parents of Reddit, what's the biggest lie about yourself you've told your kids?"
    assert (first["author"], first["text"], first["raw"]["flair"]) == ("RedHeadQc", None, "serious replies only")
    assert first["published_at"] == datetime.fromtimestamp(1456821458, UTC)
    own = docs["reddit:t3_zz0002"]
    assert own["raw"]["link_url"] == "https://example.org/refusals-explained" and own["text"] is None


def test_search_site_wide_and_in_a_subreddit(rd):
    site, result = rd
    docs = result.docs("r-search")
    assert sorted(docs) == sorted(f"reddit:{n}" for n in
                                  ["t3_3gpbiu", "t3_3x4kt2", "t3_3b4erh", "t3_1qvzkd", "t3_3qc02b", "t3_4at068"])
    (hit,) = [h for h in site.hits if h.path == "/search.json"]
    assert (hit.query["q"], hit.query["sort"]) == (["praw oauth search"], ["new"])
    jp = docs["reddit:t3_4at068"]
    assert jp["title"] == "たびたび話題になるサイドバーの閲覧中ユーザ数について（また）調べた"
    assert jp["text"].startswith("## tl;dr\n\n* https://github.com/reddit/reddit/compare/b71d8b")
    assert (jp["raw"]["subreddit"], jp["score"], jp["author"]) == ("p18s", 15, "nmtake")

    (sub,) = [h for h in site.hits if h.path == "/r/test/search.json"]
    assert (sub.query["q"], sub.query["restrict_sr"], sub.query["sort"]) == (["test"], ["1"], ["new"])
    docs = result.docs("r-test-search")
    # agi5zf's thread is not recorded (404): its post is kept from the listing, one error counted;
    # hyhquk has no comments, so no thread request at all
    assert sorted(docs) == ["reddit:t3_agi5zf", "reddit:t3_hyhquk"]
    assert docs["reddit:t3_agi5zf"]["text"] == "test" and docs["reddit:t3_agi5zf"]["score"] == 253
    assert docs["reddit:t3_hyhquk"]["raw"]["link_url"] == "https://i.imgur.com/LrN2mPw.jpg"
    assert site.count("/comments/hyhquk.json") == 0
    run = result.runs()["r-test-search"]
    assert run["errors"] == 1 and run["responses"] == {"200": 1, "404": 1}
    assert run["error_messages"][0].endswith("/comments/agi5zf.json?limit=500&raw_json=1: HTTP 404; skipped")
    assert len(result.errors_naming("/comments/agi5zf.json")) == 1


def test_small_thread_exact(rd):
    site, result = rd
    docs = result.docs("r-test")
    assert {d: (r["kind"], r["thread_id"], r["parent_id"], r["depth"], r["author"], r["text"]) for d, r in docs.items()} == {
        "reddit:t3_testpost": ("post", "reddit:t3_testpost", None, 0, "testuser", "Hello"),
        "reddit:t1_testc1": ("comment", "reddit:t3_testpost", "reddit:t3_testpost", 1, "testuser", "Hi"),
        "reddit:t1_testc2": ("comment", "reddit:t3_testpost", "reddit:t1_testc1", 2, "testuser", "Hello"),
    }
    assert docs["reddit:t1_testc2"]["published_at"] == datetime.fromtimestamp(1595068348, UTC)
    assert docs["reddit:t3_testpost"]["title"] == "Test"
    assert docs["reddit:t1_testc1"]["url"] == "https://www.reddit.com/r/test/comments/testpost/test/testc1/"
