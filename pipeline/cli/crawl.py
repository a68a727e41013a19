"""crawl, status."""
from __future__ import annotations

from typing import Annotated, List, Optional

import typer
from rich.table import Table

from pipeline.config import load_config
from pipeline.crawling import run_crawl
from pipeline.store import Store, resolve_root

from .common import ConfigOption, RootOption, UserError, app, console, err_console, friendly_errors


@app.command()
@friendly_errors
def crawl(
    sources: Annotated[Optional[List[str]], typer.Argument(help="Source names from the config (default: all enabled).")] = None,
    root: RootOption = None,
    config: ConfigOption = None,
    workers: Annotated[int, typer.Option(min=1, help="Crawler processes sharing the [crawl] frontier in Redis.")] = 1,
) -> None:
    """Crawl sources from the config into the documents table (only what is new or changed)."""
    cfg = load_config(config)  # a bad config stops here, before any request
    for name in sources or []:
        cfg.source(name)
    if workers > 1 and not cfg.crawl.frontier:
        raise UserError(f"--workers {workers} needs a crawl frontier the workers share: set "
                        f"frontier = \"redis://localhost:6379/0\" under [crawl] in the config (a running Redis "
                        f"server), or crawl with one worker")
    root = resolve_root(root or cfg.root)
    if workers > 1 and "://" in root:
        raise UserError(f"--workers {workers} needs a local data root for now (the workers take turns to commit "
                        f"with a file lock there); {root} is remote: crawl with one worker")
    if cfg.crawl.frontier:  # every worker would fail alike: say it once, before starting them
        from crawler.frontier import check_frontier

        check_frontier(cfg.crawl.frontier)
    run_ids = run_crawl(root, list(sources or []), config=cfg.path if cfg.path != "<default config>" else None,
                        console=err_console, workers=workers)
    print_runs(Store(root), run_ids)


def not_modified(run: dict) -> int:
    """Requests a site answered 304 Not Modified: pages revalidated from the HTTP cache."""
    return int(dict(run.get("responses") or {}).get("304", 0))


def print_runs(store: Store, run_ids: list[str]) -> None:
    if not run_ids or not store.exists("runs"):
        return
    import pyarrow.compute as pc

    rows = store.read("runs", filter=pc.field("run_id").isin(run_ids)).to_pylist()
    # requests (304): how many of them the site answered Not Modified, the HTTP cache's revalidations
    table = Table("source", "status", "requests (304)", "new", "updated", "unchanged", "errors", title="crawl runs")
    by_source: dict[str, list[dict]] = {}
    for r in rows:
        by_source.setdefault(str(r["source"]), []).append(r)
    for source, runs in by_source.items():
        for i, r in enumerate(runs, 1):  # several workers (crawl --workers): one row each, then their sum
            label = f"{source} (worker {i})" if len(runs) > 1 else source
            table.add_row(label, str(r["status"]), f"{r['requests']} ({not_modified(r)})", str(r["docs_new"]),
                          str(r["docs_updated"]), str(r["docs_unchanged"]), str(r["errors"]))
        if len(runs) > 1:
            total = {k: sum(int(r[k] or 0) for r in runs)
                     for k in ("requests", "docs_new", "docs_updated", "docs_unchanged", "errors")}
            statuses = sorted({str(r["status"]) for r in runs})
            table.add_row(f"{source} (all {len(runs)})", ", ".join(statuses),
                          f"{total['requests']} ({sum(not_modified(r) for r in runs)})", str(total["docs_new"]),
                          str(total["docs_updated"]), str(total["docs_unchanged"]), str(total["errors"]),
                          style="bold")
    console.print(table)


@app.command()
@friendly_errors
def status(root: RootOption = None, runs: Annotated[int, typer.Option(help="How many recent runs to show.")] = 10) -> None:
    """Tables, versions, row counts and the last runs."""
    store = Store(root)
    tables = store.tables()
    if not tables:
        console.print(f"No tables under {store.root} yet. Run `debatelake demo` or `debatelake crawl`.")
        return
    t = Table("table", "version", "rows", "last commit", title=f"debatelake data root: {store.root}")
    for name in tables:
        hist = store.history(name)[0]
        from datetime import datetime, timezone

        when = datetime.fromtimestamp(hist["timestamp"] / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        t.add_row(name, str(store.version(name)), str(store.count(name)), when)
    console.print(t)
    if "runs" in tables:
        rows = sorted(store.read("runs").to_pylist(), key=lambda r: r["started_at"], reverse=True)[:runs]
        r_t = Table("run", "source", "started", "status", "requests", "new", "updated", "unchanged", "errors",
                    title="last runs")
        for r in rows:
            r_t.add_row(r["run_id"], str(r["source"] or ""), f"{r['started_at']:%Y-%m-%d %H:%M}", str(r["status"]),
                        *(str(r[k]) if r[k] is not None else "" for k in
                          ("requests", "docs_new", "docs_updated", "docs_unchanged", "errors")))
        console.print(r_t)
