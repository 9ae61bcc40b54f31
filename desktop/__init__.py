"""Scandex desktop app (PySide6): a thin view over the engine's public API."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from desktop.main_window import MainWindow

__all__ = ["create_main_window"]


def create_main_window(library_dir: str | Path | None = None, **engine_options: Any) -> MainWindow:
    """The main window for a library folder, without starting an event loop.

    A QApplication must exist. engine_options (embedder, ocr, executor, lang) go to the
    engine; tests pass the fakes from engine.testing.
    """
    from desktop.bridge import EngineConfig
    from desktop.main_window import MainWindow
    from desktop.settings import AppSettings
    from engine import default_library_dir

    settings = AppSettings.load()
    folder = Path(library_dir or settings.library_dir or default_library_dir()).expanduser()
    engine_options.setdefault("lang", settings.languages or "eng")
    return MainWindow(EngineConfig(folder, **engine_options), settings)
