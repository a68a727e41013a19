"""Start crawls in child processes (Scrapy's reactor cannot restart in one process) and show
their progress."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from collections import deque
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from .store import StoreError

_CRAWLED = re.compile(r"Crawled (\d+) pages .*scraped (\d+) items")


def run_crawl(root: str, sources: list[str], config: str | None = None, console: Console | None = None,
              log_file: str | os.PathLike[str] | None = None, workers: int = 1) -> list[str]:
    """Crawl `sources` (all enabled if empty) into `root`; return the run ids.

    workers > 1 starts that many crawl processes at once, which share the [crawl] frontier in Redis
    (crawler/frontier.py); every worker records its own runs. The children's log goes to
    `log_file` (default: <root>/logs/crawl.log); errors are echoed."""
    console = console or Console(stderr=True)
    cmd = [sys.executable, "-m", "crawler.run", "--root", root, *sources]
    if config:
        cmd[3:3] = ["--config", str(config)]
    log_path = Path(log_file) if log_file else Path(root) / "logs" / "crawl.log" if "://" not in root else None
    if log_path:
        log_path.parent.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "a", encoding="utf-8") if log_path else None
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    label = ", ".join(sources) if sources else "all enabled sources"
    tails: list[deque[str]] = [deque(maxlen=20) for _ in range(workers)]
    outputs: list[list[str]] = [[] for _ in range(workers)]
    progress = [(0, 0)] * workers  # (pages, documents) each worker last logged
    guard = threading.Lock()  # the log file, the console and the progress line
    with console.status(f"crawling {label} ...") as status:
        procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                                  encoding="utf-8", errors="replace") for _ in range(workers)]

        def follow(i: int) -> None:
            proc = procs[i]
            assert proc.stderr is not None and proc.stdout is not None
            prefix = f"[worker {i + 1}] " if workers > 1 else ""
            for line in proc.stderr:
                with guard:
                    if log:
                        log.write(prefix + line)
                    tails[i].append(prefix + line.rstrip())
                    m = _CRAWLED.search(line)
                    if m:
                        progress[i] = (int(m.group(1)), int(m.group(2)))
                        pages, docs = (sum(p[k] for p in progress) for k in (0, 1))
                        each = f" ({workers} workers)" if workers > 1 else ""
                        status.update(f"crawling {label}{each}: {pages} pages, {docs} documents")
                    if " ERROR: " in line or line.startswith("error:"):
                        # escaped: "[worker 2]" and bracketed log text would be read as Rich markup
                        console.print(f"[red]{escape(prefix + line.rstrip())}[/]", highlight=False, soft_wrap=True)
            outputs[i] = proc.stdout.read().splitlines()

        threads = [threading.Thread(target=follow, args=(i,), daemon=True) for i in range(1, workers)]
        for t in threads:
            t.start()
        follow(0)
        for t in threads:
            t.join()
        codes = [proc.wait() for proc in procs]
    if log:
        log.close()
    run_ids: list[str] = []
    for code, tail, stdout_lines in zip(codes, tails, outputs):
        if code != 0:
            detail = "\n".join(tail)
            raise StoreError(f"the crawl failed (exit code {code}); last log lines:\n{detail}")
        for line in reversed(stdout_lines):
            if line.startswith("{"):
                run_ids += json.loads(line).get("run_ids", [])
                break
    return run_ids
