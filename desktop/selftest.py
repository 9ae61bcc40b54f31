"""`scandex-desktop --self-test`: the engine self-test driven through the real window.

The window runs offscreen; indexing goes through add_paths (the drop path) and searches
through the search box, so the report covers the GUI's threads and signals too.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEventLoop, QTimer, SignalInstance

from desktop.main_window import MainWindow

STEP_TIMEOUT_S = 600.0


class SelfTestTimeout(RuntimeError):
    """A step of the GUI self-test did not answer in time."""


def _wait(done: SignalInstance, failed: SignalInstance, what: str) -> tuple[Any, ...]:
    """Spin the event loop until done or failed fires; return done's arguments."""
    loop = QEventLoop()
    outcome: list[tuple[bool, tuple[Any, ...]]] = []

    def finish(ok: bool, args: tuple[Any, ...]) -> None:
        outcome.append((ok, args))
        loop.quit()

    def on_done(*args: Any) -> None:
        finish(True, args)

    def on_failed(*args: Any) -> None:
        finish(False, args)

    done.connect(on_done)
    failed.connect(on_failed)
    QTimer.singleShot(int(STEP_TIMEOUT_S * 1000), loop.quit)
    try:
        loop.exec()
    finally:
        done.disconnect(on_done)
        failed.disconnect(on_failed)
    if not outcome:
        raise SelfTestTimeout(f"{what} did not finish within {STEP_TIMEOUT_S:.0f} s")
    ok, args = outcome[0]
    if not ok:
        raise RuntimeError(f"{what} failed: {args[-1]}")
    return args


class WindowDriver:
    """SelfTestDriver over a MainWindow."""

    def __init__(self, library_dir: Path) -> None:
        from desktop import create_main_window

        started = time.perf_counter()
        self.window: MainWindow = create_main_window(library_dir)
        self.window.show()
        self.window_shown_s = round(time.perf_counter() - started, 3)
        self.model_id = self.window.bridge.config.embedder.model_id

    def index(self, paths: list[Path]) -> Any:
        bridge = self.window.bridge
        self.window.add_paths([str(p) for p in paths])
        (report,) = _wait(bridge.indexFinished, bridge.indexFailed, "indexing")
        return report

    @property
    def model_file(self) -> str | None:
        """The model file the window's embedder runs, once a query was embedded."""
        loaded = getattr(self.window.bridge.config.embedder, "loaded", None)
        return loaded.name if loaded is not None else None

    def search(self, query: str, mode: str) -> list[Any]:
        window = self.window
        window.search_mode.setCurrentIndex(window.search_mode.findData(mode))
        window.search_input.setText(query)
        window.run_search()
        bridge = window.bridge
        while True:
            request, _hits = _wait(bridge.searchFinished, bridge.searchFailed, "search")
            if window.view_model.is_current(request):
                break
        return list(window.results_model.hits)

    def close(self) -> None:
        self.window.close()
