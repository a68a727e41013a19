"""report: a static HTML report (charts + numbers) of a snapshot or of the current tables."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, List, Optional

import typer

from pipeline.store import resolve_root

from .common import RootOption, app, console, friendly_errors


@app.command()
@friendly_errors
def report(
    name: Annotated[Optional[str], typer.Argument(
        help="A snapshot name under the data root, or the path of a snapshot folder (default: the current "
             "tables).", show_default=False)] = None,
    out: Annotated[Optional[str], typer.Option(
        "--out", help="Folder to write index.html, charts/ and report.json into (default: "
                      "<root>/reports/<NAME or current>).", show_default=False)] = None,
    root: RootOption = None,
    mark: Annotated[Optional[List[str]], typer.Option(
        "--mark", metavar="DATE:NAME", help="Also mark this model release on the stance charts, e.g. "
                                            "2026-08-04:Meridian-3 (repeatable).")] = None,
) -> None:
    """Write a static HTML report that opens from disk with no server or network: headline counts, date
    range, stance shares per month on both axes, topics, sources, models and labs, label confidence."""
    from pipeline.report import build_report, parse_marks

    extra = parse_marks(mark or [])
    resolved = resolve_root(root)
    base = Path("reports") if "://" in resolved else Path(resolved) / "reports"
    folder = out or str(base / (Path(name).name if name else "current"))
    with console.status("drawing the charts ..."):
        result = build_report(root, name, folder, extra_releases=extra)
    h = result.summary["headline"]
    console.print(f"[green]report of {result.summary['what']}[/] written to {result.index}", highlight=False)
    console.print(f"  {h['documents']} documents, {h['labelled']} labelled, {len(result.charts)} charts", highlight=False)
    if not result.summary["has_labels"]:
        console.print("  [yellow]no labels yet: run `debatelake process` and make the report again for the stance "
                      "charts[/]", highlight=False)
    console.print(f"  open it: {result.url}", highlight=False, soft_wrap=True)
