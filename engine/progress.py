"""The progress and cancellation protocol between the engine and its faces.

The engine reports through a :class:`ProgressSink`; the CLI draws it with rich,
the GUI turns it into Qt signals. Cancellation is a :class:`CancelToken` that
the face sets and the pipeline polls between units of work.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class IndexProgress:
    """A snapshot of an indexing run."""

    files_total: int
    files_done: int
    files_failed: int
    files_skipped: int
    pages_done: int
    pages_total: int
    elapsed_s: float
    current: str = ""
    files_planned: int = 0  # files whose page count is known (pages_total covers them)

    @property
    def pages_expected(self) -> int:
        """The run's pages as far as they can be foreseen: the known ones, plus the files
        not yet opened at the pages per file seen so far (the total grows as files are
        read, so pages_total alone makes the ETA too low)."""
        waiting = max(0, self.files_total - self.files_skipped - self.files_planned)
        if not self.files_planned or not waiting:
            return self.pages_total
        return self.pages_total + round(waiting * self.pages_total / self.files_planned)

    @property
    def pages_per_s(self) -> float:
        """Pages finished per second so far."""
        return self.pages_done / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def eta_s(self) -> float | None:
        """Seconds left at the current rate, or None before the rate is known."""
        rate = self.pages_per_s
        expected = self.pages_expected
        if rate <= 0 or expected <= 0:
            return None
        return max(0.0, (expected - self.pages_done) / rate)


class ProgressSink(Protocol):
    """What a face implements to hear about an indexing run."""

    def update(self, progress: IndexProgress) -> None:
        """Called after every page, document and discovery step."""

    def document_done(self, path: str, ok: bool, error: str | None) -> None:
        """Called once per document when it is committed (or recorded as failed)."""


class NullProgress:
    """A sink that ignores everything (scripts, tests, non-terminal output)."""

    def update(self, progress: IndexProgress) -> None:
        """Ignore the update."""

    def document_done(self, path: str, ok: bool, error: str | None) -> None:
        """Ignore the document."""


class CancelToken:
    """Set by a face (Ctrl-C, a Cancel button); polled by the pipeline."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        """Ask the run to stop after the documents already being committed."""
        self._event.set()

    @property
    def cancelled(self) -> bool:
        """True once cancel() was called."""
        return self._event.is_set()


@dataclass
class ProgressTracker:
    """Counts a run's progress and forwards snapshots to a sink."""

    sink: ProgressSink
    files_total: int = 0
    files_done: int = 0
    files_failed: int = 0
    files_skipped: int = 0
    pages_done: int = 0
    pages_total: int = 0
    files_planned: int = 0
    started: float = field(default_factory=time.monotonic)

    def emit(self, current: str = "") -> None:
        """Send the current snapshot to the sink."""
        self.sink.update(
            IndexProgress(
                files_total=self.files_total,
                files_done=self.files_done,
                files_failed=self.files_failed,
                files_skipped=self.files_skipped,
                pages_done=self.pages_done,
                pages_total=self.pages_total,
                elapsed_s=time.monotonic() - self.started,
                current=current,
                files_planned=self.files_planned,
            )
        )
