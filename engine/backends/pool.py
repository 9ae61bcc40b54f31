"""The executor seam: where page OCR runs. A local process pool today.

The pipeline only calls ``submit`` and ``restart``; a distributed executor can
take over by implementing the same two methods.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def _init_worker(started: Any) -> None:
    # The parent tells a pool that never started (a worker that died importing the
    # caller's script) from one that crashed on a page.
    with started.get_lock():
        started.value += 1
    # Debian's Tesseract uses OpenMP: one thread per process is 2.7x faster
    # when the pool already uses every core.
    os.environ["OMP_THREAD_LIMIT"] = "1"
    # Ctrl-C is the parent's to handle: it cancels the run and shuts the pool down.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def default_workers() -> int:
    """One OCR worker per core."""
    return max(1, os.cpu_count() or 1)


class LocalPoolExecutor:
    """A process pool sized to the cores; spawn, so no torch state is forked."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or default_workers()
        self._pool: Executor | None = None
        self._started: Any = None

    def _ensure(self) -> Executor:
        if self._pool is None:
            context = multiprocessing.get_context("spawn")
            self._started = context.Value("i", 0)
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=context,
                initializer=_init_worker,
                initargs=(self._started,),
            )
        return self._pool

    def workers_started(self) -> bool | None:
        """Whether any worker of the current pool got as far as being ready (None: no
        pool yet)."""
        return None if self._started is None else bool(self._started.value)

    def submit(self, fn: Callable[[T], R], arg: T) -> Future[R]:
        """Schedule fn(arg) in a worker process."""
        return self._ensure().submit(fn, arg)

    def restart(self) -> None:
        """Throw the broken pool away; the next submit starts a fresh one."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        self._pool = None

    def shutdown(self, *, cancel: bool = False) -> None:
        """Stop the pool; with cancel, pages in flight are abandoned (their workers are
        terminated) so that Ctrl-C or Cancel takes effect within moments, not pages."""
        if self._pool is not None:
            if cancel:
                # ProcessPoolExecutor has no public way to stop a running task.
                for process in list(getattr(self._pool, "_processes", {}).values()):
                    process.terminate()
            self._pool.shutdown(wait=True, cancel_futures=cancel)
        self._pool = None


class InlineExecutor:
    """Runs each task at once in this process: for tests and one-core machines."""

    workers = 1

    def submit(self, fn: Callable[[T], R], arg: T) -> Future[R]:
        """Run fn(arg) now and return its finished future."""
        future: Future[R] = Future()
        try:
            future.set_result(fn(arg))
        except BaseException as e:  # noqa: BLE001 - delivered through the future
            future.set_exception(e)
        return future

    def restart(self) -> None:
        """Nothing to restart."""

    def shutdown(self, *, cancel: bool = False) -> None:
        """Nothing to stop."""
