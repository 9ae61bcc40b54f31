"""Open original / Show in folder: the current hit's file handed to the desktop, fetched
first (off the GUI and search threads) when it lives in a bucket; Save as searchable PDF:
the document's pages with their recognised text laid over them, written off the GUI
thread."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QFileDialog, QLabel, QMessageBox

from desktop.bridge import EngineBridge
from desktop.view_model import WindowViewModel
from engine import SearchHit


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

    def save_searchable_pdf(self, hit: SearchHit | None = None) -> None:
        """Ask where, then write hit's document (else the shown one) as a searchable PDF."""
        hit = hit or self.view_model.current_hit
        if hit is None:
            return
        name = Path(hit.path.rstrip("/")).name or f"document-{hit.id}"
        suggested = str(Path.home() / f"{Path(name).stem}.searchable.pdf")
        target, _ = QFileDialog.getSaveFileName(
            self.results_label.window(), "Save as searchable PDF", suggested, "PDF (*.pdf)")
        if not target:
            return
        if not target.lower().endswith(".pdf"):
            target += ".pdf"
        doc_id = hit.id
        self.results_label.setText(f"Saving {name} as a searchable PDF…")

        def saved(pages: int) -> None:
            self.results_label.setText(
                f"Saved {target} ({pages} page{'s' if pages != 1 else ''}, searchable).")

        def failed(error: Exception) -> None:
            self.results_label.setText(f"Cannot save the PDF: {error}")

        self.bridge.run_on_previewer(lambda lib: lib.export_pdf(doc_id, Path(target)),
                                     saved, failed)

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

        def fetch(lib: Any) -> tuple[str, str | None]:
            copy, where = lib.original_file(doc_id), lib.original_path(doc_id)
            # A copy from the sync bucket stands in for an original deleted from disk.
            return str(copy), str(where) if where is not None and copy != where else None

        def failed(error: Exception) -> None:
            self.results_label.setText(f"Cannot open the original: {error}")

        def fetched(paths: tuple[str, str | None]) -> None:
            copy, deleted = paths
            if deleted is None or not self._ask_restore(deleted):
                use(copy)
                return
            self.bridge.run_on_previewer(lambda lib: str(lib.restore_original(doc_id)),
                                         use, failed)

        self.bridge.run_on_previewer(fetch, fetched, failed)

    def _ask_restore(self, deleted: str) -> bool:
        """Offer to put an original deleted from disk back from the bucket's copy."""
        answer = QMessageBox.question(
            self.results_label.window(), "The original was deleted",
            f"{deleted} is no longer on disk. Scandex fetched its copy from the sync bucket "
            "to show it.\n\nPut it back there?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes
