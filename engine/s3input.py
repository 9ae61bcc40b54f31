"""Scans straight from a bucket: `scandex index s3://bucket/prefix`.

The client only lists (paginated) and decides what changed by ETag and size; the worker
that reads a document fetches the object itself into a temporary file, reads and OCRs
every page, and deletes the file, so page bytes never travel through the client. Works
with any S3-compatible endpoint (SCANDEX_S3_ENDPOINT or AWS_ENDPOINT_URL); credentials
come from the standard AWS chain of whichever machine does the work.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from engine.discover import SCAN_EXTENSIONS, sha256_file, sniff_path
from engine.errors import (
    EmptyDocument,
    FileVanished,
    ScanError,
    SyncAuthError,
    SyncError,
    UnsupportedFile,
    UsageError,
)
from engine.models import FileKind, PageText

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
        try:
            import boto3
            from botocore.config import Config
        except ImportError as e:
            raise SyncError("s3:// inputs need boto3: pip install 'scandex[s3]'") from e
        config = Config(retries={"max_attempts": self.max_attempts, "mode": "standard"},
                        connect_timeout=10, read_timeout=60)
        # A fresh session each time: credentials are read now, not cached from a
        # client made earlier in this process.
        return boto3.session.Session().client(
            "s3", endpoint_url=self.endpoint_url, region_name=self.region or "us-east-1",
            config=config)


def _s3_error(what: str, error: Exception) -> Exception:
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
        raise _s3_error(f"listing {location.url}", e) from e


@dataclass(frozen=True)
class S3DocumentTask:
    """Read one object on a worker: fetch, hash, read every page (OCR as needed)."""

    obj: S3Object
    access: S3Access
    ocr_options: Any  # OcrOptions
    ocr: Any  # OcrEngine


@dataclass(frozen=True)
class S3DocumentResult:
    """What the worker read: the client stores it like a local file's pages."""

    url: str
    kind: FileKind
    sha256: str
    pages: list[PageText]


def read_s3_document(task: S3DocumentTask) -> S3DocumentResult:
    """Runs on a worker: the object is fetched here and its temporary copy always removed."""
    from engine.ocr import OcrTask, run_ocr_task
    from engine.readers import plan_pages

    obj = task.obj
    if obj.size == 0:
        raise EmptyDocument("object is empty (0 bytes)")
    handle, name = tempfile.mkstemp(prefix="scandex-s3-", suffix=PurePosixPath(obj.key).suffix)
    os.close(handle)
    local = Path(name)
    try:
        try:
            # IfMatch: an object replaced since it was listed is an error, not a mix.
            conditions = {"IfMatch": f'"{obj.etag}"'} if obj.etag else {}
            response = task.access.client().get_object(Bucket=obj.bucket, Key=obj.key,
                                                       **conditions)
            with local.open("wb") as out:
                for block in response["Body"].iter_chunks(1 << 20):
                    out.write(block)
        except Exception as e:  # noqa: BLE001 - converted with the reason
            code = str(getattr(e, "response", {}).get("Error", {}).get("Code", ""))
            if code in {"404", "NoSuchKey", "412", "PreconditionFailed"}:
                raise FileVanished("the object was deleted or replaced while indexing; "
                                   "run the same command again") from e
            raise ScanError(str(_s3_error(f"fetching {obj.url}", e))) from e
        kind = sniff_path(local)
        if kind is None:
            raise UnsupportedFile(
                "not a scan Scandex can read (expected PNG, JPEG, TIFF, BMP, GIF, WebP or PDF)")
        sha = sha256_file(local)
        pages: list[PageText] = []
        for plan in plan_pages(local, kind):
            if plan.text is not None:
                pages.append(plan.text)
            else:
                pages.append(run_ocr_task(OcrTask(str(local), kind, plan.page_no,
                                                  task.ocr_options, task.ocr)))
        return S3DocumentResult(obj.url, kind, sha, pages)
    finally:
        local.unlink(missing_ok=True)


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
        raise _s3_error(f"fetching {url}", e) from e
    partial.replace(target)
    return target
