"""A bad config stops `debatelake crawl` before any request, with a message that names the key
and says what is wrong; `config check` / `config show` report on the config without crawling."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from _snapshot_data import cli
from pipeline.demo.server import LocalServer, Response


def debatelake(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return cli(*args, cwd=cwd, env={"COLUMNS": "300"})


@pytest.fixture
def server():
    with LocalServer(lambda req: Response(200, '{"hits": [], "nbPages": 0}', "application/json")) as srv:
        yield srv


GOOD_SOURCE = '[[sources]]\nname = "hn"\nspider = "hackernews"\nbase_url = "{base}"\nqueries = ["open weights"]\n'
CASES = {
    "unknown option": (GOOD_SOURCE + 'querys = ["x"]\n', ["sources[0]", "querys", "unknown option for the hackernews spider"]),
    "wrong type": (GOOD_SOURCE + 'max_pages = "ten"\n', ["max_pages", "ten"]),
    "bad url": ('[[sources]]\nname = "hn"\nspider = "hackernews"\nbase_url = "localhost:80/api"\n', ["base_url"]),
    "bad cron": (GOOD_SOURCE + 'schedule = "every day"\n', ["schedule", "not a valid cron expression"]),
    "unknown spider": ('[[sources]]\nname = "x"\nspider = "twitter"\n', ["spider", "twitter"]),
    "invalid toml": (GOOD_SOURCE + 'days = 7 7\ntags = "story"\n', ["invalid TOML", "line 6"]),
    "crawl section": ('[crawl]\ndownload_delay = "fast"\n' + GOOD_SOURCE, ["download_delay"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_config_stops_before_any_request(case, server, tmp_path):
    text, expected = CASES[case]
    path = tmp_path / "bad.toml"
    path.write_text(text.format(base=server.url("")), "utf-8")
    out = debatelake("crawl", "--root", str(tmp_path / "data"), "--config", str(path), cwd=tmp_path)
    assert out.returncode == 2, out.stdout + out.stderr
    message = " ".join(out.stderr.split())
    assert str(path) in message
    for part in expected:
        assert part in message, message
    assert "Traceback" not in out.stderr
    assert server.requests == []  # nothing was fetched
    assert not (tmp_path / "data" / "runs").exists()
    if case == "unknown option":  # `config check` says the same, without crawling
        check = debatelake("config", "check", "--config", str(path), cwd=tmp_path)
        assert check.returncode == 2 and " ".join(check.stderr.split()) == message


def test_config_check_lists_the_sources(tmp_path, server):
    path = tmp_path / "good.toml"
    path.write_text(GOOD_SOURCE.format(base=server.url("")) + 'schedule = "0 */6 * * *"\n', "utf-8")
    out = debatelake("config", "check", "--config", str(path), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    row = next(line for line in out.stdout.splitlines() if "hackernews" in line)
    assert "hn" in row and "0 */6 * * *" in row and "queries" in row
    assert server.requests == []


def test_config_show_prints_the_bundled_default_when_there_is_none(tmp_path):
    out = debatelake("config", "show", cwd=tmp_path)  # tmp_path holds no debatelake.toml
    assert out.returncode == 0, out.stderr
    import tomllib

    body = out.stdout.split("\n", 1)[1]
    data = tomllib.loads(body)
    assert {s["spider"] for s in data["sources"]} >= {"hackernews", "reddit", "discourse", "feeds"}


def test_config_show_default_starts_a_config_file(tmp_path):
    with open(tmp_path / "debatelake.toml", "w") as fh:  # as `> debatelake.toml` does: the file exists, empty
        out = subprocess.run([str(Path(sys.executable).parent / "debatelake"), "config", "show", "--default"],
                             stdout=fh, stderr=subprocess.PIPE, text=True, timeout=120, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    check = debatelake("config", "check", cwd=tmp_path)  # reads ./debatelake.toml
    assert check.returncode == 0, check.stderr
    assert "debatelake.toml: valid" in check.stdout and "newsletters" in check.stdout
