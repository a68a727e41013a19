"""Publishing a snapshot: copy its folder, unchanged, to where others can fetch and cite it.

    debatelake publish 2026-11 --to /mnt/share/debatelake-2026-11      a local folder
    debatelake publish 2026-11 --to debatelake-2026-11.tar.gz           one reproducible archive
    debatelake publish 2026-11 --to s3://bucket/debatelake/2026-11      S3 or any S3-compatible store
    debatelake publish 2026-11 --to hf://datasets/ORG/NAME              a Hugging Face dataset repo

The target is the folder that will hold the snapshot's files (README.md at its top, as on the Hub).

Every publication goes the same way:
1. preflight: the snapshot matches its SHA256SUMS (an altered snapshot is refused, naming the files),
   the pseudonymisation key is set, the manifest says authors are pseudonymised and every author in
   the data is a pseudonym;
2. upload, data files first and SHA256SUMS last, skipping files already at the target with the
   right checksum (so a second run after an interruption resumes where the first one stopped);
3. check the checksums at the target (re-read, or the target's own record of them).
A target that refuses or fails half-way raises PublishError saying what happened and what to do;
the snapshot is never touched.
"""
from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import tarfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterable

import pyarrow.parquet as pq

from .privacy import ENV_KEY, pseudonym_key, pseudonymise
from .schema import UTC
from .snapshots import SnapshotError, list_snapshots, read_checksums, sha256_file, snapshot_path, verify_snapshot
from .store import Store, StoreError

PSEUDONYM = re.compile(r"user_[0-9a-f]{16}")
CHECK_MODES = ("full", "quick")
Progress = Callable[[str, str, int], None]  # (event, relative path, size): uploaded / skipped / removed


class PublishError(StoreError):
    """Publishing stopped; the message says why and what to do. The snapshot is intact."""


@dataclass(frozen=True)
class SnapshotFile:
    rel: str  # path inside the snapshot, with forward slashes
    path: Path
    sha256: str
    size: int


@dataclass
class PublishResult:
    name: str
    target: str
    kind: str
    url: str | None = None
    uploaded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    verified: int = 0
    bytes_uploaded: int = 0
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- preflight
def snapshot_files(folder: Path) -> list[SnapshotFile]:
    """Every file of a snapshot in upload order: data, documentation, manifest, SHA256SUMS last
    (a target that has SHA256SUMS has everything)."""
    sums = read_checksums(folder)
    entries = [SnapshotFile(rel, folder / rel, digest, (folder / rel).stat().st_size) for rel, digest in sums.items()]
    sums_path = folder / "SHA256SUMS"
    entries.append(SnapshotFile("SHA256SUMS", sums_path, sha256_file(sums_path), sums_path.stat().st_size))

    def order(f: SnapshotFile) -> tuple[int, str]:
        if f.rel == "SHA256SUMS":
            return (3, f.rel)
        if f.rel == "manifest.json":
            return (2, f.rel)
        return (0 if f.rel.startswith("data/") else 1, f.rel)

    return sorted(entries, key=order)


def preflight(store: Store, name: str, privacy: dict[str, Any] | None = None) -> tuple[dict[str, Any], list[SnapshotFile], list[str]]:
    """Checks before anything leaves the machine. Returns (manifest, files, warnings).
    Raises PrivacyKeyMissing (key not set) or PublishError."""
    folder = snapshot_path(store, name)
    if not folder.is_dir():
        known = ", ".join(m["name"] for m in list_snapshots(store)) or "none yet"
        raise PublishError(f"no snapshot {name!r} under {folder.parent} (snapshots: {known}); "
                           f"create one with `debatelake snapshot create {name}`")
    try:
        problems = verify_snapshot(store, name)
    except SnapshotError as exc:
        raise PublishError(f"snapshot {name} cannot be checked, refusing to publish it: {exc}") from None
    if problems:
        shown = "; ".join(problems[:20]) + (f"; ... ({len(problems)} in all)" if len(problems) > 20 else "")
        raise PublishError(
            f"snapshot {name} was altered since it was created, refusing to publish it: {shown}. "
            f"Restore it from a good copy, or create a new snapshot with another name."
        )
    key = pseudonym_key(privacy)  # raises PrivacyKeyMissing: never risk publishing raw names
    manifest = json.loads((folder / "manifest.json").read_text("utf-8"))
    if manifest.get("name") != name:
        raise PublishError(f"{folder}/manifest.json names snapshot {manifest.get('name')!r}, not {name!r}; "
                           f"refusing to publish a renamed snapshot")
    authors = str((manifest.get("privacy") or {}).get("authors", ""))
    if not authors.startswith("pseudonymised"):
        raise PublishError(
            f"the manifest of snapshot {name} does not say its authors are pseudonymised "
            f"(privacy.authors = {authors!r}); refusing to publish it. Create a new snapshot with "
            f"`debatelake snapshot create` and {ENV_KEY} set."
        )
    raw = _raw_authors(folder, manifest)
    if raw:
        raise PublishError(
            f"snapshot {name} holds {len(raw)} author value(s) that are not pseudonyms (e.g. {raw[0]!r}); "
            f"refusing to publish it. Create a new snapshot with `debatelake snapshot create`."
        )
    warnings = []
    key_id = (manifest.get("privacy") or {}).get("key_id")
    if key_id and key_id != key_fingerprint(key):
        warnings.append(
            f"snapshot {name} was pseudonymised with another key than the one set now: its pseudonyms will "
            f"not match snapshots made with the current key"
        )
    return manifest, snapshot_files(folder), warnings


def key_fingerprint(key: bytes) -> str:
    """A public id of the pseudonymisation key (an HMAC of a fixed string: reveals nothing)."""
    return pseudonymise("debatelake-key-check", "key", key) or ""


def _raw_authors(folder: Path, manifest: dict[str, Any]) -> list[str]:
    files = [str(folder / rel) for rel in (manifest.get("files") or {}).get("documents", [])]
    if not files:
        return []
    authors = pq.read_table(files, columns=["author"], use_threads=False).column("author").unique().to_pylist()
    return sorted(a for a in authors if a is not None and not PSEUDONYM.fullmatch(a))


# --------------------------------------------------------------------------- targets
def target_kind(target: str) -> str:
    low = target.lower()
    if low.startswith("s3://"):
        return "s3"
    if low.startswith("hf://"):
        return "hf"
    if low.startswith("file://"):
        target = target[len("file://"):]
    elif "://" in target:
        scheme = target.split("://", 1)[0]
        raise PublishError(f"cannot publish to {scheme}:// targets; use a folder, a .tar.gz file, "
                           f"s3://bucket/prefix or hf://datasets/ORG/NAME")
    return "tar" if low.endswith((".tar.gz", ".tgz")) else "folder"


def _local(target: str) -> Path:
    return Path(target[len("file://"):] if target.startswith("file://") else target).expanduser().resolve()


def human_size(n: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


class Publisher:
    kind = ""
    resume_hint = "run the same command again to resume: files already at the target with the right checksum are skipped"

    def __init__(self, target: str, name: str, settings: dict[str, Any], progress: Progress | None = None,
                 check: str = "full"):
        self.target, self.name, self.settings = target, name, settings
        self.progress = progress or (lambda event, rel, size: None)
        self.check = check
        self.result = PublishResult(name=name, target=target, kind=self.kind)

    def run(self, files: list[SnapshotFile], manifest: dict[str, Any]) -> PublishResult:
        raise NotImplementedError

    def _uploaded(self, f: SnapshotFile) -> None:
        self.result.uploaded.append(f.rel)
        self.result.bytes_uploaded += f.size
        self.progress("uploaded", f.rel, f.size)

    def _skipped(self, f: SnapshotFile) -> None:
        self.result.skipped.append(f.rel)
        self.progress("skipped", f.rel, f.size)

    def _compare(self, files: list[SnapshotFile], found: dict[str, str | None]) -> None:
        """Raise unless every file's checksum at the target (found[rel]) matches."""
        bad = [f"{f.rel} ({'missing' if found.get(f.rel) is None else 'sha256 ' + str(found[f.rel])[:12] + '...'})"
               for f in files if found.get(f.rel) != f.sha256]
        if bad:
            raise PublishError(
                f"after the upload, {len(bad)} file(s) at {self.target} do not match the snapshot: "
                f"{'; '.join(bad[:20])}. The snapshot is intact; {self.resume_hint}"
            )
        self.result.verified = len(files)


class FolderPublisher(Publisher):
    """Copies into a folder, each file under a temporary name renamed when complete."""

    kind = "folder"
    PARTIAL = ".partial"

    def run(self, files, manifest):
        dest = _local(self.target)
        try:
            dest.mkdir(parents=True, exist_ok=True)
            self._check_contents(dest, files)
            for f in files:
                out = dest / f.rel
                if out.is_file() and out.stat().st_size == f.size and sha256_file(out) == f.sha256:
                    self._skipped(f)
                    continue
                out.parent.mkdir(parents=True, exist_ok=True)
                tmp = out.with_name(f".{out.name}{self.PARTIAL}")
                try:
                    with open(f.path, "rb") as src, open(tmp, "wb") as fh:
                        shutil.copyfileobj(src, fh, 1 << 20)
                        fh.flush()
                        os.fsync(fh.fileno())
                    os.replace(tmp, out)
                except BaseException:
                    _unlink(tmp)
                    raise
                self._uploaded(f)
        except PermissionError as exc:
            raise PublishError(
                f"the folder {dest} refused the files ({exc.strerror}: {exc.filename}); the snapshot is intact. "
                f"Make it writable or choose another --to, then {self.resume_hint}"
            ) from None
        except OSError as exc:
            raise PublishError(
                f"writing to {dest} failed after {len(self.result.uploaded)} file(s): {exc}. "
                f"The snapshot is intact; {self.resume_hint}"
            ) from None
        self._compare(files, {f.rel: sha256_file(dest / f.rel) if (dest / f.rel).is_file() else None for f in files})
        self.result.url = str(dest)
        return self.result

    def _check_contents(self, dest: Path, files: list[SnapshotFile]) -> None:
        wanted = {f.rel for f in files}
        foreign = []
        for p in sorted(dest.rglob("*")):
            if not p.is_file():
                continue
            if p.name.startswith(".") and p.name.endswith(self.PARTIAL):
                p.unlink()  # left by an interrupted run
                continue
            rel = p.relative_to(dest).as_posix()
            if rel not in wanted:
                foreign.append(rel)
        _refuse_foreign(self.target, self.name, foreign, _read_name(dest / "manifest.json"))


def _read_name(manifest: Path) -> str | None:
    try:
        return json.loads(manifest.read_text("utf-8")).get("name") if manifest.is_file() else None
    except (OSError, ValueError):
        return "?"


def _refuse_foreign(target: str, name: str, foreign: list[str], holder: str | None) -> None:
    if holder is not None and holder != name:
        raise PublishError(
            f"{target} already holds snapshot {holder!r}; publish each snapshot to its own place "
            f"(e.g. {target.rstrip('/')}-{name}). Nothing was written."
        )
    if foreign:
        raise PublishError(
            f"{target} holds {len(foreign)} file(s) that are not part of snapshot {name} "
            f"(e.g. {', '.join(foreign[:5])}); publish to an empty folder or prefix. Nothing was written."
        )


class TarPublisher(Publisher):
    """One .tar.gz, byte-for-byte reproducible (sorted members, fixed times and owners), written
    under a temporary name, checked, then renamed: it is whole or absent."""

    kind = "tar"
    resume_hint = "run the same command again: the archive is written anew and nothing was left under its name"

    def run(self, files, manifest):
        dest = _local(self.target)
        mtime = int(datetime.fromisoformat(manifest["created_at"]).timestamp())
        if dest.exists():
            found = self._read_back(dest)
            if found == {f.rel: f.sha256 for f in files}:
                for f in files:
                    self._skipped(f)
                self.result.verified = len(files)
                self.result.url = str(dest)
                self.result.notes.append(f"{dest} already holds exactly this snapshot")
                return self.result
            raise PublishError(
                f"{dest} already exists and is not this snapshot; published archives are not overwritten: "
                f"remove it or choose another name. Nothing was written."
            )
        tmp = dest.with_name(f".{dest.name}.partial")
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as raw:
                with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
                    with tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
                        for f in sorted(files, key=lambda f: f.rel):
                            info = tarfile.TarInfo(f"{self.name}/{f.rel}")
                            info.size, info.mtime, info.mode = f.size, mtime, 0o444
                            info.uid = info.gid = 0
                            info.uname = info.gname = ""
                            with open(f.path, "rb") as fh:
                                tar.addfile(info, fh)
                            self._uploaded(f)
                raw.flush()
                os.fsync(raw.fileno())
            self._compare(files, self._read_back(tmp))
            os.replace(tmp, dest)
        except PermissionError as exc:
            _unlink(tmp)
            raise PublishError(
                f"cannot write {dest} ({exc.strerror}: {exc.filename}); the snapshot is intact. Make the folder "
                f"writable or choose another --to, then {self.resume_hint}"
            ) from None
        except OSError as exc:
            _unlink(tmp)
            raise PublishError(f"writing {dest} failed: {exc}. The snapshot is intact; {self.resume_hint}") from None
        except BaseException:
            _unlink(tmp)
            raise
        self.result.url = str(dest)
        return self.result

    def _read_back(self, path: Path) -> dict[str, str | None]:
        found: dict[str, str | None] = {}
        prefix = f"{self.name}/"
        try:
            with tarfile.open(path, "r:gz") as tar:
                for member in tar:
                    if not member.isfile():
                        continue
                    rel = member.name[len(prefix):] if member.name.startswith(prefix) else "../" + member.name
                    fh = tar.extractfile(member)
                    h = hashlib.sha256()
                    for chunk in iter(lambda: fh.read(1 << 20), b""):
                        h.update(chunk)
                    found[rel] = h.hexdigest()
        except (OSError, tarfile.TarError, EOFError) as exc:
            raise PublishError(f"{path} is not a readable .tar.gz ({exc}); remove it and run the command again") from None
        return found


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass


# --------------------------------------------------------------------------- S3
def parse_s3(target: str) -> tuple[str, str]:
    rest = target[len("s3://"):]
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise PublishError(f"{target!r} names no bucket; use s3://bucket/prefix")
    prefix = prefix.strip("/")
    return bucket, (prefix + "/" if prefix else "")


def s3_client(settings: dict[str, Any]):
    """A boto3 S3 client from the config's [publish] section, else the standard AWS variables:
    endpoint_url, region, access_key_env / secret_key_env / session_token_env (names of the
    environment variables that hold the credentials, never the credentials themselves)."""
    import boto3
    from botocore.config import Config as BotoConfig

    kwargs: dict[str, Any] = {}
    endpoint = settings.get("endpoint_url") or os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        kwargs["endpoint_url"] = endpoint
    kwargs["region_name"] = (settings.get("region") or os.environ.get("AWS_REGION")
                             or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1")
    for setting, arg in (("access_key_env", "aws_access_key_id"), ("secret_key_env", "aws_secret_access_key"),
                         ("session_token_env", "aws_session_token")):
        var = settings.get(setting)
        if var:
            value = os.environ.get(str(var))
            if not value:
                raise PublishError(f"[publish] {setting} names the environment variable {var}, which is not set; "
                                   f"export it (or remove the setting to use the standard AWS variables)")
            kwargs[arg] = value
    cfg = BotoConfig(
        retries={"max_attempts": int(settings.get("retries", 3)), "mode": "standard"},
        connect_timeout=float(settings.get("timeout", 30)), read_timeout=float(settings.get("timeout", 60)),
        # S3-compatible servers differ in what they accept: MD5 (sent below) works everywhere.
        request_checksum_calculation="when_required", response_checksum_validation="when_required",
        s3={"addressing_style": settings.get("addressing_style") or ("path" if endpoint else "auto")},
    )
    return boto3.session.Session().client("s3", config=cfg, **kwargs)


class S3Publisher(Publisher):
    """put_object per file with Content-MD5 (the server checks the bytes it received) and the
    file's sha256 in the object's metadata (so a later run knows what is already there)."""

    kind = "s3"

    def run(self, files, manifest):
        from botocore.exceptions import BotoCoreError, ClientError

        bucket, prefix = parse_s3(self.target)
        self.bucket, self.prefix = bucket, prefix
        try:
            client = s3_client(self.settings)
            self.endpoint = client.meta.endpoint_url
            client.head_bucket(Bucket=bucket)
            existing = self._existing(client)
            _refuse_foreign(self.target, self.name, sorted(set(existing) - {f.rel for f in files}),
                            self._remote_name(client, existing))
            for f in files:
                if f.rel in existing and self._head_sha(client, f) == f.sha256:
                    self._skipped(f)
                    continue
                self._put(client, f)
                self._uploaded(f)
            found = {f.rel: (self._get_sha(client, f) if self.check == "full" else self._head_sha(client, f, True))
                     for f in files}
        except (ClientError, BotoCoreError) as exc:
            raise PublishError(self._explain(exc)) from None
        self._compare(files, found)
        self.result.url = f"s3://{bucket}/{prefix}"
        return self.result

    def key(self, rel: str) -> str:
        return self.prefix + rel

    def _existing(self, client) -> dict[str, int]:
        out = {}
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix):
            for obj in page.get("Contents", []):
                out[obj["Key"][len(self.prefix):]] = obj["Size"]
        return out

    def _remote_name(self, client, existing: dict[str, int]) -> str | None:
        if "manifest.json" not in existing:
            return None
        body = client.get_object(Bucket=self.bucket, Key=self.key("manifest.json"))["Body"].read()
        try:
            return json.loads(body).get("name")
        except ValueError:
            return "?"

    def _head_sha(self, client, f: SnapshotFile, strict: bool = False) -> str | None:
        from botocore.exceptions import ClientError

        try:
            head = client.head_object(Bucket=self.bucket, Key=self.key(f.rel))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        sha = (head.get("Metadata") or {}).get("sha256")
        if head.get("ContentLength") != f.size:
            return f"size {head.get('ContentLength')}"
        if strict:  # a single-part upload's ETag is the MD5 of the bytes the server holds
            etag = str(head.get("ETag", "")).strip('"')
            if re.fullmatch(r"[0-9a-f]{32}", etag) and etag != _md5(f.path).hex():
                return f"etag {etag}"
        return sha

    def _get_sha(self, client, f: SnapshotFile) -> str | None:
        from botocore.exceptions import ClientError

        try:
            body = client.get_object(Bucket=self.bucket, Key=self.key(f.rel))["Body"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        h = hashlib.sha256()
        for chunk in iter(lambda: body.read(1 << 20), b""):
            h.update(chunk)
        return h.hexdigest()

    def _put(self, client, f: SnapshotFile) -> None:
        with open(f.path, "rb") as fh:
            client.put_object(
                Bucket=self.bucket, Key=self.key(f.rel), Body=fh, ContentLength=f.size,
                ContentMD5=base64.b64encode(_md5(f.path)).decode("ascii"),
                ContentType=_content_type(f.rel), Metadata={"sha256": f.sha256, "snapshot": self.name},
            )

    def _explain(self, exc: Exception) -> str:
        from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

        where = f"{self.target} (endpoint {getattr(self, 'endpoint', None) or 'AWS'})"
        done = (f" after {len(self.result.uploaded)} uploaded and {len(self.result.skipped)} already-present file(s)"
                if self.result.uploaded or self.result.skipped else "")
        tail = f"The snapshot is intact; fix that, then {self.resume_hint}."
        if isinstance(exc, NoCredentialsError):
            return (f"no S3 credentials for {where}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or name the "
                    f"variables in [publish] access_key_env / secret_key_env. {tail}")
        if isinstance(exc, EndpointConnectionError):
            return f"cannot reach {where}{done}: {exc}. {tail}"
        if isinstance(exc, ClientError):
            err = exc.response.get("Error", {})
            code = str(err.get("Code", ""))
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in ("NoSuchBucket",) or (code == "404" and exc.operation_name == "HeadBucket"):
                return (f"the bucket {self.bucket!r} does not exist at {where}: create it first, or fix --to. "
                        f"Nothing was uploaded; the snapshot is intact.")
            if code in ("403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken",
                        "ExpiredToken", "AllAccessDisabled") or status == 403:
                return (f"{where} refused the credentials or the permission ({code or status}){done}: check the access "
                        f"key, secret and bucket policy. {tail}")
            return f"{where} answered {code or status} {err.get('Message', '')}{done}. {tail}"
        return f"publishing to {where} failed{done}: {exc}. {tail}"


def _md5(path: Path) -> bytes:
    h = hashlib.md5()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.digest()


def _content_type(rel: str) -> str:
    if rel.endswith(".parquet"):
        return "application/vnd.apache.parquet"
    if rel.endswith(".json"):
        return "application/json" if rel != "croissant.json" else "application/ld+json"
    if rel.endswith(".md"):
        return "text/markdown; charset=utf-8"
    return "text/plain; charset=utf-8"


# --------------------------------------------------------------------------- Hugging Face
def parse_hf(target: str) -> str:
    m = re.fullmatch(r"hf://datasets/([\w.-]+/[\w.-]+)/?", target)
    if not m:
        raise PublishError(f"{target!r} is not a Hugging Face dataset repo; use hf://datasets/ORG/NAME")
    return m.group(1)


def git_blob_sha1(path: Path) -> str:
    """The git object id of a file (what the Hub reports for files not stored in LFS)."""
    h = hashlib.sha1()
    h.update(b"blob %d\0" % path.stat().st_size)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class HubClient:
    """The few Hub calls publishing makes, through huggingface_hub (kept thin on purpose)."""

    def __init__(self, settings: dict[str, Any]):
        from huggingface_hub import HfApi

        token = None
        if settings.get("hf_token_env"):
            token = os.environ.get(str(settings["hf_token_env"]))
            if not token:
                raise PublishError(f"[publish] hf_token_env names {settings['hf_token_env']}, which is not set")
        token = token or os.environ.get("HF_TOKEN") or None
        endpoint = settings.get("hf_endpoint") or os.environ.get("HF_ENDPOINT") or None
        self.api = HfApi(endpoint=endpoint, token=token)
        self.endpoint = self.api.endpoint

    def ensure_repo(self, repo_id: str, private: bool) -> None:
        self.api.create_repo(repo_id, repo_type="dataset", exist_ok=True, private=private)

    def refs(self, repo_id: str) -> tuple[dict[str, str], dict[str, str]]:
        r = self.api.list_repo_refs(repo_id, repo_type="dataset")
        return ({b.name: b.target_commit for b in r.branches}, {t.name: t.target_commit for t in r.tags})

    def files(self, repo_id: str, revision: str) -> dict[str, Any]:
        from huggingface_hub.hf_api import RepoFile

        return {f.path: f for f in self.api.list_repo_tree(repo_id, recursive=True, revision=revision,
                                                           repo_type="dataset") if isinstance(f, RepoFile)}

    def commit(self, repo_id: str, operations: list, message: str, revision: str, parent: str | None) -> str:
        info = self.api.create_commit(repo_id, operations, commit_message=message, repo_type="dataset",
                                      revision=revision, parent_commit=parent)
        return info.oid

    def tag(self, repo_id: str, tag: str, revision: str, message: str) -> None:
        self.api.create_tag(repo_id, tag=tag, revision=revision, tag_message=message, repo_type="dataset")


def hub_operations(files: list[SnapshotFile], remote: dict[str, Any]) -> tuple[list, list[SnapshotFile], list[SnapshotFile], list[str]]:
    """(operations, files to upload, files already there, remote data files to delete) for one commit
    that makes the branch hold exactly this snapshot's files (other files outside data/, such as
    .gitattributes, are left alone)."""
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete

    wanted = {f.rel for f in files}
    upload, same = [], []
    for f in files:
        if _remote_sha(remote.get(f.rel), f) == f.sha256:
            same.append(f)
        else:
            upload.append(f)
    stale = sorted(p for p in remote if p.startswith("data/") and p not in wanted)
    ops = [CommitOperationAdd(path_in_repo=f.rel, path_or_fileobj=str(f.path)) for f in upload]
    ops += [CommitOperationDelete(path_in_repo=p) for p in stale]
    return ops, upload, same, stale


def _remote_sha(entry: Any, f: SnapshotFile) -> str | None:
    """The sha256 the Hub holds for a file, in the snapshot's terms: LFS files carry their sha256;
    regular files carry a git blob id, compared with the local file's."""
    if entry is None:
        return None
    lfs = getattr(entry, "lfs", None)
    if lfs is not None:
        return lfs.sha256 if (lfs.size == f.size) else f"size {lfs.size}"
    if entry.size == f.size and entry.blob_id == git_blob_sha1(f.path):
        return f.sha256
    return f"blob {entry.blob_id}"


class HubPublisher(Publisher):
    """One commit with every changed file (the Hub dedups what it already holds), then a tag named
    after the snapshot on that commit: `datasets.load_dataset(repo, revision=NAME)` cites it."""

    kind = "hf"
    branch = "main"

    def run(self, files, manifest):
        repo_id = parse_hf(self.target)
        try:
            hub = self.client()
            self.result.url = f"{hub.endpoint}/datasets/{repo_id}/tree/{self.name}"
            hub.ensure_repo(repo_id, private=bool(self.settings.get("private", False)))
            branches, tags = hub.refs(repo_id)
            if self.name in tags:
                found = {f.rel: _remote_sha(e, f) for f, e in
                         ((f, hub.files(repo_id, self.name).get(f.rel)) for f in files)}
                if all(found[f.rel] == f.sha256 for f in files):
                    for f in files:
                        self._skipped(f)
                    self.result.verified = len(files)
                    self.result.notes.append(f"the tag {self.name} on {repo_id} already holds exactly this snapshot")
                    return self.result
                raise PublishError(
                    f"{repo_id} already has a tag {self.name!r} holding other files; snapshots are immutable: "
                    f"pick a new snapshot name, or delete that tag on the Hub if it is wrong. Nothing was uploaded."
                )
            head = branches.get(self.branch)
            remote = hub.files(repo_id, self.branch) if head else {}
            ops, upload, same, stale = hub_operations(files, remote)
            for f in same:
                self._skipped(f)
            if ops:
                commit = hub.commit(repo_id, ops, f"debatelake snapshot {self.name}", self.branch, head)
            else:
                commit = head
            for f in upload:
                self._uploaded(f)
            for p in stale:
                self.result.removed.append(p)
                self.progress("removed", p, 0)
            hub.tag(repo_id, self.name, commit, f"debatelake snapshot {self.name} "
                                                 f"(code {manifest.get('code_version')}, model {manifest.get('model_version')})")
            at_tag = hub.files(repo_id, self.name)
        except PublishError:
            raise
        except Exception as exc:  # huggingface_hub and httpx raise many types; all mean the same here
            raise PublishError(self._explain(exc, repo_id)) from None
        extra = sorted(p for p in at_tag if p.startswith("data/") and p not in {f.rel for f in files})
        if extra:
            raise PublishError(f"after the commit, {repo_id}@{self.name} still holds data files that are not in the "
                               f"snapshot: {', '.join(extra[:10])}")
        self._compare(files, {f.rel: _remote_sha(at_tag.get(f.rel), f) for f in files})
        return self.result

    def client(self) -> HubClient:
        return HubClient(self.settings)

    def _explain(self, exc: Exception, repo_id: str) -> str:
        status = getattr(getattr(exc, "response", None), "status_code", None)
        tail = f"The snapshot is intact; {self.resume_hint} (the Hub keeps uploaded files and the commit is all-or-nothing)."
        if status in (401, 403):
            return (f"the Hub refused {repo_id} ({status}): set HF_TOKEN to a token with write access to it "
                    f"(or name its variable in [publish] hf_token_env). {tail}")
        if status == 404:
            return f"the Hub has no dataset repo {repo_id} that this token can see (404): {_first_line(exc)}. {tail}"
        return f"publishing to {repo_id} failed ({type(exc).__name__}: {_first_line(exc)}). {tail}"


def _first_line(exc: BaseException) -> str:
    """The first line of an error and of the errors that caused it (libraries wrap them)."""
    lines, seen = [], 0
    while exc is not None and seen < 4:
        text = str(exc).strip()
        line = text.splitlines()[0] if text else type(exc).__name__
        if line not in lines:
            lines.append(line)
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return ": ".join(lines)


PUBLISHERS: dict[str, type[Publisher]] = {"folder": FolderPublisher, "tar": TarPublisher, "s3": S3Publisher,
                                          "hf": HubPublisher}


# --------------------------------------------------------------------------- entry point
def publish(store: Store, name: str, target: str, *, privacy: dict[str, Any] | None = None,
            settings: dict[str, Any] | None = None, progress: Progress | None = None, check: str = "full",
            record: bool = True) -> PublishResult:
    """Publish snapshot NAME to TARGET (see the module docstring). Raises PrivacyKeyMissing or
    PublishError; on success returns what was uploaded, skipped and verified."""
    if check not in CHECK_MODES:
        raise PublishError(f"--check must be one of {', '.join(CHECK_MODES)}, not {check!r}")
    kind = target_kind(target)
    manifest, files, warnings = preflight(store, name, privacy)
    publisher = PUBLISHERS[kind](target, name, dict(settings or {}), progress, check)
    publisher.result.notes.extend(warnings)
    started = datetime.now(UTC)
    try:
        result = publisher.run(files, manifest)
    except BaseException as exc:
        if record:
            _record_run(store, publisher.result, started, "failed" if isinstance(exc, Exception) else "aborted", exc)
        raise
    if record:
        _record_run(store, result, started, "finished", None)
    return result


def _record_run(store: Store, result: PublishResult, started: datetime, status: str, error: BaseException | None) -> None:
    """A row in the runs table (best effort: a busy data root must not fail a finished upload)."""
    import pyarrow as pa

    from .schema import RUNS
    from .store import new_run_id

    row = {
        "run_id": new_run_id("publish"), "command": "publish", "source": None, "started_at": started,
        "ended_at": datetime.now(UTC), "status": status, "errors": 0 if error is None else 1,
        "error_messages": [] if error is None else [str(error)[:2000]],
        "stats": [("snapshot", result.name), ("target", result.target), ("uploaded", str(len(result.uploaded))),
                  ("skipped", str(len(result.skipped))), ("removed", str(len(result.removed))),
                  ("verified", str(result.verified)), ("bytes_uploaded", str(result.bytes_uploaded))],
    }
    try:
        with store.lock("publish", wait=10):
            store.upsert("runs", pa.Table.from_pylist([row], schema=RUNS),
                         {"run_id": row["run_id"], "step": "publish"})
    except (StoreError, OSError) as exc:
        result.notes.append(f"the publish run was not recorded in the runs table: {exc}")


def describe(result: PublishResult) -> Iterable[str]:
    yield (f"{len(result.uploaded)} file(s) uploaded ({human_size(result.bytes_uploaded)}), "
           f"{len(result.skipped)} already there, {len(result.removed)} stale file(s) removed")
    yield f"{result.verified} checksum(s) checked at the target"
