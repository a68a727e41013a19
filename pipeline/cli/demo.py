"""demo: the whole flow offline, against a bundled site on 127.0.0.1."""
from __future__ import annotations

from typing import Annotated, Optional

import typer

from pipeline.store import Store, resolve_root

from .common import RootOption, app, console, err_console, friendly_errors


@app.command()
@friendly_errors
def demo(
    root: RootOption = None,
    port: Annotated[Optional[int], typer.Option(
        help="Port for the demo site on 127.0.0.1 (default: the previous demo's port under this root, else any "
             "free port).", show_default=False)] = None,
    train: Annotated[bool, typer.Option(
        "--train/--no-train", help="Train the bundled label models first when the data root has none (about a "
                                   "minute, once); with --no-train an untrained root is crawled but not labelled.")] = True,
) -> None:
    """Serve a bundled blog, HN, Reddit and Discourse on 127.0.0.1, crawl them with the real spiders,
    process the result and show what was written. Running it again adds nothing."""
    from pipeline.demo.runner import print_summary, run_demo

    from .crawl import print_runs

    result = run_demo(resolve_root(root), port=port, console=err_console, train_model=train)
    print_runs(Store(result.root), result.run_ids)
    print_summary(result, console)
