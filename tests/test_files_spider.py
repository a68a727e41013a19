"""The files spider, crawling local archives for real (pipeline.crawling.run_crawl, one child
process per crawl, Delta tables in tmp_path).

Real documents: the five seeds in ../shared/seeds (read in place) and the recorded WARC files in
../shared/fixtures/warc. Project-written files in tmp_path: Markdown with YAML and TOML front
matter and pandoc syntax, Latin-1 and Shift-JIS text, an HTML page, WARC files written with
warcio (one cut off mid-record), and every kind of bad input."""
from __future__ import annotations

import io
import os
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from pipeline.schema import make_doc_id
from pipeline.store import Store
from support_fixtures import crawl

UTC = timezone.utc
SEEDS = ["000_991ebcbbdbecf664.txt", "001_25e8c4bdb8a928d7.txt", "002_df333dfde9d8a226.txt",
         "003_272f360a45cc9bc9.txt", "004_8e19a7b6ab25593d.txt"]


def file_id(path: Path) -> str:
    return make_doc_id("files", url=path.resolve().as_uri())


def url_id(url: str) -> str:
    return make_doc_id("files", url=url)


# ---------------------------------------------------------------------------- shared data
@pytest.fixture(scope="module")
def shared_crawl(shared, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("files-shared")
    sources = [
        {"name": "seeds", "spider": "files", "paths": [str(shared / "seeds")]},
        {"name": "warcs", "spider": "files", "paths": [str(shared / "fixtures/warc/*.warc*")]},
    ]
    first = crawl(tmp, sources)
    version = Store(str(first.root)).version("documents")
    again = crawl(tmp, sources, root=first.root)
    return shared, first, version, again


def seed_docs(shared_crawl) -> dict[str, dict]:
    shared, first, _, _ = shared_crawl
    docs = first.docs("seeds")
    return {name: docs[file_id(shared / "seeds" / name)] for name in SEEDS}


def test_seed_folder_gives_the_five_documents(shared_crawl):
    shared, first, _, _ = shared_crawl
    docs = first.docs("seeds")
    # README.md describes the folder: a folder's notes are not documents
    assert sorted(docs) == sorted(file_id(shared / "seeds" / name) for name in SEEDS)
    run = first.runs()["seeds"]
    assert (run["status"], run["errors"], run["docs_new"], run["requests"]) == ("finished", 0, 5, 0)
    for name, d in seed_docs(shared_crawl).items():
        assert (d["platform"], d["kind"], d["depth"], d["deleted"]) == ("files", "post", 0, False)
        assert d["url"] == (shared / "seeds" / name).resolve().as_uri()
        assert d["thread_id"] == d["doc_id"]
        assert d["raw"]["path"] == str((shared / "seeds" / name).resolve())


def test_seed_titles_dates_and_authors(shared_crawl):
    s = seed_docs(shared_crawl)
    got = {k: (d["title"], d["published_at"], d["author"]) for k, d in s.items()}
    assert got == {
        SEEDS[0]: ("LLMs are computing platforms", datetime(2023, 10, 6, tzinfo=UTC), None),
        SEEDS[1]: ("Scattered Thoughts on LLM Technology", None, None),
        SEEDS[2]: ("LLMs as computation", None, "Sebastian Benthall"),
        SEEDS[3]: ("Open, general-purpose LLM companies might not be viable", datetime(2023, 10, 4, tzinfo=UTC), None),
        # Jekyll's "2023-09-17 02:52:17 -0700"
        SEEDS[4]: ("Thoughts on LLMs, foundation models, and the future", datetime(2023, 9, 17, 9, 52, 17, tzinfo=UTC), None),
    }
    assert s[SEEDS[0]]["raw"]["fm_subtitle"] == (
        "This fact is why so many debates around LLMs feel broken, especially moderation.")
    assert s[SEEDS[0]]["raw"]["format"] == "markdown" and s[SEEDS[4]]["raw"]["format"] == "markdown"
    assert s[SEEDS[3]]["raw"]["format"] == "text+html"
    assert s[SEEDS[1]]["raw"]["format"] == s[SEEDS[2]]["raw"]["format"] == "text"


JUNK = [
    (re.compile(r"</?[A-Za-z][^>]*>"), "an HTML tag"),
    (re.compile(r"srcset|substackcdn|\.png|\.jpe?g|https?://"), "image or link junk"),
    (re.compile(r"!\[|\]\(|\]\{"), "Markdown link syntax"),
    (re.compile(r"\{[#.][\w-]|\w+=\"[^\"]*\"\}|:::"), "pandoc attribute syntax"),
    (re.compile(r"\\[\"'\-*_\[\]]"), "an escaped character"),
    (re.compile(r"&(?:nbsp|amp|quot|#\d+);"), "an HTML entity"),
    (re.compile(r"\*\*|^#+ ", re.M), "Markdown emphasis or heading marks"),
    (re.compile(r"\n\n\n|[ \t]\n|\n[ \t]+\S(?!.*=)"), "stray whitespace"),
]


def test_seed_texts_are_clean(shared_crawl):
    for name, d in seed_docs(shared_crawl).items():
        text = d["text"]
        # Jekyll code blocks keep their indentation and their literal backslashes
        if name == SEEDS[4]:
            text = re.sub(r"(?s)=============Base Language Model.*?Distributed Agent Interactions=============",
                          "CODE", text, count=1)
            text = re.sub(r"(?s)Framework = Type II Reasoning framework.*?tool use result\]\n}", "CODE", text, count=1)
            assert text.count("CODE") == 2
        for pattern, what in JUNK:
            m = pattern.search(text)
            assert m is None, f"{name}: {what}: {text[max(0, m.start() - 60): m.end() + 60]!r}"
        assert d["text"] == d["text"].strip() and len(d["text"]) > 3000


def test_substack_markdown_export(shared_crawl):
    text = seed_docs(shared_crawl)[SEEDS[0]]["text"]
    paras = text.split("\n\n")
    assert paras[0] == ("This week on The Retort (our best episode yet), Tom and I got deep into the debate around if "
                        "LLMs should be developed in the open, covering loads of topics and torpedoing the notion of "
                        "\"Democratic AI\".")
    assert paras[1].startswith("To start, let's visit this Tweet from Karpathy that made this idea finally click.")
    # the footnote anchor is gone, its note is kept at the end
    assert "effectively communicate with humans.\n\nThis last week we had Reka AI" in text
    assert paras[-1] == "For more on VR/ AR, you need to read Ben Thompson's work here."
    assert "In what ways do they aggregate demand -- i.e. how does using the same base model" in text
    assert "\n\nShould LLMs have safety filters?\n\n" in text
    assert ("- The strongest base LLMs are provided via API only, as they need to be unfiltered but we may not be "
            "able to release them safely, and\n- Chat LLMs are released in their raw-weight form with moderately "
            "heavy filters.") in text
    assert "\n\nI am suggesting safety work should happen in the context of the application" in text
    assert "Screenshot" not in text and "ideogram" not in text  # image alt texts
    assert len(paras) == 34


def test_plain_text_seeds(shared_crawl, shared):
    s = seed_docs(shared_crawl)
    t1 = s[SEEDS[1]]["text"]
    assert t1.startswith("In a sense, this is maybe part of the blog post I promised back in January 2023")
    assert t1.endswith("For more, be sure to also read Campos' What if Bill Gates is right about AI.")
    assert "\n\n1. On the energy consumption case, I have to remind myself" in t1
    assert "using less compute.\n\nThis is a contrast to blockchain" in t1  # indented continuation, own paragraph
    assert "\n\n6. I worry so much about bandwagoning" in t1
    assert len(t1.split("\n\n")) == 10

    t2 = s[SEEDS[2]]["text"]
    source_lines = (shared / "seeds" / SEEDS[2]).read_text("utf-8").strip().split("\n")
    assert t2.startswith("LLMs are now”doing” a lot of technical system design")  # byline is not text
    assert "Sebastian Benthall" not in t2
    # one paragraph per source line, the three list items together
    assert "\n- Context: allow multiple string inputs\n- Fine-tuning:" in t2
    assert len(t2.split("\n\n")) == len(source_lines) - 2 - 2
    assert t2.endswith("We must take into account production costs and data pipelines.")


def test_newsletter_page_with_html_body(shared_crawl):
    d = seed_docs(shared_crawl)[SEEDS[3]]
    text = d["text"]
    assert text.startswith("There are tons of companies playing in the open-source LLM space these days — they’re on "
                           "the clock.")
    assert "The most recent company to make the transition from funding to artifact is Mistral AI; they released" in text
    # subscribe widget, comment button, embedded post card and the image expanders are gone
    for junk in ("reader-supported publication", "Leave a comment", "Challenges operationalizing responsible AI",
                 "Subscribe", "Share", "TIER 4", "Interconnects · Tech"):
        assert junk not in text, junk
    assert "trained on data including some of 2023. This means they didn't just download The Pile" in text
    assert "\n\nShort term: torrents, froth, experimentation\n\n" in text
    assert text.endswith("Meta is borderline. Meta stands to make more from using this in their products than it does "
                         "from licensing it.\n\nI couldn’t find the Tweets with screenshots of models answering recent "
                         "questions!")
    assert d["raw"]["header"].startswith("Personal Learnings← Interconnects")


def test_jekyll_post_keeps_code_blocks(shared_crawl):
    text = seed_docs(shared_crawl)[SEEDS[4]]["text"]
    assert text.startswith("1: Where we are at now for generative language models?\n\nCurrently what works best is a "
                           "transformer backed foundation model, instruction tuned, and RLHF'd to mask its undesirable "
                           "behaviors.")
    assert ("=============Base Language Model=============\nFoundation Model\n\nInstruction Tuning\n\nRLHF\n"
            "=============\\Base Language Model=============") in text
    assert "loop {\n    prompt LLM with next_prompt\n\n    LLM creates tree of thoughts" in text
    assert "They are cool for these reasons:\n\n1. Emergent properties\n2. Use of tools\n3. RLHF can shape" in text
    assert "\n\n\"Oh, but these language models are so bad at math.\"\n\n" in text
    assert "and allows the Type II Reasoning systems to be built." in text
    assert text.endswith("Beyond that, I get the feeling we are making humanity's successor.")


def test_recorded_warc_files(shared_crawl):
    shared, first, _, _ = shared_crawl
    docs = first.docs("warcs")
    # dolma: 22 HTML responses; example.warc and example.warc.gz hold the same capture (kept once,
    # its revisit record skipped); iana: one chunked response; post-request: JSON only
    assert len(docs) == 22 + 1 + 1
    run = first.runs()["warcs"]
    assert (run["status"], run["errors"], run["docs_new"]) == ("finished", 0, 24)

    ex = docs[url_id("http://example.com/")]
    assert (ex["title"], ex["url"], ex["published_at"]) == ("Example Domain", "http://example.com/", None)
    assert ex["text"].startswith("This domain is established to be used for illustrative examples in documents.")
    assert ex["fetched_at"] == datetime(2017, 3, 6, 4, 2, 6, tzinfo=UTC)  # the capture's WARC-Date
    assert ex["raw"]["path"] == str((shared / "fixtures/warc/warcio-example.warc").resolve())

    iana = docs[url_id("http://www.iana.org/")]
    assert iana["title"] == "Internet Assigned Numbers Authority"
    assert iana["text"].startswith("Domain Names\n\nManagement of the DNS Root Zone (assignments of ccTLDs and gTLDs)")
    assert not re.search(r"(?m)^[0-9a-f]{2,5}$", iana["text"])  # chunk sizes decoded away

    # wget wraps WARC-Target-URI in <...>: the URL has no brackets
    post = docs[url_id("https://maria-antoniak.github.io/2023/07/04/notes-on-mastodon.html")]
    assert post["url"] == "https://maria-antoniak.github.io/2023/07/04/notes-on-mastodon.html"
    assert post["published_at"] == datetime(2023, 7, 4, tzinfo=UTC)
    assert post["author"] == "Maria Antoniak"
    assert post["text"].startswith("This is a list of things I think are important to understand if you’re new to "
                                   "Mastodon.")
    assert post["fetched_at"] == datetime(2024, 4, 25, 16, 24, 45, tzinfo=UTC)
    assert {d["url"] for d in docs.values() if "semanticscholar" in d["url"]} == {
        "https://www.semanticscholar.org/research/research-team"}
    for d in docs.values():
        assert d["title"] and d["text"] and "<" not in d["url"]
        assert not re.search(r"</?(?:div|p|a|span|script)\b", d["text"])


def test_recrawling_unchanged_files_writes_nothing(shared_crawl):
    shared, first, version, again = shared_crawl
    assert Store(str(first.root)).version("documents") == version
    runs = again.runs()
    assert {k: (r["status"], r["docs_new"], r["docs_updated"], r["docs_unchanged"], r["errors"])
            for k, r in runs.items()} == {"seeds": ("finished", 0, 0, 5, 0), "warcs": ("finished", 0, 0, 24, 0)}
    assert len(again.docs()) == 29


# ---------------------------------------------------------------------------- project-written files
YAML_MD = """---
title: "Open weights: a \\"dangerous\\" idea?"
date: 2024-02-01T09:15:00-05:00
author: Sam Okafor
tags: [open_release, moderation]
lang: en-GB
---
Labs argue that releasing weights is risky, but let\\'s look at the record.[^1]

::: {.callout .note}
Researchers can only audit what they can [run themselves]{.underline}.
:::

![a chart](img/chart.png){width=80%}

See [the model card](https://example.org/card){#card .external target="_blank"} \\-- it is short.[1](#footnote-1){#footnote-anchor-1 .footnote-anchor}

```python
config = {"safety_filter": False}  # {.not-an-attribute}
print("::: stays in code")
```

[^1]: A footnote about the record.
"""

TOML_MD = """+++
title = "Filters are a product decision"
date = 2023-11-20T18:00:00+01:00
authors = ["Ana Lima", "Ben Cho"]
draft = false
+++

Deployers, not model makers, should decide **how strict** a filter is.

- Chat apps for children need strict filters.
- Research APIs need almost none.
"""

HTML_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Why open weights matter | Example Notes</title>
<meta property="og:site_name" content="Example Notes">
<meta property="article:published_time" content="2024-04-02T08:30:00+02:00">
<meta name="author" content="Rin Tanaka">
<link rel="canonical" href="https://notes.example.org/open-weights">
</head><body><nav><a href="/">Home</a> <a href="/about">About</a></nav>
<article><h1>Why open weights matter</h1>
<p>Open weights let independent researchers reproduce safety evaluations instead of trusting a vendor's
summary of them. That matters more than any single benchmark number.</p>
<p>Critics answer that released weights cannot be recalled, and that fine-tuning removes any refusal
training within hours. Both sides agree that the decision is hard to undo.</p>
<div class="subscription-widget"><p>Subscribe to get new posts by email</p><button>Subscribe</button></div>
<p>A middle path is staged release: first to vetted researchers, then to everyone.</p>
</article><footer>Copyright 2024 Example Notes</footer></body></html>
"""

LATIN1 = ("Modèles ouverts et sécurité\n\n"
          "Les défenseurs des modèles ouverts répondent que la sécurité passe par l'audit public.\n"
          "Une seconde ligne du même paragraphe.\n\n"
          "Fin du texte, à suivre.\n")
SJIS = ("オープンモデルと安全性\n\n"
        "大規模言語モデルの重みを公開するべきかどうかについて、研究者の間で議論が続いている。"
        "安全性フィルターは簡単に外せるという指摘もあるが、公開によって検証が進むという意見も多い。\n")


def warc_page(title: str, para: str) -> bytes:
    return (f"<html><head><title>{title}</title></head><body><article><h1>{title}</h1>"
            f"<p>{para}</p><p>{para} This second paragraph repeats the point for the extractor's sake.</p>"
            f"</article></body></html>").encode("utf-8")


def write_warc(path: Path, host: str, gzip: bool, cut_last: bool = False) -> None:
    """Responses: three HTML pages, an image and a 404 page (and a request record)."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=gzip)

    def response(url: str, status: str, ctype: str, body: bytes, date: str) -> None:
        http = StatusAndHeaders(status, [("Content-Type", ctype)], protocol="HTTP/1.1")
        rec = writer.create_warc_record(url, "response", payload=io.BytesIO(body), http_headers=http,
                                        warc_headers_dict={"WARC-Date": date})
        writer.write_record(rec)

    response(f"http://{host}/post-1", "200 OK", "text/html; charset=utf-8",
             warc_page("Release notes one", "Open release lets anyone study the model closely."), "2024-05-01T10:00:00Z")
    req = writer.create_warc_record(f"http://{host}/post-1", "request", payload=io.BytesIO(b"GET /post-1 HTTP/1.1\r\n\r\n"))
    writer.write_record(req)
    response(f"http://{host}/logo.png", "200 OK", "image/png", b"\x89PNG\r\n\x1a\n" + bytes(200), "2024-05-01T10:00:01Z")
    response(f"http://{host}/gone", "404 Not Found", "text/html", b"<html><body><p>Not here</p></body></html>",
             "2024-05-01T10:00:02Z")
    response(f"http://{host}/post-2", "200 OK", "text/html; charset=utf-8",
             warc_page("Release notes two", "Safety filters belong in the application, not the weights."),
             "2024-05-01T10:00:03Z")
    before_last = buf.tell()
    response(f"http://{host}/post-3", "200 OK", "text/html; charset=utf-8",
             warc_page("Release notes three", "Moderation debates follow every new open model."), "2024-05-01T10:00:04Z")
    data = buf.getvalue()
    if cut_last:
        data = data[: before_last + (len(data) - before_last) * 2 // 3]
    path.write_bytes(data)


@pytest.fixture(scope="module")
def local_crawl(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("files-local")
    d = tmp / "archive"
    (d / "posts").mkdir(parents=True)
    (d / "posts" / "2024-02-01-open-weights.md").write_text(YAML_MD, "utf-8")
    (d / "posts" / "hugo-post.md").write_text(TOML_MD, "utf-8")
    (d / "posts" / "no-front-matter.markdown").write_text("# Refusals, measured\n\nWe counted *refusals* per 100 "
                                                          "prompts.\n", "utf-8")
    (d / "latin1-notes.txt").write_bytes(LATIN1.encode("latin-1"))
    (d / "sjis-notes.txt").write_bytes(SJIS.encode("shift_jis"))
    (d / "article.html").write_text(HTML_PAGE, "utf-8")
    write_warc(d / "mirror.warc", "mirror.example.org", gzip=False)
    write_warc(d / "archive-cut.warc.gz", "cut.example.org", gzip=True, cut_last=True)
    # skipped without a word: the folder's README, hidden files, unknown kinds
    (d / "README.md").write_text("# About this folder\n\nNotes for whoever keeps it.\n", "utf-8")
    (d / ".draft.md").write_text("---\ntitle: hidden\n---\nnot yet\n", "utf-8")
    (d / "chart.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    # bad input, one error each
    (d / "garbage.txt").write_bytes(bytes((i * 7919 + 13) % 256 for i in range(4000)))
    (d / "posts" / "broken-yaml.md").write_text('---\ntitle: "never closed\ndate: 2024-01-01\n---\nBody.\n', "utf-8")
    (d / "posts" / "broken-toml.md").write_text('+++\ntitle = "x\n+++\nBody.\n', "utf-8")
    (d / "posts" / "unclosed.md").write_text("---\ntitle: no end\nBody without a closing fence.\n", "utf-8")
    (d / "empty.txt").write_bytes(b"")
    (d / "not-an-archive.warc").write_bytes(b"hello, this is not an archive\n" * 20)
    paths = [str(d), str(d / "posts" / "hugo-post.md"), str(tmp / "nowhere" / "missing.md"), str(tmp / "*.nomatch")]
    source = [{"name": "local", "spider": "files", "paths": paths}]
    first = crawl(tmp, source)
    first.stored = first.docs("local")  # as the first crawl left them
    version = Store(str(first.root)).version("documents")
    # one file edited, everything else as it was
    (d / "posts" / "hugo-post.md").write_text(TOML_MD.replace("almost none", "none at all"), "utf-8")
    again = crawl(tmp, source, root=first.root)
    return d, tmp, first, version, again


BAD = {
    "missing.md": "no such file or folder",
    "*.nomatch": "the pattern matches no files",
    "garbage.txt": "binary data, not a text document; skipped",
    "broken-yaml.md": "broken YAML front matter at line 3",
    "broken-toml.md": "broken TOML front matter",
    "unclosed.md": "YAML front matter opened by '---' is never closed; skipped",
    "empty.txt": "the file is empty; skipped",
    "archive-cut.warc.gz": "damaged WARC after 2 good record(s): the archive is cut off inside the response record "
                           "of http://cut.example.org/post-3; skipped",
    "not-an-archive.warc": "not a WARC or ARC file (it starts with b'hello, this is not an ar'); skipped",
}


def test_local_documents(local_crawl):
    d, tmp, first, _, _ = local_crawl
    docs = first.stored
    files = {
        d / "posts/2024-02-01-open-weights.md", d / "posts/hugo-post.md", d / "posts/no-front-matter.markdown",
        d / "latin1-notes.txt", d / "sjis-notes.txt", d / "article.html",
    }
    urls = {f"http://mirror.example.org/post-{i}" for i in (1, 2, 3)} | {
        "http://cut.example.org/post-1", "http://cut.example.org/post-2"}
    assert sorted(docs) == sorted([file_id(p) for p in files] + [url_id(u) for u in urls])

    md = docs[file_id(d / "posts/2024-02-01-open-weights.md")]
    assert (md["title"], md["published_at"], md["author"], md["language"]) == (
        'Open weights: a "dangerous" idea?', datetime(2024, 2, 1, 14, 15, tzinfo=UTC), "Sam Okafor", "en")
    assert md["text"] == (
        "Labs argue that releasing weights is risky, but let's look at the record.\n\n"
        "Researchers can only audit what they can run themselves.\n\n"
        "See the model card -- it is short.\n\n"
        '```\nconfig = {"safety_filter": False}  # {.not-an-attribute}\nprint("::: stays in code")\n```\n\n'
        "A footnote about the record.")
    # the document keeps the code, fenced; the labelled text leaves it out
    from pipeline.nlp.clean import clean_text
    assert "safety_filter" not in clean_text(md["text"]) and "A footnote about the record." in clean_text(md["text"])
    assert md["raw"]["fm_tags"] == "open_release; moderation"

    toml = docs[file_id(d / "posts/hugo-post.md")]  # named twice (folder and file): read once
    assert (toml["title"], toml["published_at"], toml["author"]) == (
        "Filters are a product decision", datetime(2023, 11, 20, 17, 0, tzinfo=UTC), "Ana Lima; Ben Cho")
    assert toml["text"] == ("Deployers, not model makers, should decide how strict a filter is.\n\n"
                            "- Chat apps for children need strict filters.\n- Research APIs need almost none.")

    plain_md = docs[file_id(d / "posts/no-front-matter.markdown")]
    assert (plain_md["title"], plain_md["text"]) == ("Refusals, measured", "We counted refusals per 100 prompts.")

    latin = docs[file_id(d / "latin1-notes.txt")]
    assert latin["title"] == "Modèles ouverts et sécurité"
    assert latin["text"] == ("Les défenseurs des modèles ouverts répondent que la sécurité passe par l'audit public. "
                             "Une seconde ligne du même paragraphe.\n\nFin du texte, à suivre.")
    assert latin["raw"]["encoding"] == "cp1252"
    sjis = docs[file_id(d / "sjis-notes.txt")]
    assert (sjis["title"], sjis["text"]) == ("オープンモデルと安全性", SJIS.split("\n\n")[1].strip())

    page = docs[file_id(d / "article.html")]
    assert (page["title"], page["author"], page["published_at"], page["url"]) == (
        "Why open weights matter", "Rin Tanaka", datetime(2024, 4, 2, 6, 30, tzinfo=UTC),
        "https://notes.example.org/open-weights")
    assert page["text"].startswith("Open weights let independent researchers reproduce safety evaluations")
    assert page["text"].endswith("A middle path is staged release: first to vetted researchers, then to everyone.")
    assert "Subscribe" not in page["text"] and "Home" not in page["text"] and "Copyright" not in page["text"]

    w = docs[url_id("http://mirror.example.org/post-2")]
    assert (w["title"], w["url"], w["fetched_at"]) == (
        "Release notes two", "http://mirror.example.org/post-2", datetime(2024, 5, 1, 10, 0, 3, tzinfo=UTC))
    assert w["text"].startswith("Safety filters belong in the application, not the weights.")
    assert docs[url_id("http://cut.example.org/post-2")]["title"] == "Release notes two"


def test_each_bad_input_is_one_error_naming_the_file(local_crawl):
    d, tmp, first, _, _ = local_crawl
    run = first.runs()["local"]
    assert (run["status"], run["errors"], run["docs_new"]) == ("finished", len(BAD), 11)
    for name, message in BAD.items():
        (line,) = [m for m in run["error_messages"] if name in m]
        where, _, said = line.partition(": ")
        assert where.endswith(name) and os.path.isabs(where), line
        assert said.startswith(message) or message in said, line
        assert len(first.errors_naming(name)) == 1, name
    assert not re.search(r"Traceback|Error while reading start", first.log)


def test_recrawl_writes_only_what_changed(local_crawl):
    d, tmp, first, version, again = local_crawl
    run = again.runs()["local"]
    assert (run["docs_new"], run["docs_updated"], run["docs_unchanged"], run["errors"]) == (0, 1, 10, len(BAD))
    assert Store(str(first.root)).version("documents") == version + 1  # one merge, of the one changed file
    docs = again.docs("local")
    assert len(docs) == 11
    doc = docs[file_id(d / "posts/hugo-post.md")]
    assert doc["text"].endswith("- Research APIs need none at all.")
    assert abs(doc["fetched_at"] - datetime.now(UTC)) < timedelta(minutes=5)
    assert {k: v["content_hash"] for k, v in docs.items() if k != doc["doc_id"]} == {
        k: v["content_hash"] for k, v in first.stored.items() if k != doc["doc_id"]}


def test_bad_config_names_the_key(tmp_path):
    from pipeline.config import ConfigError, parse_config

    with pytest.raises(ConfigError, match=r"paths is missing or empty"):
        parse_config({"sources": [{"name": "x", "spider": "files"}]})
    with pytest.raises(ConfigError, match=r"sources\[0\] \(x\)\.paths.*list"):
        parse_config({"sources": [{"name": "x", "spider": "files", "paths": "notes/"}]})
    with pytest.raises(ConfigError, match=r"unknown option for the files spider; it takes: paths"):
        parse_config({"sources": [{"name": "x", "spider": "files", "paths": ["a"], "path": "a"}]})
    cfg = parse_config({"sources": [{"name": "x", "spider": "files", "paths": [str(tmp_path)]}]})
    assert cfg.sources[0].options == {"paths": [str(tmp_path)]}


def test_echoed_errors_keep_their_brackets(tmp_path):
    """Error lines echoed to the terminal are text, not Rich markup: a path with [brackets] stays whole."""
    from rich.console import Console

    from pipeline.crawling import run_crawl
    from support_fixtures import write_config

    missing = tmp_path / "[draft]" / "missing.md"
    config = write_config(tmp_path / "c.toml", [{"name": "local", "spider": "files", "paths": [str(missing)]}], None)
    console = Console(record=True, width=200)
    run_crawl(str(tmp_path / "data"), [], config=str(config), console=console, log_file=tmp_path / "crawl.log")
    assert f"[files] ERROR: {missing}: the pattern matches no files" in console.export_text()
