"""Open original / Show in folder: the current hit's file handed to the desktop, fetched
first (off the GUI and search threads) when it lives in a bucket."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QLabel

from desktop.bridge import EngineBridge
from desktop.view_model import WindowViewModel


class OriginalActions:
    """Mixed into the main window, which provides these attributes."""

    view_model: WindowViewModel
    bridge: EngineBridge
    results_label: QLabel

    def open_original(self) -> None:
        """Open the shown document's original in the desktop's viewer for its type."""
        self._with_original(lambda path: self._hand_to_desktop(path, "open the scan"))

    def show_in_folder(self) -> None:
        """Open the folder that holds the shown document's original."""
        self._with_original(
            lambda path: self._hand_to_desktop(str(Path(path).parent), "show the folder"))

    def _hand_to_desktop(self, path: str, what: str) -> None:
        """Ask the desktop to open path; when nothing can, say where it is."""
        if not QDesktopServices.openUrl(QUrl.fromLocalFile(path)):
            self.results_label.setText(
                f"No application here can {what}; it is at {path}")

    def _with_original(self, use: Any) -> None:
        """A local copy of the current document (fetched from a bucket once if it came
        from one, or from the sync bucket), then use(path) on the GUI thread."""
        if self.view_model.current_hit is None:
            return
        doc_id = self.view_model.current_hit.id

        def fetch(lib: Any) -> str:
            return str(lib.original_file(doc_id))

        def failed(error: Exception) -> None:
            self.results_label.setText(f"Cannot open the original: {error}")

        self.bridge.run_on_previewer(fetch, use, failed)
