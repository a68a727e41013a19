"""Crawls on a schedule: each source's `schedule` (a cron expression in the config) says when.

`Scheduler` runs in the foreground: it works out when each scheduled source is next due, sleeps
until the earliest, then crawls every source due at that minute in one child process (the same
`run_crawl` that `debatelake crawl` uses; Scrapy's reactor cannot restart in one process).
A crawl that fails, or finds the data root busy with another writer, is reported and the
scheduler goes on to the next time. A time missed while a crawl ran is not made up: the next
crawl fetches whatever is new since, so catching up would only crawl the same pages twice.

For those who prefer their system's scheduler, `crontab_lines` and `systemd_units` write the
equivalent configuration.
"""
from __future__ import annotations

import shlex
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from croniter import croniter

from .config import Config, ConfigError

UTC = timezone.utc


@dataclass
class Fire:
    """One scheduled crawl: when it was due, which sources, how it went."""

    due: datetime
    sources: list[str]
    run_ids: list[str] = field(default_factory=list)
    error: str | None = None


def scheduled_sources(cfg: Config) -> list:
    """Enabled sources that carry a schedule."""
    return [s for s in cfg.sources if s.enabled and s.schedule]


def next_times(cfg: Config, after: datetime) -> dict[str, datetime]:
    """When each scheduled source is next due, strictly after `after` (UTC)."""
    after = after.astimezone(UTC)
    return {s.name: croniter(s.schedule, after).get_next(datetime).astimezone(UTC) for s in scheduled_sources(cfg)}


class Scheduler:
    """Foreground scheduler. `clock` and `sleep` are injectable so that a test can run a day of
    schedule in a second; `crawl(sources) -> run_ids` does the work."""

    def __init__(self, cfg: Config, crawl: Callable[[list[str]], list[str]],
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 sleep: Callable[[float], None] = time.sleep,
                 report: Callable[[str], None] = lambda msg: None):
        if not scheduled_sources(cfg):
            raise ConfigError(
                f"{cfg.path}: no enabled source has a `schedule`; add e.g. schedule = \"0 */6 * * *\" to a "
                f"[[sources]] table (cron fields: minute hour day-of-month month day-of-week, UTC)")
        self.cfg = cfg
        self.crawl = crawl
        self.clock = clock
        self.sleep = sleep
        self.report = report

    def next_due(self) -> tuple[datetime, list[str]]:
        """The next due time and the sources due then."""
        times = next_times(self.cfg, self.clock())
        first = min(times.values())
        return first, sorted(name for name, t in times.items() if t == first)

    def run(self, max_fires: int | None = None) -> list[Fire]:
        """Crawl on schedule until interrupted (or after `max_fires` scheduled crawls)."""
        fires: list[Fire] = []
        while max_fires is None or len(fires) < max_fires:
            due, names = self.next_due()
            wait = (due - self.clock()).total_seconds()
            self.report(f"next: {', '.join(names)} at {due:%Y-%m-%d %H:%M} UTC")
            while wait > 0:  # sleep in slices so that a changed clock (suspend, NTP) is noticed
                self.sleep(min(wait, 60.0))
                wait = (due - self.clock()).total_seconds()
            fire = Fire(due, names)
            try:
                fire.run_ids = list(self.crawl(names))
                self.report(f"crawled {', '.join(names)} (due {due:%H:%M} UTC): runs {', '.join(fire.run_ids) or '-'}")
            except Exception as exc:  # one failed crawl must not stop the schedule
                fire.error = _reason(exc)
                self.report(f"crawl of {', '.join(names)} (due {due:%H:%M} UTC) failed: {fire.error}; "
                            f"the next scheduled time will try again")
            fires.append(fire)
        return fires


def _reason(exc: Exception) -> str:
    """The line of a failed crawl's message that says why (the child's own `error:` line when
    there is one, rather than the generic first line)."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    for ln in reversed(lines):
        if ln.startswith("error:"):
            return ln.removeprefix("error:").strip()
    return lines[0] if lines else type(exc).__name__


def _command(verb: str, root: str, config: str | None, exe: str | None) -> list[str]:
    """`debatelake VERB --root R [--config F]` with absolute paths (cron and systemd start elsewhere)."""
    exe = exe or str(Path(sys.executable).parent / "debatelake")
    cmd = [exe, verb, "--root", str(Path(root).resolve()) if "://" not in root else root]
    if config:
        cmd += ["--config", str(Path(config).resolve())]
    return cmd


def crontab_lines(cfg: Config, root: str, config: str | None, exe: str | None = None) -> list[str]:
    """One crontab line per scheduled source (cron runs in local time: set CRON_TZ=UTC where
    supported, as the first line does). Logs append to <root>/logs/cron-<source>.log."""
    lines = ["CRON_TZ=UTC"]
    for s in scheduled_sources(cfg):
        cmd = _command("crawl", root, config, exe) + [s.name]
        log = Path(root).resolve() / "logs" / f"cron-{s.name}.log" if "://" not in root else Path(f"cron-{s.name}.log")
        lines.append(f"{s.schedule} {shlex.join(cmd)} >> {shlex.quote(str(log))} 2>&1")
    return lines


def systemd_units(root: str, config: str | None, exe: str | None = None) -> dict[str, str]:
    """A systemd service that runs `debatelake schedule` in the foreground and restarts it if it
    stops (the cron expressions stay in the config, in one place)."""
    cmd = _command("schedule", root, config, exe)
    service = "\n".join([
        "[Unit]",
        "Description=debatelake crawls on the schedule in its config",
        "After=network-online.target",
        "Wants=network-online.target",
        "",
        "[Service]",
        "Type=simple",
        f"ExecStart={shlex.join(cmd)}",
        "Restart=on-failure",
        "RestartSec=60",
        "",
        "[Install]",
        "WantedBy=default.target",
        "",
    ])
    return {"debatelake-schedule.service": service}
