"""Crawl throughput: debatelake's full stack against a bare Scrapy spider, on the same pages.

    .venv/bin/python bench/crawl_bench.py [--posts 2000] [--threads 200] [--concurrency 16]

Serves generated content on 127.0.0.1 through the demo site (pipeline.demo.site): `--posts`
article pages listed in a sitemap, and `--threads` Hacker News threads behind the Algolia API
(search pages + one /items/<id> tree each). Then, in one run:

1. the full stack: `python -m crawler.run` with the feeds and hackernews spiders, politeness
   off (no delay, no AutoThrottle; robots.txt still fetched), trafilatura extraction, Document
   building and merges into a Delta table every `flush_items` documents, plus the runs rows;
2. a bare Scrapy spider in its own process that downloads exactly the URLs the full stack
   fetched, with the same concurrency, and does nothing with them.

Prints pages/s of each (wall clock of each child process, start-up included, and the crawl
time Scrapy reports) and the ratio. Not a test: numbers depend on the machine.
"""
from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

# ----------------------------------------------------------------------------- generated content
LABS = ["Meridian Labs", "Northwind AI", "Halcyon Research", "Open Lattice", "Quill Systems", "Tessellate"]
MODELS = ["Meridian-3", "Lattice 70B", "Quill Mini", "Halcyon-R", "Northwind 8x22B", "Tessera 12B"]
OPENINGS = [
    "{lab} published the weights of {model} this week, and the argument started within the hour.",
    "The release notes for {model} run to forty pages, but the licence is the part people are reading.",
    "I spent the weekend running {model} on a single workstation, and the experience changed my mind about one thing.",
    "When {lab} announced that {model} would stay behind an API, the reaction split along familiar lines.",
]
CLAIMS = [
    "Open weights let outside researchers check claims that would otherwise rest on a press release.",
    "A refusal layer that cannot be inspected is a policy that cannot be argued with.",
    "Keeping the weights closed buys time, but nobody has said what the time is for.",
    "Safety tuning in an open model lasts exactly as long as nobody fine-tunes it away.",
    "The licence matters more than the parameter count once a model is good enough for real work.",
    "Filters belong in the application, where the people who deploy a model can see and change them.",
    "A staged release with published evaluations is a middle path that both camps keep rejecting.",
    "The benchmarks say little about misuse; the red-team reports say more, when they are published.",
    "Regulators keep asking for transparency reports that no lab has agreed to write in the same format.",
    "Every lab says it wants an open ecosystem until its own model is the one that would be copied.",
]
EVIDENCE = [
    "In my own tests {model} refused {n} of 200 ordinary requests about chemistry homework.",
    "The model card for {model} lists {n} evaluation suites but publishes scores for only a few of them.",
    "Downloads of {model} passed {n} thousand in the first week, most of them quantised variants.",
    "{lab} says the release was delayed {n} days for extra red-teaming, without saying what was found.",
]
CLOSINGS = [
    "The question is not whether {model} should exist, but who gets to decide how it is used.",
    "I expect to change my mind again by the next release, and I would like the data to change it.",
    "Whatever {lab} does next, the precedent set by {model} will outlast the model itself.",
]
COMMENTS = [
    "This matches what I saw with {model}: the refusals were inconsistent rather than strict.",
    "Open weights are the only way anyone outside {lab} can verify any of this.",
    "The licence clause about monthly active users is the real story here.",
    "I am not convinced; a determined attacker never needed {model} in the first place.",
    "Has anyone measured the alignment tax on {model}, or is it all vibes?",
    "Filters in the app layer sound fine until the app is a thin wrapper with no moderation at all.",
    "Counterpoint: the staged release worked last time and nobody noticed because nothing happened.",
]


def generate(n_posts: int, n_threads: int, seed: int = 7) -> tuple[list[dict], list[dict]]:
    rnd = random.Random(seed)
    start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    posts = []
    for i in range(n_posts):
        lab, model = rnd.choice(LABS), rnd.choice(MODELS)
        fill = lambda s: s.format(lab=lab, model=model, n=rnd.randint(3, 90))  # noqa: E731
        paragraphs = [fill(rnd.choice(OPENINGS))]
        for _ in range(rnd.randint(4, 7)):
            paragraphs.append(" ".join(fill(rnd.choice(CLAIMS + EVIDENCE)) for _ in range(rnd.randint(3, 5))))
        paragraphs.append(fill(rnd.choice(CLOSINGS)))
        published = start + timedelta(hours=i * 7 + rnd.randint(0, 5))
        posts.append({
            "slug": f"{model.lower().replace(' ', '-').replace('.', '')}-notes-{i:05d}",
            "title": f"Notes on {model}, part {i + 1}", "author": f"Writer {i % 37:02d}",
            "published": published.isoformat().replace("+00:00", "Z"), "tags": [lab.lower(), "open weights"],
            "summary": paragraphs[0], "paragraphs": paragraphs, "stance": {},
        })
    threads = []
    for i in range(n_threads):
        lab, model = rnd.choice(LABS), rnd.choice(MODELS)
        created = start + timedelta(hours=i * 60)
        counter = iter(range(10**6))

        def replies(depth: int, when: datetime) -> list[dict]:
            out = []
            for _ in range(rnd.randint(2, 4) if depth == 0 else rnd.randint(0, 2 if depth < 3 else 0)):
                when = when + timedelta(minutes=rnd.randint(1, 90))
                out.append({"id": f"b{i}c{next(counter)}", "author": f"member_{rnd.randint(1, 400)}",
                            "created": when.isoformat().replace("+00:00", "Z"), "score": rnd.randint(0, 40),
                            "text": rnd.choice(COMMENTS).format(lab=lab, model=model) + " " + rnd.choice(CLAIMS),
                            "deleted": False, "replies": replies(depth + 1, when)})
            return out

        threads.append({"platform": "hn", "id": f"bench{i}", "community": "", "url": "",
                        "title": f"{model} and the release debate ({i})", "author": f"submitter_{i % 50}",
                        "created": created.isoformat().replace("+00:00", "Z"), "score": rnd.randint(5, 900),
                        "text": rnd.choice(CLAIMS), "comments": replies(0, created)})
    return posts, threads


# ----------------------------------------------------------------------------- the bare spider
BARE = r'''
import json, sys
import scrapy
from scrapy.crawler import CrawlerProcess

urls = [line.strip() for line in open(sys.argv[1]) if line.strip()]
concurrency = int(sys.argv[2])

class Bare(scrapy.Spider):
    name = "bare"
    async def start(self):
        for u in urls:
            yield scrapy.Request(u, callback=self.parse, dont_filter=True)
    def parse(self, response):
        pass

process = CrawlerProcess({"LOG_LEVEL": "WARNING", "ROBOTSTXT_OBEY": False, "AUTOTHROTTLE_ENABLED": False,
                          "DOWNLOAD_DELAY": 0, "CONCURRENT_REQUESTS": concurrency,
                          "CONCURRENT_REQUESTS_PER_DOMAIN": concurrency, "COOKIES_ENABLED": False,
                          "TELNETCONSOLE_ENABLED": False, "RETRY_ENABLED": False})
crawler = process.create_crawler(Bare)
process.crawl(crawler)
process.start()
stats = crawler.stats.get_stats()
print(json.dumps({"responses": stats.get("response_received_count", 0),
                  "elapsed": stats.get("elapsed_time_seconds", 0.0)}))
'''


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--flush-items", type=int, default=200)
    parser.add_argument("--only", choices=["blog", "hn"], help="crawl only the article pages or only the HN threads")
    parser.add_argument("--keep", help="keep the data root here instead of a temporary folder")
    parser.add_argument("--no-http-cache", action="store_true",
                        help="crawl with [crawl] http_cache = false (the default stores every validated page)")
    args = parser.parse_args()

    from pipeline.demo.server import Request
    from pipeline.demo.site import DemoContent, DemoSite
    from pipeline.store import Store

    posts, threads = generate(args.posts, args.threads)
    content = DemoContent(posts, threads)
    comments = sum(len(t.comments) for t in content.threads)
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="debatelake-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    root = work / "data"

    with DemoSite(content) as site:
        host = site.base_url.split("//", 1)[1]
        for p in content.posts:  # render every page once, so neither crawler pays for a cold cache
            site.handle(Request("GET", p.path, {}, {"host": host}))
        blog = f"""
[[sources]]
name = "bench-blog"
spider = "feeds"
sitemap_urls = ["{site.base_url}/sitemap.xml"]
max_pages = {args.posts + 10}
"""
        hn = f"""
[[sources]]
name = "bench-hn"
spider = "hackernews"
base_url = "{site.hn_api_url}"
since = "2023-01-01"
hits_per_page = 100
max_pages = {args.threads // 100 + 2}
"""
        sources = {"blog": blog, "hn": hn, None: blog + hn}[args.only]
        config = work / "bench.toml"
        config.write_text(f"""
[crawl]
contact = "mailto:bench@localhost"
obey_robots = true
autothrottle = false
download_delay = 0.0
concurrency = {args.concurrency}
concurrency_per_domain = {args.concurrency}
flush_items = {args.flush_items}
retries = 0
http_cache = {"false" if args.no_http_cache else "true"}
{sources}""", "utf-8")
        print(f"serving {len(content.posts)} article pages and {len(content.threads)} HN threads "
              f"({comments} comments) at {site.base_url}; data root {root}", flush=True)

        before = len(site.requests)
        t0 = time.perf_counter()
        full = subprocess.run([sys.executable, "-m", "crawler.run", "--root", str(root), "--config", str(config)],
                              cwd=PROJECT, capture_output=True, text=True)
        full_wall = time.perf_counter() - t0
        if full.returncode != 0:
            sys.exit(f"full-stack crawl failed:\n{full.stderr[-3000:]}")
        fetched = site.requests[before:]
        urls = [site.base_url + r.path + ("?" + "&".join(f"{k}={v}" for k, vs in r.query.items() for v in vs)
                                          if r.query else "") for r in fetched]
        store = Store(root)
        runs = store.read("runs").to_pylist()
        full_crawl = (max(r["ended_at"] for r in runs) - min(r["started_at"] for r in runs)).total_seconds()
        docs = store.count("documents")

        url_file = work / "urls.txt"
        url_file.write_text("\n".join(urls), "utf-8")
        before = len(site.requests)
        t0 = time.perf_counter()
        bare = subprocess.run([sys.executable, "-c", BARE, str(url_file), str(args.concurrency)],
                              cwd=PROJECT, capture_output=True, text=True)
        bare_wall = time.perf_counter() - t0
        if bare.returncode != 0:
            sys.exit(f"bare crawl failed:\n{bare.stderr[-3000:]}")
        bare_stats = json.loads(bare.stdout.strip().splitlines()[-1])
        bare_pages = len(site.requests) - before

    pages = len(fetched)
    print(f"\nfull stack : {pages} pages -> {docs} documents; {full_wall:6.1f} s wall ({pages / full_wall:6.1f} pages/s), "
          f"{full_crawl:6.1f} s crawling ({pages / full_crawl:6.1f} pages/s)")
    print(f"bare Scrapy: {bare_pages} pages;{' ' * (len(str(docs)) + 16)}{bare_wall:6.1f} s wall "
          f"({bare_pages / bare_wall:6.1f} pages/s), {bare_stats['elapsed']:6.1f} s crawling "
          f"({bare_pages / bare_stats['elapsed']:6.1f} pages/s)")
    print(f"ratio full/bare: {(pages / full_wall) / (bare_pages / bare_wall):.2f} (wall), "
          f"{(pages / full_crawl) / (bare_pages / bare_stats['elapsed']):.2f} (crawling)")


if __name__ == "__main__":
    main()
