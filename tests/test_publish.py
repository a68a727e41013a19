"""`debatelake publish`: local folder, .tar.gz, S3 (a real moto server on 127.0.0.1) and the Hugging
Face Hub (huggingface_hub talking to a small emulated Hub on 127.0.0.1)."""
from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import shutil
import subprocess
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from _snapshot_data import KEY, OTHER_KEY, build_root, cli, write_config
from pipeline.demo.server import LocalServer, Response
from pipeline.privacy import ENV_KEY, PrivacyKeyMissing
from pipeline.publish import PublishError, git_blob_sha1, publish
from pipeline.snapshots import create_snapshot, read_checksums, sha256_file, snapshot_path, verify_snapshot, write_checksums
from pipeline.store import Store

PRIVACY = {"key": KEY}
pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")  # huggingface_hub -> httpx
NAME = "2026-03"


@pytest.fixture(autouse=True)
def _no_ambient_key(monkeypatch):
    monkeypatch.delenv(ENV_KEY, raising=False)
    for var in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_PROFILE", "HF_TOKEN", "HF_ENDPOINT"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="module")
def snap(tmp_path_factory):
    """A data root with one snapshot sharded into several files (tiny --max-file-mb)."""
    root = tmp_path_factory.mktemp("pubroot") / "data"
    store = build_root(root)
    create_snapshot(store, NAME, privacy=PRIVACY, max_file_mb=0.012)
    folder = snapshot_path(store, NAME)
    sums = read_checksums(folder)
    assert sum(1 for rel in sums if rel.startswith("data/documents/")) >= 3  # really sharded
    return store, folder


def expected_files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def copy_root(store: Store, dest: Path) -> Store:
    """A private, writable copy of a data root (for tests that alter a snapshot)."""
    shutil.copytree(store.root, dest)
    for p in dest.rglob("*"):
        p.chmod(0o755 if p.is_dir() else 0o644)
    return Store(dest)


# --------------------------------------------------------------------------- preflight
def test_altered_snapshot_is_refused_naming_the_file(snap, tmp_path):
    store = copy_root(snap[0], tmp_path / "data")
    part = snapshot_path(store, NAME) / "data/documents/part-00001.parquet"
    part.write_bytes(part.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(PublishError) as exc:
        publish(store, NAME, str(tmp_path / "out"), privacy=PRIVACY)
    assert "data/documents/part-00001.parquet" in str(exc.value)
    assert "altered" in str(exc.value)
    assert not (tmp_path / "out").exists()


def test_missing_key_stops_before_anything_is_written(snap, tmp_path):
    store, _ = snap
    with pytest.raises(PrivacyKeyMissing):
        publish(store, NAME, str(tmp_path / "out"), privacy={})
    assert not (tmp_path / "out").exists()
    cfg = write_config(tmp_path / "c.toml")
    r = cli("publish", NAME, "--to", str(tmp_path / "out2"), "--root", store.root, "--config", str(cfg),
            env={ENV_KEY: ""})
    assert r.returncode != 0
    assert ENV_KEY in r.stderr and "refusing to publish" in r.stderr
    assert not (tmp_path / "out2").exists()


def test_manifest_must_say_authors_are_pseudonymised(snap, tmp_path):
    store = copy_root(snap[0], tmp_path / "data")
    folder = snapshot_path(store, NAME)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["privacy"]["authors"] = "as crawled"
    (folder / "manifest.json").write_text(json.dumps(manifest))
    write_checksums(folder)  # consistent checksums: only the privacy check can stop it
    assert verify_snapshot(store, NAME) == []
    with pytest.raises(PublishError, match="pseudonymised"):
        publish(store, NAME, str(tmp_path / "out"), privacy=PRIVACY)
    assert not (tmp_path / "out").exists()


def test_raw_author_names_in_the_data_are_refused(snap, tmp_path):
    store = copy_root(snap[0], tmp_path / "data")
    folder = snapshot_path(store, NAME)
    part = folder / "data/documents/part-00000.parquet"
    t = pq.read_table(part)
    authors = t.column("author").to_pylist()
    authors[0] = "Blogger 0"
    t = t.set_column(t.schema.get_field_index("author"), "author", __import__("pyarrow").array(authors))
    pq.write_table(t, part)
    write_checksums(folder)
    with pytest.raises(PublishError, match="Blogger 0"):
        publish(store, NAME, str(tmp_path / "out"), privacy=PRIVACY)


def test_another_key_is_published_with_a_note(snap, tmp_path):
    store, folder = snap
    result = publish(store, NAME, str(tmp_path / "out"), privacy={"key": OTHER_KEY}, record=False)
    assert any("another key" in n for n in result.notes)


# --------------------------------------------------------------------------- local folder
def test_folder_publish_copies_every_file_and_resumes(snap, tmp_path):
    store, folder = snap
    out = tmp_path / "pub"
    result = publish(store, NAME, str(out), privacy=PRIVACY)
    want = expected_files(folder)
    assert expected_files(out) == want
    assert result.verified == len(want) and sorted(result.uploaded) == sorted(want)
    assert result.uploaded[-1] == "SHA256SUMS"  # last: a target with SHA256SUMS is complete
    # the published folder verifies on its own
    for rel, digest in read_checksums(out).items():
        assert sha256_file(out / rel) == digest

    # an interrupted copy: two files missing, one truncated, a temp file left behind
    (out / "data/documents/part-00002.parquet").unlink()
    (out / "SHA256SUMS").unlink()
    (out / "README.md").write_bytes((folder / "README.md").read_bytes()[:100])
    (out / "data/passages/.part-00000.parquet.partial").write_bytes(b"half")
    again = publish(store, NAME, str(out), privacy=PRIVACY)
    assert sorted(again.uploaded) == ["README.md", "SHA256SUMS", "data/documents/part-00002.parquet"]
    assert len(again.skipped) == len(want) - 3
    assert expected_files(out) == want
    # the publish runs are recorded in the runs table
    runs = [r for r in store.read("runs").to_pylist() if r["command"] == "publish"]
    mine = sorted((r for r in runs if dict(r["stats"])["target"] == str(out)), key=lambda r: r["started_at"])
    assert [(r["status"], dict(r["stats"])["uploaded"]) for r in mine] == [("finished", str(len(want))),
                                                                            ("finished", "3")]


def test_folder_that_fails_half_way_resumes(snap, tmp_path):
    store, folder = snap
    out = tmp_path / "pub"
    (out / "README.md").mkdir(parents=True)  # a folder where a file must go: the copy breaks half-way
    with pytest.raises(PublishError) as exc:
        publish(store, NAME, str(out), privacy=PRIVACY)
    assert "run the same command again" in str(exc.value)
    assert verify_snapshot(store, NAME) == []  # the snapshot is intact
    done = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert done == sorted(rel for rel in read_checksums(folder) if rel.startswith("data/"))
    (out / "README.md").rmdir()
    again = publish(store, NAME, str(out), privacy=PRIVACY)
    assert sorted(again.skipped) == done
    assert expected_files(out) == expected_files(folder)


def _read_only(path: Path):
    """Make a folder refuse writes, also for root (who ignores permission bits): chattr +i."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        path.chmod(0o555)
        return lambda: path.chmod(0o755)
    r = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot make a read-only folder as root here (chattr: {r.stderr.strip()})")
    return lambda: subprocess.run(["chattr", "-i", str(path)], check=False)


def test_read_only_folder_is_refused_with_what_to_do(snap, tmp_path):
    store, _ = snap
    locked = tmp_path / "locked"
    undo = _read_only(locked)
    try:
        cfg = write_config(tmp_path / "c.toml")
        r = cli("publish", NAME, "--to", str(locked / "pub"), "--root", store.root, "--config", str(cfg),
                env={ENV_KEY: KEY})
        assert r.returncode != 0
        assert "refused" in r.stderr and "run the same command again" in r.stderr
        assert not (locked / "pub").exists()
        tar = cli("publish", NAME, "--to", str(locked / "x.tar.gz"), "--root", store.root, "--config", str(cfg),
                  env={ENV_KEY: KEY})
        assert tar.returncode != 0 and "cannot write" in tar.stderr
        assert list(locked.iterdir()) == []
    finally:
        undo()
    assert verify_snapshot(store, NAME) == []


def test_folder_holding_another_snapshot_is_refused(snap, tmp_path):
    store, _ = snap
    out = tmp_path / "pub"
    out.mkdir()
    (out / "manifest.json").write_text(json.dumps({"name": "2025-12"}))
    with pytest.raises(PublishError, match="2025-12"):
        publish(store, NAME, str(out), privacy=PRIVACY)
    (out / "manifest.json").unlink()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(PublishError, match="notes.txt"):
        publish(store, NAME, str(out), privacy=PRIVACY)
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


# --------------------------------------------------------------------------- .tar.gz
def tar_contents(path: Path) -> dict[str, bytes]:
    with tarfile.open(path, "r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}


def test_tar_gz_holds_the_snapshot_and_is_reproducible(snap, tmp_path):
    store, folder = snap
    a, b = tmp_path / "a" / "snap.tar.gz", tmp_path / "b" / "snap.tar.gz"
    r = cli("publish", NAME, "--to", str(a), "--root", store.root, "--config", str(write_config(tmp_path / "c.toml")),
            env={ENV_KEY: KEY})
    assert r.returncode == 0, r.stderr
    assert "checksum(s) checked" in r.stdout
    members = tar_contents(a)
    assert members == {f"{NAME}/{rel}": data for rel, data in expected_files(folder).items()}
    sums = read_checksums(folder)
    for rel, digest in sums.items():
        assert hashlib.sha256(members[f"{NAME}/{rel}"]).hexdigest() == digest
    publish(store, NAME, str(b), privacy=PRIVACY, record=False)
    assert a.read_bytes() == b.read_bytes()  # byte-for-byte: citable by its own sha256
    assert [p.name for p in a.parent.iterdir()] == ["snap.tar.gz"]  # no temp file left

    again = publish(store, NAME, str(a), privacy=PRIVACY, record=False)  # already there: nothing to do
    assert again.uploaded == [] and again.verified == len(sums) + 1

    other = tmp_path / "other.tar.gz"
    other.write_bytes(b"not this snapshot")
    with pytest.raises(PublishError, match="not overwritten|not a readable"):
        publish(store, NAME, str(other), privacy=PRIVACY, record=False)
    assert other.read_bytes() == b"not this snapshot"


def test_interrupted_tar_leaves_nothing_under_its_name(snap, tmp_path, monkeypatch):
    store, _ = snap
    dest = tmp_path / "snap.tar.gz"
    import pipeline.publish as pub

    calls = {"n": 0}
    real = pub.TarPublisher._uploaded

    def boom(self, f):
        calls["n"] += 1
        if calls["n"] == 4:
            raise OSError(28, "No space left on device")
        return real(self, f)

    monkeypatch.setattr(pub.TarPublisher, "_uploaded", boom)
    with pytest.raises(PublishError, match="run the same command again"):
        publish(store, NAME, str(dest), privacy=PRIVACY, record=False)
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setattr(pub.TarPublisher, "_uploaded", real)
    publish(store, NAME, str(dest), privacy=PRIVACY, record=False)
    assert len(tar_contents(dest)) == len(read_checksums(snapshot_path(store, NAME))) + 1


# --------------------------------------------------------------------------- S3 (moto server)
@pytest.fixture(scope="module")
def moto_server():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


class Proxy:
    """An HTTP proxy on 127.0.0.1 in front of the S3 server that records requests and can play a
    server that dies after N uploads (connections closed without an answer) or corrupts reads."""

    def __init__(self, upstream: str):
        self.upstream = upstream.split("://", 1)[1]
        self.requests: list[tuple[str, str]] = []
        self.fail_after_puts: int | None = None
        self.corrupt_reads_of: str | None = None
        outer = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def handle_one(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                puts = sum(1 for m, _ in outer.requests if m == "PUT")
                outer.requests.append((self.command, self.path))
                if self.command == "PUT" and outer.fail_after_puts is not None and puts >= outer.fail_after_puts:
                    self.close_connection = True  # the server is gone: no answer at all
                    return
                host, port = outer.upstream.split(":")
                conn = http.client.HTTPConnection(host, int(port), timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection",)}
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                if (self.command == "GET" and outer.corrupt_reads_of and self.path.endswith(outer.corrupt_reads_of)
                        and data):
                    data = data[:-1] + bytes([data[-1] ^ 1])
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in ("connection", "transfer-encoding", "content-length", "date", "server"):
                        self.send_header(k, v)
                self.send_header("Content-Length", resp.getheader("Content-Length", str(len(data)))
                                 if self.command == "HEAD" else str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                conn.close()

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = handle_one

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def puts(self) -> list[str]:
        return [p for m, p in self.requests if m == "PUT"]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def s3(moto_server, monkeypatch, request):
    import boto3

    monkeypatch.setenv("TEST_S3_KEY", "testing-key")
    monkeypatch.setenv("TEST_S3_SECRET", "testing-secret")
    proxy = Proxy(moto_server)
    bucket = "snap-" + request.node.name.replace("_", "-")[:40].lower().strip("-")
    client = boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1",
                          aws_access_key_id="testing-key", aws_secret_access_key="testing-secret")
    client.create_bucket(Bucket=bucket)
    settings = {"endpoint_url": proxy.url, "region": "us-east-1", "access_key_env": "TEST_S3_KEY",
                "secret_key_env": "TEST_S3_SECRET", "retries": 1}
    yield client, bucket, proxy, settings
    proxy.close()


def test_s3_upload_checks_and_resumes(snap, s3, tmp_path):
    store, folder = snap
    client, bucket, proxy, settings = s3
    want = expected_files(folder)

    proxy.fail_after_puts = 4  # the server dies after the fourth upload
    cfg = write_config(tmp_path / "c.toml", "\n[publish]\n" + "".join(
        f"{k} = {json.dumps(v)}\n" for k, v in settings.items()))
    r = cli("publish", NAME, "--to", f"s3://{bucket}/debatelake/{NAME}", "--root", store.root, "--config", str(cfg),
            env={ENV_KEY: KEY, "TEST_S3_KEY": "testing-key", "TEST_S3_SECRET": "testing-secret"})
    assert r.returncode != 0
    assert "run the same command again to resume" in r.stderr
    assert verify_snapshot(store, NAME) == []
    listed = client.list_objects_v2(Bucket=bucket, Prefix=f"debatelake/{NAME}/").get("Contents", [])
    first = sorted(o["Key"].split(f"{NAME}/", 1)[1] for o in listed)
    assert len(first) == 4 and "SHA256SUMS" not in first

    proxy.fail_after_puts = None
    proxy.requests.clear()
    result = publish(store, NAME, f"s3://{bucket}/debatelake/{NAME}", privacy=PRIVACY, settings=settings)
    put_keys = sorted(p.split(f"/debatelake/{NAME}/", 1)[1] for p in proxy.puts())
    assert put_keys == sorted(set(want) - set(first))  # only what was missing went up again
    assert sorted(result.skipped) == first
    assert result.verified == len(want)
    assert sum(1 for m, p in proxy.requests if m == "GET" and "list-type" not in p) >= len(want)  # full re-read

    for rel, data in want.items():
        obj = client.get_object(Bucket=bucket, Key=f"debatelake/{NAME}/{rel}")
        assert obj["Body"].read() == data
        assert obj["Metadata"]["sha256"] == hashlib.sha256(data).hexdigest()

    proxy.requests.clear()
    quick = publish(store, NAME, f"s3://{bucket}/debatelake/{NAME}", privacy=PRIVACY, settings=settings,
                    check="quick")
    assert quick.uploaded == [] and proxy.puts() == [] and quick.verified == len(want)
    assert not any(m == "GET" and "list-type" not in p and "manifest.json" not in p for m, p in proxy.requests)


def test_s3_check_catches_a_store_that_returns_other_bytes(snap, s3):
    store, _ = snap
    client, bucket, proxy, settings = s3
    proxy.corrupt_reads_of = "documents/part-00001.parquet"
    with pytest.raises(PublishError) as exc:
        publish(store, NAME, f"s3://{bucket}/x", privacy=PRIVACY, settings=settings, record=False)
    assert "data/documents/part-00001.parquet" in str(exc.value) and "do not match" in str(exc.value)
    assert "data/passages/part-00001.parquet" not in str(exc.value)


def test_s3_missing_bucket_and_refused_credentials(snap, s3, monkeypatch):
    store, _ = snap
    client, bucket, proxy, settings = s3
    with pytest.raises(PublishError) as exc:
        publish(store, NAME, "s3://no-such-bucket-here/x", privacy=PRIVACY, settings=settings, record=False)
    assert "no-such-bucket-here" in str(exc.value) and "does not exist" in str(exc.value)

    from moto import settings as moto_settings

    saved = moto_settings.INITIAL_NO_AUTH_ACTION_COUNT
    moto_settings.INITIAL_NO_AUTH_ACTION_COUNT = 0  # the server now checks keys, and knows none
    try:
        with pytest.raises(PublishError) as exc:
            publish(store, NAME, f"s3://{bucket}/x", privacy=PRIVACY, settings=settings, record=False)
    finally:
        moto_settings.INITIAL_NO_AUTH_ACTION_COUNT = saved
    assert "refused the credentials" in str(exc.value)
    assert proxy.puts() == []
    assert client.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0
    assert verify_snapshot(store, NAME) == []

    monkeypatch.delenv("TEST_S3_SECRET")
    with pytest.raises(PublishError, match="TEST_S3_SECRET"):
        publish(store, NAME, f"s3://{bucket}/x", privacy=PRIVACY, settings=settings, record=False)


def test_s3_prefix_holding_another_snapshot_is_refused(snap, s3):
    store, _ = snap
    client, bucket, proxy, settings = s3
    client.put_object(Bucket=bucket, Key="pub/manifest.json", Body=json.dumps({"name": "2025-01"}).encode())
    with pytest.raises(PublishError, match="2025-01"):
        publish(store, NAME, f"s3://{bucket}/pub", privacy=PRIVACY, settings=settings, record=False)
    assert proxy.puts() == []


# --------------------------------------------------------------------------- Hugging Face (emulated Hub)
class FakeHub:
    """Answers the Hub API calls huggingface_hub makes to publish: create repo, refs, tree, validate
    YAML, preupload, LFS batch + upload, commit, tag. Keeps repos in memory as git would."""

    TOKEN = "hf_test_write_token"

    def __init__(self):
        self.repos: dict[str, dict] = {}
        self.lfs: dict[str, bytes] = {}
        self.fail_commits = 0
        self.commits: list[dict] = []
        self.tags: list[dict] = []
        self.srv = LocalServer(self.handle)
        # LocalServer answers GET/POST/HEAD; the LFS upload is a PUT.
        handler_cls = self.srv.httpd.RequestHandlerClass
        handler_cls.do_PUT = handler_cls.do_GET

    def __enter__(self):
        self.srv.start()
        return self

    def __exit__(self, *exc):
        self.srv.stop()

    @property
    def url(self) -> str:
        return self.srv.base_url

    @staticmethod
    def j(obj, status=200, headers=None) -> Response:
        return Response(status, json.dumps(obj), "application/json", headers or {})

    def resolve(self, repo: dict, rev: str) -> str | None:
        return repo["branches"].get(rev) or repo["tags"].get(rev) or (rev if rev in repo["objects"] else None)

    def handle(self, req):
        parts = req.path.strip("/").split("/")
        # LFS upload URLs are pre-signed (no token), everything else needs the write token
        if parts[0] != "lfs-upload" and req.headers.get("authorization") != f"Bearer {self.TOKEN}":
            return self.j({"error": "Invalid credentials in Authorization header"}, 401)
        if req.path == "/api/repos/create":
            body = json.loads(req.body)
            repo_id = f"{body['organization']}/{body['name']}"
            assert body["type"] == "dataset"
            if repo_id in self.repos:
                return self.j({"error": "You already created this dataset repo",
                               "url": f"{self.url}/datasets/{repo_id}"}, 409)
            files = {".gitattributes": {"data": b"*.parquet filter=lfs diff=lfs merge=lfs -text\n", "lfs": False}}
            oid = hashlib.sha1(repo_id.encode()).hexdigest()
            self.repos[repo_id] = {"objects": {oid: files}, "branches": {"main": oid}, "tags": {},
                                   "private": body.get("visibility") == "private"}
            return self.j({"url": f"{self.url}/datasets/{repo_id}"})
        if req.path == "/api/validate-yaml":
            import yaml

            content = json.loads(req.body)["content"]
            meta = yaml.safe_load(content.split("---")[1])
            missing = [k for k in ("license", "configs") if k not in meta]
            return self.j({"errors": [{"message": f"missing {k}"} for k in missing], "warnings": []},
                          400 if missing else 200)
        if req.path.endswith(".git/info/lfs/objects/batch"):
            body = json.loads(req.body)
            objects = []
            for o in body["objects"]:
                entry = {"oid": o["oid"], "size": o["size"]}
                if o["oid"] not in self.lfs:
                    entry["actions"] = {"upload": {"href": f"{self.url}/lfs-upload/{o['oid']}"}}
                objects.append(entry)
            return self.j({"transfer": "basic", "objects": objects})
        if parts[0] == "lfs-upload" and req.method == "PUT":
            if hashlib.sha256(req.body).hexdigest() != parts[1]:
                return self.j({"error": "sha256 mismatch"}, 400)
            self.lfs[parts[1]] = req.body
            return Response(200, b"")
        if parts[:2] != ["api", "datasets"] or len(parts) < 5:
            return self.j({"error": f"not emulated: {req.method} {req.path}"}, 404)
        repo_id, action, rev = f"{parts[2]}/{parts[3]}", parts[4], "/".join(parts[5:])
        repo = self.repos.get(repo_id)
        if repo is None:
            return self.j({"error": "Repository not found"}, 404, {"X-Error-Code": "RepoNotFound"})
        if action == "refs":
            ref = lambda kind, n, oid: {"name": n, "ref": f"refs/{kind}/{n}", "targetCommit": oid}  # noqa: E731
            return self.j({"branches": [ref("heads", n, o) for n, o in repo["branches"].items()],
                           "tags": [ref("tags", n, o) for n, o in repo["tags"].items()], "converts": []})
        oid = self.resolve(repo, rev)
        if oid is None:
            return self.j({"error": "Invalid rev id"}, 404, {"X-Error-Code": "RevisionNotFound"})
        files = repo["objects"][oid]
        if action == "tree":
            assert req.arg("recursive") in ("true", "True", "1")
            out = []
            for path, f in sorted(files.items()):
                entry = {"type": "file", "path": path, "size": len(f["data"]),
                         "oid": hashlib.sha1(b"blob %d\0" % len(f["data"]) + f["data"]).hexdigest()}
                if f["lfs"]:
                    entry["lfs"] = {"oid": hashlib.sha256(f["data"]).hexdigest(), "size": len(f["data"]),
                                    "pointerSize": 134}
                out.append(entry)
            return self.j(out)
        if action == "preupload":
            body = json.loads(req.body)
            return self.j({"files": [{"path": f["path"], "uploadMode": "lfs" if f["path"].endswith(".parquet")
                                      else "regular", "shouldIgnore": False} for f in body["files"]]})
        if action == "commit":
            if self.fail_commits:
                self.fail_commits -= 1
                return self.j({"error": "Internal Error - We're working hard to fix this"}, 500)
            lines = [json.loads(line) for line in req.body.decode().splitlines() if line.strip()]
            header = lines[0]["value"]
            if header.get("parentCommit") and header["parentCommit"] != oid:
                return self.j({"error": "parent commit is not the head"}, 412)
            new = dict(files)
            for line in lines[1:]:
                v = line["value"]
                if line["key"] == "file":
                    new[v["path"]] = {"data": base64.b64decode(v["content"]), "lfs": False}
                elif line["key"] == "lfsFile":
                    if v["oid"] not in self.lfs:
                        return self.j({"error": f"LFS object {v['oid']} was never uploaded"}, 422)
                    new[v["path"]] = {"data": self.lfs[v["oid"]], "lfs": True}
                elif line["key"] == "deletedFile":
                    new.pop(v["path"])
            commit = hashlib.sha1(json.dumps(sorted((p, hashlib.sha256(f["data"]).hexdigest())
                                                    for p, f in new.items())).encode() + oid.encode()).hexdigest()
            repo["objects"][commit] = new
            repo["branches"][rev] = commit
            self.commits.append({"repo": repo_id, "revision": rev, "summary": header["summary"],
                                 "parent": header.get("parentCommit"), "ops": [(x["key"], x["value"]["path"])
                                                                              for x in lines[1:]]})
            return self.j({"commitUrl": f"{self.url}/datasets/{repo_id}/commit/{commit}", "commitOid": commit,
                           "pullRequestUrl": None})
        if action == "tag":
            body = json.loads(req.body)
            if body["tag"] in repo["tags"]:
                return self.j({"error": "tag exists"}, 409)
            repo["tags"][body["tag"]] = oid
            self.tags.append({"repo": repo_id, "tag": body["tag"], "revision": rev, "message": body.get("message")})
            return self.j({})
        return self.j({"error": f"not emulated: {action}"}, 404)


@pytest.fixture
def hub(monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_DISABLE_XET", True)  # plain LFS, which we emulate
    with FakeHub() as h:
        monkeypatch.setenv("HF_ENDPOINT", h.url)
        monkeypatch.setenv("HF_TOKEN", FakeHub.TOKEN)
        yield h


def test_hf_one_commit_tagged_with_the_snapshot_name(snap, hub):
    store, folder = snap
    want = expected_files(folder)
    result = publish(store, NAME, "hf://datasets/debate-org/llm-debate", privacy=PRIVACY, record=False)
    assert len(hub.commits) == 1
    commit = hub.commits[0]
    assert commit["repo"] == "debate-org/llm-debate" and commit["revision"] == "main"
    assert sorted(p for k, p in commit["ops"]) == sorted(want)
    assert {p for k, p in commit["ops"] if k == "lfsFile"} == {p for p in want if p.endswith(".parquet")}
    assert hub.tags == [{"repo": "debate-org/llm-debate", "tag": NAME,
                         "revision": hub.repos["debate-org/llm-debate"]["branches"]["main"],
                         "message": hub.tags[0]["message"]}]
    repo = hub.repos["debate-org/llm-debate"]
    at_tag = repo["objects"][repo["tags"][NAME]]
    assert {p: f["data"] for p, f in at_tag.items() if p != ".gitattributes"} == want
    assert result.verified == len(want) and result.url.endswith(f"/datasets/debate-org/llm-debate/tree/{NAME}")

    # same snapshot again: the tag already holds it, nothing is sent
    again = publish(store, NAME, "hf://datasets/debate-org/llm-debate", privacy=PRIVACY, record=False)
    assert again.uploaded == [] and len(hub.commits) == 1 and len(hub.tags) == 1


def test_hf_resume_after_a_failed_commit_and_next_snapshot(snap, hub, tmp_path):
    store = copy_root(snap[0], tmp_path / "data")
    hub.fail_commits = 1
    with pytest.raises(PublishError) as exc:
        publish(store, NAME, "hf://datasets/org/ds", privacy=PRIVACY, record=False)
    assert "run the same command again to resume" in str(exc.value)
    uploaded_first = set(hub.lfs)
    assert uploaded_first  # the LFS files went up before the commit failed
    puts = len([r for r in hub.srv.requests if r.method == "PUT"])
    publish(store, NAME, "hf://datasets/org/ds", privacy=PRIVACY, record=False)
    assert len([r for r in hub.srv.requests if r.method == "PUT"]) == puts  # nothing uploaded twice
    assert hub.tags[-1]["tag"] == NAME

    # a later, smaller snapshot: one commit that also deletes the data files it no longer has
    create_snapshot(store, "2026-04", privacy=PRIVACY)  # default file size: one file per table
    result = publish(store, "2026-04", "hf://datasets/org/ds", privacy=PRIVACY, record=False)
    last = hub.commits[-1]
    deleted = sorted(p for k, p in last["ops"] if k == "deletedFile")
    assert deleted and all(p.startswith("data/") for p in deleted)
    assert sorted(result.removed) == deleted
    assert last["parent"] == hub.repos["org/ds"]["tags"][NAME]
    repo = hub.repos["org/ds"]
    assert set(repo["objects"][repo["tags"]["2026-04"]]) - {".gitattributes"} == set(
        expected_files(snapshot_path(store, "2026-04")))
    # the first tag still holds the first snapshot
    assert len([p for p in repo["objects"][repo["tags"][NAME]] if p.startswith("data/")]) > len(
        [p for p in repo["objects"][repo["tags"]["2026-04"]] if p.startswith("data/")])


def test_hf_refusals(snap, hub, monkeypatch):
    store, _ = snap
    monkeypatch.setenv("HF_TOKEN", "hf_wrong")
    with pytest.raises(PublishError) as exc:
        publish(store, NAME, "hf://datasets/org/refused", privacy=PRIVACY, record=False)
    assert "HF_TOKEN" in str(exc.value) and "401" in str(exc.value)
    assert hub.repos == {} and hub.lfs == {}
    monkeypatch.setenv("HF_TOKEN", FakeHub.TOKEN)

    # a tag of that name holding something else: snapshots are immutable
    publish(store, NAME, "hf://datasets/org/taken", privacy=PRIVACY, record=False)
    repo = hub.repos["org/taken"]
    repo["objects"][repo["tags"][NAME]]["README.md"] = {"data": b"---\nlicense: other\n---\nchanged", "lfs": False}
    with pytest.raises(PublishError, match="already has a tag"):
        publish(store, NAME, "hf://datasets/org/taken", privacy=PRIVACY, record=False)

    with pytest.raises(PublishError, match="hf://datasets/ORG/NAME"):
        publish(store, NAME, "hf://models/org/x", privacy=PRIVACY, record=False)


def test_git_blob_sha1_matches_git(tmp_path):
    f = tmp_path / "x.txt"
    f.write_bytes(b"hello\n")
    # `git hash-object` of "hello\n"
    assert git_blob_sha1(f) == "ce013625030ba8dba906f756967f9e9ca394464a"


def test_unknown_target_scheme(snap):
    with pytest.raises(PublishError, match="ftp://"):
        publish(snap[0], NAME, "ftp://example.org/x", privacy=PRIVACY, record=False)
