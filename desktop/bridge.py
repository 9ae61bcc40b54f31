"""The seam between Qt and the engine: engine work on worker threads, results as signals.

The engine knows nothing of Qt; this module turns its ProgressSink calls into
signals and runs every engine call off the GUI thread. Each thread opens its
own Library (SQLite connections are per thread); they share one embedder so the
model loads once.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

from desktop.pending import PendingDrop, PendingDrops
from engine import (
    CancelToken,
    Embedder,
    IndexProgress,
    Library,
    LibraryBusy,
    ReadOnlyLibrary,
    ScandexError,
    make_embedder,
)

# How long a drop waits for another process's indexing before giving up.
WAIT_FOR_WRITER_S = 6 * 3600.0


@dataclass
class EngineConfig:
    """What the window needs to open libraries; tests swap in the fakes."""

    library_dir: Path
    lang: str = "eng"
    embedder: Embedder = field(default_factory=make_embedder)
    ocr: Any = None  # None: Tesseract
    executor: Any = None  # None: the local process pool

    def open(self, *, read_only: bool = False) -> Library:
        """A Library for the calling thread."""
        return Library.open(self.library_dir, embedder=self.embedder, ocr=self.ocr,
                            executor=self.executor, read_only=read_only)


class QtProgress(QObject):
    """A ProgressSink that emits signals (delivered queued to the GUI thread)."""

    progressed = Signal(object)  # IndexProgress
    documentDone = Signal(str, bool, str)

    def update(self, progress: IndexProgress) -> None:
        """Forward a snapshot."""
        self.progressed.emit(progress)

    def document_done(self, path: str, ok: bool, error: str | None) -> None:
        """Forward a finished document."""
        self.documentDone.emit(path, ok, error or "")


class _Call(QObject):
    """Runs one callable on its thread and reports the outcome."""

    finished = Signal(object)
    failed = Signal(object)

    def __init__(self, fn: Callable[[], Any]) -> None:
        super().__init__()
        self._fn = fn

    @Slot()
    def run(self) -> None:
        try:
            result = self._fn()
        except ScandexError as e:
            self.failed.emit(e)
        except Exception as e:  # noqa: BLE001 - the GUI edge: show it, never crash
            traceback.print_exc()
            self.failed.emit(e)
        else:
            self.finished.emit(result)


class Worker(QObject):
    """A long-lived thread that runs engine calls one at a time, in order."""

    _submit = Signal(object)

    def __init__(self, name: str) -> None:
        super().__init__()
        self._thread = QThread()
        self._thread.setObjectName(name)
        self.moveToThread(self._thread)
        self._submit.connect(self._run)
        self._thread.start()
        self._calls: list[_Call] = []

    def call(self, fn: Callable[[], Any], on_done: Callable[[Any], None] | None = None,
             on_error: Callable[[Exception], None] | None = None) -> None:
        """Run fn on this worker's thread; callbacks run on the caller's (GUI) thread."""
        job = _Call(fn)
        if on_done:
            job.finished.connect(on_done)
        if on_error:
            job.failed.connect(on_error)
        self._calls.append(job)
        job.finished.connect(lambda _r, j=job: self._forget(j))
        job.failed.connect(lambda _e, j=job: self._forget(j))
        self._submit.emit(job)

    def _forget(self, job: _Call) -> None:
        if job in self._calls:
            self._calls.remove(job)

    @Slot(object)
    def _run(self, job: _Call) -> None:
        job.run()

    def stop(self) -> None:
        """End the thread after the current call."""
        self._thread.quit()
        self._thread.wait(30_000)


class EngineBridge(QObject):
    """Indexing and searching for the window, each on its own thread."""

    indexFinished = Signal(object)  # IndexReport
    indexFailed = Signal(object)  # Exception
    searchFinished = Signal(int, object)  # request id, list[SearchHit]
    searchFailed = Signal(int, object)
    modelReady = Signal()
    # A background read or write failed and its caller gave no handler: shown to the
    # user in the status bar, never swallowed.
    problem = Signal(str)
    watchBatch = Signal(object)  # WatchBatch: a watched folders' pass (or why it waited)
    syncProgress = Signal(str)
    syncFinished = Signal(object)  # SyncReport
    syncFailed = Signal(object)
    # A drop waits while another process (the CLI, a server) indexes this library.
    waiting = Signal(str)
    # The library's documents or tags changed through this window (an index run, a watched
    # pass, a pull, a removal, a tag): views drawn from it (the map, duplicates) redraw.
    libraryChanged = Signal()

    def __init__(self, config: EngineConfig) -> None:
        super().__init__()
        self.config = config
        # Checked before any thread starts: a library that cannot be used raises here, and
        # the caller shows a dialog (a QThread destroyed while running aborts the app).
        self.read_only = check_library(config)
        self.progress = QtProgress()
        self._indexer = Worker("scandex-indexer")
        self._searcher = Worker("scandex-searcher")
        # Originals may come from a sync bucket: fetched here, never on the search thread.
        self._previewer = Worker("scandex-preview")
        self._local = threading.local()
        self._pending: list[CancelToken] = []
        self.indexing = False
        self.pending_drops = PendingDrops(config.library_dir)
        self._closing = False
        # Drops and watched folders write one after another (one writer per library).
        self._write_lock = threading.Lock()
        self._watcher_thread = Worker("scandex-watcher")
        self._watcher: Any = None
        self._watch_cancel: CancelToken | None = None

    def _library(self, *, writer: bool = False) -> Library:
        """This thread's Library, opened on first use; only the indexer's can write."""
        lib = getattr(self._local, "library", None)
        if lib is None or lib.directory != self.config.library_dir:
            if lib is not None:
                lib.close()
            lib = self.config.open(read_only=self.read_only or not writer)
            self._local.library = lib
        return lib

    def read_ahead(self) -> None:
        """Have the index's files read into memory in the background, so the first
        searches of a big library do not wait for the disk."""
        self._searcher.call(lambda: self._library().warm_page_cache(), None,
                            self._report("reading the index ahead"))

    def warm_up(self) -> None:
        """Load the model and read the index ahead, in the background (the window is
        already showing)."""
        self.read_ahead()
        load = getattr(self.config.embedder, "load", None)
        if load is None:
            self.modelReady.emit()
            return
        self._searcher.call(load, lambda _r: self.modelReady.emit(),
                            self._report("loading the model (meaning search is off)"))

    def add(self, paths: list[str], *, retry_failed: bool = False,
            remembered: PendingDrop | None = None) -> None:
        """Index paths in the background (drops queue behind each other); progress
        arrives through self.progress. The drop is remembered in the library until it
        has run, so one still waiting when the app closes runs at the next start."""
        cancel = CancelToken()
        self._pending.append(cancel)
        self.indexing = True
        drop = remembered
        if drop is None and not self.read_only:
            drop = self.pending_drops.add(paths, retry_failed=retry_failed)

        def run() -> Any:
            if cancel.cancelled:
                return None  # cancelled while queued: never started
            with self._write_lock:
                return self._add_waiting(paths, cancel, retry_failed=retry_failed)

        self._indexer.call(run, lambda report: self._index_done(cancel, report, drop),
                           lambda error: self._index_error(cancel, error, drop))

    def resume_pending(self) -> int:
        """Run the drops an earlier session left waiting; returns how many."""
        drops = [] if self.read_only else self.pending_drops.load()
        for drop in drops:
            self.add(drop.paths, retry_failed=drop.retry_failed, remembered=drop)
        return len(drops)

    def _add_waiting(self, paths: list[str], cancel: CancelToken, **options: Any) -> Any:
        """library.add; while another process indexes here, say so and wait for it
        (until cancelled) instead of refusing the drop."""
        library = self._library(writer=True)
        try:
            return library.add(paths, lang=self.config.lang, progress=self.progress,
                               cancel=cancel, **options)
        except LibraryBusy as e:
            self.waiting.emit(f"Waiting: {e}. Cancel to give up.")
            return library.add(paths, lang=self.config.lang, progress=self.progress,
                               cancel=cancel, wait_s=WAIT_FOR_WRITER_S, **options)

    def watch(self, roots: list[Path], poll_s: float | None = None,
              settle_s: float = 2.0) -> None:
        """Follow watched folders in the background (replacing earlier ones): each pass
        indexes like a drop, one writer at a time, and is reported by watchBatch."""
        self.stop_watching()
        if not roots or self.read_only:
            return
        cancel = CancelToken()
        self._watch_cancel = cancel

        def index(present: list[Path]) -> Any:
            with self._write_lock:
                return self._library(writer=True).add(
                    present, lang=self.config.lang, progress=self.progress, cancel=cancel)

        def run() -> None:
            from engine.service.watch import FolderWatcher

            if cancel.cancelled:
                return
            watcher = FolderWatcher(self._library(writer=True), roots, poll_s=poll_s,
                                    settle_s=settle_s, cancel=cancel, index=index,
                                    on_batch=self._watched)
            self._watcher = watcher
            if not cancel.cancelled:
                watcher.run()

        self._watcher_thread.call(run, None, self._report("watching folders"))

    def _watched(self, batch: Any) -> None:
        self.watchBatch.emit(batch)
        report = batch.report
        if report is not None and (report.indexed or report.reused or report.removed):
            self.libraryChanged.emit()

    @property
    def watch_polling(self) -> bool | None:
        """True/False once watching (polling or events), None when not watching."""
        watcher = self._watcher
        return None if watcher is None or self._watch_cancel is None else watcher.polling

    def stop_watching(self) -> None:
        """End the watch loop (a pass in hand stops after its pages in flight)."""
        if self._watch_cancel is not None:
            self._watch_cancel.cancel()
        if self._watcher is not None:
            self._watcher.stop()
        self._watcher, self._watch_cancel = None, None

    def sync(self, config: Any) -> None:
        """Push (after pulling) in the background, queued with drops; Cancel stops it
        after the object in flight (a push stopped early announces nothing)."""
        cancel = CancelToken()
        self._pending.append(cancel)
        self.indexing = True
        moved = [0]

        def progress(message: str) -> None:
            moved[0] += 1
            self.syncProgress.emit(f"Syncing… {moved[0]} moved; {message}")

        def run() -> Any:
            if cancel.cancelled:
                return None
            with self._write_lock:
                return self._library(writer=True).push(config, on_progress=progress,
                                                       cancel=cancel)

        def done(report: Any) -> None:
            self._settle(cancel)
            if report is not None:
                self.syncFinished.emit(report)
                self.libraryChanged.emit()

        def failed(error: Exception) -> None:
            self._settle(cancel)
            self.syncFailed.emit(error)

        self._indexer.call(run, done, failed)

    def _settle(self, cancel: CancelToken) -> None:
        if cancel in self._pending:
            self._pending.remove(cancel)
        self.indexing = bool(self._pending)

    def _index_done(self, cancel: CancelToken, report: Any,
                    drop: PendingDrop | None = None) -> None:
        self._settle(cancel)
        if drop is not None and not self._closing:
            self.pending_drops.forget(drop.id)  # ran, or cancelled by the user
        if report is not None:
            self.indexFinished.emit(report)
            self.libraryChanged.emit()

    def _index_error(self, cancel: CancelToken, error: Exception,
                     drop: PendingDrop | None = None) -> None:
        self._settle(cancel)
        if drop is not None and not self._closing:
            self.pending_drops.forget(drop.id)  # it would fail again; shown to the user
        self.indexFailed.emit(error)

    def cancel(self) -> None:
        """Stop the running batch after the pages in flight, and every queued one;
        finished documents stay, and nothing cancelled runs at the next start."""
        for token in self._pending:
            token.cancel()
        if not self._closing and not self.read_only:
            self.pending_drops.clear()

    def search(self, request: int, query: str, **options: Any) -> None:
        """Search in the background; the answer carries the request id."""
        self._searcher.call(
            lambda: self._library().search(query, **options),
            lambda hits: self.searchFinished.emit(request, hits),
            lambda e: self.searchFailed.emit(request, e),
        )

    def run_on_searcher(self, fn: Callable[[Library], Any],
                        on_done: Callable[[Any], None],
                        on_error: Callable[[Exception], None] | None = None) -> None:
        """Any other read (documents, page images) on the search thread."""
        self._searcher.call(lambda: fn(self._library()), on_done,
                            on_error or self._report("reading the library"))

    def run_on_indexer(self, fn: Callable[[Library], Any],
                       on_done: Callable[[Any], None],
                       on_error: Callable[[Exception], None] | None = None) -> None:
        """A write (remove, tag) queued behind indexing."""
        def done(result: Any) -> None:
            on_done(result)
            self.libraryChanged.emit()

        self._indexer.call(lambda: fn(self._library(writer=True)), done,
                           on_error or self._report("changing the library"))

    def run_on_previewer(self, fn: Callable[[Library], Any],
                         on_done: Callable[[Any], None],
                         on_error: Callable[[Exception], None] | None = None) -> None:
        """Page images and originals (which may be fetched from a bucket) on their own
        thread, so a slow or unreachable bucket never holds up searching."""
        self._previewer.call(lambda: fn(self._library()), on_done,
                             on_error or self._report("showing the page"))

    def _report(self, doing: str) -> Callable[[Exception], None]:
        return lambda error: self.problem.emit(f"Failed {doing}: {error}")

    def shutdown(self) -> None:
        """Cancel indexing and watching, and stop the threads; drops not yet run are
        remembered for the next start."""
        self._closing = True
        self.cancel()
        self.stop_watching()
        for worker in (self._indexer, self._searcher, self._previewer, self._watcher_thread):
            worker.stop()


def check_library(config: EngineConfig) -> bool:
    """Open the library once (creating its index if needed) and return whether it can
    only be searched. LibraryError when it cannot be used at all (damaged, a file, ...)."""
    try:
        config.open().close()
        return False
    except ReadOnlyLibrary:
        config.open(read_only=True).close()
        return True
