"""versions, snapshot create / verify / list, takedown add / list / purge."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Annotated, Optional

import typer
from rich.markup import escape
from rich.table import Table

from pipeline.config import load_config
from pipeline.privacy import PrivacyKeyMissing
from pipeline.schema import TABLES
from pipeline.store import Store, StoreError

from .common import ConfigOption, RootOption, UserError, app, console, err_console, friendly_errors

snapshot_app = typer.Typer(help="Freeze, list and verify citable snapshots.", no_args_is_help=True)
takedown_app = typer.Typer(help="Keep URLs or authors out of published data.", no_args_is_help=True)
app.add_typer(snapshot_app, name="snapshot")
app.add_typer(takedown_app, name="takedown")


def _store(root: str | None, config: str | None):
    cfg = load_config(config)
    return Store(root or cfg.root), cfg


@app.command()
@friendly_errors
def versions(
    table: Annotated[Optional[str], typer.Argument(help="One table (default: all).")] = None,
    root: RootOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines instead of a table.")] = False,
) -> None:
    """Every table version: time, operation, run id and row count."""
    store = Store(root)
    names = [table] if table else store.tables()
    if table and table not in TABLES:
        raise UserError(f"unknown table {table!r}; tables are: {', '.join(TABLES)}")
    if not names:
        console.print(f"No tables under {store.root} yet. Run `debatelake demo` or `debatelake crawl`.")
        return
    for name in names:
        rows = []
        for h in sorted(store.history(name), key=lambda h: h["version"]):
            rows.append({
                "table": name, "version": h["version"],
                "time": datetime.fromtimestamp(h["timestamp"] / 1000, tz=timezone.utc).isoformat(timespec="seconds"),
                "operation": h.get("operation"), "run_id": h.get("run_id"), "step": h.get("step"),
                "rows": _count_or_none(store, name, h["version"]),
            })
        if as_json:
            for r in rows:
                print(json.dumps(r))
            continue
        t = Table("version", "time (UTC)", "operation", "run id", "rows", title=f"{name}")
        for r in rows:
            t.add_row(str(r["version"]), r["time"], str(r["operation"]), str(r["run_id"] or r["step"] or ""),
                      "vacuumed" if r["rows"] is None else str(r["rows"]))
        console.print(t)


def _count_or_none(store: Store, name: str, version: int) -> int | None:
    try:
        return store.count(name, version=version)
    except (StoreError, OSError, Exception):  # files of purged versions are gone on purpose
        return None


@snapshot_app.command("create")
@friendly_errors
def snapshot_create(
    name: Annotated[str, typer.Argument(help="A new, unique name, e.g. 2026-11.")],
    root: RootOption = None,
    config: ConfigOption = None,
    max_file_mb: Annotated[Optional[float], typer.Option(help="Largest Parquet file, in MB (default 64).")] = None,
    description: Annotated[Optional[str], typer.Option(help="One line on what this snapshot is for.")] = None,
) -> None:
    """Freeze the current table versions into snapshots/NAME (immutable)."""
    from pipeline.snapshots import create_snapshot, snapshot_path

    store, cfg = _store(root, config)
    try:
        with store.lock("snapshot create"), console.status(f"writing snapshot {name} ..."):
            manifest = create_snapshot(store, name, privacy=cfg.privacy, publish=cfg.publish,
                                       max_file_mb=max_file_mb, description=description)
    except PrivacyKeyMissing as exc:
        raise UserError(str(exc)) from None
    path = snapshot_path(store, name)
    console.print(f"[green]snapshot {name}[/] written to {path}")
    console.print(f"  documents {manifest['rows']['documents']}, passages {manifest['rows']['passages']}, "
                  f"model {manifest['model_version']}, tables {manifest['table_versions']}")
    if manifest.get("diff"):
        d = manifest["diff"]
        console.print(f"  since {d['previous']}: +{d['documents_added']} -{d['documents_removed']} "
                      f"relabelled {d['documents_relabelled']}")
    console.print(f'  load it: from pipeline import load; load("documents", root="{store.root}", snapshot="{name}")')


@snapshot_app.command("verify")
@friendly_errors
def snapshot_verify(name: str, root: RootOption = None) -> None:
    """Check every checksum; exit 1 naming any file that differs."""
    from pipeline.snapshots import verify_snapshot

    problems = verify_snapshot(Store(root), name)
    if problems:
        for p in problems:
            err_console.print(f"[red]{escape(p)}[/]", highlight=False)  # file names may hold [brackets]
        err_console.print(f"snapshot {name}: {len(problems)} problem(s); re-publish from a good copy")
        raise typer.Exit(1)
    console.print(f"[green]snapshot {name}: every checksum matches[/]")


@snapshot_app.command("list")
@friendly_errors
def snapshot_list(root: RootOption = None) -> None:
    """Snapshots under the data root, oldest first."""
    from pipeline.snapshots import list_snapshots

    snaps = list_snapshots(Store(root))
    if not snaps:
        console.print("No snapshots yet: `debatelake snapshot create NAME`.")
        return
    t = Table("name", "created", "documents", "passages", "model")
    for m in snaps:
        t.add_row(m["name"], m["created_at"][:19], str(m["rows"]["documents"]), str(m["rows"]["passages"]),
                  str(m["model_version"]))
    console.print(t)


@takedown_app.command("add")
@friendly_errors
def takedown_add(
    target: Annotated[str, typer.Argument(help="A document URL, or an author name as crawled.")],
    reason: Annotated[Optional[str], typer.Option(help="Why (kept with the entry).")] = None,
    root: RootOption = None,
    config: ConfigOption = None,
) -> None:
    """Keep a URL or an author out of every later snapshot. An author may be given by the
    pseudonym a published snapshot shows (user_...); with the key set, the crawled name behind it
    is listed too."""
    from pipeline import takedown

    store, cfg = _store(root, config)
    row = takedown.add(store, target, reason, privacy=cfg.privacy)
    console.print(f"{row['kind']} {row['value']!r} will be left out of every later snapshot. "
                  "For a deletion request, also run `debatelake takedown purge`.")
    if row["resolved"]:
        console.print(f"  the pseudonym stands for {len(row['resolved'])} crawled author name(s), listed too.")
    elif row["resolved"] is None:
        err_console.print("[yellow]note:[/] this looks like a published pseudonym and no pseudonymisation key is "
                          "set: it is listed as it is (it holds for snapshots made with the same key). Set the key "
                          "and add it again to list the crawled name behind it.", highlight=False)
    elif row["kind"] == "author" and row["value"].startswith("user_"):
        err_console.print("[yellow]note:[/] no crawled author has this pseudonym under the current key: check "
                          "the value (and the key).", highlight=False)


@takedown_app.command("list")
@friendly_errors
def takedown_list(root: RootOption = None) -> None:
    """The takedown list."""
    from pipeline import takedown

    t = Table("kind", "added", "purged")
    t.add_column("reason", overflow="fold")
    t.add_column("value", overflow="fold")  # never cut: the value is what a request must match
    for e in takedown.entries(Store(root)):
        t.add_row(e["kind"], f"{e['added_at']:%Y-%m-%d}",
                  f"{e['purged_at']:%Y-%m-%d}" if e.get("purged_at") else "", e.get("reason") or "", e["value"])
    console.print(t)


@takedown_app.command("purge")
@friendly_errors
def takedown_purge(
    root: RootOption = None,
    config: ConfigOption = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete taken-down documents from the tables AND their history (rewrite and vacuum).

    Authors listed by their published pseudonym are found with the pseudonymisation key."""
    from pipeline import takedown
    from pipeline.snapshots import list_snapshots

    store, cfg = _store(root, config)
    if not yes and not typer.confirm("This rewrites the tables and removes old versions for good. Go on?"):
        raise typer.Exit(1)
    try:
        report = takedown.purge(store, privacy=cfg.privacy)
    except PrivacyKeyMissing as exc:
        raise UserError(f"cannot match the pseudonyms on the takedown list: {exc}") from None
    console.print(f"purged {report['documents']} documents, {report['passages']} passages, "
                  f"{report['annotations']} annotation rows; {report['files_removed']} old files removed"
                  + ("; the crawler's page cache cleared" if report.get("http_cache_cleared") else ""))
    held = []
    for m in list_snapshots(store) if store.is_local else []:
        from pipeline.snapshots import read_snapshot_table

        ids = set(read_snapshot_table(store, m["name"], "documents", columns=["doc_id"]).column("doc_id").to_pylist())
        if ids & set(report.get("doc_ids", [])):
            held.append(m["name"])
    if held:
        err_console.print(f"[yellow]existing snapshots still hold them: {', '.join(held)}[/]. Snapshots are "
                          "immutable: withdraw those copies where they were published.")
