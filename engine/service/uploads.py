"""Uploads into a library the server owns: bytes staged under `blobs/` as they arrive
(hashed and size-checked on the way), then kept by content hash under a safe name.
Removing such a document also removes the bytes, which nobody else holds."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path
from types import TracebackType

from engine.content import safe_filename, sniff
from engine.errors import UsageError
from engine.layout import LibraryLayout
from engine.library import Library
from engine.models import readable_types


class UploadTooLarge(UsageError):
    """An upload passed the size limit (the server answers 413)."""


class NotAScan(UsageError):
    """An upload is empty or not a file type Scandex reads (the server answers 415)."""


class StagedUpload:
    """One upload on its way in: `write` chunks, then `keep` it (or leave the block to
    drop it). Nothing half-written is ever visible under its final name."""

    def __init__(self, library_dir: Path, max_bytes: int) -> None:
        self._layout = LibraryLayout(library_dir)
        self._blobs = self._layout.blobs
        self._blobs.mkdir(parents=True, exist_ok=True)
        self._max_bytes = max_bytes
        self._digest = hashlib.sha256()
        self._head = b""
        self.size = 0
        handle, name = tempfile.mkstemp(dir=self._blobs, prefix=".upload-")
        self._file = os.fdopen(handle, "wb")
        self._staged = Path(name)

    def __enter__(self) -> StagedUpload:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self._file.close()
        self._staged.unlink(missing_ok=True)  # kept uploads were renamed away already

    def write(self, chunk: bytes) -> None:
        """Append a chunk; UploadTooLarge once the total passes the limit."""
        self.size += len(chunk)
        if self.size > self._max_bytes:
            raise UploadTooLarge(f"upload over the limit of {self._max_bytes // 2**20} MiB")
        if len(self._head) < 1024:
            self._head += chunk[: 1024 - len(self._head)]
        self._digest.update(chunk)
        self._file.write(chunk)

    def keep(self, filename: str | None) -> Path:
        """The upload under blobs/sha256/<hash>/<safe name>; NotAScan if it is none."""
        self._file.close()
        kind = sniff(self._head)
        if kind is None or self.size == 0:
            raise NotAScan(f"not a scan Scandex can read ({readable_types()})")
        sha = self._digest.hexdigest()
        target = self._layout.blob_path(sha, safe_filename(filename, f"upload.{kind.value}"))
        target.parent.mkdir(parents=True, exist_ok=True)
        self._staged.replace(target)
        return target


def remove_document(library: Library, doc_id: int) -> int:
    """Remove a document; an upload the library owns loses its bytes too."""
    owned = library.original_path(doc_id)
    removed = library.remove(doc_id)
    blobs = LibraryLayout(library.directory).blobs.resolve()
    if owned is not None and owned.resolve().is_relative_to(blobs):
        owned.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            owned.parent.rmdir()
    return removed
