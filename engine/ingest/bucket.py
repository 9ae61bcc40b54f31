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
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from engine.backends.s3 import S3Access, S3Object, s3_error
from engine.content import sha256_file, sniff_path
from engine.errors import (
    EmptyDocument,
    FileVanished,
    ScanError,
    UnsupportedFile,
)
from engine.models import FileKind, PageText, readable_types


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
    from engine.ingest.readers.dispatch import plan_pages
    from engine.ingest.tasks import OcrTask, run_ocr_task

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
            raise ScanError(str(s3_error(f"fetching {obj.url}", e))) from e
        kind = sniff_path(local)
        if kind is None:
            raise UnsupportedFile(
                f"not a scan Scandex can read (expected {readable_types()})")
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
