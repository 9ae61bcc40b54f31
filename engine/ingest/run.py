"""The indexing run: the one place that knows the order of the stages.

discover -> read (plan pages) -> OCR (executor) -> chunk -> embed -> store,
with many pages in flight, documents committed one transaction each as soon
as all their pages are through, progress reported and cancellation honoured.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from engine.backends.s3 import S3Access, S3Location, S3Object, is_s3_url
from engine.content import SCAN_EXTENSIONS, sha256_file, sniff_path
from engine.errors import (
    ClusterLost,
    EmptyDocument,
    ScandexError,
    ScanError,
    UnsupportedFile,
    WorkersWontStart,
)
from engine.ingest.bucket import S3DocumentResult, S3DocumentTask, read_s3_document
from engine.ingest.chunking import chunk_document
from engine.ingest.discover import Candidate, WalkProblem
from engine.ingest.items import (
    DocJob,
    IndexOptions,
    ObjectWork,
    PageWork,
    Source,
    Work,
    etag_of,
    mtime_of,
    os_reason,
    unchanged,
    well_formed_page,
    where,
)
from engine.ingest.order import balanced_tail
from engine.ingest.readers.dispatch import plan_pages
from engine.ingest.sources import BucketRoots, FolderRoots, SourceRoots, key_of
from engine.ingest.tasks import OcrTask, run_ocr_task
from engine.models import (
    Chunk,
    DocumentState,
    FailedFile,
    FileKind,
    IndexReport,
    PageText,
    readable_types,
)
from engine.progress import CancelToken, NullProgress, ProgressSink, ProgressTracker
from engine.protocols import Embedder, OcrEngine, OcrOptions, TaskExecutor
from engine.store.db import Store
from engine.store.paths import db_path_text

log = logging.getLogger(__name__)

_MAX_ATTEMPTS = 2  # a page whose worker died is tried once more
_FLUSH_CHUNKS = 64  # embed ready documents together once they hold this many chunks
_FLUSH_AGE_S = 2.0  # ... or once the oldest has waited this long
_CRASHED_TWICE = "the worker crashed twice reading it (out of memory?); try the file alone"
# after_commits runs while pages are still being read at most this share of the time
# (it blocks the loop that hands out pages; the workers go on with those queued).
_AFTER_COMMITS_SHARE = 0.25


@dataclass
class IndexRun:
    """One call of Library.add: holds the run's state between stages."""

    store: Store
    ocr: OcrEngine
    embedder: Embedder
    executor: TaskExecutor
    options: IndexOptions
    library_dir: Path
    progress: ProgressSink = field(default_factory=NullProgress)
    cancel: CancelToken = field(default_factory=CancelToken)
    s3_access: S3Access = field(default_factory=S3Access.from_environment)
    # Called between commits while pages are still being read (the rescans' pairing:
    # done then on cores OCR leaves free, not alone after the last page), paced by
    # _AFTER_COMMITS_SHARE; what it leaves is the caller's to finish after the run.
    after_commits: Callable[[], None] | None = None

    def __post_init__(self) -> None:
        self.report = IndexReport()
        self._after_commits_next = 0.0
        self.tracker = ProgressTracker(self.progress)
        # Work on the executor: a page of a file, or a whole bucket object.
        self._pending: dict[Future[Any], Work] = {}
        # Work a worker's death stranded: run alone, so a next death is its own fault.
        self._suspects: deque[Work] = deque()
        self._pools_dead_at_start = 0  # pools in a row whose workers all died starting
        # Identical objects (same ETag) waiting on the one being read.
        self._remote_followers: dict[str, list[S3Object]] = {}
        self._in_flight: dict[str, DocJob] = {}
        self._ready: list[DocJob] = []
        self._ocr_options = OcrOptions(
            lang=self.options.lang,
            timeout_s=self.options.page_timeout_s,
            detect_rotation=self.options.detect_rotation,
        )

    # -- the order of things ---------------------------------------------------

    def run(self, roots: Sequence[Path | str]) -> IndexReport:
        """Index roots (paths or s3:// locations); returns what happened.

        Cancelling keeps finished documents.
        """
        started = time.monotonic()
        self.ocr.check(self.options.lang)
        sources: list[SourceRoots] = [
            # The bucket is listed first: a refused listing stops the run before any work.
            BucketRoots([S3Location.parse(str(r)) for r in roots if is_s3_url(r)],
                        self.s3_access),
            FolderRoots([Path(r) for r in roots if not is_s3_url(r)], [self.library_dir]),
        ]
        seen: set[bytes] = set()
        todo: deque[Source] = deque()
        for source in sources:
            todo.extend(self._new_or_changed(source, seen))
        self._process(deque(balanced_tail(todo, self.executor.workers)))
        if not self.cancel.cancelled:
            # After processing, so a renamed file reuses its content before the old
            # path's document (and, with it, the content) is forgotten.
            if self.options.prune_missing:
                for source in sources:
                    self.report.removed += self.store.remove_documents(
                        source.vanished(self.store, seen))
            self._embed_stale_chunks()
        self.report.cancelled = self.cancel.cancelled
        self.report.seconds = time.monotonic() - started
        self.tracker.emit()
        return self.report

    def _new_or_changed(self, source: SourceRoots, seen: set[bytes]) -> list[Source]:
        """What the source lists that the index lacks or holds in an older version."""
        known = self.store.file_rows()
        todo: list[Source] = []
        for item in source.listing():
            if self.cancel.cancelled:
                break
            if isinstance(item, WalkProblem):
                self._fail_path(item.path, None, 0, 0, item.error)
                continue
            key = key_of(item)
            seen.add(key)
            row = known.get(key)
            if row is not None and unchanged(row, item, retry_failed=self.options.retry_failed):
                self.report.skipped_unchanged += 1
                self.report.skipped_failed_before += row.state != DocumentState.INDEXED
                continue
            todo.append(item)
        self.tracker.files_total += len(todo)
        self.tracker.files_skipped = self.report.skipped_unchanged
        self.tracker.emit()
        return todo

    def _process(self, todo: deque[Source]) -> None:
        window = max(2, self.executor.workers * 3)
        try:
            while (todo or self._pending or self._ready or self._suspects) \
                    and not self.cancel.cancelled:
                if self._suspects and not self._pending:
                    self._submit(self._suspects.popleft())
                while todo and not self._suspects and len(self._pending) < window \
                        and not self.cancel.cancelled:
                    item = todo.popleft()
                    if isinstance(item, S3Object):
                        self._start_object(item)
                    else:
                        self._start(item)
                if self._ready and self._should_flush(bool(todo)):
                    self._flush()
                    if self._pending:
                        self._between_commits()
                if self._pending:
                    done, _ = wait(list(self._pending), timeout=0.25,
                                   return_when=FIRST_COMPLETED)
                    for future in done:
                        self._collect(future)
        finally:
            if self.cancel.cancelled:
                self.executor.shutdown(cancel=True)
                self._pending.clear()
            # Documents whose pages are all through are kept, even on cancel.
            self._flush()

    def _between_commits(self) -> None:
        if self.after_commits is None or time.monotonic() < self._after_commits_next:
            return
        started = time.monotonic()
        try:
            self.after_commits()
        except (ScandexError, sqlite3.Error, OSError, ValueError, MemoryError) as e:
            # Derived work only: the pages go on, and the caller tries it after the run.
            log.warning("left for after the run: %s", e)
            self._after_commits_next = float("inf")
            return
        took = time.monotonic() - started
        self._after_commits_next = time.monotonic() + took / _AFTER_COMMITS_SHARE - took

    # -- work on the executor --------------------------------------------------------

    def _submit(self, work: Work) -> None:
        future: Future[Any]
        if isinstance(work, PageWork):
            future = self.executor.submit(run_ocr_task, work.task)
        else:
            task = S3DocumentTask(work.obj, self.s3_access, self._ocr_options, self.ocr)
            future = self.executor.submit(read_s3_document, task)
        self._pending[future] = work

    def _collect(self, future: Future[Any]) -> None:
        """A page or an object came back: keep it, retry it, or record why it failed."""
        work = self._pending.pop(future, None)
        if work is None:
            return  # resubmitted after a pool restart; its replacement is tracked
        try:
            result = future.result()
        except BrokenProcessPool:
            self._recover_pool(work)
            return
        except ClusterLost:
            raise  # the run stops; this work was not at fault and is not recorded
        except ScanError as e:
            self._failed(work, str(e))
            return
        except Exception as e:  # noqa: BLE001 - one bad page or object must not stop the batch
            self._failed(work, f"unexpected error: {e!r}")
            return
        if not self._well_formed(work, result):
            # A corrupt or partial result (a remote worker): run it again, never store it.
            if work.attempt < _MAX_ATTEMPTS:
                self._submit(replace(work, attempt=work.attempt + 1))
            else:
                self._failed(work, "malformed result from the worker")
            return
        if isinstance(work, PageWork):
            self._take_page(work.job, result)
        else:
            self._take_object(work.obj, result)

    @staticmethod
    def _well_formed(work: Work, result: Any) -> bool:
        if isinstance(work, PageWork):
            return well_formed_page(result, work.task.page_no)
        return (isinstance(result, S3DocumentResult) and result.url == work.obj.url
                and bool(result.pages)
                and all(well_formed_page(p, n) for n, p in enumerate(result.pages, 1)))

    def _failed(self, work: Work, error: str) -> None:
        """Record a failure: a page fails its document; an object, itself and its twins."""
        if isinstance(work, PageWork):
            job = work.job
            job.error = job.error or f"page {work.task.page_no}: {error}"
            if job.complete and job not in self._ready:
                self._mark_ready(job)
            return
        obj = work.obj
        twins = self._remote_followers.pop(obj.etag, []) if obj.etag else []
        for source in [obj, *twins]:
            self._fail_path(source.url, None, source.size, source.modified_ns, error,
                            etag=source.etag)

    def _recover_pool(self, crashed: Work) -> None:
        """A worker died (OOM, signal): restart the pool; all that was on it goes again,
        once, each alone (every future on a broken pool fails alike); a second crash
        fails it."""
        started = getattr(self.executor, "workers_started", lambda: None)()
        self._pools_dead_at_start = self._pools_dead_at_start + 1 if started is False else 0
        if self._pools_dead_at_start >= _MAX_ATTEMPTS:
            raise WorkersWontStart
        stranded = [crashed, *self._pending.values()]
        self._pending.clear()
        self.executor.restart()
        for work in stranded:
            if isinstance(work, PageWork) and work.job.error is not None:
                continue  # its document has failed already
            if work.attempt >= _MAX_ATTEMPTS:
                self._failed(work, _CRASHED_TWICE)
            else:
                self._suspects.append(replace(work, attempt=work.attempt + 1))

    # -- stages ----------------------------------------------------------------

    def _start_object(self, obj: S3Object) -> None:
        """Reuse content already read from an identical object, else read it on a worker."""
        known = self.store.content_by_etag(obj.etag, obj.size) if obj.etag else None
        # (a type only a newer Scandex reads, synced here, is read again instead)
        reused_kind = FileKind.named(known[1]) if known is not None else None
        if known is not None and reused_kind and self.store.content_known(known[0]):
            self._commit_reused(obj, reused_kind, known[0])
            return
        if obj.etag and obj.etag in self._remote_followers:
            self._remote_followers[obj.etag].append(obj)  # same object content: read once
            return
        if obj.etag:
            self._remote_followers[obj.etag] = []
        self._submit(ObjectWork(obj, 1))
        self.tracker.emit(obj.url)

    def _take_object(self, obj: S3Object, result: S3DocumentResult) -> None:
        followers = self._remote_followers.pop(obj.etag, []) if obj.etag else []
        job = DocJob(obj, result.kind, result.sha256, len(result.pages),
                     pages={p.page_no: p for p in result.pages}, followers=list(followers))
        self.tracker.pages_total += len(result.pages)
        self.tracker.files_planned += 1
        self.tracker.pages_done += len(result.pages)
        if self.store.content_known(result.sha256):
            # The same bytes were already read under another name: store them once.
            self._commit_reused(obj, result.kind, result.sha256)
            for follower in followers:
                self._commit_reused(follower, result.kind, result.sha256)
            return
        leader = self._in_flight.get(result.sha256)
        if leader is not None:
            # ... or are being read right now (a local copy): commit after it.
            leader.followers.extend([obj, *followers])
            return
        self._in_flight[result.sha256] = job
        self._mark_ready(job)

    def _start(self, candidate: Candidate) -> None:
        """Sniff, hash and plan a file; reuse known content; queue its OCR pages."""
        path = candidate.path
        try:
            ours = candidate.explicit or path.suffix.lower() in SCAN_EXTENSIONS
            kind = sniff_path(path) if candidate.size else None
            if kind is None and not ours:
                self.tracker.files_total -= 1  # not a scan: not ours to index
                self.report.skipped_not_scans += 1
                return
            if candidate.size == 0:
                raise EmptyDocument("file is empty (0 bytes)")
            if kind is None:
                raise UnsupportedFile(
                    f"not a scan Scandex can read (expected {readable_types()})"
                )
            sha = sha256_file(path)
        except ScanError as e:
            self._fail_path(path, None, candidate.size, candidate.mtime_ns, str(e))
            return
        except OSError as e:
            self._fail_path(path, None, candidate.size, candidate.mtime_ns, os_reason(e))
            return
        if self.store.content_known(sha):
            self._commit_reused(candidate, kind, sha)
            return
        leader = self._in_flight.get(sha)
        if leader is not None:
            leader.followers.append(candidate)  # same content: OCR it once
            return
        try:
            plans = plan_pages(path, kind)
        except ScanError as e:
            self._fail_path(path, kind, candidate.size, candidate.mtime_ns, str(e))
            return
        except OSError as e:
            self._fail_path(path, kind, candidate.size, candidate.mtime_ns, os_reason(e))
            return
        job = DocJob(candidate, kind, sha, len(plans))
        self._in_flight[sha] = job
        self.tracker.pages_total += len(plans)
        self.tracker.files_planned += 1
        for plan in plans:
            if plan.text is not None:
                job.pages[plan.page_no] = plan.text
                self.tracker.pages_done += 1
            else:
                task = OcrTask(str(path), kind, plan.page_no, self._ocr_options, self.ocr)
                self._submit(PageWork(job, task, 1))
        if job.complete:
            self._mark_ready(job)
        self.tracker.emit(str(path))

    def _take_page(self, job: DocJob, page: PageText) -> None:
        job.pages[page.page_no] = page
        self.tracker.pages_done += 1
        self.tracker.emit(str(where(job.candidate)))
        if job.complete and job not in self._ready:
            self._mark_ready(job)

    def _mark_ready(self, job: DocJob) -> None:
        job.ready_since = time.monotonic()
        self._ready.append(job)

    def _should_flush(self, more_to_start: bool) -> bool:
        if not self._pending and not more_to_start:
            return True
        chunks = sum(len(j.pages) for j in self._ready) * 3
        oldest = min(j.ready_since for j in self._ready)
        return chunks >= _FLUSH_CHUNKS or time.monotonic() - oldest > _FLUSH_AGE_S

    def _flush(self) -> None:
        """Chunk and embed the ready documents together, then commit each on its own."""
        ready, self._ready = self._ready, []
        good = [j for j in ready if j.error is None]
        for job in ready:
            if job.error is not None:
                self._in_flight.pop(job.sha256, None)
                self._fail_job(job)
        if not good:
            return
        chunked = [(job, self._chunks(job)) for job in good]
        texts = [c.text for _, chunks in chunked for c in chunks]
        vectors = self.embedder.embed(texts) if texts else np.zeros((0, self.embedder.dim))
        offset = 0
        for job, chunks in chunked:
            mine = vectors[offset : offset + len(chunks)]
            offset += len(chunks)
            self._commit(job, chunks, mine)

    @staticmethod
    def _chunks(job: DocJob) -> list[Chunk]:
        return chunk_document([job.pages[n] for n in sorted(job.pages)])

    # -- commits -----------------------------------------------------------------

    def _commit(self, job: DocJob, chunks: list[Chunk], vectors: np.ndarray) -> None:
        c = job.candidate
        pages = [job.pages[n] for n in sorted(job.pages)]
        self.store.commit_document(
            path=where(c), kind=job.kind.value, sha256=job.sha256, size=c.size,
            mtime_ns=mtime_of(c), pages=pages, chunks=chunks, vectors=vectors,
            model_id=self.embedder.model_id, etag=etag_of(c),
        )
        self._in_flight.pop(job.sha256, None)
        self.report.indexed += 1
        self.report.pages += len(pages)
        self._document_done(where(c), None)
        for follower in job.followers:
            self._commit_reused(follower, job.kind, job.sha256)

    def _commit_reused(self, candidate: Source, kind: FileKind, sha: str) -> None:
        self.store.commit_document(
            path=where(candidate), kind=kind.value, sha256=sha, size=candidate.size,
            mtime_ns=mtime_of(candidate), pages=None, etag=etag_of(candidate),
        )
        self.report.reused += 1
        self._document_done(where(candidate), None)

    def _fail_job(self, job: DocJob) -> None:
        for c in [job.candidate, *job.followers]:
            self._fail_path(where(c), job.kind, c.size, mtime_of(c), job.error or "failed",
                            etag=etag_of(c))

    def _fail_path(
        self, path: Path | str, kind: FileKind | None, size: int, mtime_ns: int, error: str,
        etag: str | None = None,
    ) -> None:
        self.store.record_failure(
            path=path, kind=kind.value if kind else None, size=size, mtime_ns=mtime_ns,
            error=error, etag=etag,
        )
        self.report.failed.append(FailedFile(db_path_text(path)[0], error))
        self._document_done(path, error)

    def _document_done(self, path: Path | str, error: str | None) -> None:
        self.tracker.files_done += 1
        if error is not None:
            self.tracker.files_failed += 1
        text = db_path_text(path)[0]
        self.progress.document_done(text, error is None, error)
        self.tracker.emit(text)

    def _embed_stale_chunks(self) -> None:
        """Chunks embedded by another model (after a model change) are embedded again."""
        model = self.embedder.model_id
        while not self.cancel.cancelled:
            rows = self.store.chunks_needing_vectors(model)
            if not rows:
                return
            ids = [i for i, _ in rows]
            self.store.set_vectors(ids, self.embedder.embed([t for _, t in rows]), model)
