"""Views drawn from the whole library (the map, the duplicates) follow it as it changes:
redrawn after a quiet moment, never twice at once, and not while hidden."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Slot
from PySide6.QtWidgets import QWidget

from desktop.bridge import EngineBridge

# A write through the window is drawn after this quiet moment; while an index run goes
# on, its new documents are drawn at most this often: a layout runs on the search thread
# (t-SNE of 1,500 documents takes ~8 s), and searches must not queue behind it for long.
QUIET_MS = 1000
DURING_RUN_MS = 20_000


class LibraryFollower(QObject):
    """Calls reload() when the library changes: each document an index run finishes and
    every write through the window. reload() must call done() when its answer is drawn."""

    def __init__(self, bridge: EngineBridge, view: QWidget, reload: Callable[[], None],
                 quiet_ms: int = QUIET_MS, during_run_ms: int = DURING_RUN_MS) -> None:
        super().__init__(view)
        self._view = view
        self._reload = reload
        self._busy = False
        self._again = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._quiet_ms, self._during_run_ms = quiet_ms, during_run_ms
        self._timer.timeout.connect(self._fire)
        bridge.libraryChanged.connect(self.changed)
        bridge.progress.documentDone.connect(self._document_done)

    @Slot()
    def changed(self) -> None:
        """The library changed: redraw once things have been quiet for a moment."""
        if not self._timer.isActive() or self._timer.remainingTime() > self._quiet_ms:
            self._timer.start(self._quiet_ms)

    @Slot(str, bool, str)
    def _document_done(self, _path: str, ok: bool, _error: str) -> None:
        if ok and not self._timer.isActive():
            self._timer.start(self._during_run_ms)

    @Slot()
    def _fire(self) -> None:
        if not self._view.isVisible():
            return  # a closed view is not redrawn; reopening draws afresh
        if self._busy:
            self._again = True
            return
        self._busy = True
        self._reload()

    def done(self) -> None:
        """The last reload's answer is drawn (or failed); a change meanwhile reloads."""
        self._busy = False
        if self._again:
            self._again = False
            self._timer.start(self._quiet_ms)
