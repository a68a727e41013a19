"""crawler.extract.extract_page on real recorded pages (../shared/fixtures/html, read in place):
main text and metadata of Jekyll, Hugo, Ghost and WordPress posts, pages whose charset is
missing, wrong or lying, a gzip-compressed page, and the errors it raises on non-pages."""
from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest

from crawler.extract import ExtractionError, extract_page

UTC = timezone.utc


def page(shared, name: str, url: str = "https://example.org/post"):
    return extract_page((shared / "fixtures/html" / name).read_bytes(), url)


def assert_clean(text: str) -> None:
    assert text and text == text.strip()
    m = re.search(r"</?(?:p|div|span|a|img|script|style|br|li|ul|source|picture|figure)\b[^>]*>|&nbsp;|\n\n\n|\ufffd",
                  text)
    assert m is None, text[max(0, m.start() - 80): m.end() + 80]


@pytest.mark.parametrize("name, title, author, published, canonical, starts", [
    ("jekyll-pythonspeed-post.html", "Faster Docker builds with pipenv, poetry, or pip-tools", "Itamar Turner-Trauring",
     datetime(2019, 6, 17, tzinfo=UTC), "https://pythonspeed.com/articles/pipenv-docker/",
     "Docker builds can be slow, and waiting for a build to finish is probably not how you want to spend your time."),
    ("hugo-pluralsight-techblog-post.html", "Managing Python Environments", "John Walk", datetime(2020, 1, 10, tzinfo=UTC),
     "https://www.pluralsight.com/tech-blog/managing-python-environments/",
     "Python is, in general, an exceptionally flexible programming language"),
    ("ghost-3.99-publikum-post.html", "Japan und die HPV-Impfungen", "Der Spendenteddy",
     datetime(2023, 7, 30, 16, 55, 45, tzinfo=UTC), "https://publikum.net/japan-und-die-hpv-impfungen/",
     "Die unglaubliche Geschichte eines Verbotes, das es nie gab"),
    ("wordpress-pluralistic-post.html", "Pluralistic: You were promised a jetpack by liars (17 May 2024)", "Cory Doctorow",
     datetime(2024, 5, 17, 14, 44, 6, tzinfo=UTC), "https://pluralistic.net/2024/05/17/fake-it-until-you-dont-make-it/",
     "Today's links\n\n- You were promised a jetpack by liars: AIs and self-driving cars are the new jetpacks."),
])
def test_blog_platforms(shared, name, title, author, published, canonical, starts):
    p = page(shared, name)
    assert (p.title, p.author, p.published_at, p.canonical_url) == (title, author, published, canonical)
    assert p.doc_url == canonical
    assert p.text.startswith(starts)
    assert_clean(p.text)
    assert len(p.text) > 1500


def test_charsets_missing_wrong_or_lying(shared):
    latin = page(shared, "charset-windows-1252-auto-presse.html")
    assert (latin.title, latin.encoding) == ("Japanisches Mini-SUV auf dem Vormarsch", "cp1252")
    assert "gegenüber dem Yaris mehr Bodenfreiheit und eine erhöhte Sitzposition" in latin.text
    assert_clean(latin.text)

    late = page(shared, "charset-late-meta-latin1-nmb-media.html")
    assert late.encoding == "cp1252" and "sämtliche Dateien" in late.text

    sjis = page(shared, "charset-mismatch-itmedia-shift_jis-declared.html")
    assert sjis.encoding == "cp932" and sjis.language == "ja"
    assert sjis.title.startswith("Intel NUCで最新SSDを比較してみた")
    assert "NVMe SSDのハイパフォーマンスモデルをテストしてみました" in sjis.text

    broken = page(shared, "charset-declared-utf8-but-invalid.html")
    assert broken.encoding == "utf-8" and "invalid UTF-8 byte" in broken.encoding_note
    assert broken.text.startswith("So schön winterlich ist es wie schon lange nicht mehr.")
    assert_clean(broken.text)


def test_gzip_bytes_and_str_input(shared):
    gz = page(shared, "wordpress-givewell-open-thread-comments.html.gz")
    assert (gz.title, gz.published_at) == ("September 2018 open thread", datetime(2018, 9, 10, 21, 25, 36, tzinfo=UTC))
    assert gz.text.startswith("Our goal with hosting quarterly open threads is to give blog readers an opportunity")

    raw = (shared / "fixtures/html/jekyll-pythonspeed-post.html").read_bytes()
    as_str = extract_page(raw.decode("utf-8"), "https://example.org/post")
    as_bytes = extract_page(raw, "https://example.org/post")
    assert (as_str.title, as_str.text, as_str.published_at) == (as_bytes.title, as_bytes.text, as_bytes.published_at)


def test_truncated_page_gives_best_effort_text(shared):
    raw = (shared / "fixtures/html/jekyll-pythonspeed-post.html").read_bytes()
    cut = extract_page(raw[: len(raw) // 2], "https://example.org/post")
    assert cut.title == "Faster Docker builds with pipenv, poetry, or pip-tools"
    assert cut.text.startswith("Docker builds can be slow")


@pytest.mark.parametrize("body, message", [
    (b"", "empty page"),
    (b"   \n ", "empty page"),
    (bytes(range(256)) * 20, "binary data"),
])
def test_not_a_page(body, message):
    with pytest.raises(ExtractionError, match=message):
        extract_page(body, "https://example.org/x")
