"""Shared pieces of the command line: the app, options every command takes, error display."""
from __future__ import annotations

import functools
import sys
from typing import Annotated, Callable, Optional

import typer
from rich.console import Console
from rich.markup import escape

from pipeline.config import ConfigError
from pipeline.store import StoreError, exit_without_teardown

app = typer.Typer(
    name="debatelake",
    help="Research datasets of the public debate about large language models.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)

RootOption = Annotated[
    Optional[str],
    typer.Option("--root", help="Data root (default: $DEBATELAKE_ROOT, else ./datasets).", show_default=False),
]
ConfigOption = Annotated[
    Optional[str],
    typer.Option("--config", help="TOML config (default: $DEBATELAKE_CONFIG, ./debatelake.toml, else the bundled one).",
                 show_default=False),
]


class UserError(Exception):
    """An error the user can fix; printed without a traceback."""


def friendly_errors(fn: Callable) -> Callable:
    """Turn the errors a user can fix into one red line and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (ConfigError, StoreError, UserError) as exc:
            # escaped: messages name TOML tables ([crawl], [[sources]]), which Rich would take for markup
            err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None

    return wrapper


def main() -> None:
    try:
        app()
        code = 0
    except SystemExit as exc:
        code = exit_code(exc)
    except KeyboardInterrupt:
        err_console.print("interrupted; every committed batch is kept, run the command again to finish")
        code = 130
    except BaseException:  # a bug: show it, as Python would
        import traceback

        traceback.print_exc()
        code = 1
    exit_without_teardown(code)


def exit_code(exc: SystemExit) -> int:
    if exc.code is None or isinstance(exc.code, int):
        return exc.code or 0
    print(exc.code, file=sys.stderr)  # sys.exit("message"): Python prints it and exits 1
    return 1
