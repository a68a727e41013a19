"""`debatelake demo`: serve the bundled site, crawl it with the real spiders, process, summarise.

Everything runs against 127.0.0.1: the site (pipeline.demo.site) imitates a blog with feeds, the
HN Algolia API, Reddit's JSON and a Discourse forum, and the four sources of the config written
to <root>/demo/debatelake-demo.toml point at it.
"""
from __future__ import annotations

import importlib
import inspect
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from rich.console import Console
from rich.table import Table

from pipeline.crawling import run_crawl
from pipeline.store import Store, StoreError

from .site import DemoContent, DemoSite

CONFIG_NAME = "debatelake-demo.toml"
SOURCES = ("demo-blog", "demo-hn", "demo-reddit", "demo-discourse")


def config_path(root: str) -> Path:
    return Path(root) / "demo" / CONFIG_NAME


def _toml_list(values: list[str]) -> str:
    return "[" + ", ".join(f'"{v}"' for v in values) + "]"


def demo_config(site: DemoSite) -> str:
    """The demo's config: the four spiders pointed at the local site, politeness delays off
    (it is our own server), small pages so that every kind of pagination is exercised."""
    base = site.base_url
    subreddits = sorted({t.community for t in site.content.by_platform.get("reddit", [])})
    return f"""# Written by `debatelake demo`: the bundled offline site at {base}.
# Crawl it again with: debatelake crawl --config {CONFIG_NAME} (while `debatelake demo` serves it).

[crawl]
contact = "mailto:demo@localhost"
obey_robots = true
autothrottle = false      # our own server on 127.0.0.1: no need to be gentle
download_delay = 0.0
concurrency_per_domain = 8
concurrency = 16
timeout = 20.0
retries = 1
flush_items = 100

[[sources]]
name = "demo-blog"
spider = "feeds"
feed_urls = {_toml_list([f"{base}/feed.xml", f"{base}/atom.xml", f"{base}/feed.json"])}
sitemap_urls = {_toml_list([f"{base}/sitemap.xml"])}
max_pages = 1000

[[sources]]
name = "demo-hn"
spider = "hackernews"
base_url = "{site.hn_api_url}"
endpoint = "search_by_date"
tags = "story"
since = "2024-01-01"
hits_per_page = 10
max_pages = 50
comments = true

[[sources]]
name = "demo-reddit"
spider = "reddit"
base_url = "{site.reddit_url}"
subreddits = {_toml_list(subreddits)}
listing = "new"
limit = 5
max_pages = 50
comments = true
expand_more = true

[[sources]]
name = "demo-discourse"
spider = "discourse"
base_url = "{site.discourse_url}"
max_pages = 50
max_topics = 1000
"""


def previous_port(root: str) -> int | None:
    """The port of the last demo run under this root: reusing it keeps blog URLs (and so the
    blog's doc_ids) the same, so a second run finds nothing new."""
    path = config_path(root)
    if not path.is_file():
        return None
    try:
        data = tomllib.loads(path.read_text("utf-8"))
        for src in data.get("sources", []):
            for key, value in src.items():
                if key.endswith("url") and isinstance(value, str):
                    return urlsplit(value).port
    except (tomllib.TOMLDecodeError, ValueError, OSError):
        return None
    return None


@dataclass
class DemoResult:
    root: str
    config: str
    base_url: str
    run_ids: list[str]
    documents_version_before: int | None
    documents_version_after: int | None
    processed: bool
    notes: list[str] = field(default_factory=list)

    @property
    def found_new(self) -> bool:
        return self.documents_version_after != self.documents_version_before


def _train_if_missing(root: str, console: Console) -> None:
    """Train the bundled label models under `root` when it has no usable model (none yet, or one
    written by older code), so that the demo ends with labelled data."""
    from pipeline.nlp.model import Labeler, ModelMissing

    try:
        Labeler.load(root)
        return
    except ModelMissing:
        pass
    from pipeline.nlp.train import train

    with console.status("training the label models on the bundled training set (once per data root) ...") as st:
        result = train(root, progress=lambda msg: st.update(f"training: {msg}"))
    console.print(f"trained label model {result.version}", highlight=False)


def _process(root: str, config: str, console: Console, train_model: bool = True) -> tuple[bool, str | None]:
    """Run pipeline.nlp.process.process(root) if that step exists in this build; it labels only
    what has no labels yet, so a second demo run processes nothing."""
    try:
        module = importlib.import_module("pipeline.nlp.process")
    except ModuleNotFoundError as exc:
        if exc.name in ("pipeline.nlp", "pipeline.nlp.process"):
            return False, "processing skipped: pipeline.nlp.process is not part of this build yet"
        raise
    fn = getattr(module, "process", None)
    if not callable(fn):
        return False, "processing skipped: pipeline.nlp.process has no process() function"
    if train_model:
        _train_if_missing(root, console)
    params = inspect.signature(fn).parameters
    kwargs: dict[str, Any] = {}
    if "config" in params:
        kwargs["config"] = config
    if "console" in params:
        kwargs["console"] = console
    try:
        with console.status("processing: cleaning, language, passages, labels ..."):
            report = fn(root, **kwargs)
    except Exception as exc:  # a missing trained model is a note for the demo, not a failure
        if type(exc).__name__ != "ModelMissing":
            raise
        return False, f"processing skipped: {exc}"
    if report is not None and hasattr(report, "processed"):
        console.print(f"processed {report.processed} documents with model {getattr(report, 'model_version', '?')}: "
                      f"{getattr(report, 'passages_written', 0)} passages, "
                      f"{getattr(report, 'annotations_written', 0)} annotation rows", highlight=False)
    return True, None


def start_site(root: str, port: int | None, content: DemoContent | None = None) -> DemoSite:
    chosen = port if port is not None else previous_port(root)
    try:
        return DemoSite(content, port=chosen or 0).start()
    except OSError as exc:
        if port is None and chosen:
            raise StoreError(
                f"port {chosen} is busy: the last demo under {root} served its site there, and reusing it keeps "
                f"the blog's URLs (and document ids) the same. Free the port, or pass --port N "
                f"(blog posts would then be stored again under new URLs)") from exc
        raise StoreError(f"cannot serve the demo site on 127.0.0.1:{chosen}: {exc}") from exc


def run_demo(root: str, port: int | None = None, console: Console | None = None,
             content: DemoContent | None = None, train_model: bool = True) -> DemoResult:
    """Serve the site, crawl the four demo sources into `root`, run processing if it exists."""
    console = console or Console(stderr=True)
    store = Store(root)
    before = store.version("documents")
    site = start_site(store.root, port, content)
    try:
        path = config_path(store.root)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(demo_config(site), "utf-8")
        console.print(f"demo site serving at [bold]{site.base_url}[/]  (config: {path})", highlight=False)
        run_ids = run_crawl(store.root, list(SOURCES), config=str(path), console=console)
    finally:
        site.stop()
    after = store.version("documents")
    processed, note = _process(store.root, str(path), console, train_model)
    notes = [note] if note else []
    return DemoResult(store.root, str(path), site.base_url, run_ids, before, after, processed, notes)


def summary_tables(store: Store) -> list[Table]:
    """What the data root holds: documents per platform and kind, then every table's version."""
    tables: list[Table] = []
    if store.exists("documents"):
        df = store.read("documents", columns=["platform", "kind", "thread_id", "deleted", "published_at"]).to_pandas()
        t = Table("platform", "kind", "documents", "deleted", "threads", "from", "to",
                  title="documents", title_justify="left")
        for (platform, kind), g in df.groupby(["platform", "kind"], sort=True):
            dates = g["published_at"].dropna()
            t.add_row(platform, kind, str(len(g)), str(int(g["deleted"].fillna(False).sum())),
                      str(g["thread_id"].nunique()),
                      f"{dates.min():%Y-%m}" if len(dates) else "", f"{dates.max():%Y-%m}" if len(dates) else "")
        dates = df["published_at"].dropna()
        t.add_section()
        t.add_row("all", "", str(len(df)), str(int(df["deleted"].fillna(False).sum())),
                  str(df["thread_id"].nunique()),
                  f"{dates.min():%Y-%m}" if len(dates) else "", f"{dates.max():%Y-%m}" if len(dates) else "",
                  style="bold")
        tables.append(t)
    labels = _label_table(store)
    if labels is not None:
        tables.append(labels)
    v = Table("table", "version", "rows", title="tables", title_justify="left")
    for name in store.tables():
        v.add_row(name, str(store.version(name)), str(store.count(name)))
    tables.append(v)
    return tables


def _label_table(store: Store) -> Table | None:
    """Document labels of the current model: how many documents take each stance on each axis."""
    if not store.exists("annotations"):
        return None
    import pyarrow.compute as pc

    from pipeline.snapshots import current_model_version

    version = current_model_version(store)
    if version is None:
        return None
    rows = store.read("annotations", columns=["release", "moderation", "reason"],
                      filter=(pc.field("level") == "document") & (pc.field("model_version") == version)).to_pylist()
    labelled = [r for r in rows if not r["reason"]]
    if not labelled:
        return None
    t = Table("axis", "open / filter", "closed / no_filter", "mixed", "neutral", "none",
              title=f"document labels (model {version}, {len(labelled)} documents)", title_justify="left")
    for axis, sides in (("release", ("open", "closed")), ("moderation", ("filter", "no_filter"))):
        counts = Counter(r[axis] for r in labelled)
        t.add_row(axis, *(str(counts.get(k, 0)) for k in (*sides, "mixed", "neutral", "none")))
    return t


def print_summary(result: DemoResult, console: Console) -> None:
    store = Store(result.root)
    for note in result.notes:
        console.print(f"[yellow]{note}[/]", highlight=False)
    for table in summary_tables(store):
        console.print(table)
    if not result.found_new:
        console.print(f"Nothing new: the site has not changed since the last demo run, so documents stays at "
                      f"version {result.documents_version_after}.", highlight=False)
    else:
        console.print(f"documents is now at version {result.documents_version_after}"
                      f" (was {result.documents_version_before if result.documents_version_before is not None else 'absent'}).",
                      highlight=False)
    console.print("Load it in Python:", highlight=False)
    console.print(f'  from pipeline import load; docs = load("documents", root="{result.root}")',
                  highlight=False, markup=False, soft_wrap=True)
