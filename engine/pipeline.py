"""The indexing run: the one place that knows the order of the stages.

discover -> read (plan pages) -> OCR (executor) -> chunk -> embed -> store,
with many pages in flight, documents committed one transaction each as soon
as all their pages are through, progress reported and cancellation honoured.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.chunking import chunk_page
from engine.discover import SCAN_EXTENSIONS, Candidate, WalkProblem, sha256_file, sniff_path, walk
from engine.embedding import Embedder
from engine.errors import EmptyDocument, FileVanished, ScanError, UnsupportedFile
from engine.executor import TaskExecutor
from engine.models import Chunk, FailedFile, FileKind, IndexReport, PageText
from engine.ocr import OcrEngine, OcrOptions, OcrTask, run_ocr_task
from engine.progress import CancelToken, NullProgress, ProgressSink, ProgressTracker
from engine.readers import plan_pages
from engine.store import Store, db_path_text

_MAX_ATTEMPTS = 2  # a page whose worker died is tried once more
_FLUSH_CHUNKS = 64  # embed ready documents together once they hold this many chunks
_FLUSH_AGE_S = 2.0  # ... or once the oldest has waited this long


@dataclass(frozen=True)
class IndexOptions:
    """How an indexing run behaves."""

    lang: str = "eng"
    page_timeout_s: float = 300.0
    detect_rotation: bool = True
    retry_failed: bool = False
    prune_missing: bool = True


@dataclass
class _DocJob:
    candidate: Candidate
    kind: FileKind
    sha256: str
    page_count: int
    pages: dict[int, PageText] = field(default_factory=dict)
    error: str | None = None
    followers: list[Candidate] = field(default_factory=list)
    ready_since: float = 0.0

    @property
    def complete(self) -> bool:
        return self.error is not None or len(self.pages) == self.page_count


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

    def __post_init__(self) -> None:
        self.report = IndexReport()
        self.tracker = ProgressTracker(self.progress)
        self._futures: dict[Future[PageText], tuple[_DocJob, OcrTask, int]] = {}
        self._in_flight: dict[str, _DocJob] = {}
        self._ready: list[_DocJob] = []
        self._ocr_options = OcrOptions(
            lang=self.options.lang,
            timeout_s=self.options.page_timeout_s,
            detect_rotation=self.options.detect_rotation,
        )

    # -- the order of things ---------------------------------------------------

    def run(self, roots: Sequence[Path]) -> IndexReport:
        """Index roots; returns what happened. Cancelling keeps finished documents."""
        started = time.monotonic()
        self.ocr.check(self.options.lang)
        paths = [Path(r) for r in roots]
        todo = self._discover(paths)
        self._process(todo)
        if not self.cancel.cancelled:
            # After processing, so a renamed file reuses its content before the old
            # path's document (and, with it, the content) is forgotten.
            if self.options.prune_missing:
                self._prune(paths, self._seen)
            self._embed_stale_chunks()
        self.report.cancelled = self.cancel.cancelled
        self.report.seconds = time.monotonic() - started
        self.tracker.emit()
        return self.report

    def _discover(self, roots: list[Path]) -> deque[Candidate]:
        known = self.store.file_rows()
        seen: set[str] = set()
        todo: deque[Candidate] = deque()
        for item in walk(roots, exclude=[self.library_dir]):
            if self.cancel.cancelled:
                break
            if isinstance(item, WalkProblem):
                self._fail_path(item.path, None, 0, 0, item.error)
                continue
            text, _ = db_path_text(item.path)
            seen.add(text)
            row = known.get(text)
            if (
                row is not None
                and row.size == item.size
                and row.mtime_ns == item.mtime_ns
                and (row.state == "indexed" or not self.options.retry_failed)
            ):
                self.report.skipped_unchanged += 1
                continue
            todo.append(item)
        self._seen = seen
        self.tracker.files_total = len(todo)
        self.tracker.files_skipped = self.report.skipped_unchanged
        self.tracker.emit()
        return todo

    def _prune(self, roots: list[Path], seen: set[str]) -> None:
        """Forget documents that vanished from a folder being indexed again."""
        gone: list[int] = []
        path_of = {row.id: path for path, row in self.store.file_rows().items()}
        for root in roots:
            if not root.is_dir():
                continue
            for doc_id in self.store.ids_under(db_path_text(root)[0]):
                path = path_of.get(doc_id)
                if path is not None and path not in seen and not Path(path).exists():
                    gone.append(doc_id)
        self.report.removed += self.store.remove_documents(sorted(set(gone)))

    def _process(self, todo: deque[Candidate]) -> None:
        window = max(2, self.executor.workers * 3)
        try:
            while (todo or self._futures or self._ready) and not self.cancel.cancelled:
                while todo and len(self._futures) < window and not self.cancel.cancelled:
                    self._start(todo.popleft())
                if self._ready and self._should_flush(bool(todo)):
                    self._flush()
                if self._futures:
                    done, _ = wait(list(self._futures), timeout=0.25, return_when=FIRST_COMPLETED)
                    for future in done:
                        self._collect(future)
        finally:
            if self.cancel.cancelled:
                self.executor.shutdown(cancel=True)
                self._futures.clear()
            # Documents whose pages are all through are kept, even on cancel.
            self._flush()

    # -- stages ----------------------------------------------------------------

    def _start(self, candidate: Candidate) -> None:
        """Sniff, hash and plan a file; reuse known content; queue its OCR pages."""
        path = candidate.path
        try:
            ours = candidate.explicit or path.suffix.lower() in SCAN_EXTENSIONS
            kind = sniff_path(path) if candidate.size else None
            if kind is None and not ours:
                self.tracker.files_total -= 1  # not a scan: not ours to report
                return
            if candidate.size == 0:
                raise EmptyDocument("file is empty (0 bytes)")
            if kind is None:
                raise UnsupportedFile(
                    "not a scan Scandex can read (expected PNG, JPEG, TIFF, BMP, GIF, WebP or PDF)"
                )
            sha = sha256_file(path)
        except ScanError as e:
            self._fail_path(path, None, candidate.size, candidate.mtime_ns, str(e))
            return
        except OSError as e:
            self._fail_path(path, None, candidate.size, candidate.mtime_ns, _os_reason(e))
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
            self._fail_path(path, kind, candidate.size, candidate.mtime_ns, _os_reason(e))
            return
        job = _DocJob(candidate, kind, sha, len(plans))
        self._in_flight[sha] = job
        self.tracker.pages_total += len(plans)
        for plan in plans:
            if plan.text is not None:
                job.pages[plan.page_no] = plan.text
                self.tracker.pages_done += 1
            else:
                task = OcrTask(str(path), kind, plan.page_no, self._ocr_options, self.ocr)
                self._submit(job, task, 1)
        if job.complete:
            self._mark_ready(job)
        self.tracker.emit(str(path))

    def _submit(self, job: _DocJob, task: OcrTask, attempt: int) -> None:
        self._futures[self.executor.submit(run_ocr_task, task)] = (job, task, attempt)

    def _collect(self, future: Future[PageText]) -> None:
        entry = self._futures.pop(future, None)
        if entry is None:
            return  # resubmitted after a pool restart; its replacement is tracked
        job, task, attempt = entry
        try:
            page = future.result()
        except BrokenProcessPool:
            self._recover_pool(job, task, attempt)
            return
        except ScanError as e:
            job.error = job.error or f"page {task.page_no}: {e}"
        except Exception as e:  # noqa: BLE001 - one bad page must not stop the batch
            job.error = job.error or f"page {task.page_no}: unexpected error: {e!r}"
        else:
            if not _well_formed(page, task.page_no):
                # A corrupt or partial result (a remote worker): run it again, never store it.
                if attempt < _MAX_ATTEMPTS:
                    self._submit(job, task, attempt + 1)
                    return
                job.error = job.error or f"page {task.page_no}: malformed OCR result"
            else:
                job.pages[page.page_no] = page
                self.tracker.pages_done += 1
                self.tracker.emit(str(job.candidate.path))
        if job.complete and job not in self._ready:
            self._mark_ready(job)

    def _recover_pool(self, job: _DocJob, task: OcrTask, attempt: int) -> None:
        """A worker died (OOM, signal): restart the pool and retry its pages once."""
        stranded = [(job, task, attempt)] + list(self._futures.values())
        self._futures.clear()
        self.executor.restart()
        for stranded_job, stranded_task, tries in stranded:
            if stranded_job.error is not None:
                continue
            if tries >= _MAX_ATTEMPTS:
                stranded_job.error = (
                    f"page {stranded_task.page_no}: the OCR worker crashed twice "
                    "(out of memory?); try the file alone"
                )
                if stranded_job not in self._ready:
                    self._mark_ready(stranded_job)
            else:
                self._submit(stranded_job, stranded_task, tries + 1)

    def _mark_ready(self, job: _DocJob) -> None:
        job.ready_since = time.monotonic()
        self._ready.append(job)

    def _should_flush(self, more_to_start: bool) -> bool:
        if not self._futures and not more_to_start:
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
    def _chunks(job: _DocJob) -> list[Chunk]:
        return [c for n in sorted(job.pages) for c in chunk_page(job.pages[n])]

    # -- commits -----------------------------------------------------------------

    def _commit(self, job: _DocJob, chunks: list[Chunk], vectors: np.ndarray) -> None:
        c = job.candidate
        pages = [job.pages[n] for n in sorted(job.pages)]
        self.store.commit_document(
            path=c.path, kind=job.kind.value, sha256=job.sha256, size=c.size,
            mtime_ns=c.mtime_ns, pages=pages, chunks=chunks, vectors=vectors,
            model_id=self.embedder.model_id,
        )
        self._in_flight.pop(job.sha256, None)
        self.report.indexed += 1
        self.report.pages += len(pages)
        self._document_done(c.path, None)
        for follower in job.followers:
            self._commit_reused(follower, job.kind, job.sha256)

    def _commit_reused(self, candidate: Candidate, kind: FileKind, sha: str) -> None:
        self.store.commit_document(
            path=candidate.path, kind=kind.value, sha256=sha, size=candidate.size,
            mtime_ns=candidate.mtime_ns, pages=None,
        )
        self.report.reused += 1
        self._document_done(candidate.path, None)

    def _fail_job(self, job: _DocJob) -> None:
        for c in [job.candidate, *job.followers]:
            self._fail_path(c.path, job.kind, c.size, c.mtime_ns, job.error or "failed")

    def _fail_path(
        self, path: Path, kind: FileKind | None, size: int, mtime_ns: int, error: str
    ) -> None:
        self.store.record_failure(
            path=path, kind=kind.value if kind else None, size=size, mtime_ns=mtime_ns,
            error=error,
        )
        self.report.failed.append(FailedFile(db_path_text(path)[0], error))
        self._document_done(path, error)

    def _document_done(self, path: Path, error: str | None) -> None:
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


def _well_formed(page: object, page_no: int) -> bool:
    return (isinstance(page, PageText) and page.page_no == page_no
            and isinstance(page.words, list) and page.width > 0 and page.height > 0)


def _os_reason(error: OSError) -> str:
    if isinstance(error, FileNotFoundError):
        return str(FileVanished("file disappeared while indexing"))
    if isinstance(error, PermissionError):
        return "permission denied; make the file readable and index again"
    if isinstance(error, IsADirectoryError):
        return "is a folder, not a file"
    return f"cannot read file: {error.strerror or error}"
