"""Start crawls in child processes (Scrapy's reactor cannot restart in one process) and show
their progress."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import deque
from pathlib import Path

from rich.console import Console

from .store import StoreError

_CRAWLED = re.compile(r"Crawled (\d+) pages .*scraped (\d+) items")


def run_crawl(root: str, sources: list[str], config: str | None = None, console: Console | None = None,
              log_file: str | os.PathLike[str] | None = None) -> list[str]:
    """Crawl `sources` (all enabled if empty) into `root`; return the run ids.

    The child's log goes to `log_file` (default: <root>/logs/crawl.log); errors are echoed."""
    console = console or Console(stderr=True)
    cmd = [sys.executable, "-m", "crawler.run", "--root", root, *sources]
    if config:
        cmd[3:3] = ["--config", str(config)]
    log_path = Path(log_file) if log_file else Path(root) / "logs" / "crawl.log" if "://" not in root else None
    if log_path:
        log_path.parent.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "a", encoding="utf-8") if log_path else None
    tail: deque[str] = deque(maxlen=20)
    stdout_lines: list[str] = []
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    label = ", ".join(sources) if sources else "all enabled sources"
    with console.status(f"crawling {label} ...") as status:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                                encoding="utf-8", errors="replace")
        assert proc.stderr is not None and proc.stdout is not None
        for line in proc.stderr:
            if log:
                log.write(line)
            tail.append(line.rstrip())
            m = _CRAWLED.search(line)
            if m:
                status.update(f"crawling {label}: {m.group(1)} pages, {m.group(2)} documents")
            if " ERROR: " in line or line.startswith("error:"):
                console.print(f"[red]{line.rstrip()}[/]", highlight=False, soft_wrap=True)
        stdout_lines = proc.stdout.read().splitlines()
        code = proc.wait()
    if log:
        log.close()
    if code != 0:
        detail = "\n".join(tail)
        raise StoreError(f"the crawl failed (exit code {code}); last log lines:\n{detail}")
    for line in reversed(stdout_lines):
        if line.startswith("{"):
            return json.loads(line).get("run_ids", [])
    return []
