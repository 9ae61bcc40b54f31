"""Desktop tests run offscreen with the engine's fakes (and once with the real stack)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl  # noqa: E402
from PySide6.QtGui import QDragEnterEvent, QDropEvent  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from engine.backends.pool import InlineExecutor  # noqa: E402
from engine.testing import FakeOcr, HashingEmbedder  # noqa: E402


@pytest.fixture
def make_window(qtbot, tmp_path: Path) -> Iterator[object]:  # type: ignore[no-untyped-def]
    from desktop import create_main_window

    windows = []

    def make(library: Path | None = None, **options: object) -> object:
        options.setdefault("embedder", HashingEmbedder())
        options.setdefault("ocr", FakeOcr())
        options.setdefault("executor", InlineExecutor())
        window = create_main_window(library or tmp_path / "lib", **options)
        qtbot.addWidget(window)
        window.show()
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.bridge.shutdown()


def drop_paths(window: object, paths: list[Path]) -> None:
    """Drag files onto the window the way a file manager does."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    enter = QDragEnterEvent(QPoint(50, 50), Qt.DropAction.CopyAction, mime,
                            Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, enter)  # type: ignore[arg-type]
    assert enter.isAccepted()
    drop = QDropEvent(QPointF(50, 50), Qt.DropAction.CopyAction, mime,
                      Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, drop)  # type: ignore[arg-type]
