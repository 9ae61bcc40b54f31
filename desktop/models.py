"""Qt item models over engine objects: results and library documents."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
)

from engine import DocumentInfo, SearchHit

HitRole = Qt.ItemDataRole.UserRole + 1
SnippetHtmlRole = Qt.ItemDataRole.UserRole + 2
_TAG = re.compile(r"</?mark>")

Index = QModelIndex | QPersistentModelIndex


def plain_snippet(snippet: str) -> str:
    """The snippet without its <mark> tags, unescaped."""
    return html.unescape(_TAG.sub("", snippet))


class ResultsModel(QAbstractListModel):
    """One row per search hit; the display text starts with the document's file name."""

    def __init__(self) -> None:
        super().__init__()
        self.hits: list[SearchHit] = []

    def set_hits(self, hits: list[SearchHit]) -> None:
        """Replace every row."""
        self.beginResetModel()
        self.hits = list(hits)
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802, B008
        """Qt: number of hits."""
        return 0 if parent.isValid() else len(self.hits)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        """Qt: the text, the rich snippet or the hit itself."""
        if not index.isValid() or not 0 <= index.row() < len(self.hits):
            return None
        hit = self.hits[index.row()]
        name = Path(hit.path).name
        if role == Qt.ItemDataRole.DisplayRole:
            related = " (related)" if hit.related else ""
            return f"{name} — page {hit.page}{related}: {plain_snippet(hit.snippet)}"
        if role == Qt.ItemDataRole.ToolTipRole:
            return hit.path
        if role == SnippetHtmlRole:
            marked = hit.snippet.replace(
                "<mark>", '<span style="background:#ffe066;color:#000;">'
            ).replace("</mark>", "</span>")
            how = " + ".join({"keyword": "words", "semantic": "meaning"}.get(m, m)
                             for m in hit.matched_by)
            # No fixed colour for the details: it must stay legible on the selection.
            if hit.related:
                how = "related by meaning only, weakly"
            dated = f" · dated {hit.document_date}" if hit.document_date else ""
            chips = "".join(
                f' <span style="background:#d7e3fc;color:#000;">&nbsp;{html.escape(t)}&nbsp;'
                "</span>" for t in hit.tags)
            return (f"<b>{html.escape(name)}</b>{chips} &nbsp;<i>page {hit.page}"
                    f" · {html.escape(how)}{dated}</i><br>{marked}")
        if role == HitRole:
            return hit
        return None


class LibraryModel(QAbstractTableModel):
    """One row per document: name, state, pages, reason or folder."""

    HEADERS = ("Document", "State", "Pages", "Reason / folder")

    def __init__(self) -> None:
        super().__init__()
        self.documents: list[DocumentInfo] = []

    def set_documents(self, documents: list[DocumentInfo]) -> None:
        """Replace every row (failed documents first, then by path)."""
        self.beginResetModel()
        self.documents = sorted(documents, key=lambda d: (d.state != "failed", d.path))
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802, B008
        """Qt: number of documents."""
        return 0 if parent.isValid() else len(self.documents)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802, B008
        """Qt: four columns."""
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        """Qt: column titles."""
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.HEADERS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        """Qt: the cell text, a colour for failures, or the document."""
        if not index.isValid() or not 0 <= index.row() < len(self.documents):
            return None
        doc = self.documents[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if column == 0:
                return Path(doc.path).name
            if column == 1:
                return doc.state
            if column == 2:
                return str(doc.pages) if doc.state == "indexed" else ""
            return doc.error if doc.state == "failed" else str(Path(doc.path).parent)
        if role == Qt.ItemDataRole.ToolTipRole:
            return doc.path + (f"\n{doc.error}" if doc.error else "")
        if role == Qt.ItemDataRole.ForegroundRole and doc.state == "failed":
            from PySide6.QtGui import QColor

            return QColor("#b00020")
        return None
