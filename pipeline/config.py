"""The TOML configuration: crawl politeness, sources, processing and privacy settings.

A bad config must stop before any request is made, with a message naming the key, what is wrong
and what to do; `load_config` raises ConfigError for all of that.
"""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

ENV_CONFIG = "DEBATELAKE_CONFIG"


class ConfigError(ValueError):
    pass


@dataclass
class CrawlSettings:
    contact: str = ""
    user_agent: str = "debatelake/{version} (+{contact}; research crawler for the LLM debate)"
    obey_robots: bool = True
    autothrottle: bool = True
    autothrottle_target_concurrency: float = 1.0
    download_delay: float = 1.0
    concurrency_per_domain: int = 2
    concurrency: int = 16
    timeout: float = 30.0
    retries: int = 2
    max_retry_after: float = 600.0  # longest Retry-After we honour before giving up on a request
    flush_items: int = 200  # documents buffered before a Delta commit
    http_cache: bool = True  # revalidate stored pages on re-crawls (crawler/httpcache.py)
    # a crawl frontier in Redis shared by crawler processes (crawler/frontier.py); "" = in memory
    frontier: str = ""

    @property
    def user_agent_string(self) -> str:
        from pipeline import __version__

        return self.user_agent.format(version=__version__, contact=self.contact or "no contact given")


@dataclass
class Source:
    name: str
    spider: str
    schedule: str | None = None  # cron expression
    enabled: bool = True
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class Config:
    path: str | None = None
    root: str | None = None
    crawl: CrawlSettings = field(default_factory=CrawlSettings)
    sources: list[Source] = field(default_factory=list)
    process: dict[str, Any] = field(default_factory=dict)
    privacy: dict[str, Any] = field(default_factory=dict)
    publish: dict[str, Any] = field(default_factory=dict)

    def source(self, name: str) -> Source:
        for s in self.sources:
            if s.name == name:
                return s
        known = ", ".join(s.name for s in self.sources) or "none"
        raise ConfigError(f"no source named {name!r} in {self.path or 'the config'} (sources: {known})")


def _where(path: str | None, key: str) -> str:
    return f"{path or 'config'}: {key}"


def _check_type(path: str | None, key: str, value: Any, expected: Any) -> Any:
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if expected is list and isinstance(value, list):
        return value
    if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
        want = getattr(expected, "__name__", str(expected))
        raise ConfigError(f"{_where(path, key)} must be {want}, got {type(value).__name__} {value!r}")
    return value


def _check_url(path: str | None, key: str, value: str) -> str:
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ConfigError(f"{_where(path, key)} must be an http(s) URL, got {value!r}")
    return value


def _check_cron(path: str | None, key: str, value: str) -> str:
    from croniter import croniter

    if not croniter.is_valid(value):
        raise ConfigError(
            f"{_where(path, key)} is not a valid cron expression: {value!r} "
            f"(five fields: minute hour day-of-month month day-of-week, e.g. '0 */6 * * *')"
        )
    return value


def spider_options(spider: str) -> dict[str, Any]:
    """The options a spider accepts, as {name: type}; declared on the spider class."""
    from crawler.spiders import SPIDERS

    return SPIDERS[spider].OPTIONS


def parse_config(data: dict[str, Any], path: str | None = None) -> Config:
    from crawler.spiders import SPIDERS

    known_top = {"root", "crawl", "sources", "process", "privacy", "publish"}
    for key in data:
        if key not in known_top:
            raise ConfigError(f"{_where(path, key)}: unknown section; known: {', '.join(sorted(known_top))}")
    cfg = Config(path=path)
    if "root" in data:
        cfg.root = _check_type(path, "root", data["root"], str)

    crawl = data.get("crawl", {})
    _check_type(path, "crawl", crawl, dict)
    defaults = CrawlSettings()
    for key, value in crawl.items():
        if not hasattr(defaults, key) or key.startswith("_"):
            raise ConfigError(f"{_where(path, 'crawl.' + key)}: unknown setting")
        expected = type(getattr(defaults, key))
        setattr(cfg.crawl, key, _check_type(path, f"crawl.{key}", value, expected))
    for key in ("download_delay", "timeout", "max_retry_after"):
        if getattr(cfg.crawl, key) < 0:
            raise ConfigError(f"{_where(path, 'crawl.' + key)} must be >= 0")
    for key in ("concurrency_per_domain", "concurrency", "flush_items"):
        if getattr(cfg.crawl, key) < 1:
            raise ConfigError(f"{_where(path, 'crawl.' + key)} must be >= 1")
    if cfg.crawl.frontier:
        parsed = urlparse(cfg.crawl.frontier)
        if parsed.scheme not in ("redis", "rediss") or not parsed.hostname:
            raise ConfigError(f"{_where(path, 'crawl.frontier')} must be a Redis URL like "
                              f"'redis://localhost:6379/0' (or rediss:// for TLS), got {cfg.crawl.frontier!r}")

    sources = data.get("sources", [])
    if not isinstance(sources, list):
        raise ConfigError(f"{_where(path, 'sources')} must be an array of tables ([[sources]])")
    seen: set[str] = set()
    for i, raw in enumerate(sources):
        where = f"sources[{i}]"
        if not isinstance(raw, dict):
            raise ConfigError(f"{_where(path, where)} must be a table")
        raw = dict(raw)
        name = raw.pop("name", None)
        if not name or not isinstance(name, str):
            raise ConfigError(f"{_where(path, where + '.name')} is missing: every source needs a name")
        where = f"sources[{i}] ({name})"
        if name in seen:
            raise ConfigError(f"{_where(path, where + '.name')}: the name {name!r} is used twice")
        seen.add(name)
        spider = raw.pop("spider", None)
        if spider not in SPIDERS:
            raise ConfigError(
                f"{_where(path, where + '.spider')}: {spider!r} is not a spider; choose one of {', '.join(sorted(SPIDERS))}"
            )
        schedule = raw.pop("schedule", None)
        if schedule is not None:
            _check_cron(path, f"{where}.schedule", _check_type(path, f"{where}.schedule", schedule, str))
        enabled = _check_type(path, f"{where}.enabled", raw.pop("enabled", True), bool)
        allowed = SPIDERS[spider].OPTIONS
        options: dict[str, Any] = {}
        for key, value in raw.items():
            if key not in allowed:
                raise ConfigError(
                    f"{_where(path, where + '.' + key)}: unknown option for the {spider} spider; "
                    f"it takes: {', '.join(sorted(allowed))}"
                )
            options[key] = _check_type(path, f"{where}.{key}", value, allowed[key])
            if key.endswith("url") and isinstance(value, str):
                _check_url(path, f"{where}.{key}", value)
            if key.endswith("urls") and isinstance(value, list):
                for j, u in enumerate(value):
                    _check_url(path, f"{where}.{key}[{j}]", _check_type(path, f"{where}.{key}[{j}]", u, str))
        SPIDERS[spider].validate_options(options, lambda msg, k=where: ConfigError(f"{_where(path, k)}: {msg}"))
        cfg.sources.append(Source(name=name, spider=spider, schedule=schedule, enabled=enabled, options=options))

    for section in ("process", "privacy", "publish"):
        value = data.get(section, {})
        setattr(cfg, section, _check_type(path, section, value, dict))
    return cfg


def default_config_text() -> str:
    return resources.files("pipeline").joinpath("default_config.toml").read_text("utf-8")


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """--config FILE beats $DEBATELAKE_CONFIG beats ./debatelake.toml beats the bundled default."""
    chosen = path or os.environ.get(ENV_CONFIG)
    if not chosen and Path("debatelake.toml").is_file():
        chosen = "debatelake.toml"
    if not chosen:
        return parse_config(tomllib.loads(default_config_text()), path="<default config>")
    p = Path(chosen)
    if not p.is_file():
        raise ConfigError(f"config file {str(p)!r} does not exist (write one, or run `debatelake config show` for the default)")
    try:
        data = tomllib.loads(p.read_text("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{p}: not UTF-8 text ({exc})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: invalid TOML: {exc}") from exc
    return parse_config(data, path=str(p))
