"""The offline demo: the bundled site answered over HTTP like the real APIs, and `debatelake demo`
end to end (real spiders, real Delta tables), checked against counts read from the content files."""
from __future__ import annotations

import http.client
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from datetime import datetime
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest

from pipeline.demo.site import CONTENT_DIR, DemoContent, DemoSite

from _demo_data import free_port, run_demo_cli  # noqa: F401  (kept importable from here)

PROJECT = Path(__file__).resolve().parent.parent
PLATFORM = {"hn": "hackernews", "reddit": "reddit", "discourse": "discourse"}


# ----------------------------------------------------------------------------- content files
def read_jsonl(name: str) -> list[dict]:
    return [json.loads(line) for line in (CONTENT_DIR / name).read_text("utf-8").splitlines() if line.strip()]


POSTS = read_jsonl("blog_posts.jsonl")
THREADS = read_jsonl("threads.jsonl")


def walk(comments: list[dict], parent: dict | None = None):
    for c in comments:
        yield c, parent
        yield from walk(c.get("replies") or [], c)


def norm(text: str | None) -> str:
    return " ".join((text or "").split())


# ----------------------------------------------------------------------------- HTTP helpers
def get(site: DemoSite, path: str, headers: dict[str, str] | None = None, body: str | None = None):
    host, port = urlsplit(site.base_url).netloc.split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.request("POST" if body else "GET", path, body=body, headers={
        **({"Content-Type": "application/x-www-form-urlencoded"} if body else {}), **(headers or {})})
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data


def get_json(site: DemoSite, path: str, **params):
    status, _, data = get(site, path + ("?" + urlencode(params, doseq=True) if params else ""))
    assert status == 200, (path, status, data[:200])
    return json.loads(data)


@pytest.fixture(scope="module")
def site():
    with DemoSite() as s:
        yield s


# ============================================================================= the blog
def test_blog_robots_sitemap_and_feeds(site):
    status, headers, robots = get(site, "/robots.txt")
    assert status == 200 and headers["content-type"].startswith("text/plain")
    assert f"Sitemap: {site.base_url}/sitemap.xml" in robots.decode()

    ns = {"sm": "http://www.sitemaps.org/schemas/sitemap/0.9", "a": "http://www.w3.org/2005/Atom"}
    sitemap = ET.fromstring(get(site, "/sitemap.xml")[2])
    locs = [u.findtext("sm:loc", namespaces=ns) for u in sitemap.findall("sm:url", ns)]
    assert len(locs) == len(set(locs)) == len(POSTS)
    assert {urlsplit(u).path.rstrip("/").rsplit("/", 1)[-1] for u in locs} == {p["slug"] for p in POSTS}

    newest = sorted(POSTS, key=lambda p: p["published"], reverse=True)[:20]
    rss = ET.fromstring(get(site, "/feed.xml")[2])
    items = rss.findall("channel/item")
    assert [i.findtext("title") for i in items] == [p["title"] for p in newest]
    assert all("utm_source=rss" in i.findtext("link") for i in items)  # tracking links, as feeds have
    assert items[0].findtext("{http://purl.org/dc/elements/1.1/}creator") == newest[0]["author"]
    atom = ET.fromstring(get(site, "/atom.xml")[2])
    assert [e.findtext("a:title", namespaces=ns) for e in atom.findall("a:entry", ns)] == [p["title"] for p in newest]
    feed = json.loads(get(site, "/feed.json")[2])
    assert feed["version"] == "https://jsonfeed.org/version/1.1"
    assert [i["title"] for i in feed["items"]] == [p["title"] for p in newest]
    assert all(i["url"] in locs for i in feed["items"])


def test_blog_article_page_has_metadata_and_clutter(site):
    import lxml.html

    post = POSTS[7]
    sitemap = ET.fromstring(get(site, "/sitemap.xml")[2])
    url = next(loc.text for loc in sitemap.iter("{http://www.sitemaps.org/schemas/sitemap/0.9}loc")
               if loc.text.rstrip("/").endswith("/" + post["slug"]))
    path = urlsplit(url).path
    status, headers, body = get(site, path)
    assert status == 200 and headers["content-type"].startswith("text/html")
    tree = lxml.html.fromstring(body)
    assert tree.findtext(".//title").startswith(post["title"])
    assert norm(tree.xpath("//h1")[0].text_content()) == post["title"]
    meta = {m.get("name") or m.get("property"): m.get("content") for m in tree.iter("meta")}
    assert meta["author"] == post["author"]
    assert datetime.fromisoformat(meta["article:published_time"]) == \
        datetime.fromisoformat(post["published"].replace("Z", "+00:00"))
    assert tree.xpath('//link[@rel="canonical"]/@href') == [url]
    shown = [norm(p.text_content()) for p in tree.xpath('//div[@class="entry-content"]/p[not(@class)]')]
    assert shown == [norm(p) for p in post["paragraphs"]]
    for clutter in ('//nav[@class="main-navigation"]', '//aside[@id="secondary"]', '//div[@class="share-buttons"]',
                    '//form[@id="commentform"]'):
        assert tree.xpath(clutter), clutter

    # trailing slash added with a redirect; conditional requests answered with 304
    assert get(site, path.rstrip("/"))[0] == 301
    assert get(site, path, {"If-None-Match": headers["etag"]})[0] == 304
    assert get(site, path, {"If-Modified-Since": headers["last-modified"]})[0] == 304
    assert get(site, "/2020/01/no-such-post/")[0] == 404


# ============================================================================= Hacker News
def hn_threads() -> list[dict]:
    return [t for t in THREADS if t["platform"] == "hn"]


def test_hn_search_pages_and_windows(site):
    api = "/hn/api/v1"
    seen, page = [], 0
    while True:
        res = get_json(site, f"{api}/search_by_date", tags="story", hitsPerPage=4, page=page,
                       numericFilters="created_at_i>1704067200")
        assert res["hitsPerPage"] == 4 and res["page"] == page and res["nbHits"] == len(hn_threads())
        seen += res["hits"]
        page += 1
        if page >= res["nbPages"]:
            break
    assert [h["title"] for h in seen] == [t["title"] for t in sorted(hn_threads(), key=lambda t: t["created"], reverse=True)]
    assert [h["created_at_i"] for h in seen] == sorted((h["created_at_i"] for h in seen), reverse=True)
    assert all(set(h) >= {"objectID", "author", "points", "num_comments", "_tags", "_highlightResult", "url"} for h in seen)

    middle = seen[len(seen) // 2]["created_at_i"]
    window = get_json(site, f"{api}/search_by_date", tags="story", hitsPerPage=100,
                      numericFilters=f"created_at_i>{middle},created_at_i<{middle + 10**9}")
    assert window["nbHits"] == sum(1 for h in seen if h["created_at_i"] > middle)
    # tags: a comma is AND, parentheses are OR
    story = seen[0]
    assert get_json(site, f"{api}/search", tags=f"comment,story_{story['objectID']}", hitsPerPage=1000)["nbHits"] == \
        story["num_comments"]
    both = get_json(site, f"{api}/search", tags="(story,comment)", hitsPerPage=0)["nbHits"]
    assert both == len(hn_threads()) + sum(1 for t in hn_threads() for c, _ in walk(t["comments"]) if not c["deleted"])
    word = max(re.findall(r"[A-Za-z]+", story["title"]), key=len)
    found = get_json(site, f"{api}/search", query=word.lower(), tags="story")
    assert story["objectID"] in {h["objectID"] for h in found["hits"]}
    assert all(word.lower() in json.dumps(h).lower() for h in found["hits"])


def test_hn_items_hold_the_whole_tree(site):
    res = get_json(site, "/hn/api/v1/search_by_date", tags="story", hitsPerPage=100)
    by_title = {t["title"]: t for t in hn_threads()}
    for hit in res["hits"]:
        item = get_json(site, f"/hn/api/v1/items/{hit['objectID']}")
        thread = by_title[item["title"]]
        assert item["type"] == "story" and item["id"] == int(hit["objectID"]) and item["author"] == thread["author"]

        def check(node, content_children, depth):
            assert [c["author"] if not c["deleted"] else None for c in content_children] == \
                [c["author"] for c in node["children"]]
            for got, want in zip(node["children"], content_children):
                assert got["parent_id"] == node["id"] and got["story_id"] == item["id"] and got["type"] == "comment"
                if want["deleted"]:
                    assert got["text"] is None
                check(got, want.get("replies") or [], depth + 1)

        check(item, thread["comments"], 1)
    status, _, body = get(site, "/hn/api/v1/items/1")
    assert status == 404 and json.loads(body)["error"] == "Not Found"


# ============================================================================= Reddit
def reddit_threads(sub: str | None = None) -> list[dict]:
    return [t for t in THREADS if t["platform"] == "reddit" and (sub is None or t["community"] == sub)]


def test_reddit_listing_follows_after_cursors(site):
    for sub in sorted({t["community"] for t in reddit_threads()}):
        titles, after, pages = [], None, 0
        while True:
            params = {"limit": 2, "raw_json": 1, **({"after": after} if after else {})}
            listing = get_json(site, f"/reddit/r/{sub}/new.json", **params)
            assert listing["kind"] == "Listing"
            titles += [c["data"]["title"] for c in listing["data"]["children"]]
            assert all(c["kind"] == "t3" and c["data"]["subreddit"] == sub for c in listing["data"]["children"])
            after, pages = listing["data"]["after"], pages + 1
            if not after:
                break
        want = [t["title"] for t in sorted(reddit_threads(sub), key=lambda t: t["created"], reverse=True)]
        assert titles == want and pages == (len(want) + 1) // 2
    assert get(site, "/reddit/r/NoSuchSub/new.json")[0] == 404


def test_reddit_search_and_escaping(site):
    thread = reddit_threads()[0]
    word = max(re.findall(r"[A-Za-z]{5,}", thread["title"]), key=len)
    res = get_json(site, f"/reddit/r/{thread['community']}/search.json", q=word, restrict_sr="on", raw_json=1)
    assert thread["title"] in [c["data"]["title"] for c in res["data"]["children"]]
    assert all(c["data"]["subreddit"] == thread["community"] for c in res["data"]["children"])
    everywhere = get_json(site, "/reddit/search.json", q=word, raw_json=1, limit=100)
    assert len(everywhere["data"]["children"]) >= len(res["data"]["children"])
    # without raw_json=1 Reddit HTML-escapes every string; with it, the text is as written
    listing = get_json(site, "/reddit/r/all/new.json", limit=100, raw_json=1)["data"]["children"]
    self_post = next(c["data"] for c in listing if c["data"]["is_self"])
    raw = get_json(site, f"/reddit/comments/{self_post['id']}.json", raw_json=1)[0]["data"]["children"][0]["data"]
    escaped = get_json(site, f"/reddit/comments/{self_post['id']}.json")[0]["data"]["children"][0]["data"]
    assert raw["selftext_html"].startswith('<!-- SC_OFF --><div class="md">')
    assert escaped["selftext_html"].startswith('&lt;!-- SC_OFF --&gt;&lt;div class="md"&gt;')
    assert raw["selftext"] == next(t["text"] for t in reddit_threads() if t["title"] == self_post["title"])


def reddit_comment_ids(site, thread_id: str) -> tuple[list[dict], int]:
    """Every comment of a thread: the tree, then each `more` stub through /api/morechildren."""
    tree = get_json(site, f"/reddit/comments/{thread_id}.json", raw_json=1)
    comments, stubs = [], []

    def collect(listing):
        for child in listing["data"]["children"]:
            if child["kind"] == "more":
                stubs.append(child["data"])
            else:
                comments.append(child["data"])
                if child["data"]["replies"]:
                    collect(child["data"]["replies"])

    collect(tree[1])
    for stub in stubs:
        got = json.loads(get(site, "/reddit/api/morechildren", body=urlencode(
            {"api_type": "json", "link_id": f"t3_{thread_id}", "children": ",".join(stub["children"]), "raw_json": 1}))[2])
        things = got["json"]["data"]["things"]
        assert len(things) == stub["count"]
        comments += [t["data"] for t in things if t["kind"] == "t1"]
    return comments, len(stubs)


def test_reddit_threads_with_more_stubs_and_tombstones(site):
    listing = get_json(site, "/reddit/r/all/new.json", limit=100, raw_json=1)["data"]["children"]
    by_title = {t["title"]: t for t in reddit_threads()}
    stubs_total = 0
    for child in listing:
        post = child["data"]
        thread = by_title[post["title"]]
        comments, stubs = reddit_comment_ids(site, post["id"])
        stubs_total += stubs
        want = list(walk(thread["comments"]))
        assert len(comments) == len({c["id"] for c in comments}) == len(want) == post["num_comments"]
        assert Counter(c["author"] for c in comments) == Counter(c["author"] for c, _ in want)
        assert Counter(c["body"] for c in comments) == Counter(c["text"] for c, _ in want)
        ids = {c["name"] for c in comments} | {post["name"]}
        assert all(c["parent_id"] in ids and c["link_id"] == post["name"] for c in comments)
        for c in comments:
            if c["author"] == "[deleted]":
                assert c["body"] in ("[deleted]", "[removed]") and "author_fullname" not in c
            assert c["created"] - c["created_utc"] == 28800  # Reddit's legacy local-time field
    assert stubs_total > 0, "the demo threads should exercise `more` stubs"


# ============================================================================= Discourse
def test_discourse_latest_pages_and_categories(site):
    ids, path = [], "/discourse/latest.json"
    while path:
        page = get_json(site, path)
        ids += [t["id"] for t in page["topic_list"]["topics"]]
        more = page["topic_list"].get("more_topics_url")
        path = None
        if more:
            assert more.startswith("/discourse/latest?")  # a subfolder install: its own prefix, no .json
            path = more.replace("/latest?", "/latest.json?")
    topics = [t for t in THREADS if t["platform"] == "discourse"]
    assert len(ids) == len(set(ids)) == len(topics)

    cats = get_json(site, "/discourse/categories.json")["category_list"]["categories"]
    assert {c["name"] for c in cats} == {t["community"] for t in topics}
    for cat in cats:
        listed = get_json(site, f"/discourse/c/{cat['slug']}/{cat['id']}.json", per_page=100)["topic_list"]["topics"]
        assert len(listed) == cat["topic_count"] == sum(1 for t in topics if t["community"] == cat["name"])
        assert {t["category_id"] for t in listed} == {cat["id"]}


def test_discourse_topics_posts_and_replies(site):
    import lxml.html

    topics = {t["title"]: t for t in THREADS if t["platform"] == "discourse"}
    listed = get_json(site, "/discourse/latest.json", per_page=100)["topic_list"]["topics"]
    for entry in listed:
        topic = get_json(site, f"/discourse/t/{entry['id']}.json")
        want = topics[topic["title"]]
        posts = topic["post_stream"]["posts"]
        assert topic["posts_count"] == len(topic["post_stream"]["stream"]) == 1 + len(list(walk(want["comments"])))
        assert posts[0]["post_number"] == 1 and posts[0]["name"] == want["author"]
        by_number = {p["post_number"]: p for p in posts}
        by_text = {norm(lxml.html.fromstring(p["cooked"]).text_content()): p for p in posts}
        for c, parent in walk(want["comments"]):
            post = by_text[norm(c["text"])]
            assert post["name"] == c["author"]
            if parent is None:
                assert post["reply_to_post_number"] is None
            else:
                assert by_number[post["reply_to_post_number"]]["name"] == parent["author"]


def test_discourse_long_topic_needs_posts_json():
    """Topics longer than 20 posts: /t/<id>.json holds the first 20 and the stream of every id."""
    thread = {"platform": "discourse", "id": "long", "community": "General", "title": "A long argument about evals",
              "author": "moderator_mo", "created": "2025-05-01T10:00:00Z", "url": "", "score": 3,
              "text": "Should eval results gate a release?",
              "comments": [{"id": f"c{i}", "author": f"member{i % 7}", "created": f"2025-05-01T{11 + i // 60:02d}:{i % 60:02d}:00Z",
                            "score": i % 4, "text": f"Point number {i}: evals are necessary but not sufficient.",
                            "deleted": False, "replies": []} for i in range(44)]}
    with DemoSite(DemoContent([], [thread])) as long_site:
        tid = get_json(long_site, "/discourse/latest.json")["topic_list"]["topics"][0]["id"]
        topic = get_json(long_site, f"/discourse/t/{tid}.json")
        stream = topic["post_stream"]["stream"]
        assert topic["chunk_size"] == 20 and len(topic["post_stream"]["posts"]) == 20 and len(stream) == 45
        rest = get_json(long_site, f"/discourse/t/{tid}/posts.json", **{"post_ids[]": stream[20:]})
        assert rest["id"] == tid and [p["id"] for p in rest["post_stream"]["posts"]] == stream[20:]
        page3 = get_json(long_site, f"/discourse/t/{tid}.json", page=3)
        assert [p["post_number"] for p in page3["post_stream"]["posts"]] == list(range(41, 46))


# ============================================================================= the demo, end to end
@pytest.fixture(scope="module")
def demo_root(demo_runs):
    return demo_runs.root, demo_runs.first, demo_runs.second, demo_runs.version_after_first


def test_demo_prints_what_it_wrote(demo_root):
    root, first, _, _ = demo_root
    out = first.stdout
    for platform in ("blog", "hackernews", "reddit", "discourse"):
        assert platform in out
    assert "document labels (model" in out  # processing ran and its labels are summarised
    assert f'from pipeline import load; docs = load("documents", root="{root}")' in out
    assert (root / "demo" / "debatelake-demo.toml").is_file()
    loaded = subprocess.run([sys.executable, "-c", f'from pipeline import load; docs = load("documents", root="{root}"); '
                             "print(len(docs))"], capture_output=True, text=True, cwd=PROJECT, timeout=120,
                            env={**os.environ, "PYTHONPATH": str(PROJECT)})
    assert loaded.returncode == 0, loaded.stderr
    n_expected = len(POSTS) + len(THREADS) + sum(1 for t in THREADS for _ in walk(t["comments"]))
    assert int(loaded.stdout.strip()) == n_expected


def test_demo_counts_match_the_content(demo_root):
    from pipeline import load

    root = demo_root[0]
    docs = load("documents", root=root)
    assert docs["doc_id"].is_unique
    got = Counter(zip(docs["platform"], docs["kind"]))
    want = Counter({("blog", "post"): len(POSTS)})
    tombstones = Counter()
    for t in THREADS:
        p = PLATFORM[t["platform"]]
        want[(p, "post")] += 1
        for c, _ in walk(t["comments"]):
            want[(p, "comment")] += 1
            tombstones[p] += bool(c["deleted"])
    assert got == want
    got_tombstones = Counter(docs.loc[docs["deleted"].fillna(False).astype(bool), "platform"])
    assert got_tombstones == +tombstones
    assert docs.loc[docs["deleted"].fillna(False).astype(bool), "text"].isna().all()

    # the coverage the demo promises
    blog = docs[docs["platform"] == "blog"]
    months = {(d.year, d.month) for d in blog["published_at"].dropna()}
    assert len(blog) >= 40 and len(months) >= 12
    threads = docs[(docs["platform"] != "blog") & (docs["kind"] == "post")]
    assert len(threads) >= 40 and (docs["kind"] == "comment").sum() >= 500


def test_demo_blog_posts_are_extracted(demo_root):
    from pipeline import load

    blog = load("documents", root=demo_root[0]).query("platform == 'blog'")
    by_title = {r["title"]: r for r in blog.to_dict("records")}
    assert set(by_title) == {p["title"] for p in POSTS}
    for post in POSTS:
        row = by_title[post["title"]]
        text = norm(row["text"])
        assert row["author"] == post["author"]
        assert row["published_at"].to_pydatetime() == datetime.fromisoformat(post["published"].replace("Z", "+00:00"))
        assert norm(post["paragraphs"][0]) in text and norm(post["paragraphs"][-1]) in text
        for boilerplate in ("Leave a reply", "Post comment", "Recent posts", "One e-mail a week", "Copy link"):
            assert boilerplate not in text, (post["slug"], boilerplate)


def test_demo_threads_keep_their_structure(demo_root):
    from pipeline import load

    docs = load("documents", root=demo_root[0])
    rows = docs.to_dict("records")
    by_id = {r["doc_id"]: r for r in rows}
    for t in THREADS:
        platform = PLATFORM[t["platform"]]
        post = next(r for r in rows if r["platform"] == platform and r["kind"] == "post" and r["title"] == t["title"])
        assert post["author"] == t["author"]
        comments = [r for r in rows if r["thread_id"] == post["doc_id"] and r["kind"] == "comment"]
        want = list(walk(t["comments"]))
        assert len(comments) == len(want), t["title"]
        by_text = {norm(r["text"]): r for r in comments if not r["deleted"]}
        for c, parent in want:
            if c["deleted"]:
                continue
            got = by_text[norm(c["text"])]  # thread text is exact, not scraped
            assert got["author"] == c["author"]
            up = by_id[got["parent_id"]]
            if parent is None:
                assert up["doc_id"] == post["doc_id"]
            elif parent["deleted"]:
                assert up["deleted"] and up["thread_id"] == post["doc_id"]
            else:
                assert norm(up["text"]) == norm(parent["text"])
            if got["depth"] is not None and up["depth"] is not None:
                assert got["depth"] == up["depth"] + 1
        assert sum(bool(r["deleted"]) for r in comments) == sum(bool(c["deleted"]) for c, _ in want)


def test_demo_second_run_adds_nothing(demo_root):
    from pipeline.store import Store

    root, first, second, version = demo_root
    store = Store(root)
    assert store.version("documents") == version
    assert "Nothing new" in second.stdout
    runs = store.read("runs").to_pylist()
    crawls = sorted((r for r in runs if r["command"] == "crawl"), key=lambda r: r["started_at"])
    assert len(crawls) == 8 and {r["status"] for r in crawls} == {"finished"}
    assert {r["source"] for r in crawls[4:]} == {"demo-blog", "demo-hn", "demo-reddit", "demo-discourse"}
    for r in crawls[4:]:
        assert (r["docs_new"], r["docs_updated"]) == (0, 0), r
        assert r["docs_unchanged"] > 0
    # the demo site answers conditional requests: the blog's re-crawl revalidated its pages ([crawl] http_cache)
    blog = next(r for r in crawls[4:] if r["source"] == "demo-blog")
    not_modified = dict(blog["responses"]).get("304", 0)
    assert not_modified > 0 and dict(blog["stats"])["httpcache/revalidate"] == str(not_modified)
    line = next(ln for ln in second.stdout.splitlines() if "demo-b" in ln)  # the runs table the command prints
    assert [c.strip() for c in line.strip("│ ").split("│")][2] == f"{blog['requests']} ({not_modified})", line
