"""Helpers for the crawler tests: a local site that answers with recorded payloads (read in place
from ../shared/fixtures, plus the project's own tests/data/api_* files), and a helper that runs a
real crawl through pipeline.crawling.run_crawl and reads back what it stored."""
from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

from pipeline.crawling import run_crawl
from pipeline.demo.server import LocalServer, Request, Response
from pipeline.store import Store

DATA = Path(__file__).resolve().parent / "data"
JSON = "application/json; charset=utf-8"


def project_json(name: str) -> bytes:
    """A project-written fixture from tests/data (bytes as stored)."""
    return (DATA / name).read_bytes()


# ---------------------------------------------------------------------------- recorded payloads
def hn_bundle(shared: Path) -> dict[tuple, bytes]:
    """hn/algolia-fixtures-2014-bundle.json -> {(path, tags, query, page): body}. The replies were
    re-serialised by the fixture's author, so the body is JSON of `reply` (content unchanged)."""
    entries = json.loads((shared / "fixtures/hn/algolia-fixtures-2014-bundle.json").read_text("utf-8"))
    out: dict[tuple, bytes] = {}
    for entry in entries:
        parts = urlsplit(entry["url"])
        q = parse_qs(parts.query, keep_blank_values=True)
        key = (parts.path, q.get("tags", [""])[0], q.get("query", [""])[0], q.get("page", ["0"])[0])
        out[key] = json.dumps(entry["reply"]).encode("utf-8")
    return out


def hn_key(req: Request) -> tuple:
    return (req.path, req.arg("tags", ""), req.arg("query", ""), req.arg("page", "0"))


@dataclass
class Interaction:
    method: str
    path: str
    query: dict[str, list[str]]
    form: dict[str, list[str]]
    status: int
    body: bytes
    content_type: str


def cassette(path: Path) -> list[Interaction]:
    """A PRAW betamax cassette: every recorded request with the raw body that answered it."""
    data = json.loads(path.read_text("utf-8"))
    out = []
    for it in data["interactions"]:
        req, resp = it["request"], it["response"]
        parts = urlsplit(req["uri"])
        body = req.get("body") or ""
        form_text = body.get("string") or "" if isinstance(body, dict) else body
        headers = {k.lower(): v for k, v in (resp.get("headers") or {}).items()}
        ctype = headers.get("content-type", [JSON])
        out.append(Interaction(
            method=req["method"], path=parts.path.rstrip("/"),
            query=parse_qs(parts.query, keep_blank_values=True),
            form=parse_qs(form_text, keep_blank_values=True) if "=" in form_text else {},
            status=int(resp["status"]["code"]), body=resp["body"]["string"].encode("utf-8"),
            content_type=ctype[0] if isinstance(ctype, list) else ctype,
        ))
    return out


# ---------------------------------------------------------------------------- the site
@dataclass
class Hit:
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    start: float  # time.monotonic() when the request arrived
    end: float = 0.0  # when its answer was ready to send


@dataclass
class Site:
    """A LocalServer handler: routes by exact path (or a callable that returns None to decline),
    logs every request with its arrival time and tracks how many were in flight at once."""

    routes: dict[str, Callable[[Request], Response | None] | Response] = field(default_factory=dict)
    fallbacks: list[Callable[[Request], Response | None]] = field(default_factory=list)
    hits: list[Hit] = field(default_factory=list)
    delay: float = 0.0  # added to every answer (concurrency tests)
    in_flight: int = 0
    max_in_flight: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def route(self, path: str, answer: Callable[[Request], Response | None] | Response | bytes) -> None:
        if isinstance(answer, bytes):
            answer = Response(200, answer, JSON)
        self.routes[path] = answer

    def __call__(self, req: Request) -> Response:
        hit = Hit(req.path, req.query, req.headers, time.monotonic())
        with self._lock:
            self.hits.append(hit)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay:
                time.sleep(self.delay)
            return self._answer(req)
        finally:
            with self._lock:
                self.in_flight -= 1
                hit.end = time.monotonic()

    def _answer(self, req: Request) -> Response:
        route = self.routes.get(req.path)
        if isinstance(route, Response):
            return route
        if route is not None:
            resp = route(req)
            if resp is not None:
                return resp
        for fallback in self.fallbacks:
            resp = fallback(req)
            if resp is not None:
                return resp
        return Response(404, "not found", "text/plain")

    def paths(self) -> list[str]:
        return [h.path for h in self.hits]

    def count(self, path: str) -> int:
        return sum(1 for h in self.hits if h.path == path)


# ---------------------------------------------------------------------------- a Discourse forum
def discourse_site(shared, with_extra_topics: bool, broken: bool = False) -> Site:
    """sourcecred-test.discourse.group as recorded: /latest.json pages, topics 11, 21, 26 (+ posts.json
    for 26's 21st post); category listings assembled from the recorded topic-list entries. With
    extra topics: try.discourse.org's topic 57 and the project-written topic 900. `broken`: topic
    21 is not JSON, 900 is a 500 and posts.json is cut off."""
    fx = shared / "fixtures/discourse"
    latest = [(fx / "latest-page0.json").read_bytes(), (fx / "latest-page1.json").read_bytes()]
    listed = {t["id"]: t for t in json.loads(latest[1])["topic_list"]["topics"]}
    topics = {11: fx / "topic-11.json", 21: fx / "topic-21.json", 26: fx / "topic-26.json"}
    if with_extra_topics:
        topics[57] = fx / "discourse_api-topic.json"
        topics[900] = DATA / "api_discourse_topic_900.json"
    pool = {p["id"]: p for p in json.loads((fx / "topic-26-page2.json").read_text("utf-8"))["post_stream"]["posts"]}
    site = Site()

    def listing(entries, more=None):
        body = {"topic_list": {"per_page": 30, "topics": entries}}
        if more:
            body["topic_list"]["more_topics_url"] = more
        return Response(200, json.dumps(body), JSON)

    site.route("/latest.json", lambda req: Response(200, latest[int(req.arg("page", "0"))], JSON))
    site.route("/c/uncategorized/1.json", lambda req: listing([listed[21]], "/c/uncategorized/1/l/latest?page=1"))
    site.route("/c/uncategorized/1/l/latest.json",
               lambda req: listing([listed[11]]) if req.arg("page") == "1" else None)
    site.route("/c/6.json", lambda req: listing([listed[26], {"id": 900, "slug": "should-hosted-models-refuse-less"},
                                                 {"id": 57, "slug": "this-site-is-a-sandbox-it-is-reset-every-day"}]))

    def posts(req):  # the posts.json endpoint answers exactly the posts asked for
        ids = [int(i) for i in req.query.get("post_ids[]", [])]
        body = json.dumps({"post_stream": {"posts": [pool[i] for i in ids if i in pool]}, "id": 26})
        return Response(200, body, JSON, truncate=broken)

    site.route("/t/26/posts.json", posts)

    def topic(req):
        name = req.path.removeprefix("/t/").removesuffix(".json")
        if not name.isdigit() or int(name) not in topics:
            return None
        if broken and name == "21":
            return Response(200, "<!DOCTYPE html><html><body>Discourse is down for maintenance</body></html>",
                            "text/html")
        if broken and name == "900":
            return Response(500, "oops", "text/plain")
        return Response(200, topics[int(name)].read_bytes(), JSON)

    site.fallbacks.append(topic)
    return site


# ---------------------------------------------------------------------------- config + crawl
def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML for {value!r}")


def write_config(path: Path, sources: list[dict[str, Any]], crawl: dict[str, Any] | None = None) -> Path:
    """A config for tests: fast and impolite unless the test says otherwise."""
    settings = {"contact": "mailto:crawler-tests@example.org", "download_delay": 0.0, "autothrottle": False,
                "obey_robots": False, "concurrency_per_domain": 4, "timeout": 10.0, "retries": 0}
    settings.update(crawl or {})
    lines = ["[crawl]"] + [f"{k} = {toml_value(v)}" for k, v in settings.items()]
    for src in sources:
        lines.append("")
        lines.append("[[sources]]")
        lines += [f"{k} = {toml_value(v)}" for k, v in src.items()]
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


@dataclass
class Crawl:
    root: Path
    run_ids: list[str]
    log: str
    elapsed: float

    def docs(self, source: str | None = None) -> dict[str, dict[str, Any]]:
        store = Store(str(self.root))
        if not store.exists("documents"):
            return {}
        rows = store.read("documents").to_pylist()
        out = {}
        for row in rows:
            if source is None or row["source"] == source:
                row["raw"] = dict(row["raw"] or [])
                out[row["doc_id"]] = row
        return out

    def runs(self) -> dict[str, dict[str, Any]]:
        rows = Store(str(self.root)).read("runs").to_pylist()
        out = {}
        for row in rows:
            if row["run_id"] in self.run_ids:
                row["responses"] = dict(row["responses"] or [])
                row["stats"] = dict(row["stats"] or [])
                out[row["source"]] = row
        return out

    def error_lines(self) -> list[str]:
        return [line for line in self.log.splitlines() if " ERROR: " in line]

    def errors_naming(self, url_part: str) -> list[str]:
        return [line for line in self.error_lines() if url_part in line]


def crawl(tmp_path: Path, sources: list[dict[str, Any]], crawl_settings: dict[str, Any] | None = None,
          names: list[str] | None = None, root: Path | None = None) -> Crawl:
    root = root or tmp_path / "data"
    config = write_config(tmp_path / f"crawl-{time.monotonic_ns()}.toml", sources, crawl_settings)
    log = tmp_path / f"crawl-{time.monotonic_ns()}.log"
    started = time.monotonic()
    run_ids = run_crawl(str(root), names or [], config=str(config), log_file=log)
    return Crawl(root, run_ids, log.read_text("utf-8", errors="replace"), time.monotonic() - started)


def serve(site: Site) -> LocalServer:
    return LocalServer(site).start()


WS = re.compile(r"\s+")


def squash(text: str | None) -> str:
    return WS.sub(" ", text or "").strip()
