"""The feeds spider, crawling blogs served on 127.0.0.1 for real.

Recorded payloads, read in place from ../shared/fixtures (SOURCES.md): article pages from Jekyll,
Hugo, Ghost, Medium, WordPress and Substack, pages whose charsets are wrong, missing or lying, real
feeds (WordPress, Ghost, Medium, Substack, RSS 1.0) and the sitemaps.org sitemap and index. The
recorded feeds name their real hosts; the test site answers for them after a byte-level swap of
the host for its own address (ASCII in every charset here, so the bytes stay as recorded otherwise).
Feeds linking to the recorded pages, broken feeds and the small articles are the project's own."""
from __future__ import annotations

import gzip
import json
from datetime import datetime, timezone
from email.utils import format_datetime
from pathlib import Path

import pytest

from crawler.feedparse import FeedError, parse_feed
from crawler.spiders.feeds import clean_url, full_text
from pipeline.config import ConfigError, parse_config
from pipeline.demo.server import Response
from pipeline.store import Store
from support_fixtures import Site, crawl, serve

UTC = timezone.utc
HTML = "text/html; charset=utf-8"
RSS = "application/rss+xml; charset=utf-8"


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def article(title: str, author: str, published: str, paragraphs: list[str], canonical: str | None = None) -> str:
    """A small blog post page of our own, with the furniture real themes have."""
    canon = f'<link rel="canonical" href="{canonical}">' if canonical else ""
    body = "\n".join(f"<p>{p}</p>" for p in paragraphs)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title} – Weights and Measures</title>
<meta name="author" content="{author}"><meta property="article:published_time" content="{published}">{canon}
</head><body><nav class="main-navigation"><a href="/">Home</a> <a href="/about/">About</a></nav>
<article><h1>{title}</h1>
{body}
<div class="share-buttons">Share: <a href="#">Mastodon</a> <a href="#">E-mail</a></div></article>
<aside class="widget-area"><h2>Recent posts</h2><ul><li><a href="/x/">Another post</a></li></ul></aside>
<footer>Weights and Measures, a blog about model releases.</footer></body></html>"""


# ============================================================================ the good blogs
PAGES = {  # path on the test site -> recorded page, Content-Type it is served with
    "/2019/06/pipenv-docker/": ("html/jekyll-pythonspeed-post.html", HTML),
    "/tech-blog/managing-python-environments/": ("html/hugo-pluralsight-techblog-post.html", HTML),
    "/japan-und-die-hpv-impfungen/": ("html/ghost-3.99-publikum-post.html", HTML),
    "/@pippinlee/open-journalism": ("html/medium-open-journalism-2015.html", HTML),
    "/@johncwelch/samantha": ("html/medium-samantha-2015.html", HTML),
    "/2019/08/02/json-parsing/": ("html/wordpress-lemire-comments.html", HTML),
    "/wptavern/stack-overflow-jobs/": ("html/wordpress-wptavern-2017-comments.html", HTML),
    "/2018/09/10/september-2018-open-thread/": ("html/wordpress-givewell-open-thread-comments.html.gz", HTML),
    "/p/hello-world": ("substack/post-page-reduced-hello-world.html", HTML),
    # charsets: a lying HTTP header, none at all, a late <meta>, invalid UTF-8, a meta that lies
    "/charset/nnz.html": ("html/charset-iso-8859-1-nnz-online.html", "text/html; charset=utf-8"),
    "/charset/auto-presse.html": ("html/charset-windows-1252-auto-presse.html", "text/html"),
    "/charset/nmb.html": ("html/charset-late-meta-latin1-nmb-media.html", "text/html"),
    "/charset/rinderleber.html": ("html/charset-declared-utf8-but-invalid.html", "text/html; charset=utf-8"),
    "/charset/itmedia.html": ("html/charset-mismatch-itmedia-shift_jis-declared.html", "text/html; charset=shift_jis"),
}
CHARSET_PAGES = [p for p in PAGES if p.startswith("/charset/")]
ARTICLES = [p for p in PAGES if p not in CHARSET_PAGES and p != "/p/hello-world"]


def project_feeds(base: str) -> dict[str, Response]:
    """Our own RSS, Atom and JSON Feed over the recorded pages: tracking links, overlaps."""
    def rss_item(path, title, author, when):
        return (f"<item><title>{title}</title><link>{base}{path}?utm_source=rss&amp;utm_medium=rss</link>"
                f"<dc:creator><![CDATA[{author}]]></dc:creator><pubDate>{format_datetime(when)}</pubDate>"
                f"<description><![CDATA[A short teaser. <a href=\"{base}{path}\">Continue reading</a>]]></description></item>")

    rss = f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>Reading list</title>
<link>{base}/</link><description>Posts we read</description>
{rss_item("/2019/06/pipenv-docker/", "Faster Docker builds", "Itamar", at(2019, 6, 17, 9, 30))}
{rss_item("/2019/08/02/json-parsing/", "JSON parsing", "Daniel Lemire", at(2019, 8, 2, 15, 57, 41))}
{rss_item("/wptavern/stack-overflow-jobs/", "Stack Overflow Jobs Data", "Sarah Gooding", at(2017, 3, 9, 23, 16, 2))}
{rss_item("/japan-und-die-hpv-impfungen/", "Japan und die HPV-Impfungen", "Der Spendenteddy", at(2023, 7, 30, 16, 55, 45))}
</channel></rss>"""
    atom = f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Reading list (Atom)</title><id>{base}/</id>
<updated>2024-01-01T00:00:00Z</updated>
<entry><title>Managing Python Environments</title><link rel="alternate" href="{base}/tech-blog/managing-python-environments/"/>
<id>tag:test,2020:pyenv</id><published>2020-01-10T12:00:00Z</published><author><name>John Walk</name></author></entry>
<entry><title>Open Journalism</title><link rel="alternate" href="{base}/@pippinlee/open-journalism#comments"/>
<id>tag:test,2015:oj</id><published>2015-03-17T16:27:40Z</published><author><name>Pippin Lee</name></author></entry>
<entry><title>Faster Docker builds</title><link rel="alternate" href="{base}/2019/06/pipenv-docker/"/>
<id>tag:test,2019:docker</id><published>2019-06-17T09:30:00Z</published><author><name>Itamar</name></author></entry>
</feed>"""
    jsonfeed = json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "Reading list (JSON)",
                           "items": [{"id": "1", "url": f"{base}/@johncwelch/samantha", "title": "Samantha",
                                      "content_text": "A teaser."},
                                     {"id": "2", "url": f"{base}/2018/09/10/september-2018-open-thread/?fbclid=abc",
                                      "title": "Open thread", "content_text": "A teaser."},
                                     {"id": "3", "url": f"{base}/2019/08/02/json-parsing/", "title": "JSON"}]})
    posts = "\n".join(f"<url><loc>{base}{p}</loc><lastmod>2020-01-01</lastmod></url>" for p in ARTICLES)
    charsets = "\n".join(f"<url><loc>{base}{p}</loc></url>" for p in CHARSET_PAGES)
    urlset = '<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{}</urlset>'
    index = f"""<?xml version="1.0" encoding="UTF-8"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<sitemap><loc>{base}/sitemap-posts.xml</loc></sitemap><sitemap><loc>{base}/sitemap-charsets.xml.gz</loc></sitemap>
</sitemapindex>"""
    return {
        "/feed.xml": Response(200, rss, RSS),
        "/atom.xml": Response(200, atom, "application/atom+xml"),
        "/feed.json": Response(200, jsonfeed, "application/feed+json"),
        "/sitemap_index.xml": Response(200, index, "application/xml"),
        "/sitemap-posts.xml": Response(200, urlset.format(posts), "application/xml"),
        "/sitemap-charsets.xml.gz": Response(200, gzip.compress(urlset.format(charsets).encode()), "application/x-gzip"),
    }


# ============================================================================ recorded feeds
RECORDED_FEEDS = {  # path -> (recorded feed, its real host, Content-Type served)
    "/pluralistic/feed/": ("feeds/wordpress-pluralistic-rss2.xml", b"https://pluralistic.net", RSS),
    "/element/rss/": ("feeds/ghost-element-io-rss2.xml", b"https://element.io", "application/rss+xml"),
    "/medium/feed/invironment": ("feeds/medium-publication-tag-rss2.xml", b"https://medium.com", "text/xml; charset=UTF-8"),
    "/heated/feed": ("substack/heated-feed-rss2.xml", b"https://heated.world", RSS),
    # ISO-8859-1 bytes served as UTF-8: a lying charset
    "/golem/rss.php": ("feeds/rss1-rdf-iso-8859-1.xml", b"https://www.golem.de", "application/rdf+xml; charset=utf-8"),
}


def sitemaps_org_page(path: str) -> str:
    return article(f"Sitemaps page {path}", "Sitemap Tester", "2016-11-21T10:00:00+00:00",
                   [f"This stand-in page answers for {path} of the recorded sitemap, so that the crawl has an "
                    "article to extract for every URL it is allowed to fetch.",
                    "A second paragraph, so that the extractor sees a real body of text."])


def build_site(shared: Path) -> tuple[Site, object]:
    fx = shared / "fixtures"
    site = Site()
    srv = serve(site)
    base = srv.base_url
    for path, (name, ctype) in PAGES.items():
        body = (fx / name).read_bytes()
        headers = {"Content-Encoding": "gzip"} if name.endswith(".gz") else {}
        site.route(path, Response(200, body, ctype, headers))
    site.routes.update(project_feeds(base))
    # recorded feeds, on this host; of their articles only pluralistic's newest page exists here
    for path, (name, host, ctype) in RECORDED_FEEDS.items():
        site.route(path, Response(200, (fx / name).read_bytes().replace(host, base.encode()), ctype))
    site.route("/2024/05/17/fake-it-until-you-dont-make-it/",
               Response(200, (fx / "html/wordpress-pluralistic-post.html").read_bytes(), HTML))
    # the sitemaps.org sitemap index and sitemap (recorded), gzipped like the index says
    index = (fx / "feeds/sitemapindex-spec-example.xml").read_bytes().replace(b"http://www.example.com",
                                                                              f"{base}/limited".encode())
    site.route("/limited/sitemapindex.xml", Response(200, index, "application/xml"))
    sitemap = (fx / "feeds/sitemap-sitemaps.org.xml").read_bytes().replace(b"https://www.sitemaps.org", f"{base}/sm".encode())
    site.route("/limited/sitemap1.xml.gz", Response(200, gzip.compress(sitemap), "application/x-gzip"))
    site.fallbacks.append(lambda req: Response(200, sitemaps_org_page(req.path), HTML) if req.path.startswith("/sm/") else None)
    news = "".join(f"<item><title>{title}</title><link>{base}/sm/{slug}.html</link><pubDate>{format_datetime(when)}</pubDate></item>"
                   for title, slug, when in [("Old news", "old", at(2010, 5, 1)), ("News 1", "news-1", at(2024, 2, 1)),
                                             ("News 2", "news-2", at(2024, 1, 1))])
    site.route("/limited/news.xml", Response(200, f'<rss version="2.0"><channel><title>News</title>{news}</channel></rss>', RSS))
    return site, srv


@pytest.fixture(scope="module")
def blogs(shared, tmp_path_factory):
    site, srv = build_site(shared)
    base = srv.base_url
    tmp = tmp_path_factory.mktemp("feeds")
    try:
        result = crawl(tmp, [
            {"name": "blogs", "spider": "feeds",
             "feed_urls": [f"{base}/feed.xml", f"{base}/atom.xml", f"{base}/feed.json"],
             "sitemap_urls": [f"{base}/sitemap_index.xml"],
             "page_urls": [f"{base}/p/hello-world", f"{base}/2019/08/02/json-parsing/?utm_source=twitter#top"]},
            {"name": "recorded-feeds", "spider": "feeds", "feed_urls": [f"{base}{p}" for p in RECORDED_FEEDS]},
            {"name": "limited", "spider": "feeds", "sitemap_urls": [f"{base}/limited/sitemapindex.xml"],
             "feed_urls": [f"{base}/limited/news.xml"], "max_pages": 3},
        ])
        yield site, base, result, tmp
    finally:
        srv.stop()


def by_title(docs: dict) -> dict:
    return {d["title"]: d for d in docs.values()}


def test_every_recorded_page_once_with_its_metadata(blogs):
    site, base, result, _ = blogs
    docs = result.docs("blogs")
    assert len(docs) == len(PAGES) == 14
    for path in PAGES:  # listed by up to four feeds and sitemaps, with tracking links: fetched once
        assert site.count(path) == 1, path
    run = result.runs()["blogs"]
    assert (run["status"], run["errors"], run["docs_new"]) == ("finished", 0, 14)
    assert run["responses"] == {"200": 20}  # 3 feeds, 1 index, 2 sitemaps, 14 pages

    titles = by_title(docs)
    want = {  # title: (author, published, canonical URL)
        "Faster Docker builds with pipenv, poetry, or pip-tools":
            ("Itamar Turner-Trauring", at(2019, 6, 17, 9, 30), "https://pythonspeed.com/articles/pipenv-docker/"),
        "Managing Python Environments":
            ("John Walk", at(2020, 1, 10, 12), "https://www.pluralsight.com/tech-blog/managing-python-environments/"),
        "Japan und die HPV-Impfungen":
            ("Der Spendenteddy", at(2023, 7, 30, 16, 55, 45), "https://publikum.net/japan-und-die-hpv-impfungen/"),
        "The Open Journalism Project: Better Student Journalism":
            ("Pippin Lee", at(2015, 3, 17, 16, 27, 40, 294000),
             "https://medium.com/@pippinlee/the-open-journalism-project-better-student-journalism-fb39f4f701bb"),
        "Samantha and The Great Big Lie":
            ("John C. Welch", at(2015, 10, 15, 2, 19, 15, 607000),
             "https://medium.com/@johncwelch/samantha-and-the-great-big-lie-d146a92473a1"),
        "JSON parsing: simdjson vs. JSON for Modern C++":
            ("Daniel Lemire", at(2019, 8, 2, 15, 57, 41),
             "https://lemire.me/blog/2019/08/02/json-parsing-simdjson-vs-json-for-modern-c/"),
        "Stack Overflow Jobs Data Shows ReactJS Skills in High Demand, WordPress Market Oversaturated with Developers":
            ("Sarah Gooding", at(2017, 3, 9, 23, 16, 2),
             "https://wptavern.com/stack-overflow-jobs-data-shows-reactjs-skills-in-high-demand-wordpress-market-"
             "oversaturated-with-developers"),
        "September 2018 open thread":
            ("Catherine", at(2018, 9, 10, 21, 25, 36), "https://blog.givewell.org/2018/09/10/september-2018-open-thread/"),
        "Social title": ("Author Name; Other Name", at(2024, 11, 6, 17, 37, 50), "https://example.substack.com/p/hello-world"),
    }
    for title, (author, published, url) in want.items():
        doc = titles[title]
        assert (doc["author"], doc["published_at"], doc["url"]) == (author, published, url), title
        assert doc["kind"] == "post" and doc["platform"] == "blog" and doc["thread_id"] == doc["doc_id"]
        assert doc["depth"] == 0 and doc["parent_id"] is None and not doc["deleted"]
        assert doc["raw"]["fetched_url"].startswith(base) and "utm_" not in doc["raw"]["fetched_url"]
    # doc ids come from the canonical URL
    from pipeline.schema import make_doc_id
    assert all(d["doc_id"] == make_doc_id("blog", url=d["url"]) for d in docs.values())
    # where the page gives only a day (Jekyll's and Hugo's T00:00:00), the feed's hour of that day
    # wins (above: 09:30 from the RSS and Atom feeds, 12:00 from Atom); a page's own time is kept
    # even where a feed disagrees (Medium: the feed's 16:27:40 without the milliseconds)
    assert titles["Social title"]["raw"].get("found_in") is None  # from page_urls only
    assert titles["Managing Python Environments"]["raw"]["found_in"] == f"{base}/atom.xml"


def test_texts_are_clean(blogs):
    _, _, result, _ = blogs
    titles = by_title(result.docs("blogs"))
    text = {t: d["text"] for t, d in titles.items()}
    jekyll = text["Faster Docker builds with pipenv, poetry, or pip-tools"]
    assert jekyll.startswith("Docker builds can be slow, and waiting for a build to finish is probably not how you "
                             "want to spend your time.")
    assert jekyll.endswith("3. Install dependencies separately and earlier in your Dockerfile to ensure faster builds.")
    assert "dateutil\nflask" in jekyll  # a code block keeps its lines
    hugo = text["Managing Python Environments"]
    assert hugo.startswith("Python is, in general, an exceptionally flexible programming language")
    assert "$ python -m venv $VENV_PATH" in hugo
    assert text["Japan und die HPV-Impfungen"].startswith(
        "Die unglaubliche Geschichte eines Verbotes, das es nie gab\n\nVor langer, langer Zeit hatte ich schon einmal")
    assert text["The Open Journalism Project: Better Student Journalism"].endswith(
        "We’re all in this together.")
    assert text["Samantha and The Great Big Lie"].endswith(
        "So I hope she stays, but if she goes, I understand. For what it’s worth, I don’t think she’s wrong either way.")
    lemire = text["JSON parsing: simdjson vs. JSON for Modern C++"]
    assert lemire.startswith("JSON is the ubiquitous data format on the Internet.") and lemire.endswith("Link: simdjson.")
    assert len(lemire) == 1296  # the post, not its comments
    wp = text["Stack Overflow Jobs Data Shows ReactJS Skills in High Demand, WordPress Market Oversaturated with Developers"]
    assert wp.startswith("Stack Overflow published its analysis of 2017 hiring trends")
    assert wp.endswith("These are both highly portable skills that are in demand on the web.")
    givewell = text["September 2018 open thread"]  # gzip on the wire
    assert givewell.startswith("Our goal with hosting quarterly open threads") and givewell.endswith(
        "You can view our June 2018 open thread here.")
    assert text["Social title"] == "Body content, not testing this"
    for title, body in text.items():
        for junk in ("Leave a Reply", "Subscribe", "Share this", "Like this:", "Posted in", "srcset", "\ufffd"):
            assert junk not in body, (title, junk)
        assert "\n\n\n" not in body and body == body.strip()


def test_wrong_missing_and_lying_charsets_decode(blogs):
    _, base, result, _ = blogs
    docs = {d["raw"]["fetched_url"].removeprefix(base): d for d in result.docs("blogs").values()}
    for path in CHARSET_PAGES:
        doc = docs[path]
        assert "\ufffd" not in doc["text"] and "Ã" not in doc["text"] and "Ã" not in (doc["title"] or ""), path
    nnz = docs["/charset/nnz.html"]  # ISO-8859-1 bytes, HTTP says UTF-8
    assert nnz["title"] == "Ein Quantensprung für Nordhausen Nord : 06.11.2023, 11.41 Uhr"
    assert "Stadt eröffnet Nordpark-Anlage" in nnz["text"]
    assert nnz["raw"]["encoding"] == "cp1252" and "not UTF-8" in nnz["raw"]["encoding_note"]
    assert nnz["url"] == "https://nnz-online.de/news/news_lang.php?ArtNr=335853"
    presse = docs["/charset/auto-presse.html"]  # windows-1252, no charset in HTTP
    assert presse["title"] == "Japanisches Mini-SUV auf dem Vormarsch"
    assert presse["published_at"] == at(2021, 11, 5)
    assert "Stichwörtern" in presse["text"] and "übertrifft" in presse["text"]
    nmb = docs["/charset/nmb.html"]  # the only declaration sits at byte ~58,000
    assert nmb["text"].startswith("Aufgrund der derzeitigen, datenschutzrechtlichen Unsicherheiten")
    assert "zur Verfügung gestellt." in nmb["text"] and nmb["raw"]["encoding"] == "cp1252"
    leber = docs["/charset/rinderleber.html"]  # declared UTF-8, three stray Latin-1 bytes
    assert leber["text"].startswith("So schön winterlich ist es wie schon lange nicht mehr.")
    assert "Gemüsebrühe" in leber["text"] and "invalid UTF-8" in leber["raw"]["encoding_note"]
    itmedia = docs["/charset/itmedia.html"]  # says Shift_JIS, is ASCII with character references
    assert itmedia["title"] == "Intel NUCで最新SSDを比較してみた：さらば平成、さらば水冷、いくぜNUC（1/2 ページ）"
    assert itmedia["text"].startswith("とある自作PCユーザーが平成最後の年にふと目覚め")


def test_feed_full_text_kept_when_the_page_is_missing(blogs):
    """Recorded feeds on this host: only pluralistic's newest article page exists; entries whose
    feed carried the whole text are kept from the feed, the others are one error each."""
    site, base, result, _ = blogs
    docs = result.docs("recorded-feeds")
    run = result.runs()["recorded-feeds"]
    from_page = [d for d in docs.values() if d["raw"]["text_from"] == "page"]
    from_feed = {d["url"]: d for d in docs.values() if d["raw"]["text_from"] == "feed"}
    assert [d["title"] for d in from_page] == ["Pluralistic: You were promised a jetpack by liars (17 May 2024)"]
    assert from_page[0]["url"] == "https://pluralistic.net/2024/05/17/fake-it-until-you-dont-make-it/"
    assert len(from_page[0]["text"]) == 17430  # the page's text, not the feed's 17,903 characters
    assert len(docs) == 1 + 9 + 1 + 7 == 18  # pluralistic page + 9 from its feed, Ghost 1, Medium 7
    medium = f"{base}/invironment/the-creative-forager-125af37d838f"  # ?source=rss---- dropped
    assert from_feed[medium]["title"] == "THE CREATIVE FORAGER"
    assert from_feed[medium]["author"] == "Jeremy Puma"
    assert from_feed[medium]["published_at"] == at(2018, 4, 9, 18, 55, 38)
    assert from_feed[medium]["text"].startswith("Using Wild Ingredients in the Kitchen\n\nHEY, YOU! YES, YOU WITH THE EYEBALLS!")
    picking = from_feed[f"{base}/invironment/picking-fruits-and-greening-cities-e9610374b19c"]
    assert picking["author"] == "Thuận Sarzynski" and picking["title"] == "Picking Fruits and Greening Cities"
    element = from_feed[f"{base}/blog/simpler-plans-for-element-on-premise-and-cloud/"]
    assert (element["title"], element["author"], element["published_at"]) == (
        "Simpler plans for Element, on-premise and cloud!", "Steve Loynes", at(2021, 10, 11, 16, 2, 29))
    assert element["text"].startswith("You may have noticed the Element website has had a bit of a refresh today.")
    utah = from_feed[f"{base}/2024/05/16/symmetrical-10gb-for-119/"]
    assert utah["title"] == "Pluralistic: Utah's getting some of America's best broadband (16 May 2024)"
    assert utah["text"].startswith("Today's links\n\n- Utah's getting some of America's best broadband")
    # 17 missing pages: one error each, naming the URL; Heated's teaser ("stil…") and golem's
    # summary-only entry are not full texts, so nothing is kept for them
    assert run["errors"] == 9 + 1 + 7 + 1 + 1 == 19
    kept = [m for m in run["error_messages"] if m.endswith("HTTP 404; kept the full text the feed carried")]
    skipped = [m for m in run["error_messages"] if m.endswith("HTTP 404; skipped")]
    assert len(kept) == 17 and sorted(m.split(": HTTP")[0] for m in skipped) == [
        f"{base}/news/digitalministerium-neue-glasfaserfoerderung-mit-schnellkasse-2301-171451.html",
        f"{base}/p/a-conversation-about-keystone-xl"]
    for url in from_feed:
        assert len(result.errors_naming(url + ": HTTP 404")) == 1, url


def test_max_pages_and_a_recorded_sitemap_index(blogs):
    site, base, result, _ = blogs
    docs = result.docs("limited")
    # the index names sitemap1.xml.gz (here: the sitemaps.org sitemap, 84 URLs of 2016-11-21,
    # gzipped) and sitemap2.xml.gz (missing); a feed adds two articles of 2024 and one of 2010.
    # max_pages = 3 takes the newest: the two of 2024, then the sitemap's first (ties keep its order)
    assert sorted(h.path for h in site.hits if h.path.startswith("/sm/")) == ["/sm/", "/sm/news-1.html", "/sm/news-2.html"]
    assert sorted(d["title"] for d in docs.values()) == [
        "Sitemaps page /sm/", "Sitemaps page /sm/news-1.html", "Sitemaps page /sm/news-2.html"]
    run = result.runs()["limited"]
    assert run["errors"] == 1 and run["error_messages"] == [f"{base}/limited/sitemap2.xml.gz: HTTP 404; skipped"]
    assert "max_pages (3) reached: 84 more article URL(s) were not fetched this time" in result.log


def test_recrawl_of_unchanged_pages_writes_nothing(blogs, tmp_path):
    site, base, result, tmp = blogs
    store = Store(str(result.root))
    before = store.version("documents")
    hits = len(site.hits)
    again = crawl(tmp, [{"name": "blogs", "spider": "feeds",
                         "feed_urls": [f"{base}/feed.xml", f"{base}/atom.xml", f"{base}/feed.json"],
                         "sitemap_urls": [f"{base}/sitemap_index.xml"],
                         "page_urls": [f"{base}/p/hello-world"]}], root=result.root)
    assert len(site.hits) - hits == 20  # everything fetched again
    assert store.version("documents") == before
    run = again.runs()["blogs"]
    assert (run["status"], run["docs_new"], run["docs_updated"], run["docs_unchanged"], run["errors"]) == (
        "finished", 0, 0, 14, 0)


# ============================================================================ bad input
OK_TEXT = ["Publishing the weights of a model lets anyone audit it, fine-tune it and run it without asking permission.",
           "The same openness lets anyone strip its refusals, which is why the argument never ends."]


def bad_site() -> tuple[Site, object]:
    site = Site()
    srv = serve(site)
    base = srv.base_url
    full = " ".join(f"Paragraph {i} of a post the feed carries whole, about moderation of hosted models." for i in range(12))

    def item(path, title, content=None):
        encoded = f"<content:encoded><![CDATA[<p>{content}</p>]]></content:encoded>" if content else ""
        return (f"<item><title>{title}</title><link>{base}{path}</link><dc:creator>Mara Quill</dc:creator>"
                f"<pubDate>Tue, 02 Apr 2024 08:15:00 +0000</pubDate><description>Teaser.</description>{encoded}</item>")

    items = [item("/ok/", "Open weights are a public good"), item("/missing/", "Gone"), item("/oops/", "Server error"),
             item("/slow/", "Too slow"), item("/cut/", "Cut off"), item("/binary/", "Not text"),
             item("/pdf/", "A PDF"), item("/half/", "Half a page"),
             item("/full-but-missing/", "Hosted models should refuse less", full),
             item("/ok-amp/", "The same post again"), item("/misconf-a/", "A"), item("/misconf-b/", "B")]
    feed = ('<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" '
            'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>Bad blog</title>'
            + "".join(items) + "</channel></rss>")
    cut_feed = ('<?xml version="1.0"?><rss version="2.0"><channel><title>Cut feed</title>'
                f'<item><title>Still readable</title><link>{base}/ok2/</link></item><item><title>Lost</tit')
    page = article("Open weights are a public good", "Mara Quill", "2024-04-02T08:15:00+00:00", OK_TEXT, f"{base}/ok/")
    page2 = article("Recovered from a broken feed", "Ivo Brandt", "2024-04-03T10:00:00+00:00",
                    ["A broken feed still named this post, and the crawl read it.",
                     "Its page is whole, so nothing is lost."])
    half = article("Half a page", "Mara Quill", "2024-04-04T10:00:00+00:00",
                   ["The first paragraph arrived whole and should be kept as the text of this post, "
                    "even though the markup after it never came.", "This paragraph is cut in the mid"])
    half = half[: half.index("cut in the mid") + len("cut in the mid")]  # complete transfer, HTML cut short
    # a CMS that gives two different posts one canonical URL (its home for posts)
    misconf = {x: article(f"Misconfigured {x}", "Ivo Brandt", "2024-04-05T10:00:00+00:00",
                          [f"Post {x} has its own text, although its canonical link names the posts index.",
                           f"So the crawl keeps post {x} under the address it was fetched from, not the canonical."],
                          f"{base}/posts/") for x in "ab"}
    answers = {
        "/feed.xml": Response(200, feed, RSS),
        "/cut-feed.xml": Response(200, cut_feed, RSS),
        "/garbage.xml": Response(200, "<?xml version='1.0'?>\n<<<>>> this is not XML at all", "application/xml"),
        "/blog-home/": Response(200, '<!DOCTYPE html><html><head><link rel="alternate" type="application/rss+xml" '
                                     'href="/feed.xml"></head><body><p>Welcome to the bad blog.</p></body></html>', HTML),
        "/gone.xml": Response(404, "not found", "text/plain"),
        "/binary-feed.xml": Response(200, bytes(range(256)) * 16, "application/rss+xml"),
        "/ok/": Response(200, page, HTML),
        "/ok-amp/": Response(200, page, HTML),  # another address of /ok/ (canonical /ok/): one document
        "/misconf-a/": Response(200, misconf["a"], HTML),
        "/misconf-b/": Response(200, misconf["b"], HTML),
        "/ok2/": Response(200, page2, HTML),
        "/half/": Response(200, half, HTML),
        "/oops/": Response(500, "internal error", "text/plain"),
        "/slow/": Response(200, page, HTML, delay=5.0),
        "/cut/": Response(200, page, HTML, truncate=True),
        "/binary/": Response(200, bytes(range(256)) * 64, HTML),
        "/pdf/": Response(200, b"%PDF-1.4 not really", "application/pdf"),
    }
    site.fallbacks.append(lambda req: answers.get(req.path))
    return site, srv


def test_bad_input_gives_one_error_per_url_and_keeps_every_good_record(tmp_path):
    site, srv = bad_site()
    base = srv.base_url
    feeds = ["/feed.xml", "/cut-feed.xml", "/garbage.xml", "/blog-home/", "/gone.xml", "/binary-feed.xml"]
    try:
        result = crawl(tmp_path, [{"name": "bad", "spider": "feeds", "feed_urls": [base + f for f in feeds]}],
                       # not 1 s: LocalServer listens with a backlog of 5, and a burst of new
                       # connections beyond it waits for the kernel's 1 s SYN retry
                       {"timeout": 3.0})
    finally:
        srv.stop()
    docs = by_title(result.docs("bad"))
    assert sorted(docs) == ["Half a page", "Hosted models should refuse less", "Misconfigured a", "Misconfigured b",
                            "Open weights are a public good", "Recovered from a broken feed"]
    misconf = sorted((docs[f"Misconfigured {x}"]["url"], docs[f"Misconfigured {x}"]["raw"].get("canonical_url")) for x in "ab")
    first = next(u for u, _ in misconf if u == f"{base}/posts/")  # the first one parsed keeps the canonical,
    second = next(u for u, _ in misconf if u != first)  # the other its own address
    assert second in (f"{base}/misconf-a/", f"{base}/misconf-b/") and dict(misconf)[second] == f"{base}/posts/"
    ok = docs["Open weights are a public good"]
    assert (ok["author"], ok["published_at"], ok["url"]) == ("Mara Quill", at(2024, 4, 2, 8, 15), f"{base}/ok/")
    assert ok["text"] == "\n\n".join(OK_TEXT)
    assert docs["Half a page"]["text"].startswith("The first paragraph arrived whole and should be kept")
    kept = docs["Hosted models should refuse less"]
    assert kept["raw"]["text_from"] == "feed" and kept["url"] == f"{base}/full-but-missing/"
    assert kept["text"].startswith("Paragraph 0 of a post") and kept["text"].endswith("Paragraph 11 of a post the "
                                                                                      "feed carries whole, about moderation of hosted models.")
    run = result.runs()["bad"]
    assert run["status"] == "finished"
    messages = {m.split(": ", 1)[0].removeprefix(base): m.split(": ", 1)[1] for m in run["error_messages"]}
    assert len(messages) == len(run["error_messages"]) == run["errors"] == 12
    assert messages == {
        "/missing/": "HTTP 404; skipped",
        "/oops/": "HTTP 500; skipped",
        "/slow/": "timed out; will be fetched again on the next crawl",
        "/cut/": "the response was cut off before its end (truncated body); skipped",
        "/binary/": "not an HTML page: binary data; skipped",
        "/pdf/": "not an HTML page (application/pdf); skipped",
        "/full-but-missing/": "HTTP 404; kept the full text the feed carried",
        "/cut-feed.xml": "invalid XML (expected '>', line 1, column 156); read in recovery mode, kept 2 entries",
        "/garbage.xml": "invalid XML (StartTag: invalid element name, line 2, column 2); nothing could be read; skipped",
        "/blog-home/": f"an HTML page, not a feed or sitemap; it links to feed(s): {base}/feed.xml; skipped",
        "/gone.xml": "HTTP 404; skipped",
        "/binary-feed.xml": "binary data, not a feed or sitemap; skipped",
    }
    for path in messages:  # one logged error line per URL
        assert len(result.errors_naming(f"{base}{path}: ")) == 1, path
    # the HTML page that links to /feed.xml is not crawled as a feed a second time
    assert site.count("/feed.xml") == 1 and site.count("/ok/") == 1 and site.count("/ok-amp/") == 1


# ============================================================================ parts, without a crawl
def test_recorded_feeds_with_awkward_charsets(shared):
    fx = shared / "fixtures/feeds"
    qq = parse_feed((fx / "rss2-gb2312-tech-qq.xml").read_bytes(), "http://t/", "text/xml")
    assert qq.encoding == "gb18030"
    assert qq.entries[0].title == "拟298亿元重组盛大游戏后 世纪华通发20亿回购预案"
    uol = parse_feed((fx / "rss2-latin1-no-xml-decl-uol.xml").read_bytes(), "http://t/", "application/rss+xml")
    assert uol.entries[0].title == "Ibope: Bolsonaro perde de Haddad, Ciro e Alckmin em simulações de 2º turno"
    assert len(uol.entries) == 15 and uol.encoding == "cp1252"
    golem = parse_feed((fx / "rss1-rdf-iso-8859-1.xml").read_bytes(), "http://t/", "application/rss+xml; charset=utf-8")
    assert golem.kind == "rdf" and golem.entries[0].title == "Digitalministerium: Neue Glasfaserförderung mit Schnellkasse"
    assert golem.entries[0].author == "Achim Sawall" and golem.entries[0].published == at(2023, 1, 25, 18, 3, 2)
    jn = parse_feed((fx / "rss2-iso-8859-1-jn.xml").read_bytes(), "http://t/")
    assert jn.entries[0].title == "Mãe de utente é a nova presidente da Raríssimas" and len(jn.entries) == 40
    npr = parse_feed((fx / "jsonfeed-1.0-npr-technology.json").read_bytes(), "http://t/", "application/json")
    assert npr.kind == "jsonfeed" and len(npr.entries) == 25
    assert npr.entries[0].author == "Manoush Zomorodi" and npr.entries[0].published == at(2021, 10, 29, 14, 26)
    heise = parse_feed((fx / "atom-heise.xml").read_bytes(), "http://t/")
    assert heise.kind == "atom" and heise.entries[0].title == "Java-Anwendungsserver: Red Hat gibt WildFly 10 frei"
    schneier = parse_feed((fx / "movabletype-schneier-atom.xml").read_bytes(), "http://t/")
    assert schneier.entries[0].author == "Bruce Schneier" and len(schneier.entries) == 10
    gz = parse_feed((fx / "sitemap-sitemaps.org.xml.gz").read_bytes(), "http://t/", "application/x-gzip")
    assert gz.kind == "sitemap" and len(gz.entries) == 84 and gz.entries[1].url == "https://www.sitemaps.org/protocol.html"
    index = parse_feed((fx / "sitemapindex-spec-example.xml").read_bytes(), "http://t/")
    assert index.sitemaps == ["http://www.example.com/sitemap1.xml.gz", "http://www.example.com/sitemap2.xml.gz"]


def test_not_feeds_say_what_they_are(shared):
    page = (shared / "fixtures/html/jekyll-pythonspeed-post.html").read_bytes()
    with pytest.raises(FeedError, match=r"^an HTML page, not a feed or sitemap"):
        parse_feed(page, "https://pythonspeed.com/articles/pipenv-docker/")
    with pytest.raises(FeedError, match=r"^JSON, but not a JSON Feed"):
        parse_feed(b'{"data": []}', "http://t/feed.json")
    with pytest.raises(FeedError, match=r"root element is <svg>"):
        parse_feed(b"<?xml version='1.0'?><svg xmlns='http://www.w3.org/2000/svg'/>", "http://t/x.xml")
    with pytest.raises(FeedError, match="empty body"):
        parse_feed(b"  \n", "http://t/x.xml")
    # a bare & in a title is invalid XML that every feed reader accepts: repaired, no problem noted
    feed = parse_feed(b"<rss version='2.0'><channel><item><title>Q&A on open weights</title>"
                      b"<link>http://t/qa/?a=1&b=2</link></item></channel></rss>", "http://t/feed")
    assert (feed.entries[0].title, feed.entries[0].url, feed.problem) == ("Q&A on open weights", "http://t/qa/?a=1&b=2", None)


def test_clean_url_and_full_text(shared):
    assert clean_url("https://b.example/p/x/?utm_source=rss&utm_medium=rss&id=3#respond") == "https://b.example/p/x/?id=3"
    assert clean_url("https://medium.com/pub/post-1a2b?source=rss----d12c403d4976--food") == "https://medium.com/pub/post-1a2b"
    assert clean_url("https://b.example?fbclid=abc") == "https://b.example/"
    heated = parse_feed((shared / "fixtures/substack/heated-feed-rss2.xml").read_bytes(), "https://heated.world/feed")
    assert heated.entries[0].content and full_text(heated.entries[0]) == ""  # "Fortunately, I stil…" + Read more
    github = parse_feed((shared / "fixtures/feeds/wordpress-github-blog-atom.xml").read_bytes(), "https://github.blog/")
    assert full_text(github.entries[0]) == ""  # content "Content": a placeholder shorter than the summary
    ghost = parse_feed((shared / "fixtures/feeds/ghost-cloudflare-blog-rss2.xml").read_bytes(), "https://blog.cloudflare.com/")
    cloudflare = full_text(ghost.entries[0])  # Ghost puts the whole post in content:encoded
    assert cloudflare.startswith("Today we’re announcing a public demo and an open-sourced Go implementation of a "
                                 "next-generation, privacy-preserving")
    assert cloudflare.endswith("For those interested in joining our team, please visit our Careers Page.")


def test_config_needs_a_url_and_a_sane_max_pages():
    base = {"name": "blogs", "spider": "feeds"}
    with pytest.raises(ConfigError, match=r"sources\[0\] \(blogs\).*give at least one of feed_urls, sitemap_urls or page_urls"):
        parse_config({"sources": [base]})
    with pytest.raises(ConfigError, match=r"max_pages must be >= 1, got 0"):
        parse_config({"sources": [{**base, "feed_urls": ["https://b.example/feed"], "max_pages": 0}]})
    with pytest.raises(ConfigError, match=r"feed_urls\[0\] must be an http\(s\) URL"):
        parse_config({"sources": [{**base, "feed_urls": ["file:///etc/passwd"]}]})
    with pytest.raises(ConfigError, match=r"unknown option for the feeds spider"):
        parse_config({"sources": [{**base, "feed_urls": ["https://b.example/feed"], "max_topics": 3}]})
    cfg = parse_config({"sources": [{**base, "sitemap_urls": ["https://b.example/sitemap.xml"], "max_pages": 20}]})
    assert cfg.sources[0].options == {"sitemap_urls": ["https://b.example/sitemap.xml"], "max_pages": 20}
