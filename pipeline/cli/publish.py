"""`debatelake publish NAME --to TARGET`: a snapshot to a folder, a .tar.gz, S3 or the Hugging Face Hub."""
from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from pipeline.config import load_config
from pipeline.privacy import PrivacyKeyMissing
from pipeline.store import Store

from .common import ConfigOption, RootOption, UserError, app, console, err_console, friendly_errors


@app.command()
@friendly_errors
def publish(
    name: Annotated[str, typer.Argument(help="The snapshot to publish (see `debatelake snapshot list`).")],
    to: Annotated[str, typer.Option(
        "--to", help="Where: a folder, FILE.tar.gz, s3://bucket/prefix or hf://datasets/ORG/NAME. The target "
                     "holds the snapshot's files at its top.", show_default=False)],
    root: RootOption = None,
    config: ConfigOption = None,
    check: Annotated[str, typer.Option(
        help="How to check the target after the upload: full (re-read every file) or quick (S3: size, MD5 "
             "ETag and stored sha256, without downloading).")] = "full",
    private: Annotated[bool, typer.Option(
        "--private", help="Hugging Face: create the repo private if it does not exist yet.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Do not list every file.")] = False,
) -> None:
    """Publish a snapshot, unchanged, and check its checksums at the target.

    The snapshot must match its SHA256SUMS and the pseudonymisation key must be set. Files already at
    the target with the right checksum are skipped, so after an interruption the same command resumes.
    S3 settings come from the config's publish section (endpoint_url, region, access_key_env,
    secret_key_env) or the standard AWS variables; the Hub token from HF_TOKEN (or [publish] hf_token_env).
    """
    from pipeline.publish import describe, human_size, publish as run_publish

    cfg = load_config(config)
    store = Store(root or cfg.root)
    settings = dict(cfg.publish)
    if private:
        settings["private"] = True

    def progress(event: str, rel: str, size: int) -> None:
        if not quiet:
            what = {"uploaded": "[green]uploaded[/]", "skipped": "[dim]already there[/]",
                    "removed": "[yellow]removed stale[/]"}.get(event, event)
            console.print(f"  {what} {rel}" + (f" ({human_size(size)})" if size else ""), highlight=False)

    console.print(f"publishing snapshot {name} to {to}", highlight=False)
    try:
        result = run_publish(store, name, to, privacy=cfg.privacy, settings=settings, progress=progress,
                             check=check)
    except PrivacyKeyMissing as exc:
        raise UserError(f"refusing to publish: {exc}") from None
    for note in result.notes:
        err_console.print(f"[yellow]note:[/] {escape(note)}", highlight=False)
    for line in describe(result):
        console.print(f"  {line}", highlight=False)
    console.print(f"[green]snapshot {name} published[/] to {result.url or to}", highlight=False)
