"""schedule: crawl each source on the cron schedule its config gives."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from pipeline.config import load_config
from pipeline.crawling import run_crawl
from pipeline.store import resolve_root

from .common import ConfigOption, RootOption, UserError, app, console, err_console, friendly_errors


@app.command()
@friendly_errors
def schedule(
    root: RootOption = None,
    config: ConfigOption = None,
    print_: Annotated[Optional[str], typer.Option(
        "--print", metavar="crontab|systemd",
        help="Print the equivalent crontab lines or systemd unit instead of running the scheduler.",
        show_default=False)] = None,
    max_runs: Annotated[Optional[int], typer.Option(
        "--max-runs", help="Stop after this many scheduled crawls (default: run until interrupted).",
        show_default=False)] = None,
) -> None:
    """Run the crawl scheduler in the foreground: every enabled source with a `schedule` (cron,
    UTC) is crawled when it is due. Ctrl-C stops it between crawls; committed batches are kept."""
    from pipeline.scheduling import Scheduler, crontab_lines, next_times, scheduled_sources, systemd_units

    cfg = load_config(config)
    root = resolve_root(root or cfg.root)
    cfg_path = cfg.path if cfg.path != "<default config>" else None
    if print_ is not None:
        if print_ == "crontab":
            if "://" not in root:  # cron's `>> log` fails when the folder is missing
                Path(root, "logs").mkdir(parents=True, exist_ok=True)
            for line in crontab_lines(cfg, root, cfg_path):
                console.print(line, highlight=False, markup=False, soft_wrap=True)
        elif print_ == "systemd":
            for name, text in systemd_units(root, cfg_path).items():
                console.print(f"# {name} (save under ~/.config/systemd/user/, then: systemctl --user enable "
                              f"--now {name})", highlight=False, markup=False)
                console.print(text, highlight=False, markup=False, soft_wrap=True)
        else:
            raise UserError(f"--print takes `crontab` or `systemd`, not {print_!r}")
        return

    def crawl(sources: list[str]) -> list[str]:
        return run_crawl(root, sources, config=cfg_path, console=err_console)

    scheduler = Scheduler(cfg, crawl, report=lambda msg: err_console.print(
        f"[dim]{datetime.now(timezone.utc):%Y-%m-%d %H:%M:%S}[/] {msg}", highlight=False))
    t = Table("source", "schedule (UTC)", "next", title=f"debatelake schedule: {root}")
    upcoming = next_times(cfg, datetime.now(timezone.utc))
    for src in scheduled_sources(cfg):
        t.add_row(src.name, src.schedule, f"{upcoming[src.name]:%Y-%m-%d %H:%M}")
    console.print(t)
    fires = scheduler.run(max_fires=max_runs)
    failed = [f for f in fires if f.error]
    if failed:
        raise typer.Exit(1)
