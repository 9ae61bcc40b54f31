"""The one S3 client: sync's remote (a prefix we own) and bucket inputs (s3:// to index).

boto3 is imported inside functions; every botocore error is converted here, with the next
step to take, so callers only ever see SyncError / SyncAuthError / UnsafeRemote.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from engine.content import SCAN_EXTENSIONS, sha256_file
from engine.errors import SyncAuthError, SyncError, UnsafeRemote, UsageError

MULTIPART_THRESHOLD = 8 * 1024 * 1024
_AUTH_CODES = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "ExpiredToken",
               "InvalidToken", "UnrecognizedClientException", "403"}
_SEGMENT = re.compile(r"^[A-Za-z0-9._\-]+$")


_BUCKET_BAD = re.compile(r"[\s/\\\x00-\x1f\x7f]")


def check_endpoint_url(url: str) -> str:
    """An http(s) URL with a host; UsageError otherwise (botocore would raise ValueError)."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as e:
        raise UsageError(f"not an endpoint URL: {url!r} (use http://HOST:PORT)") from e
    if parts.scheme not in ("http", "https") or not parts.hostname or port == 0:
        raise UsageError(f"not an endpoint URL: {url!r} (use http://HOST:PORT or https://HOST)")
    return url


def make_client(endpoint_url: str | None, region: str | None, *, profile: str | None = None,
                max_attempts: int = 8, connect_timeout_s: float = 10.0,
                read_timeout_s: float = 60.0) -> Any:
    """The one way Scandex makes a boto3 S3 client (boto3 is imported here, not at start).

    Checksums only where S3 requires them: S3-compatible stores (rclone, older MinIO, R2)
    answer some requests in ways botocore's default response-checksum wrapper trips over
    ("'StreamingChecksumBody' object has no attribute 'strip'" under concurrent writes).
    Every object Scandex reads is verified by its own SHA-256 anyway.
    """
    try:
        import boto3
        from botocore.config import Config
    except ImportError as e:
        raise SyncError("buckets need boto3: pip install 'scandex[s3]'") from e
    from botocore.exceptions import ProfileNotFound

    if endpoint_url:
        check_endpoint_url(endpoint_url)
    try:
        session = boto3.session.Session(profile_name=profile or None)
    except ProfileNotFound as e:
        raise UsageError(f"no AWS profile named {profile!r}; list them with "
                         "'aws configure list-profiles' or drop --profile") from e
    return session.client(
        "s3", endpoint_url=endpoint_url or None, region_name=region or "us-east-1",
        config=Config(
            retries={"max_attempts": max_attempts, "mode": "standard"},
            connect_timeout=connect_timeout_s, read_timeout=read_timeout_s,
            s3={"addressing_style": "path"} if endpoint_url else {},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        ))


def safe_relative_key(key: str) -> str:
    """A key relative to the prefix, refused if it could escape or confuse a path."""
    if (not key or "\x00" in key or "\\" in key or key.startswith("/")
            or any(part in ("", ".", "..") for part in key.split("/"))
            or not all(_SEGMENT.match(part) for part in key.split("/"))):
        raise UnsafeRemote(
            f"refusing the bucket entry {key!r}: keys must be plain relative names "
            "(no '..', absolute paths, backslashes or NUL); nothing was written"
        )
    return key


@dataclass(frozen=True)
class RemoteConfig:
    """Where the library syncs. Credentials come from the standard AWS chain, never here."""

    bucket: str
    prefix: str = "scandex"
    endpoint_url: str | None = None
    region: str | None = None
    profile: str | None = None
    max_attempts: int = 8
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 60.0

    def __post_init__(self) -> None:
        if not 3 <= len(self.bucket) <= 255 or _BUCKET_BAD.search(self.bucket):
            raise UsageError(f"{self.bucket!r} is not a bucket name (3-255 characters, no "
                             "'/', spaces or control characters)")
        if self.endpoint_url is not None:
            check_endpoint_url(self.endpoint_url)
        if self.prefix:
            try:
                safe_relative_key(self.prefix.strip("/"))
            except UnsafeRemote as e:
                raise UsageError(f"--prefix {self.prefix!r}: use plain names separated by '/' "
                                 "(letters, digits, '.', '_', '-')") from e

    def save(self, path: Path) -> None:
        """Remember the remote (no secrets) so originals can be fetched later."""
        data = {k: v for k, v in asdict(self).items() if v is not None}
        path.write_text(json.dumps(data, indent=2))

    @classmethod
    def load(cls, path: Path) -> RemoteConfig | None:
        """The remote saved by the last push or pull, if any."""
        if not path.exists():
            return None
        return cls(**json.loads(path.read_text()))


class S3Remote:
    """A prefix in a bucket."""

    def __init__(self, config: RemoteConfig, client: Any = None) -> None:
        self.config = config
        self.prefix = config.prefix.strip("/")
        self._client = client

    @property
    def client(self) -> Any:
        """The boto3 client, made on first use (boto3 is imported lazily)."""
        if self._client is None:
            c = self.config
            self._client = make_client(c.endpoint_url, c.region, profile=c.profile,
                                       max_attempts=c.max_attempts,
                                       connect_timeout_s=c.connect_timeout_s,
                                       read_timeout_s=c.read_timeout_s)
        return self._client

    def key(self, relative: str) -> str:
        """The full key of a relative key (checked)."""
        safe_relative_key(relative)
        return f"{self.prefix}/{relative}" if self.prefix else relative

    def _call(self, what: str, fn: Callable[[], Any]) -> Any:
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            EndpointConnectionError,
            NoCredentialsError,
        )

        where = f"s3://{self.config.bucket}/{self.prefix}"
        try:
            return fn()
        except NoCredentialsError as e:
            raise SyncAuthError(
                "no AWS credentials found: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, a "
                "profile (--profile) or an instance role"
            ) from e
        except ClientError as e:
            code = str(e.response.get("Error", {}).get("Code", "error"))
            if code in _AUTH_CODES:
                raise SyncAuthError(
                    f"{where} refused our credentials ({code}) while trying to {what}; check "
                    "the access key, secret and the bucket policy"
                ) from e
            if code in ("NoSuchBucket",):
                raise SyncError(f"bucket '{self.config.bucket}' does not exist; create it "
                                "first") from e
            raise SyncError(f"{where}: cannot {what} ({code})") from e
        except EndpointConnectionError as e:
            raise SyncError(f"cannot reach {self.config.endpoint_url or 'S3'} to {what}; "
                            "check the endpoint URL and the network, then run it again") from e
        except BotoCoreError as e:
            raise SyncError(f"{where}: cannot {what} ({type(e).__name__}); run it again") from e

    def exists(self, relative: str) -> bool:
        """Whether an object exists."""
        from botocore.exceptions import ClientError

        key = self.key(relative)

        def head() -> bool:
            try:
                self.client.head_object(Bucket=self.config.bucket, Key=key)
                return True
            except ClientError as e:
                if str(e.response.get("Error", {}).get("Code")) in ("404", "NoSuchKey", "NotFound"):
                    return False
                raise

        return bool(self._call(f"check {relative}", head))

    def list(self, relative_prefix: str) -> dict[str, int]:
        """Relative keys under a relative prefix, with their sizes (paginated)."""
        full = self.key(relative_prefix.rstrip("/")) + "/"
        cut = len(self.prefix) + 1 if self.prefix else 0

        def listing() -> dict[str, int]:
            out: dict[str, int] = {}
            paginator = self.client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.config.bucket, Prefix=full):
                for item in page.get("Contents", []):
                    out[item["Key"][cut:]] = int(item["Size"])
            return out

        result: dict[str, int] = self._call(f"list {relative_prefix}", listing)
        return result

    def upload_file(self, path: Path, relative: str, *, sha256: str,
                    on_bytes: Callable[[int], None] | None = None) -> None:
        """Upload a file (multipart above 8 MiB), tagging its SHA-256."""
        from boto3.s3.transfer import TransferConfig

        config = TransferConfig(multipart_threshold=MULTIPART_THRESHOLD,
                                multipart_chunksize=MULTIPART_THRESHOLD, use_threads=True)
        key = self.key(relative)
        self._call(f"upload {relative}", lambda: self.client.upload_file(
            str(path), self.config.bucket, key, Config=config, Callback=on_bytes,
            ExtraArgs={"Metadata": {"sha256": sha256}}))

    def download_file(self, relative: str, target: Path, *, sha256: str,
                      on_bytes: Callable[[int], None] | None = None) -> None:
        """Download to target, keeping it only if its SHA-256 matches."""
        key = self.key(relative)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=".download-")
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            self._call(f"download {relative}", lambda: self.client.download_file(
                self.config.bucket, key, str(tmp), Callback=on_bytes))
            digest = hashlib.sha256()
            with tmp.open("rb") as f:
                while block := f.read(1 << 20):
                    digest.update(block)
            if digest.hexdigest() != sha256:
                raise SyncError(
                    f"{relative} in the bucket does not match its SHA-256 (corrupt or "
                    "tampered); it was not kept. Push it again from a library that has it"
                )
            tmp.replace(target)
        finally:
            tmp.unlink(missing_ok=True)

    def delete(self, relative: str) -> None:
        """Delete an object (deleting one that is already gone is not an error)."""
        key = self.key(relative)
        self._call(f"delete {relative}", lambda: self.client.delete_object(
            Bucket=self.config.bucket, Key=key))

    def get_json(self, relative: str) -> Any:
        """A JSON object, or None when it does not exist (or was deleted meanwhile)."""
        from botocore.exceptions import ClientError

        key = self.key(relative)

        def read() -> bytes | None:
            try:
                return bytes(self.client.get_object(
                    Bucket=self.config.bucket, Key=key)["Body"].read())
            except ClientError as e:
                if str(e.response.get("Error", {}).get("Code")) in ("404", "NoSuchKey",
                                                                      "NotFound"):
                    return None
                raise

        body = self._call(f"read {relative}", read)
        if body is None:
            return None
        try:
            return json.loads(body)
        except ValueError as e:
            raise SyncError(f"{relative} in the bucket is not valid JSON") from e

    def put_json(self, relative: str, data: Any) -> None:
        """Write a JSON object."""
        key = self.key(relative)
        body = json.dumps(data, indent=1, sort_keys=True).encode()
        self._call(f"write {relative}", lambda: self.client.put_object(
            Bucket=self.config.bucket, Key=key, Body=body, ContentType="application/json"))


SCHEME = "s3://"
ENDPOINT_ENV = "SCANDEX_S3_ENDPOINT"


def is_s3_url(text: object) -> bool:
    """Whether a path argument names a bucket location."""
    return isinstance(text, str) and text.startswith(SCHEME)


@dataclass(frozen=True)
class S3Location:
    """s3://bucket/prefix: every object under prefix."""

    bucket: str
    prefix: str

    @classmethod
    def parse(cls, url: str) -> S3Location:
        """Parse s3://bucket[/prefix]; UsageError when it is not one."""
        rest = url[len(SCHEME):] if url.startswith(SCHEME) else ""
        bucket, _, prefix = rest.partition("/")
        if len(bucket) < 3 or any(c in bucket for c in " \\?#"):
            raise UsageError(f"'{url}' is not a bucket location; write s3://BUCKET/PREFIX")
        return cls(bucket, prefix.lstrip("/"))

    def covers(self, key: str) -> bool:
        """Whether key is this location: the object itself or one below it as a folder
        (s3://b/scans holds scans/a.png, not scans-old/a.png)."""
        prefix = self.prefix
        return (not prefix or prefix.endswith("/") or key == prefix
                or key.startswith(prefix + "/"))

    @property
    def url(self) -> str:
        """The canonical text of this location (also the documents' path prefix)."""
        return f"{SCHEME}{self.bucket}/{self.prefix}"


@dataclass(frozen=True)
class S3Access:
    """How to reach the endpoint, without secrets: it travels to workers with each task."""

    endpoint_url: str | None = None
    region: str | None = None
    max_attempts: int = 8
    page_size: int = 1000  # keys per listing request (S3's maximum)

    @classmethod
    def from_environment(cls) -> S3Access:
        """SCANDEX_S3_ENDPOINT (or boto3's own AWS_ENDPOINT_URL) and AWS_REGION."""
        return cls(os.environ.get(ENDPOINT_ENV) or os.environ.get("AWS_ENDPOINT_URL") or None,
                   os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"))

    def client(self) -> Any:
        """A boto3 S3 client with standard retries (boto3 is imported here, not at start)."""
        # A fresh client each time: credentials are read now, not cached from a client
        # made earlier in this process.
        return make_client(self.endpoint_url, self.region, max_attempts=self.max_attempts)


def s3_error(what: str, error: Exception) -> Exception:
    """A boto3/botocore exception as our error, with the next step to take."""
    code = ""
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        code = str(response.get("Error", {}).get("Code", ""))
    if code in {"InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "403"} or (
            type(error).__name__ in {"NoCredentialsError", "PartialCredentialsError"}):
        return SyncAuthError(f"{what}: the bucket refused the credentials ({code or error}); "
                             "set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE")
    if code in {"NoSuchBucket", "404", "NoSuchKey"}:
        return SyncError(f"{what}: not found ({code}); check the bucket and prefix")
    return SyncError(f"{what}: {type(error).__name__}: {error}; check the endpoint "
                     f"(${ENDPOINT_ENV}) and the network, then run the same command again")


@dataclass(frozen=True)
class S3Object:
    """One listed object: what change detection needs, nothing more."""

    url: str
    bucket: str
    key: str
    size: int
    etag: str
    modified_ns: int


def list_objects(access: S3Access, location: S3Location,
                 client: Any = None) -> Iterator[S3Object]:
    """Every scan-like object under location, page by page (1,000 keys per request).

    Folder markers, hidden names and keys without a scan extension are skipped: without
    fetching an object there is no content to sniff.
    """
    client = client or access.client()
    try:
        paginator = client.get_paginator("list_objects_v2")
        pages = paginator.paginate(Bucket=location.bucket, Prefix=location.prefix,
                                   PaginationConfig={"PageSize": access.page_size})
        for page in pages:
            for item in page.get("Contents", []):
                key = item["Key"]
                if not location.covers(key):
                    continue
                name = PurePosixPath(key).name
                if key.endswith("/") or not name or name.startswith("."):
                    continue
                if PurePosixPath(name).suffix.lower() not in SCAN_EXTENSIONS:
                    continue
                modified = item.get("LastModified")
                yield S3Object(
                    url=f"{SCHEME}{location.bucket}/{key}", bucket=location.bucket, key=key,
                    size=int(item.get("Size", 0)), etag=str(item.get("ETag", "")).strip('"'),
                    modified_ns=int(modified.timestamp() * 1e9) if modified else 0,
                )
    except (SyncError, UsageError):
        raise
    except Exception as e:  # noqa: BLE001 - botocore's hierarchy is wide; convert at the edge
        raise s3_error(f"listing {location.url}", e) from e


def fetch_original(url: str, target: Path, access: S3Access | None = None) -> Path:
    """Download an indexed object (for page previews) to target, atomically."""
    location = S3Location.parse(url)
    access = access or S3Access.from_environment()
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    try:
        access.client().download_file(location.bucket, location.prefix, str(partial))
    except Exception as e:  # noqa: BLE001 - converted with the reason
        partial.unlink(missing_ok=True)
        raise s3_error(f"fetching {url}", e) from e
    partial.replace(target)
    return target


def fetch_original_once(url: str, cached: Path, sha256: str) -> Path:
    """A bucket object's bytes, fetched once into cached and checked against the index."""
    if not cached.is_file():
        fetch_original(url, cached)
        if sha256_file(cached) != sha256:
            cached.unlink(missing_ok=True)
            raise UsageError(f"{url} changed since it was indexed; index it again")
    return cached
