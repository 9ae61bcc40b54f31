"""`Library`: the one front door. The CLI, the desktop and the server use only its public
methods; everything behind it (store, ingest, search, sync, backends) may move."""

from __future__ import annotations

import functools
import logging
import os
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from engine.backends.factory import is_cluster_address, make_embedder, make_executor, make_ocr
from engine.content import open_verified
from engine.errors import LibraryError, UsageError
from engine.layout import LibraryLayout, default_library_dir
from engine.models import (
    DocumentDetail,
    DocumentInfo,
    DocumentState,
    DuplicateGroup,
    FailedFile,
    FileKind,
    IndexReport,
    LibraryStatus,
    LowConfidencePage,
    SearchFilters,
    SearchMode,
)
from engine.models import SearchHit as SearchHit
from engine.progress import CancelToken, NullProgress, ProgressSink
from engine.protocols import Embedder, OcrEngine, TaskExecutor
from engine.search.searcher import Searcher
from engine.store.db import Store, now_iso
from engine.store.diagnosis import translating_index_errors
from engine.store.tags import clean_tag

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from engine.backends.s3 import RemoteConfig
    from engine.search.library_map import MapPoint
    from engine.search.suggest import Suggestion, TagModel
    from engine.search.vector_search import VectorSearch
    from engine.sync.transfer import SyncReport, SyncStatus
_SLICE = 200  # contents dated and paired per call during a run: a backlog never holds it
# OCR'd pages read below this mean confidence are listed by status as 'review these'.
REVIEW_BELOW_CONFIDENCE = 60.0


class Library:
    """A folder holding one index: add scans, search them, list and remove documents."""

    def __init__(
        self,
        directory: Path,
        store: Store,
        *,
        embedder: Embedder,
        ocr: OcrEngine | None,
        executor: str | TaskExecutor | None,
        vector_cache: VectorSearch | None = None,
    ) -> None:
        self.directory = directory
        self.layout = LibraryLayout(directory)
        self.store = store
        self.embedder = embedder
        self._ocr = ocr
        self._executor = executor
        self._searcher = Searcher(store, embedder)
        self._tag_model: TagModel | None = None  # made on first use: it needs numpy
        if vector_cache is not None:
            self._searcher.vectors = vector_cache

    @classmethod
    def open(
        cls,
        directory: str | os.PathLike[str] | None = None,
        *,
        embedder: Embedder | None = None,
        ocr: OcrEngine | None = None,
        executor: str | TaskExecutor | None = None,
        read_only: bool = False,
        vector_cache: VectorSearch | None = None,
    ) -> Library:
        """Open (creating if needed) the library in directory, or the default one.

        vector_cache lets several Library objects on one folder (one per server thread)
        share one in-memory vector matrix; make it with `Library.new_vector_cache()`.
        """
        path = Path(directory).expanduser() if directory else default_library_dir()
        if path.exists() and not path.is_dir():
            raise LibraryError(f"{path} is a file; give a folder for the library")
        if read_only and not LibraryLayout(path).index.exists():
            raise LibraryError(f"no library at {path}; index something first with 'scandex index'")
        store = Store(path, read_only=read_only)
        # The OCR engine is chosen on first use: a search-only open never needs it.
        return cls(path, store, embedder=embedder or make_embedder(), ocr=ocr,
                   executor=executor, vector_cache=vector_cache)

    @property
    def ocr(self) -> OcrEngine:
        """The OCR engine (make_ocr's choice unless one was given)."""
        if self._ocr is None:
            self._ocr = make_ocr()
        return self._ocr

    @staticmethod
    def new_vector_cache() -> VectorSearch:
        """A vector matrix cache to share between Library objects on one folder."""
        from engine.search.vector_search import VectorSearch

        return VectorSearch()

    def generation(self) -> tuple[int, int]:
        """Counters that change whenever any process commits or removes documents here:
        a face compares them to notice another process's changes."""
        return self.store.generation()

    @property
    def model_id(self) -> str:
        """The embedding model this library's vectors come from."""
        return self.embedder.model_id

    def close(self) -> None:
        """Close the index."""
        self.store.close()

    def warm_page_cache(self) -> threading.Thread:
        """Read the index's files ahead of searches on a background thread (the desktop
        and the server, once after opening: engine/store/page_cache.py)."""
        from engine.store.page_cache import warm_in_background

        return warm_in_background(self.layout.files_searches_read())

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
        executor: str | TaskExecutor | None = None,
        wait_s: float = 0.0,
    ) -> IndexReport:
        """Index files and folders; unchanged files are skipped, vanished ones forgotten.

        executor overrides the library's for this run: 'local', 'inline', or a Dask
        scheduler address (then the cluster's workers embed too). While another process
        indexes here, wait up to wait_s for it (LibraryBusy after that)."""
        self._require_writable()
        if not paths:
            raise UsageError("give at least one file or folder to index")
        self.store.check_integrity()  # never write into a damaged index
        from engine.backends.s3 import is_s3_url
        from engine.ingest.items import IndexOptions
        from engine.ingest.run import IndexRun
        from engine.search.page_likeness import import_in_background

        # s3://bucket/prefix is listed and read remotely; everything else is a local path.
        roots: list[Path | str] = [
            str(p) if is_s3_url(p) else Path(os.path.abspath(os.fspath(p))) for p in paths]
        spec = executor if executor is not None else self._executor
        owned = not hasattr(spec, "submit")
        pool: Any = make_executor(spec, workers) if owned else spec  # type: ignore[arg-type]
        embedder = self.embedder
        if isinstance(spec, str) and is_cluster_address(spec):
            from engine.backends.dask_cluster import DaskEmbedder

            embedder = DaskEmbedder(pool, backend=getattr(self.embedder, "backend", None))
        try:
            token = cancel or CancelToken()
            with self.layout.writer_lock(wait_s, lambda: token.cancelled):
                import_in_background()  # for comparing pages during and after the run
                run = IndexRun(
                    store=self.store,
                    ocr=self.ocr,
                    embedder=embedder,
                    executor=pool,
                    options=IndexOptions(
                        lang=lang,
                        page_timeout_s=page_timeout_s,
                        retry_failed=retry_failed,
                        detect_rotation=detect_rotation,
                    ),
                    library_dir=self.directory,
                    progress=progress or NullProgress(),
                    cancel=token,
                    after_commits=functools.partial(self._date_and_pair, _SLICE,
                                                    stop=lambda: token.cancelled),
                )
                report = run.run(roots)
                self._update_derived(stop=lambda: token.cancelled)
                return report
        finally:
            if owned:
                pool.shutdown()

    # -- reading ------------------------------------------------------------------

    def search(
        self,
        query: str,
        *,
        mode: str | SearchMode = SearchMode.HYBRID,
        limit: int = 10,
        kinds: Sequence[str] = (),
        path_prefix: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        tags: Sequence[str] = (),
    ) -> list[SearchHit]:
        """Documents matching query, best first, one hit per document (with every tag
        in tags, when given)."""
        named = [FileKind.named(k) for k in kinds]
        for kind, found in zip(kinds, named, strict=True):
            if found is None:
                raise UsageError(f"unknown file type '{kind}'; use one of "
                                 f"{', '.join(k.value for k in FileKind)}")
        if path_prefix and not path_prefix.startswith("s3://"):
            path_prefix = os.path.abspath(path_prefix)
        filters = SearchFilters(tuple(k.value for k in named if k), path_prefix, since, until,
                                tuple(clean_tag(t) for t in tags))
        return self._searcher.search(query, mode=mode, limit=limit, filters=filters)

    def similar(self, ref: str | int, *, limit: int = 10) -> list[SearchHit]:
        """More like this: the documents closest in meaning to one (id or path), best
        first, as search hits (the document itself and its copies left out)."""
        return self._searcher.similar(self._indexed(ref), limit=limit)

    def tag(self, ref: str | int, tags: Sequence[str], *, present: bool = True) -> int:
        """Put tags on a document (present=False: take them off). They belong to its
        content, so they follow renames and copies. Returns how many pairs changed."""
        self._require_writable()
        if not tags:
            raise UsageError("give at least one tag")
        return self.store.tags.set([self._indexed(ref)], tags, present=present, at=now_iso())

    def tags(self, ref: str | int | None = None) -> dict[str, int]:
        """Every tag in use and how many documents carry it (ref: that document's)."""
        if ref is None:
            return self.store.tags.counts()
        sha = self.resolve(ref).sha256
        return dict.fromkeys(self.store.tags.of(sha), 1) if sha else {}

    def document_dates(self, ref: str | int) -> tuple[str | None, list[dict[str, Any]]]:
        """The date the paper carries (ISO day, or None) and every candidate, best first."""
        sha = self.resolve(ref).sha256
        return self.store.dates.of(sha) if sha else (None, [])

    def suggest_tags(self, ref: str | int, *, limit: int = 5) -> list[Suggestion]:
        """Tags for a document, learnt from the documents tagged so far, best first."""
        if self._tag_model is None:
            from engine.search.suggest import TagModel

            self._tag_model = TagModel()
        return self._tag_model.suggest_for(self.store, self.embedder.model_id,
                                           self._indexed(ref), limit)

    def _indexed(self, ref: str | int) -> str:
        """The content hash of an indexed document (UsageError otherwise)."""
        info = self.resolve(ref)
        if info.sha256 is None or info.state != DocumentState.INDEXED:
            raise UsageError(f"{info.path} is not indexed ({info.error or info.state}); "
                             "index it again first")
        return info.sha256

    def duplicates(self) -> list[DuplicateGroup]:
        """Documents holding the same paper (copies, rescans), biggest groups first.
        Nothing is removed: the caller decides what to keep."""
        from engine.search.duplicates import duplicate_groups

        return duplicate_groups(self.store, self.embedder.model_id)

    def map(self) -> list[MapPoint]:
        """Every document placed in 2-D, alike documents together (for a map view)."""
        from engine.search.library_map import library_map

        return library_map(self.store, self.embedder.model_id)

    def documents(self, *, state: str | None = None) -> list[DocumentInfo]:
        """Every document, by path; state 'indexed' or 'failed' narrows the list."""
        return self.store.documents(state=state)

    def resolve(self, ref: str | int) -> DocumentInfo:
        """A document by id or by path."""
        info = None
        if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
            number = int(ref)
            # Ids are SQLite integers; a bigger number is no id (and would overflow).
            info = self.store.document(number) if 0 < number < 2**63 else None
        if info is None and isinstance(ref, str):
            doc_id = (self.store.document_id_by_path(ref)
                      or self.store.document_id_by_path(os.path.abspath(ref)))
            info = self.store.document(doc_id) if doc_id is not None else None
        if info is None:
            raise UsageError(f"no document '{ref}' in this library; see 'scandex status'")
        return info

    def document(self, ref: str | int) -> DocumentDetail:
        """A document and its recognised pages."""
        info = self.resolve(ref)
        pages = self.store.pages(info.sha256) if info.sha256 else []
        return DocumentDetail(info, pages)

    def page_image(self, ref: str | int, page_no: int, *, color: bool = False) -> Any:
        """The page as a PIL image (grey, or with color in colour), turned the way it
        was read (boxes fit it)."""
        info = self.resolve(ref)
        raw = self.store.raw_path(info.id)
        if raw is None or info.kind is None:
            raise UsageError(f"document {info.id} has no readable original")
        page = self.store.page(info.sha256, page_no) if info.sha256 else None
        if page is None:
            raise UsageError(f"document {info.id} has no page {page_no}")
        from engine.ingest.readers.dispatch import load_page

        kind = FileKind.named(info.kind)
        if kind is None:  # a type a newer Scandex reads, synced here
            raise UsageError(f"document {info.id} is a '{info.kind}' file, which this "
                             "Scandex cannot show; update Scandex to read it")
        image = load_page(self.original_file(info.id), kind, page_no, color=color)
        if page.rotation:
            image = image.rotate(-page.rotation, expand=True)
        return image

    def export_pdf(self, ref: str | int, target: Path,
                   progress: Callable[[int, int], None] | None = None) -> int:
        """Write the document as a searchable PDF to target: each page's image with its
        recognised words laid invisibly where they are printed (a PDF whose pages all
        carry their own text is copied as it is). Returns the page count; progress(done,
        total) after each page."""
        from engine.backends.searchable_pdf import export_document

        info = self.resolve(ref)
        return export_document(
            info, self.store.pages(info.sha256) if info.sha256 else [], Path(target),
            open_original=lambda: self.open_original(info.id),
            page_image=lambda page_no: self.page_image(info.id, page_no, color=True),
            progress=progress)

    def original_path(self, ref: str | int) -> Path | None:
        """Where the original was indexed from (exact bytes of the name), or None for a
        bucket object; unlike original_file it never fetches anything."""
        info = self.resolve(ref)
        raw = self.store.raw_path(info.id)
        if raw is None or info.path.startswith("s3://"):
            return None
        return Path(os.fsdecode(raw))

    def original_file(self, ref: str | int) -> Path:
        """A local copy of the document's original: where it was indexed, or fetched once
        from the sync bucket or from the bucket it was indexed from."""
        info = self.resolve(ref)
        raw = self.store.raw_path(info.id)
        if raw is None:
            raise UsageError(f"document {info.id} has no original")
        if info.path.startswith("s3://") and info.sha256:
            from engine.backends.s3 import fetch_original_once

            return fetch_original_once(info.path, self.layout.cached_object(info.sha256),
                                       info.sha256)
        original = Path(os.fsdecode(raw))
        if not original.is_file() and self.layout.sync_config.exists():
            from engine.sync.transfer import ensure_original

            # Synced from elsewhere: fetched once from the bucket.
            return ensure_original(self.store, self.layout, info.id)
        return original

    def open_original(self, ref: str | int) -> BinaryIO:
        """The original's bytes, opened and checked against the indexed SHA-256.

        The check reads the same open file that the caller then reads, so a file swapped
        for another (or for a symlink to one) after indexing is never handed out.
        """
        info = self.resolve(ref)
        return open_verified(lambda: self.original_file(info.id), info)

    def restore_original(self, ref: str | int) -> Path:
        """Put an original deleted from disk back where it was indexed from, from the
        sync bucket's copy (checked against the index); never over an existing file."""
        from engine.sync.transfer import restore_original

        return restore_original(self.store, self.layout, self.resolve(ref).id)

    def remove(self, ref: str | int) -> int:
        """Forget a document, or every document under a folder; returns how many."""
        self._require_writable()
        self.store.check_integrity()
        ids: list[int] = []
        if isinstance(ref, str) and not ref.isdigit():
            folder = ref.rstrip("/") if ref.startswith("s3://") else os.path.abspath(ref)
            ids = self.store.ids_under(folder)
        removed = self.store.remove_documents(ids or [self.resolve(ref).id])
        self._update_vector_index()
        return removed

    def _update_derived(self, stop: Callable[[], bool] = lambda: False) -> None:
        """New contents' dates and rescan pairs, the word list, the vector index.
        Once stop() says so the pairing is left for the next run (it is the slow part,
        and Ctrl-C must stop within seconds); duplicates compares what is left on
        demand meanwhile."""
        from engine.store.vocabulary import write_vocabulary
        self._date_and_pair(stop=stop)
        write_vocabulary(self.store)
        self._update_vector_index()

    def _date_and_pair(self, limit: int | None = None,
                       stop: Callable[[], bool] = lambda: False) -> None:
        from engine.ingest.dates import date_contents
        from engine.ingest.first_pages import first_page_reader
        from engine.search.duplicates import pair_contents
        date_contents(self.store, limit=limit)
        pair_contents(self.store, self.embedder.model_id, limit=limit,
                      read_page=first_page_reader(self.store), stop=stop)

    def _update_vector_index(self) -> None:
        """Fold what was added or removed into the ANN file of a big library (a derived
        cache: if it cannot be written, search stays exact and correct)."""
        from engine.search.ann import AnnFile

        try:
            AnnFile(self.directory, self.embedder.model_id, self.embedder.dim).update(self.store)
        except (OSError, RuntimeError, ValueError, MemoryError) as e:
            log.warning("could not update the vector index (search stays exact): %s", e)

    def status(self) -> LibraryStatus:
        """Counts, the model in use and every failure with its reason (after an integrity
        check of the whole index: status is where damage is looked for)."""
        self.store.check_integrity()
        counts = self.store.counts()
        failures = [FailedFile(d.path, d.error or "failed")
                    for d in self.store.documents(state=DocumentState.FAILED)]
        return LibraryStatus(
            path=str(self.directory), documents=counts["documents"], indexed=counts["indexed"],
            failed=counts["failed"], pages=counts["pages"], chunks=counts["chunks"],
            model_id=self.embedder.model_id, schema_version=self.store.schema_version,
            failures=failures,
            review=[LowConfidencePage(path, page, round(conf, 1)) for path, page, conf
                    in self.store.low_confidence_pages(REVIEW_BELOW_CONFIDENCE)],
        )

    # -- sync -----------------------------------------------------------------------

    def push(self, config: RemoteConfig | None = None, *,
             on_progress: Callable[[str], None] | None = None,
             cancel: CancelToken | None = None) -> SyncReport:
        """Merge the bucket into this library, then publish what is new here."""
        from engine.sync.transfer import push

        self._require_writable()
        report = push(self.store, self.layout, config, on_progress=on_progress, cancel=cancel)
        self._update_derived()
        return report

    def pull(self, config: RemoteConfig | None = None, *,
             on_progress: Callable[[str], None] | None = None,
             cancel: CancelToken | None = None) -> SyncReport:
        """Merge what other machines pushed into this library (no OCR needed)."""
        from engine.sync.transfer import pull

        self._require_writable()
        report = pull(self.store, self.layout, config, on_progress=on_progress, cancel=cancel)
        self._update_derived()
        return report

    def sync_status(self, config: RemoteConfig | None = None) -> SyncStatus:
        """What a push and a pull would move, without moving anything."""
        from engine.sync.transfer import status

        return status(self.store, self.layout, config)

    def _require_writable(self) -> None:
        if self.store.read_only:
            raise LibraryError("this library was opened read-only")


for _name in ("add", "search", "documents", "resolve", "document", "page_image",
              "original_path", "original_file", "open_original", "restore_original",
              "remove", "status", "push", "pull", "sync_status"):
    setattr(Library, _name, translating_index_errors(getattr(Library, _name)))
