"""`Library`: the public face the CLI, the GUI and the server all use."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from engine.config import default_library_dir
from engine.embedding import Embedder, MiniLMEmbedder
from engine.errors import LibraryError, UsageError
from engine.executor import TaskExecutor, make_executor
from engine.models import DocumentInfo, FailedFile, FileKind, IndexReport, LibraryStatus, PageText
from engine.models import SearchHit as SearchHit
from engine.ocr import OcrEngine, TesseractOcr, load_page
from engine.pipeline import IndexOptions, IndexRun
from engine.progress import CancelToken, NullProgress, ProgressSink
from engine.search import Searcher, SearchFilters
from engine.store import Store

LOCK_FILE = "index.lock"


@dataclass(frozen=True)
class DocumentDetail:
    """A document with its pages (for `show` and previews)."""

    info: DocumentInfo
    pages: list[PageText]


@contextlib.contextmanager
def _writer_lock(library_dir: Path) -> Iterator[None]:
    """One indexer per library at a time; readers never wait for it."""
    try:
        import fcntl
    except ImportError:  # Windows: SQLite's own locking still keeps the index safe
        yield
        return
    with (library_dir / LOCK_FILE).open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as e:
            raise LibraryError(
                f"another Scandex process is indexing into {library_dir}; wait for it to finish"
            ) from e
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class Library:
    """A folder holding one index: add scans, search them, list and remove documents."""

    def __init__(
        self,
        directory: Path,
        store: Store,
        *,
        embedder: Embedder,
        ocr: OcrEngine,
        executor: str | TaskExecutor | None,
    ) -> None:
        self.directory = directory
        self.store = store
        self.embedder = embedder
        self.ocr = ocr
        self._executor = executor
        self._searcher = Searcher(store, embedder)

    @classmethod
    def open(
        cls,
        directory: str | os.PathLike[str] | None = None,
        *,
        embedder: Embedder | None = None,
        ocr: OcrEngine | None = None,
        executor: str | TaskExecutor | None = None,
        read_only: bool = False,
    ) -> Library:
        """Open (creating if needed) the library in directory, or the default one."""
        path = Path(directory).expanduser() if directory else default_library_dir()
        if path.exists() and not path.is_dir():
            raise LibraryError(f"{path} is a file; give a folder for the library")
        if read_only and not (path / "index.sqlite").exists():
            raise LibraryError(f"no library at {path}; index something first with 'scandex index'")
        store = Store(path, read_only=read_only)
        return cls(
            path,
            store,
            embedder=embedder or MiniLMEmbedder(),
            ocr=ocr or TesseractOcr(),
            executor=executor,
        )

    def close(self) -> None:
        """Close the index."""
        self.store.close()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- indexing -----------------------------------------------------------------

    def add(
        self,
        paths: Sequence[str | os.PathLike[str]],
        *,
        lang: str = "eng",
        progress: ProgressSink | None = None,
        cancel: CancelToken | None = None,
        workers: int | None = None,
        page_timeout_s: float = 300.0,
        retry_failed: bool = False,
        detect_rotation: bool = True,
    ) -> IndexReport:
        """Index files and folders; unchanged files are skipped, vanished ones forgotten."""
        if self.store.read_only:
            raise LibraryError("this library was opened read-only")
        if not paths:
            raise UsageError("give at least one file or folder to index")
        from engine.s3input import is_s3_url

        # s3://bucket/prefix is listed and read remotely; everything else is a local path.
        roots: list[Path | str] = [
            str(p) if is_s3_url(p) else Path(os.path.abspath(os.fspath(p))) for p in paths]
        executor = self._executor
        owned = not hasattr(executor, "submit")
        pool: Any = make_executor(executor, workers) if owned else executor  # type: ignore[arg-type]
        try:
            with _writer_lock(self.directory):
                run = IndexRun(
                    store=self.store,
                    ocr=self.ocr,
                    embedder=self.embedder,
                    executor=pool,
                    options=IndexOptions(
                        lang=lang,
                        page_timeout_s=page_timeout_s,
                        retry_failed=retry_failed,
                        detect_rotation=detect_rotation,
                    ),
                    library_dir=self.directory,
                    progress=progress or NullProgress(),
                    cancel=cancel or CancelToken(),
                )
                return run.run(roots)
        finally:
            if owned:
                pool.shutdown()

    # -- reading ------------------------------------------------------------------

    def search(
        self,
        query: str,
        *,
        mode: str = "hybrid",
        limit: int = 10,
        kinds: Sequence[str] = (),
        path_prefix: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[SearchHit]:
        """Documents matching query, best first, one hit per document."""
        for kind in kinds:
            if kind.lower() not in {k.value for k in FileKind}:
                raise UsageError(
                    f"unknown file type '{kind}'; use one of {', '.join(k.value for k in FileKind)}"
                )
        if path_prefix and not path_prefix.startswith("s3://"):
            path_prefix = os.path.abspath(path_prefix)
        filters = SearchFilters(tuple(kinds), path_prefix, since, until)
        return self._searcher.search(query, mode=mode, limit=limit, filters=filters)

    def documents(self, *, state: str | None = None) -> list[DocumentInfo]:
        """Every document, by path; state 'indexed' or 'failed' narrows the list."""
        return self.store.documents(state=state)

    def resolve(self, ref: str | int) -> DocumentInfo:
        """A document by id or by path."""
        info = None
        if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
            info = self.store.document(int(ref))
        if info is None and isinstance(ref, str):
            doc_id = self.store.document_id_by_path(ref) or self.store.document_id_by_path(
                os.path.abspath(ref)
            )
            info = self.store.document(doc_id) if doc_id is not None else None
        if info is None:
            raise UsageError(f"no document '{ref}' in this library; see 'scandex status'")
        return info

    def document(self, ref: str | int) -> DocumentDetail:
        """A document and its recognised pages."""
        info = self.resolve(ref)
        pages = self.store.pages(info.sha256) if info.sha256 else []
        return DocumentDetail(info, pages)

    def page_image(self, ref: str | int, page_no: int) -> Any:
        """The page as a PIL image, turned the way it was read (boxes fit it)."""
        info = self.resolve(ref)
        raw = self.store.raw_path(info.id)
        if raw is None or info.kind is None:
            raise UsageError(f"document {info.id} has no readable original")
        page = self.store.page(info.sha256, page_no) if info.sha256 else None
        if page is None:
            raise UsageError(f"document {info.id} has no page {page_no}")
        image = load_page(self.original_file(info.id), FileKind(info.kind), page_no)
        if page.rotation:
            image = image.rotate(-page.rotation, expand=True)
        return image

    def original_file(self, ref: str | int) -> Path:
        """A local copy of the document's original: where it was indexed, or fetched once
        from the sync bucket or from the bucket it was indexed from."""
        info = self.resolve(ref)
        raw = self.store.raw_path(info.id)
        if raw is None:
            raise UsageError(f"document {info.id} has no original")
        if info.path.startswith("s3://") and info.sha256:
            return self._fetched_object(info.path, info.sha256)
        original = Path(os.fsdecode(raw))
        if not original.is_file() and (self.directory / "sync.json").exists():
            from engine.sync import ensure_original

            return ensure_original(self, info.id)  # synced from elsewhere: fetch once
        return original

    def _fetched_object(self, url: str, sha256: str) -> Path:
        """A bucket object's bytes, fetched once into the library's cache and checked."""
        from engine.discover import sha256_file
        from engine.s3input import fetch_original

        cached = self.directory / "cache" / "objects" / sha256
        if not cached.is_file():
            fetch_original(url, cached)
            if sha256_file(cached) != sha256:
                cached.unlink(missing_ok=True)
                raise UsageError(f"{url} changed since it was indexed; index it again")
        return cached

    def remove(self, ref: str | int) -> int:
        """Forget a document, or every document under a folder; returns how many."""
        if isinstance(ref, str) and not ref.isdigit():
            folder = ref.rstrip("/") if ref.startswith("s3://") else os.path.abspath(ref)
            ids = self.store.ids_under(folder)
            if ids:
                return self.store.remove_documents(ids)
        return self.store.remove_documents([self.resolve(ref).id])

    def status(self) -> LibraryStatus:
        """Counts, the model in use and every failure with its reason."""
        counts = self.store.counts()
        failures = [
            FailedFile(d.path, d.error or "failed") for d in self.store.documents(state="failed")
        ]
        return LibraryStatus(
            path=str(self.directory),
            documents=counts["documents"],
            indexed=counts["indexed"],
            failed=counts["failed"],
            pages=counts["pages"],
            chunks=counts["chunks"],
            model_id=self.embedder.model_id,
            schema_version=self.store.schema_version,
            failures=failures,
        )
