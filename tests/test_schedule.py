"""The crawl scheduler: real crawls of local archives (the files spider), with a clock the test
drives so that an hour of schedule passes in seconds."""
from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from pipeline.config import ConfigError, load_config
from pipeline.crawling import run_crawl
from pipeline.scheduling import Scheduler, crontab_lines, next_times
from pipeline.store import Store

PROJECT = Path(__file__).resolve().parent.parent
UTC = timezone.utc


class FakeClock:
    """Starts at `start`; `sleep` moves it on instead of waiting."""

    def __init__(self, start: datetime):
        self.now = start
        self.slept: list[float] = []

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += timedelta(seconds=seconds)


def write_archive(folder: Path, n: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (folder / f"note-{i}.md").write_text(
            f"---\ntitle: Note {i} on open weights\ndate: 2025-03-0{i + 1}\n---\n\n"
            f"Releasing weights openly lets anyone audit model {i}, which is the point.\n", "utf-8")


def write_config(path: Path, archive_a: Path, archive_b: Path) -> Path:
    path.write_text(f"""
[crawl]
contact = "mailto:test@localhost"

[[sources]]
name = "every-ten"
spider = "files"
schedule = "*/10 * * * *"
paths = ["{archive_a}"]

[[sources]]
name = "hourly"
spider = "files"
schedule = "0 * * * *"
paths = ["{archive_b}"]

[[sources]]
name = "manual"
spider = "files"
paths = ["{archive_b}"]
""", "utf-8")
    return path


@pytest.fixture
def setup(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    write_archive(a, 2)
    write_archive(b, 3)
    cfg_path = write_config(tmp_path / "sched.toml", a, b)
    return tmp_path / "data", cfg_path


def test_next_times_follow_each_cron_expression(setup):
    _, cfg_path = setup
    cfg = load_config(cfg_path)
    times = next_times(cfg, datetime(2026, 1, 1, 9, 55, 30, tzinfo=UTC))
    assert times == {"every-ten": datetime(2026, 1, 1, 10, 0, tzinfo=UTC),
                     "hourly": datetime(2026, 1, 1, 10, 0, tzinfo=UTC)}  # "manual" has no schedule


def test_scheduler_crawls_each_source_when_due(setup):
    root, cfg_path = setup
    cfg = load_config(cfg_path)
    clock = FakeClock(datetime(2026, 1, 1, 9, 55, tzinfo=UTC))
    crawled: list[tuple[datetime, list[str]]] = []

    def crawl(sources: list[str]) -> list[str]:
        crawled.append((clock(), sources))
        return run_crawl(str(root), sources, config=str(cfg_path))

    fires = Scheduler(cfg, crawl, clock=clock, sleep=clock.sleep).run(max_fires=3)

    assert [(f.due.strftime("%H:%M"), f.sources) for f in fires] == [
        ("10:00", ["every-ten", "hourly"]), ("10:10", ["every-ten"]), ("10:20", ["every-ten"])]
    assert [when for when, _ in crawled] == [f.due for f in fires]  # never early
    assert all(s <= 60 for s in clock.slept)
    runs = Store(root).read("runs").to_pylist()
    by_source: dict[str, list[dict]] = {}
    for r in runs:
        by_source.setdefault(r["source"], []).append(r)
    assert sorted((s, len(v)) for s, v in by_source.items()) == [("every-ten", 3), ("hourly", 1)]
    assert all(r["status"] == "finished" for r in runs)
    assert [r["docs_new"] for r in sorted(by_source["every-ten"], key=lambda r: r["started_at"])] == [2, 0, 0]
    assert Store(root).count("documents") == 5


def test_a_failed_crawl_is_reported_and_the_schedule_goes_on(setup):
    root, cfg_path = setup
    cfg = load_config(cfg_path)
    clock = FakeClock(datetime(2026, 1, 1, 10, 5, tzinfo=UTC))
    messages: list[str] = []
    store = Store(root)

    def crawl(sources: list[str]) -> list[str]:
        if clock().minute == 10:  # another writer holds the data root at 10:10
            with store.lock("a long process run"):
                return run_crawl(str(root), sources, config=str(cfg_path))
        return run_crawl(str(root), sources, config=str(cfg_path))

    fires = Scheduler(cfg, crawl, clock=clock, sleep=clock.sleep, report=messages.append).run(max_fires=2)

    assert fires[0].error and "busy" in fires[0].error and not fires[0].run_ids
    assert fires[1].error is None and len(fires[1].run_ids) == 1
    assert any("failed" in m and "10:10" in m for m in messages)
    assert store.count("documents") == 2


def test_no_scheduled_source_is_a_clear_error(tmp_path):
    archive = tmp_path / "a"
    write_archive(archive, 1)
    path = tmp_path / "c.toml"
    path.write_text(f'[[sources]]\nname = "x"\nspider = "files"\npaths = ["{archive}"]\n', "utf-8")
    with pytest.raises(ConfigError, match="schedule"):
        Scheduler(load_config(path), crawl=lambda s: [])


def test_cli_prints_crontab_lines(setup):
    root, cfg_path = setup
    exe = Path(sys.executable).parent / "debatelake"
    out = subprocess.run([str(exe), "schedule", "--root", str(root), "--config", str(cfg_path), "--print", "crontab"],
                         capture_output=True, text=True, timeout=60, cwd=PROJECT,
                         env={**os.environ, "COLUMNS": "400"})
    assert out.returncode == 0, out.stderr
    lines = [ln for ln in out.stdout.splitlines() if ln.strip()]
    assert lines == crontab_lines(load_config(cfg_path), str(root), str(cfg_path), exe=str(exe))
    assert lines[1].startswith("*/10 * * * * ") and lines[1].split(" >> ")[0].endswith(" every-ten")
    assert lines[2].startswith("0 * * * * ") and " hourly " in lines[2] + " "
    assert (root / "logs").is_dir()  # cron's `>>` needs the folder to exist


def test_cli_rejects_an_unknown_print_format(setup):
    root, cfg_path = setup
    exe = Path(sys.executable).parent / "debatelake"
    out = subprocess.run([str(exe), "schedule", "--root", str(root), "--config", str(cfg_path), "--print", "launchd"],
                         capture_output=True, text=True, timeout=60, cwd=PROJECT)
    assert out.returncode == 2 and "crontab" in out.stderr
