"""The window's panels: the search bar and the Library tab (widgets and their small logic)."""

from __future__ import annotations

from typing import Any

from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from desktop.models import LibraryModel
from desktop.view_model import DATES, MODES, TYPES
from engine import DocumentState


def row_of(stretching: QWidget, *fixed: QWidget) -> QHBoxLayout:
    """A row whose first widget takes the spare width."""
    row = QHBoxLayout()
    row.addWidget(stretching, 1)
    for widget in fixed:
        row.addWidget(widget)
    return row


class SearchBar(QWidget):
    """The query field, the mode switch and the type, folder, date and tag filters."""

    def __init__(self) -> None:
        super().__init__()
        self.search_input = QLineEdit()
        self.search_input.setObjectName("searchInput")
        self.search_input.setPlaceholderText("Search your scans — words or meaning (Ctrl+F)")
        self.search_input.setClearButtonEnabled(True)
        self.search_mode = QComboBox()
        self.search_mode.setObjectName("searchMode")
        for label, mode in MODES:
            self.search_mode.addItem(label, mode)
        self.type_filter = QComboBox()
        for label, kind in TYPES:
            self.type_filter.addItem(label, kind)
        self.folder_filter = QLineEdit()
        self.folder_filter.setPlaceholderText("in folder…")
        self.folder_filter.setMaximumWidth(220)
        self.date_filter = QComboBox()
        for label, days in DATES:
            self.date_filter.addItem(label, days)
        self.tag_filter = QLineEdit()
        self.tag_filter.setObjectName("tagFilter")
        self.tag_filter.setPlaceholderText("tag…")
        self.tag_filter.setMaximumWidth(140)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.search_input, 1)
        for w in (self.search_mode, self.type_filter, self.folder_filter, self.date_filter,
                  self.tag_filter):
            layout.addWidget(w)


class LibraryTab(QWidget):
    """Every document with its state; retry the failed ones, remove a selection."""

    def __init__(self) -> None:
        super().__init__()
        self.model = LibraryModel()
        self.view = QTableView()
        self.view.setObjectName("libraryView")
        self.view.setModel(self.model)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.verticalHeader().setVisible(False)
        header = self.view.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.retry_button = QPushButton("Retry failed")
        self.remove_button = QPushButton("Remove selected")
        self.summary = QLabel("")
        self.watch_status = QLabel("")  # watched folders and their last pass
        self.watch_status.setObjectName("watchStatus")
        self.watch_status.setWordWrap(True)
        self.watch_status.setVisible(False)
        layout = QVBoxLayout(self)
        layout.addWidget(self.watch_status)
        layout.addLayout(row_of(self.summary, self.retry_button, self.remove_button))
        layout.addWidget(self.view, 1)

    def show_documents(self, documents: list[Any]) -> int:
        """List documents; returns how many failed."""
        self.model.set_documents(documents)
        failed = sum(1 for d in documents if d.state == DocumentState.FAILED)
        self.summary.setText(f"{len(documents)} documents, {failed} failed")
        self.retry_button.setEnabled(failed > 0)
        return failed

    def failed_paths(self) -> list[str]:
        """The paths of the failed documents."""
        return [d.path for d in self.model.documents if d.state == DocumentState.FAILED]

    def selected_ids(self) -> list[int]:
        """The ids of the selected documents, in list order."""
        rows = {i.row() for i in self.view.selectionModel().selectedRows()}
        return [self.model.documents[r].id for r in sorted(rows)]


class FileDropTarget:
    """Mixed into a window: local files and folders dropped anywhere are indexed."""

    def add_paths(self, paths: list[str], *, retry_failed: bool = False) -> None:
        """Index paths (the window implements it)."""
        raise NotImplementedError

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        """Accept local files and folders."""
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: Any) -> None:  # noqa: N802
        """Keep accepting while the drag moves over child widgets."""
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        """Index what was dropped."""
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.add_paths(paths)
