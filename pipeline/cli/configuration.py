"""config show / check: the configuration a command would use, and whether it is valid."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from pipeline.config import default_config_text, load_config

from .common import ConfigOption, app, console, friendly_errors

config_app = typer.Typer(help="Show or check the TOML config (sources, crawl settings).", no_args_is_help=True)
app.add_typer(config_app, name="config")


@config_app.command("show")
@friendly_errors
def show(
    config: ConfigOption = None,
    default: Annotated[bool, typer.Option(
        "--default", help="Print the bundled default config, whatever file is in use (start a new one with "
                          "`debatelake config show --default > debatelake.toml`).")] = False,
) -> None:
    """Print the config file that commands would read (the bundled default when there is none)."""
    if default:
        console.print(default_config_text(), highlight=False, markup=False, soft_wrap=True)
        return
    cfg = load_config(config)
    text = default_config_text() if cfg.path == "<default config>" else Path(cfg.path).read_text("utf-8")
    console.print(f"# {cfg.path}", highlight=False, markup=False)
    console.print(text, highlight=False, markup=False, soft_wrap=True)


@config_app.command("check")
@friendly_errors
def check(config: ConfigOption = None) -> None:
    """Validate the config (every key, type, URL and cron expression) without crawling."""
    cfg = load_config(config)
    t = Table("source", "spider", "enabled", "schedule (UTC)", "options", title=f"{cfg.path}: valid")
    for s in cfg.sources:
        t.add_row(s.name, s.spider, "yes" if s.enabled else "no", s.schedule or "", ", ".join(sorted(s.options)))
    console.print(t)
