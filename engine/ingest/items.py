"""What an indexing run moves: sources (files found on disk, objects listed in a bucket),
one job per document in flight, and the run's options."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from engine.backends.s3 import S3Object
from engine.errors import FileVanished
from engine.ingest.discover import Candidate
from engine.ingest.tasks import OcrTask
from engine.models import DocumentState, FileKind, PageText
from engine.store.paths import FileRow


@dataclass(frozen=True)
class IndexOptions:
    """How an indexing run behaves."""

    lang: str = "eng"
    page_timeout_s: float = 300.0
    detect_rotation: bool = True
    retry_failed: bool = False
    prune_missing: bool = True


# A file found on disk, or an object listed in a bucket.
Source = Candidate | S3Object


def where(source: Source) -> Path | str:
    """The path of a file, or the s3:// URL of an object."""
    return source.url if isinstance(source, S3Object) else source.path


def mtime_of(source: Source) -> int:
    """When the source last changed, in ns."""
    return source.modified_ns if isinstance(source, S3Object) else source.mtime_ns


def etag_of(source: Source) -> str | None:
    """A bucket object's ETag (files have none)."""
    return source.etag if isinstance(source, S3Object) else None


@dataclass
class DocJob:
    """One document in flight: its pages as they come back, and identical files waiting."""

    candidate: Source
    kind: FileKind
    sha256: str
    page_count: int
    pages: dict[int, PageText] = field(default_factory=dict)
    error: str | None = None
    followers: list[Source] = field(default_factory=list)
    ready_since: float = 0.0

    @property
    def complete(self) -> bool:
        """All pages are back, or the document failed."""
        return self.error is not None or len(self.pages) == self.page_count


def well_formed_page(page: object, page_no: int) -> bool:
    """Whether a worker returned a usable page (a fake or a broken engine may not)."""
    return (isinstance(page, PageText) and page.page_no == page_no
            and isinstance(page.words, list) and page.width > 0 and page.height > 0)


def os_reason(error: OSError) -> str:
    """An OS error reading a file, as a reason a user can act on."""
    if isinstance(error, FileNotFoundError):
        return str(FileVanished("file disappeared while indexing"))
    if isinstance(error, PermissionError):
        return "permission denied; make the file readable and index again"
    if isinstance(error, IsADirectoryError):
        return "is a folder, not a file"
    return f"cannot read file: {error.strerror or error}"


def unchanged(row: FileRow, source: Source, *, retry_failed: bool) -> bool:
    """Whether the index already holds this source as it is now (size and mtime, or size
    and ETag for a bucket object); a failed one counts as unchanged unless retrying."""
    if row.size != source.size:
        return False
    if isinstance(source, S3Object):
        if row.etag != source.etag:
            return False
    elif row.mtime_ns != source.mtime_ns:
        return False
    return row.state == DocumentState.INDEXED or not retry_failed


@dataclass(frozen=True)
class PageWork:
    """One page of a file being read on the executor."""

    job: DocJob
    task: OcrTask
    attempt: int


@dataclass(frozen=True)
class ObjectWork:
    """One bucket object being fetched and read whole on the executor."""

    obj: S3Object
    attempt: int


Work = PageWork | ObjectWork
