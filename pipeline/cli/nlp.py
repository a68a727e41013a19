"""process: clean, deduplicate, cut into passages, find entities and label new documents."""
from __future__ import annotations

from typing import Annotated, Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from pipeline.config import load_config
from pipeline.store import resolve_root

from .common import ConfigOption, RootOption, UserError, app, console, err_console, friendly_errors


@app.command()
@friendly_errors
def process(
    root: RootOption = None,
    config: ConfigOption = None,
    batch_size: Annotated[Optional[int], typer.Option(
        "--batch-size", help="Documents per written batch (default: the config's process.batch_size, 2000).",
        show_default=False)] = None,
    workers: Annotated[Optional[int], typer.Option(
        "--workers", help="Worker processes (default: the config's process.workers, else every core; 1: no pool).",
        show_default=False)] = None,
    limit: Annotated[Optional[int], typer.Option(
        "--limit", help="Process at most this many documents (the rest wait for the next run).",
        show_default=False)] = None,
) -> None:
    """Label the documents that have no labels for the current model version (new or changed
    documents, or all of them after `debatelake train`); writes passages and annotations."""
    from pipeline.nlp.model import ModelMissing
    from pipeline.nlp.process import process as run_process

    cfg = load_config(config)
    root = resolve_root(root or cfg.root)
    columns = (TextColumn("[bold]processing"), BarColumn(), MofNCompleteColumn(), TextColumn("docs"),
               TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err_console, transient=False) as bar:
        task = bar.add_task("process", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        try:
            report = run_process(root, cfg, batch_size=batch_size, workers=workers, limit=limit, progress=progress)
        except ModelMissing as exc:
            raise UserError(str(exc)) from None
    if not report.todo:
        console.print(f"Nothing to process: every document under {root} has labels from model "
                      f"{report.model_version}.")
        return
    t = Table("documents", "new", "relabelled", "passages", "exact dupes", "near dupes", "docs/s", "workers",
              title=f"process run {report.run_id} (model {report.model_version})")
    t.add_row(str(report.processed), str(report.docs_new), str(report.docs_updated), str(report.passages_written),
              str(report.exact_duplicates), str(report.near_duplicates), f"{report.docs_per_second:.0f}",
              str(report.workers))
    console.print(t)
    if report.reasons:
        r = Table("documents without labels", "count", title="why")
        for reason, n in report.reasons.most_common():
            r.add_row(reason, str(n))
        console.print(r)
    if report.errors:
        err_console.print(f"[yellow]{len(report.errors)} document(s) could not be labelled; see the run's "
                          f"error_messages (`debatelake status`).[/]")
