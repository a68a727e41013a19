"""A crawl frontier in Redis shared by crawler processes ([crawl] frontier, `crawl --workers N`):
real redis-server on 127.0.0.1 started here, a real blog on 127.0.0.1, real crawls in child processes."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crawler.frontier import frontier_keys
from pipeline.config import ConfigError, parse_config
from pipeline.crawling import run_crawl
from pipeline.demo.server import Response
from pipeline.store import Store
from support_fixtures import Site, serve, write_config
from test_feeds_spider import article

PROJECT = Path(__file__).resolve().parent.parent
REDIS_SERVER = shutil.which("redis-server") or shutil.which("redis-server", path="/usr/bin:/usr/sbin")
RSS = "application/rss+xml; charset=utf-8"
PAGES = [f"/post-{i:02d}/" for i in range(30)]
SOURCE = "blog"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    """A redis-server of our own on a free port, no persistence; stopped after the module."""
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed (as root: apt-get install redis-server)")
    import redis

    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen([REDIS_SERVER, "--bind", "127.0.0.1", "--port", str(port), "--save", "",
                             "--appendonly", "no", "--dir", str(workdir)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"redis-server did not start on port {port}")
            time.sleep(0.05)
    yield url
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture
def frontier(redis_server):
    """The Redis URL, emptied for each test."""
    import redis

    client = redis.Redis.from_url(redis_server)
    client.flushdb()
    return redis_server, client


def blog(feed_delay: float = 0.0) -> Site:
    """A feed of 30 posts; every request is logged by the Site."""
    site = Site()
    srv = serve(site)
    base = srv.base_url
    items = "".join(f"<item><title>Post {i}</title><link>{base}{p}</link>"
                    f"<pubDate>Mon, 02 Nov 2026 {i % 24:02d}:00:00 GMT</pubDate></item>" for i, p in enumerate(PAGES))
    site.route("/feed.xml", Response(200, f'<?xml version="1.0"?><rss version="2.0"><channel><title>Blog</title>'
                                          f"<link>{base}/</link>{items}</channel></rss>", RSS,
                                 delay=feed_delay))
    for i, p in enumerate(PAGES):
        site.route(p, Response(200, article(f"Post {i}", "Ada", "2026-11-02T08:00:00Z", [
            f"Post {i} argues that open weights let outsiders check what lab number {i} shipped.",
            f"Its critics reply that post {i} underrates how fast safety tuning comes off."]).encode()))
    site.server, site.base = srv, base
    return site


def config(tmp_path: Path, site: Site, **crawl) -> Path:
    # concurrency 2: a worker takes at most two requests from the shared queue at a time
    settings = {"concurrency": 2, "concurrency_per_domain": 2, "http_cache": False, **crawl}
    return write_config(tmp_path / "crawl.toml", [{"name": SOURCE, "spider": "feeds",
                                                   "feed_urls": [site.base + "/feed.xml"]}], settings)


def cli(*args: str):
    from pipeline.cli import app

    return CliRunner().invoke(app, list(args), env={"COLUMNS": "160"})


def doc_urls(root: Path) -> list[str]:
    return Store(root).read("documents", columns=["url"]).column("url").to_pylist()


def test_two_workers_fetch_each_page_once_and_a_finished_crawl_leaves_no_frontier(tmp_path, frontier):
    url, client = frontier
    # While the slow feed is read the queue is empty: the second worker must wait for the first, not
    # close. One worker alone would then take 30 x 0.15 / 2 s: time for the second to take its share.
    site = blog(feed_delay=1.0)
    site.delay = 0.15
    root = tmp_path / "data"
    try:
        result = cli("crawl", "--root", str(root), "--config", str(config(tmp_path, site, frontier=url)),
                     "--workers", "2")
        assert result.exit_code == 0, result.output
        assert {p: site.count(p) for p in PAGES} == {p: 1 for p in PAGES}
        assert site.count("/feed.xml") == 1
        assert sorted(doc_urls(root)) == sorted(site.base + p for p in PAGES)
        runs = Store(root).read("runs").to_pylist()
        assert len(runs) == 2 and {r["status"] for r in runs} == {"finished"}
        assert sum(r["requests"] for r in runs) == len(PAGES) + 1
        assert sum(r["docs_new"] for r in runs) == len(PAGES)
        assert all(r["requests"] > 0 for r in runs), [r["requests"] for r in runs]  # both took a share
        # what the feed said about a page travels with it to the worker that fetches it
        raws = [dict(raw) for raw in Store(root).read("documents", columns=["raw"]).column("raw").to_pylist()]
        assert [raw.get("found_in") for raw in raws] == [site.base + "/feed.xml"] * len(PAGES)
        assert f"{SOURCE} (all 2)" in result.output
        assert client.keys("debatelake:*") == []  # finished: nothing left to skip pages next time

        # the next (scheduled) crawl requests the feed and every page again
        site.delay = 0.0
        again = run_crawl(str(root), [], config=str(tmp_path / "crawl.toml"), log_file=tmp_path / "again.log")
        assert len(again) == 1
        assert site.count("/feed.xml") == 2 and {site.count(p) for p in PAGES} == {2}
        runs = {r["run_id"]: r for r in Store(root).read("runs").to_pylist()}
        assert runs[again[0]]["status"] == "finished" and runs[again[0]]["docs_unchanged"] == len(PAGES)
    finally:
        site.server.stop()


def start_worker(root: Path, cfg: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "crawler.run", "--root", str(root), "--config", str(cfg)],
                            cwd=PROJECT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "PYTHONPATH": str(PROJECT)})


def wait_for_pages(site: Site, child: subprocess.Popen, n: int) -> None:
    deadline = time.monotonic() + 30
    while sum(site.count(p) for p in PAGES) < n and time.monotonic() < deadline:
        assert child.poll() is None, "the crawl ended too soon"
        time.sleep(0.05)
    assert child.poll() is None, "the crawl ended too soon"


def test_a_worker_started_later_joins_the_running_crawl(tmp_path, frontier):
    url, client = frontier
    site = blog()
    site.delay = 0.2
    root = tmp_path / "data"
    cfg = config(tmp_path, site, frontier=url, concurrency=1, concurrency_per_domain=1)
    first = start_worker(root, cfg)
    try:
        wait_for_pages(site, first, 5)
        # a second `crawl` of the same source while the first runs: it joins, the root is not "busy"
        joined = run_crawl(str(root), [], config=str(cfg), log_file=tmp_path / "joined.log")
        assert first.wait(timeout=30) == 0
        assert "joining the workers at work" in (tmp_path / "joined.log").read_text("utf-8")
        assert site.count("/feed.xml") == 1
        assert {p: site.count(p) for p in PAGES} == {p: 1 for p in PAGES}
        assert sorted(doc_urls(root)) == sorted(site.base + p for p in PAGES)
        runs = {r["run_id"]: r for r in Store(root).read("runs").to_pylist()}
        assert len(runs) == 2 and {r["status"] for r in runs.values()} == {"finished"}
        assert runs[joined[0]]["requests"] > 0
        assert client.keys("debatelake:*") == []
    finally:
        if first.poll() is None:
            first.kill()
        site.server.stop()


def slow_worker(tmp_path, url):
    """One worker crawling a slow site one request at a time, committing every 2 documents."""
    site = blog()
    site.delay = 0.2
    root = tmp_path / "data"
    cfg = config(tmp_path, site, frontier=url, concurrency=1, concurrency_per_domain=1, flush_items=2)
    return site, root, cfg, frontier_keys(str(root), SOURCE), start_worker(root, cfg)


def test_a_stopped_crawl_resumes_from_the_frontier(tmp_path, frontier):
    client = frontier[1]
    site, root, cfg, keys, child = slow_worker(tmp_path, frontier[0])
    try:
        wait_for_pages(site, child, 6)
        child.send_signal(signal.SIGTERM)  # Scrapy stops gracefully: what is in flight finishes
        assert child.wait(timeout=30) == 0
        fetched = {p for p in PAGES if site.count(p)}
        assert 6 <= len(fetched) < len(PAGES), "the stop was not mid-way"
        assert client.zcard(keys["requests"]) == len(PAGES) - len(fetched)  # the rest waits in Redis
        stopped = Store(root).read("runs").to_pylist()
        assert [r["status"] for r in stopped] == ["aborted"]

        site.delay = 0.0
        resumed = run_crawl(str(root), [], config=str(cfg), log_file=tmp_path / "resume.log")
        assert {p: site.count(p) for p in PAGES} == {p: 1 for p in PAGES}  # the rest, and only the rest
        assert site.count("/feed.xml") == 2  # read again: what it says about the pages still pending
        assert "resuming a stopped crawl" in (tmp_path / "resume.log").read_text("utf-8")
        assert sorted(doc_urls(root)) == sorted(site.base + p for p in PAGES)
        runs = {r["run_id"]: r for r in Store(root).read("runs").to_pylist()}
        assert runs[resumed[0]]["status"] == "finished"
        assert runs[resumed[0]]["docs_new"] == len(PAGES) - len(fetched)
        assert client.keys("debatelake:*") == []
    finally:
        if child.poll() is None:
            child.kill()
        site.server.stop()


def test_a_killed_worker_hands_back_what_it_had_not_committed(tmp_path, frontier):
    client = frontier[1]
    site, root, cfg, keys, child = slow_worker(tmp_path, frontier[0])
    try:
        wait_for_pages(site, child, 6)
        child.send_signal(signal.SIGKILL)  # no goodbye: its taken requests and its buffer are left behind
        child.wait(timeout=30)
        (taken,) = client.keys(keys["taken:"] + "*")
        assert client.hlen(taken) >= 1
        kept = len(doc_urls(root))
        assert 0 < kept < len(PAGES)

        site.delay = 0.0
        started = time.monotonic()
        resumed = run_crawl(str(root), [], config=str(cfg), log_file=tmp_path / "resume.log")
        assert time.monotonic() - started < 20  # the dead worker was seen dead at once, not after ALIVE_TTL
        assert "resuming a stopped crawl" in (tmp_path / "resume.log").read_text("utf-8")
        assert sorted(doc_urls(root)) == sorted(site.base + p for p in PAGES)  # nothing lost
        counts = {p: site.count(p) for p in PAGES}
        assert set(counts.values()) <= {1, 2}
        assert sum(c == 2 for c in counts.values()) <= 4  # only what it had not committed, not a restart
        runs = {r["run_id"]: r for r in Store(root).read("runs").to_pylist()}
        assert runs[resumed[0]]["status"] == "finished"
        assert client.keys("debatelake:*") == []
    finally:
        if child.poll() is None:
            child.kill()
        site.server.stop()


@pytest.mark.parametrize("value", ["localhost:6379", "http://localhost:6379/0", "redis://", 6379])
def test_a_bad_frontier_is_a_config_error_naming_the_key(value):
    with pytest.raises(ConfigError, match=r"crawl\.frontier"):
        parse_config({"crawl": {"frontier": value}})
    for good in ("redis://localhost:6379/0", "rediss://user:secret@cache.example.org:6380/2"):
        assert parse_config({"crawl": {"frontier": good}}).crawl.frontier == good


def test_workers_without_a_frontier_is_a_clear_error(tmp_path):
    site = blog()
    try:
        result = cli("crawl", "--root", str(tmp_path / "data"), "--config", str(config(tmp_path, site)),
                     "--workers", "2")
    finally:
        site.server.stop()
    assert result.exit_code == 2
    assert "--workers 2 needs" in result.output and "frontier" in result.output and "[crawl]" in result.output
    assert site.hits == []  # stopped before any request
    assert not (tmp_path / "data").exists()


def test_several_workers_need_a_local_data_root(tmp_path):
    cfg = write_config(tmp_path / "crawl.toml", [{"name": SOURCE, "spider": "feeds",
                                                 "feed_urls": ["http://127.0.0.1:9/feed.xml"]}],
                       {"frontier": f"redis://127.0.0.1:{free_port()}/0"})
    result = cli("crawl", "--root", "s3://bucket/debatelake", "--config", str(cfg), "--workers", "2")
    assert result.exit_code == 2 and "needs a local data root" in result.output


def test_a_frontier_that_does_not_answer_stops_the_crawl_before_any_request(tmp_path):
    site = blog()
    try:
        url = f"redis://:secret@127.0.0.1:{free_port()}/0"  # nothing listens there
        result = cli("crawl", "--root", str(tmp_path / "data"), "--config",
                     str(config(tmp_path, site, frontier=url)), "--workers", "2")
    finally:
        site.server.stop()
    assert result.exit_code == 2
    assert "does not answer" in result.output and "secret" not in result.output
    assert site.hits == []


def test_frontier_keys_differ_per_source_and_per_data_root(tmp_path):
    keys = {frontier_keys(str(tmp_path / root), source)["requests"]
            for root in ("a", "b") for source in ("blog", "hn")}
    assert len(keys) == 4


def test_requests_that_need_a_workers_memory_stay_in_it(tmp_path, frontier):
    """The rest of a long Discourse topic completes a topic one worker holds in memory: it is not
    shared. Two schedulers of one source on the real Redis, as two workers would have them."""
    import scrapy
    from scrapy.utils.test import get_crawler

    from crawler.frontier import SharedFrontierScheduler, frontier_settings
    from crawler.spiders.discourse import DiscourseSpider

    url, client = frontier
    workers = []
    for _ in range(2):
        settings = {**frontier_settings(url, {}), "DEBATELAKE_ROOT": str(tmp_path / "data")}
        crawler = get_crawler(DiscourseSpider, settings)
        spider = DiscourseSpider.from_crawler(crawler, source="forum", options={"base_url": "http://127.0.0.1:9"})
        scheduler = SharedFrontierScheduler.from_crawler(crawler)
        scheduler.open(spider)
        workers.append((spider, scheduler))
    try:
        (one, first), (_, second) = workers
        keys = frontier_keys(str(tmp_path / "data"), "forum")
        topic = scrapy.Request("http://127.0.0.1:9/t/26.json", callback=one.parse_topic)
        rest = scrapy.Request("http://127.0.0.1:9/t/26/posts.json?post_ids[]=54", callback=one.parse_posts,
                              cb_kwargs={"topic_id": 26})
        assert first.enqueue_request(topic) and first.enqueue_request(rest)
        assert client.zcard(keys["requests"]) == 1  # the topic is shared, the rest of it is not
        assert second.next_request().url == topic.url
        assert second.next_request() is None
        assert first.next_request().url == rest.url
        assert not first.enqueue_request(rest.replace())  # still one fetch per URL

        # a worker stopped before the rest of a topic was fetched puts the topic back in the queue
        third = scrapy.Request("http://127.0.0.1:9/t/27.json", callback=one.parse_topic)
        assert first.enqueue_request(third) and first.next_request().url == third.url
        assert first.enqueue_request(scrapy.Request("http://127.0.0.1:9/t/27/posts.json?post_ids[]=60",
                                                    callback=one.parse_posts, cb_kwargs={"topic_id": 27}))
        assert client.zcard(keys["requests"]) == 0
        workers.pop(0)
        first.close("shutdown")
        assert [r.url for r in iter(second.next_request, None)] == [third.url]
    finally:
        for _, scheduler in workers:
            scheduler.close("finished")
    assert client.keys("debatelake:*") == []
