"""`debatelake report`: a static HTML report with PNG charts, checked on disk and then opened from
file:// in a real headless Chromium (Debian's), driven over the DevTools protocol."""
from __future__ import annotations

import base64
import io
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import time
import urllib.parse
import urllib.request
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pyarrow as pa
import pytest

from _snapshot_data import KEY, UTC, cli, flat, invoke
from pipeline.report import LABEL_COLORS, build_report
from pipeline.schema import ANNOTATIONS, Document
from pipeline.snapshots import create_snapshot
from pipeline.store import Store

BASE = datetime(2026, 1, 10, tzinfo=UTC)
MODEL = "m-report-1"
N = 40
MODERATIONS = ("filter", "no_filter", "neutral")
TONES = ("positive", "negative", "neutral")
# (gazetteer id, kind): Llama 3 and Meta in every other document, GPT-4 and OpenAI in every fifth
ENTITIES = {"llama-3": "MODEL", "meta": "LAB", "gpt-4": "MODEL", "openai": "LAB"}
LABELLED_CHARTS = {"volume", "release_over_time", "moderation_over_time", "platform_shares", "topics", "sources",
                   "entities", "confidence"}
UNLABELLED_CHARTS = {"volume", "sources"}


# --------------------------------------------------------------------------- data
def doc(i: int) -> Document:
    when = BASE + timedelta(days=9 * i)
    if i == N - 1:  # one Reddit comment without a date
        return Document(doc_id="reddit:t1_x", source="r_ml", platform="reddit", kind="comment",
                        url="https://www.reddit.com/r/ml/comments/x/_/x", thread_id="reddit:t3_x", text="Undated.",
                        author="r_user")
    if i % 3 == 0:
        return Document(doc_id=f"blog:u:{i:04d}", source="blogs", platform="blog", kind="post",
                        url=f"https://blog.example.org/posts/{i}", title=f"Post {i}",
                        text=f"Post {i} about open weights and safety filters.", author="Blogger", published_at=when)
    return Document(doc_id=f"hackernews:{2000 + i}", source="hn", platform="hackernews", kind="comment",
                    url=f"https://news.ycombinator.com/item?id={2000 + i}", thread_id="hackernews:2000",
                    parent_id="hackernews:2000", depth=1, text=f"Comment {i} on release policy.",
                    author=f"hn_{i % 5}", published_at=when)


def label(i: int) -> dict:
    """The stance drifts from open to closed half-way through the year."""
    if i < N // 2:
        release = "closed" if i % 4 == 3 else "open"
    else:
        release = "mixed" if i % 4 == 3 else "closed"
    ents = []
    if i % 2 == 0:
        ents += [("llama-3", "Llama 3"), ("meta", "Meta")]
    if i % 5 == 0:
        ents += [("gpt-4", "GPT-4"), ("openai", "OpenAI")]
    return {
        "release": release, "release_prob": round(0.3 + (i % 7) * 0.1, 2),
        "moderation": MODERATIONS[i % 3], "moderation_prob": 0.55 + (i % 4) * 0.1,
        "topics": ["open_release"] if i % 2 else ["moderation", "regulation"],
        "sentiment": TONES[i % 3], "sentiment_prob": 0.6,
        "entities": [{"id": e, "label": ENTITIES[e], "text": t, "start": 0, "end": len(t)} for e, t in ents],
    }


def build(root: Path, labelled: bool = True) -> tuple[Store, list[Document], dict[str, dict]]:
    store = Store(root)
    docs = [doc(i) for i in range(N)]
    store.merge_documents(docs, {"run_id": "crawl-report"})
    labels = {}
    if labelled:
        rows = []
        for i, d in enumerate(docs):
            labels[d.doc_id] = label(i)
            rows.append({"doc_id": d.doc_id, "passage_id": d.doc_id, "level": "document", "model_version": MODEL,
                         "content_hash": d.content_hash, "language": "en", "labelled_at": datetime.now(UTC),
                         "run_id": "process-report", **labels[d.doc_id]})
        store.upsert("annotations", pa.Table.from_pylist(rows, schema=ANNOTATIONS), {"step": "labels"})
    return store, docs, labels


# --------------------------------------------------------------------------- files
class Refs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.imgs: list[dict] = []
        self.urls: list[str] = []
        self.scripts_with_src = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img":
            self.imgs.append(a)
        if tag == "script" and a.get("src"):
            self.scripts_with_src += 1
        for k in ("src", "href"):
            if a.get(k):
                self.urls.append(a[k])


def refs(index: Path) -> Refs:
    p = Refs()
    p.feed(index.read_text("utf-8"))
    return p


def colour_pixels(png: Path) -> Counter:
    from PIL import Image

    with Image.open(png) as im:
        im.load()
        assert im.format == "PNG" and im.width >= 300 and im.height >= 150, (png, im.size)
        return colour_counts(im)


def colour_counts(im) -> Counter:
    rgb_image = im.convert("RGB")
    pixels = rgb_image.get_flattened_data() if hasattr(rgb_image, "get_flattened_data") else rgb_image.getdata()
    return Counter(pixels)


def drawn(png: bytes) -> tuple[float, int, Counter]:
    """Share of pixels that are not (near) white, number of distinct colours, and the pixels."""
    from PIL import Image

    with Image.open(io.BytesIO(png)) as im:
        pixels = colour_counts(im)
    total = sum(pixels.values())
    return sum(n for p, n in pixels.items() if min(p) < 230) / total, len(pixels), pixels


def near(pixels: Counter, colour: tuple[int, int, int], tolerance: int = 6) -> int:
    return sum(n for p, n in pixels.items() if max(abs(a - b) for a, b in zip(p, colour)) <= tolerance)


def rendered_charts(state: dict) -> set[str]:
    """Charts the browser loaded (natural size) and drew (its screenshot is not blank)."""
    out = set()
    for img in state["images"]:
        png = state["shots"].get(img["chart"])
        if img["complete"] and img["naturalWidth"] > 0 and png is not None:
            share, colours, _ = drawn(png)
            if share > 0.05 and colours >= 20:
                out.add(img["chart"])
    return out


def rgb(hex_colour: str) -> tuple[int, int, int]:
    return tuple(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))


def check_offline(index: Path) -> Refs:
    r = refs(index)
    for url in r.urls:
        assert not url.startswith(("http:", "https:", "//")), url  # nothing fetched from a network
        assert (index.parent / urllib.parse.unquote(url)).is_file(), url  # every reference is a file beside it
    assert r.scripts_with_src == 0
    return r


# --------------------------------------------------------------------------- the browser
CHROMIUM = next((p for p in (shutil.which("chromium"), "/usr/bin/chromium") if p and os.path.exists(p)), None)


class DevTools:
    """The DevTools protocol over one websocket (RFC 6455 text frames; client frames masked)."""

    def __init__(self, ws_url: str, timeout: float = 20.0):
        u = urllib.parse.urlsplit(ws_url)
        self.sock = socket.create_connection((u.hostname, u.port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {u.path} HTTP/1.1\r\nHost: {u.hostname}:{u.port}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")
                          .encode())
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("DevTools closed the connection during the handshake")
            buf += chunk
        head, _, self.buf = buf.partition(b"\r\n\r\n")
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise ConnectionError(head.decode("latin-1"))
        self.ids = 0
        self.events: list[dict] = []

    def close(self) -> None:
        self.sock.close()

    def _send(self, text: str) -> None:
        data = text.encode()
        header = bytearray([0x81])
        if len(data) < 126:
            header.append(0x80 | len(data))
        elif len(data) < 65536:
            header += bytes([0x80 | 126]) + struct.pack(">H", len(data))
        else:
            header += bytes([0x80 | 127]) + struct.pack(">Q", len(data))
        mask = os.urandom(4)
        self.sock.sendall(bytes(header) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def _exact(self, n: int) -> bytes:
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("DevTools closed the connection")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _message(self) -> str:
        parts = b""
        while True:
            b1, b2 = self._exact(2)
            n = b2 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._exact(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._exact(8))[0]
            payload = self._exact(n)
            op = b1 & 0x0F
            if op == 8:
                raise ConnectionError("DevTools closed the websocket")
            if op in (9, 10):
                continue
            parts += payload
            if b1 & 0x80:
                return parts.decode()

    def call(self, method: str, **params):
        self.ids += 1
        self._send(json.dumps({"id": self.ids, "method": method, "params": params}))
        while True:
            msg = json.loads(self._message())
            if msg.get("id") == self.ids:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg["result"]
            if "method" in msg:
                self.events.append(msg)

    def wait_for(self, method: str, timeout: float = 30.0) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            for e in self.events:
                if e["method"] == method:
                    return e
            if time.monotonic() > deadline:
                raise AssertionError(f"no {method} within {timeout} s")
            msg = json.loads(self._message())
            if "method" in msg:
                self.events.append(msg)

    def evaluate(self, expression: str):
        res = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in res:
            raise RuntimeError(res["exceptionDetails"])
        return res["result"].get("value")


PAGE_STATE = """(function () {
  var body = document.body, banner = document.getElementById("missing-charts");
  return JSON.stringify({
  url: location.href,
  ready: document.readyState,
  images: Array.from(document.images).map(function (i) {
    var r = i.getBoundingClientRect();
    return {src: i.getAttribute("src"), chart: i.getAttribute("data-chart"), complete: i.complete,
            naturalWidth: i.naturalWidth, naturalHeight: i.naturalHeight, shownWidth: r.width, shownHeight: r.height,
            x: r.left + window.scrollX, y: r.top + window.scrollY};
  }),
  chartsLoaded: body && body.getAttribute("data-charts-loaded"),
  hasLabels: body && body.getAttribute("data-has-labels"),
  banner: banner && banner.textContent,
  text: body ? body.innerText : ""
  });
})()"""


class Browser:
    def __init__(self, tmp: Path):
        self.profile = tmp / "chromium-profile"
        self.log = open(tmp / "chromium.log", "wb")
        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--disable-extensions", "--disable-dev-shm-usage", "--window-size=1280,1024",
             f"--user-data-dir={self.profile}", "--remote-debugging-port=0", "about:blank"],
            stdout=self.log, stderr=self.log, start_new_session=True)
        port_file = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + 40
        while not (port_file.is_file() and port_file.read_text().strip()):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"Chromium did not start its DevTools endpoint: {(tmp / 'chromium.log').read_text()[-2000:]}")
            time.sleep(0.1)
        self.port = int(port_file.read_text().split()[0])

    def _http(self, path: str, method: str = "GET"):
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", method=method)
        with urllib.request.urlopen(req, timeout=20) as resp:
            return resp.read().decode()

    def open(self, path: Path, timeout: float = 30.0) -> dict:
        """Open a file in a new tab, wait for its load event, and return what the page shows and
        every URL it requested."""
        url = path.resolve().as_uri()
        target = json.loads(self._http("/json/new?about:blank", "PUT"))
        tools = DevTools(target["webSocketDebuggerUrl"])
        try:
            tools.call("Page.enable")
            tools.call("Network.enable")
            tools.events.clear()
            tools.call("Page.navigate", url=url)
            tools.wait_for("Page.loadEventFired", timeout)
            deadline = time.monotonic() + timeout
            while True:
                state = json.loads(tools.evaluate(PAGE_STATE))
                # the page's own load handler marks the body once every image has loaded or failed
                if state["url"] == url and state["ready"] == "complete" and state["chartsLoaded"] is not None:
                    break
                if time.monotonic() > deadline:
                    raise AssertionError(f"the page did not finish loading: {state['ready']}")
                time.sleep(0.1)
            state["requests"] = [e["params"]["request"]["url"] for e in tools.events
                                 if e["method"] == "Network.requestWillBeSent"]
            # what the browser drew where each chart is (a truncated PNG keeps its size, draws nothing)
            state["shots"] = {}
            for img in state["images"]:
                if img["shownWidth"] and img["shownHeight"]:
                    clip = {"x": img["x"], "y": img["y"], "width": img["shownWidth"], "height": img["shownHeight"],
                            "scale": 1}
                    shot = tools.call("Page.captureScreenshot", format="png", clip=clip, captureBeyondViewport=True)
                    state["shots"][img["chart"]] = base64.b64decode(shot["data"])
            return state
        finally:
            tools.close()
            self._http(f"/json/close/{target['id']}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # our own process group only (start_new_session)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self.log.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium, or ./setup.sh --test); "
                    "the report's browser check needs a real browser")
    b = Browser(tmp_path_factory.mktemp("browser"))
    yield b
    b.stop()


# --------------------------------------------------------------------------- reports
@pytest.fixture(scope="module")
def labelled(tmp_path_factory):
    base = tmp_path_factory.mktemp("report")
    root = base / "data"
    store, docs, labels = build(root)
    out = base / "out"
    r = cli("report", "--root", str(root), "--out", str(out), "--mark", "2026-08-04:Meridian-3")
    assert r.returncode == 0, r.stderr
    return {"root": root, "store": store, "docs": docs, "labels": labels, "out": out, "run": r,
            "summary": json.loads((out / "report.json").read_text())}


def test_report_files_and_charts(labelled):
    out, r = labelled["out"], labelled["run"]
    index = out / "index.html"
    assert index.is_file() and (out / "report.json").is_file()
    assert index.resolve().as_uri() in flat(r.stdout)  # says where to open it
    assert f"{N}documents,{N}labelled,{len(LABELLED_CHARTS)}charts" in flat(r.stdout), r.stdout
    page = check_offline(index)
    charts = {img["data-chart"]: img for img in page.imgs}
    assert set(charts) == LABELLED_CHARTS
    for key, img in charts.items():
        assert img["src"] == f"charts/{key}.png" and img.get("alt")
        colour_pixels(out / img["src"])  # a real PNG of a real size
    assert sorted(p.name for p in (out / "charts").iterdir()) == sorted(f"{k}.png" for k in LABELLED_CHARTS)
    html = index.read_text()
    assert 'data-has-labels="true"' in html and "no labels yet" not in html


def test_stance_charts_show_the_labels(labelled):
    charts = labelled["out"] / "charts"
    release = colour_pixels(charts / "release_over_time.png")
    for lab in ("open", "closed", "mixed"):
        assert release[rgb(LABEL_COLORS[lab])] > 300, lab  # a visible share of each label is drawn
    assert release[rgb(LABEL_COLORS["filter"])] == 0
    moderation = colour_pixels(charts / "moderation_over_time.png")
    for lab in ("filter", "no_filter", "neutral"):
        assert moderation[rgb(LABEL_COLORS[lab])] > 300, lab
    assert moderation[rgb(LABEL_COLORS["open"])] == 0
    # the other charts are not blank: each has more than its background and text
    for name in ("topics", "sources", "entities", "confidence", "platform_shares", "volume"):
        pixels = colour_pixels(charts / f"{name}.png")
        white = pixels[(255, 255, 255)]
        assert white < 0.97 * sum(pixels.values()), name


def test_report_numbers_match_the_data(labelled):
    s, docs, labels = labelled["summary"], labelled["docs"], labelled["labels"]
    dated = [d for d in docs if d.published_at]
    months = sorted({d.published_at.strftime("%Y-%m") for d in dated})
    assert s["months"][0] == months[0] and s["months"][-1] == months[-1] and len(s["months"]) == 12
    assert s["headline"]["documents"] == N and s["headline"]["undated"] == 1
    assert s["headline"]["labelled"] == N and s["model_version"] == MODEL
    # monthly release shares, computed here from the labels given
    per_month: dict[str, Counter] = defaultdict(Counter)
    for d in dated:
        per_month[d.published_at.strftime("%Y-%m")][labels[d.doc_id]["release"]] += 1
    monthly = s["axes"]["release"]["monthly"]
    for i, m in enumerate(s["months"]):
        total = sum(per_month[m].values())
        assert monthly["n"][i] == total, m
        for lab in ("open", "closed", "mixed"):
            want = per_month[m][lab] / total if total else 0.0
            assert monthly["shares"][lab][i] == pytest.approx(want, abs=1e-3), (m, lab)
    assert monthly["shares"]["open"][0] > 0.5 and monthly["shares"]["closed"][-1] > 0.5  # the drift shows
    assert s["topics"] == dict(Counter(t for lab in labels.values() for t in lab["topics"]))
    assert s["sources"] == {"blogs": {"post": 13}, "hn": {"comment": 26}, "r_ml": {"comment": 1}}
    models = {e["name"]: e["documents"] for e in s["entities"]["models"]}
    labs = {e["name"]: e["documents"] for e in s["entities"]["labs"]}
    assert models == {"Llama 3": 20, "GPT-4": 8} and labs == {"Meta": 20, "OpenAI": 8}
    conf = s["confidence"]["release"]
    probs = [lab["release_prob"] for lab in labels.values()]
    assert conf["n"] == N and conf["mean"] == pytest.approx(sum(probs) / N, abs=1e-3)
    assert conf["below_0_5"] == sum(1 for p in probs if p < 0.5)
    assert s["releases"] == [{"date": "2026-08-04", "name": "Meridian-3"}]  # --mark
    html = (labelled["out"] / "index.html").read_text()
    assert "Meridian-3 (2026-08-04)" in html


def test_report_renders_its_charts_in_chromium(labelled, browser):
    state = browser.open(labelled["out"] / "index.html")
    shown = {img["chart"]: img for img in state["images"]}
    assert set(shown) == LABELLED_CHARTS
    for key, img in shown.items():
        assert img["complete"] and img["naturalWidth"] > 0 and img["naturalHeight"] > 0, img
        assert img["shownWidth"] > 100 and img["shownHeight"] > 50, img  # laid out, not hidden
    assert state["chartsLoaded"] == str(len(LABELLED_CHARTS)) and state["banner"] == ""
    # each chart is drawn on the page: not blank, and the stance charts in their labels' colours
    assert rendered_charts(state) == LABELLED_CHARTS
    _, _, release = drawn(state["shots"]["release_over_time"])
    for lab in ("open", "closed", "mixed"):
        assert near(release, rgb(LABEL_COLORS[lab])) > 300, lab
    _, _, moderation = drawn(state["shots"]["moderation_over_time"])
    for lab in ("filter", "no_filter"):
        assert near(moderation, rgb(LABEL_COLORS[lab])) > 300, lab
    # the page and its charts, all from disk, nothing else
    requests = state["requests"]
    assert all(u.startswith("file://") for u in requests), requests
    assert {u.rsplit("/", 1)[-1] for u in requests} >= {"index.html", *(f"{k}.png" for k in LABELLED_CHARTS)}
    text = state["text"]
    for heading in ("Release: open or closed models", "Moderation: safety filters or none", "Topics",
                    "Sources and platforms", "Models and labs", "Label confidence"):
        assert heading in text, heading


def test_a_missing_or_broken_chart_is_caught_in_chromium(labelled, browser, tmp_path):
    """The browser check can fail: a copy with one chart deleted and one truncated."""
    copy = tmp_path / "copy"
    shutil.copytree(labelled["out"], copy)
    (copy / "charts" / "topics.png").unlink()
    broken = copy / "charts" / "entities.png"
    broken.write_bytes(broken.read_bytes()[:200])
    state = browser.open(copy / "index.html")
    assert LABELLED_CHARTS - rendered_charts(state) == {"entities", "topics"}
    not_loaded = sorted(img["chart"] for img in state["images"] if img["naturalWidth"] == 0)
    assert not_loaded == ["topics"]
    # the truncated PNG has a size (its header survived) but draws nothing: only the screenshot shows it
    assert drawn(state["shots"]["entities"])[0] <= 0.05
    assert state["chartsLoaded"] == str(len(LABELLED_CHARTS) - 1)
    assert "1 of 8 charts could not be shown" in state["banner"]  # the page itself names the missing one


def test_report_of_a_snapshot(labelled, tmp_path):
    store = labelled["store"]
    create_snapshot(store, "r1", privacy={"key": KEY})
    out = tmp_path / "snap-report"
    r = invoke("report", "r1", "--root", str(labelled["root"]), "--out", str(out))
    assert r.exit_code == 0, r.output
    s = json.loads((out / "report.json").read_text())
    assert s["snapshot"] == "r1" and s["what"] == "snapshot r1" and s["headline"]["documents"] == N
    # snapshots keep entity ids only: the names come back from the gazetteer
    assert {e["name"] for e in s["entities"]["models"]} == {"Llama 3", "GPT-4"}
    assert s["axes"]["release"]["monthly"] == labelled["summary"]["axes"]["release"]["monthly"]
    assert {img["data-chart"] for img in check_offline(out / "index.html").imgs} == LABELLED_CHARTS
    missing = invoke("report", "nope", "--root", str(labelled["root"]), "--out", str(tmp_path / "x"))
    assert missing.exit_code == 2 and "no snapshot 'nope'" in missing.stderr and "r1" in missing.stderr


def test_report_without_labels_says_so_and_renders(browser, tmp_path):
    root = tmp_path / "data"
    build(root, labelled=False)
    out = tmp_path / "out"
    r = cli("report", "--root", str(root), "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert "nolabelsyet" in flat(r.stdout)
    html = (out / "index.html").read_text()
    assert 'data-has-labels="false"' in html and "no labels yet" in html and "debatelake process" in html
    page = check_offline(out / "index.html")
    assert {img["data-chart"] for img in page.imgs} == UNLABELLED_CHARTS
    sources = colour_pixels(out / "charts" / "sources.png")
    assert sources[(0x38, 0x6C, 0xB0)] > 300 and sources[(0xF0, 0xA2, 0x02)] > 300  # posts and comments bars
    state = browser.open(out / "index.html")
    assert state["hasLabels"] == "false" and "no labels yet" in state["text"]
    assert {img["chart"] for img in state["images"]} == rendered_charts(state) == UNLABELLED_CHARTS


def test_report_into_a_used_folder_drops_stale_charts(labelled, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(labelled["out"], out)
    root = tmp_path / "data"
    build(root, labelled=False)
    result = build_report(root, None, out)
    assert sorted(p.name for p in (out / "charts").iterdir()) == sorted(f"{k}.png" for k in UNLABELLED_CHARTS)
    assert not result.summary["has_labels"]


def test_report_with_no_documents_says_what_to_do(tmp_path):
    r = invoke("report", "--root", str(tmp_path / "empty"), "--out", str(tmp_path / "out"))
    assert r.exit_code == 2 and "no documents" in r.stderr and "debatelake crawl" in r.stderr
    assert not (tmp_path / "out" / "index.html").exists()
