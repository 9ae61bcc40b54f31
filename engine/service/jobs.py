"""Background indexing jobs for the server: one writer thread, a queue, job states."""

from __future__ import annotations

import itertools
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from engine.library import Library


@dataclass
class Job:
    """An upload waiting to be, being, or done being indexed."""

    id: str
    path: str
    state: str = "queued"  # queued | running | done | failed
    document_id: int | None = None
    error: str | None = None
    report: dict[str, Any] | None = None  # counts, for a bucket location
    created_at: float = field(default_factory=time.time)
    finished_at: float | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return asdict(self)


@dataclass
class _Call:
    """Work for the writer thread whose caller waits for the answer."""

    work: Callable[[Library], Any]
    done: Future[Any] = field(default_factory=Future)


class JobRunner:
    """Indexes queued paths one after another on its own thread (the only writer)."""

    def __init__(self, open_library: Callable[[], Library], *, lang: str = "eng",
                 on_start: Callable[[Library], object] | None = None,
                 after_batch: Callable[[Library], object] | None = None) -> None:
        self._open = open_library
        self._lang = lang
        self._on_start = on_start
        self._after_batch = after_batch
        self.sync_error: str | None = None
        self._queue: queue.Queue[Job | _Call | None] = queue.Queue()
        self._jobs: dict[str, Job] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._ensure_running()

    def _ensure_running(self) -> None:
        """Start the writer thread, again after stop() (an ASGI app may be started and
        shut down more than once; work queued later must not wait forever)."""
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="scandex-jobs",
                                                daemon=True)
                self._thread.start()

    def submit(self, path: Path | str) -> Job:
        """Queue a file (or an s3:// location) for indexing."""
        with self._lock:
            job = Job(id=f"job-{next(self._ids)}", path=str(path))
            self._jobs[job.id] = job
        self._queue.put(job)
        self._ensure_running()
        return job

    def call(self, work: Callable[[Library], Any], timeout: float | None = 600) -> Any:
        """Run work(library) on the writer thread, after the jobs queued before it, and
        return its result (or raise its error): the server has one writer only."""
        call = _Call(work)
        self._queue.put(call)
        self._ensure_running()
        return call.done.result(timeout=timeout)

    def get(self, job_id: str) -> Job | None:
        """A job by id."""
        with self._lock:
            return self._jobs.get(job_id)

    def stop(self) -> None:
        """Finish the current job and stop."""
        with self._lock:
            thread = self._thread
            if thread is None or not thread.is_alive():
                return  # a stop without a runner must not end the next one at once
            self._queue.put(None)
        thread.join(timeout=600)

    def _run(self) -> None:
        try:
            library = self._open()
        except Exception as e:  # noqa: BLE001 - every waiting job and caller gets it
            self._fail_queued(e)
            return
        try:
            self._hook(self._on_start, library)
            while (job := self._queue.get()) is not None:
                if isinstance(job, _Call):
                    self._answer(job, library)
                    if self._queue.empty():
                        self._hook(self._after_batch, library)  # e.g. push a removal
                    continue
                job.state = "running"
                try:
                    report = library.add([job.path], lang=self._lang)
                    failed = report.failed[0].error if report.failed else None
                    if job.path.startswith("s3://"):
                        # A location: done when listed and read; per-object failures are
                        # counted here and listed by /documents like any other.
                        job.report = {"indexed": report.indexed, "reused": report.reused,
                                      "unchanged": report.skipped_unchanged,
                                      "removed": report.removed, "failed": len(report.failed)}
                        job.state = "done"
                    elif failed:
                        job.state, job.error = "failed", failed
                    else:
                        job.document_id = library.resolve(job.path).id
                        job.state = "done"
                except Exception as e:  # noqa: BLE001 - the job records it; the server goes on
                    job.state, job.error = "failed", str(e)
                job.finished_at = time.time()
                if self._queue.empty() and job.state == "done":
                    self._hook(self._after_batch, library)
        finally:
            library.close()

    def _fail_queued(self, error: Exception) -> None:
        """The library cannot be opened: end what waits instead of leaving it queued."""
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, _Call):
                item.done.set_exception(error)
            elif item is not None:
                item.state, item.error, item.finished_at = "failed", str(error), time.time()

    @staticmethod
    def _answer(call: _Call, library: Library) -> None:
        try:
            call.done.set_result(call.work(library))
        except Exception as e:  # noqa: BLE001 - handed to the waiting caller
            call.done.set_exception(e)

    def _hook(self, hook: Callable[[Library], object] | None, library: Library) -> None:
        """Sync hooks: a failure is reported by /health, never fatal to the server."""
        if hook is None:
            return
        try:
            hook(library)
            self.sync_error = None
        except Exception as e:  # noqa: BLE001 - reported, the server goes on
            self.sync_error = str(e)
