"""The library's intelligence in the window: a result's context menu (more like this,
tags, suggested tags accepted with one click), the Duplicates view (pages side by side,
remove what is not wanted) and the Map of the library (alike documents together)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QPoint, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QPen, QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QGraphicsEllipseItem,
    QGraphicsScene,
    QGraphicsView,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMenu,
    QMessageBox,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid

from desktop.bridge import EngineBridge
from desktop.following import LibraryFollower
from desktop.models import HitRole
from desktop.preview import pil_to_qimage
from engine import DuplicateGroup, MapPoint, SearchHit, Suggestion

# Colours for the map's tags (the first tag of a document picks its colour).
PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1",
           "#ff9da7", "#9c755f", "#bab0ac"]
UNTAGGED = "#8a8a8a"
THUMBNAIL = 420


def _call(fn: Callable[..., Any], *args: Any) -> Callable[[], None]:
    """A slot taking nothing (Qt may pass 'checked' to a slot that takes arguments)."""
    return lambda: fn(*args)


def _thumbnail(library: Any, doc_id: int) -> Any:
    image = library.page_image(doc_id, 1)
    image.thumbnail((THUMBNAIL, THUMBNAIL * 2))
    return pil_to_qimage(image)


class IntelligenceActions:
    """Mixed into MainWindow: the Library menu and the results' context menu."""

    bridge: EngineBridge
    results_view: Any
    results_model: Any
    results_label: Any
    view_model: Any
    tabs: Any
    preview: Any

    def install_intelligence(self, menu: Any) -> None:
        """Fill the Library menu and give results a context menu."""
        menu.addAction("Find &duplicates…", self.show_duplicates)
        menu.addAction("&Map of the library…", self.show_map)
        self.results_view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.results_view.customContextMenuRequested.connect(self._results_menu)

    def _results_menu(self, position: QPoint) -> None:
        hit = self.results_view.indexAt(position).data(HitRole)
        if hit is not None:
            self.result_menu(hit).popup(self.results_view.viewport().mapToGlobal(position))

    def result_menu(self, hit: SearchHit) -> QMenu:
        """More like this, add or remove tags, and the suggested tags (filled in when the
        engine answers; one click adds one)."""
        menu = QMenu(self.results_view)
        menu.addAction("More like this", lambda: self.more_like_this(hit))
        menu.addAction("Save as searchable PDF…", lambda: self.save_searchable_pdf(hit))
        menu.addAction("Add tag…", lambda: self.ask_tag(hit))
        for tag in hit.tags:
            menu.addAction(f"Remove tag “{tag}”", _call(self.set_tag, hit, tag, False))
        suggested = menu.addMenu("Suggested tags")
        suggested.setObjectName("suggestedTags")
        suggested.setEnabled(False)

        def fill(found: list[Suggestion]) -> None:
            for suggestion in found:
                suggested.addAction(f"{suggestion.tag}  ({suggestion.score:.0%})",
                                    _call(self.set_tag, hit, suggestion.tag, True))
            suggested.setEnabled(bool(found))

        self.bridge.run_on_searcher(lambda lib: lib.suggest_tags(hit.id), fill)
        return menu

    def more_like_this(self, hit: SearchHit) -> None:
        """Replace the results with the documents most like hit's."""
        number = self.view_model.new_listing()
        name = Path(hit.path).name
        self.results_label.setText(f"Finding documents like {name}…")

        def show(hits: list[SearchHit]) -> None:
            if self.view_model.accept_results(number, hits):
                self.results_model.set_hits(hits)
                self.results_label.setText(f"{len(hits)} document(s) like {name}.")

        self.bridge.run_on_searcher(lambda lib: lib.similar(hit.id, limit=50), show)

    def ask_tag(self, hit: SearchHit) -> None:
        """Ask for a tag and put it on hit's document."""
        tag, ok = QInputDialog.getText(self.results_view, "Add tag",
                                       f"Tag for {Path(hit.path).name}:")
        if ok and tag.strip():
            self.set_tag(hit, tag, True)

    def set_tag(self, hit: SearchHit, tag: str, present: bool) -> None:
        """Put a tag on (or take it off) a document, then search again to show it."""
        self.bridge.run_on_indexer(lambda lib: lib.tag(hit.id, [tag], present=present),
                                   lambda _changed: self.run_search())

    def run_search(self) -> None:  # provided by MainWindow
        raise NotImplementedError

    def save_searchable_pdf(self, hit: SearchHit | None = None) -> None:  # OriginalActions
        raise NotImplementedError

    def show_duplicates(self) -> DuplicatesDialog:
        """Open the Duplicates view."""
        dialog = DuplicatesDialog(self.bridge, self.results_view.window())
        dialog.show()
        return dialog

    def show_map(self) -> MapDialog:
        """Open the map; a click on a point shows that document's first page."""
        dialog = MapDialog(self.bridge, self.results_view.window())
        dialog.documentChosen.connect(self._open_from_map)
        dialog.show()
        return dialog

    def _open_from_map(self, point: MapPoint) -> None:
        hit = SearchHit(id=point.id, path=point.path, kind="", page=1, score=0.0, snippet="",
                        tags=point.tags)
        self.tabs.setCurrentWidget(self.preview)
        self._show_hit_page(hit, 1)

    def _show_hit_page(self, hit: SearchHit, page_no: int) -> None:  # provided by MainWindow
        raise NotImplementedError


def _fetch_into(dialog: Any, bridge: EngineBridge, fetch: Callable[[Any], Any],
                draw: Callable[[Any], None], say: Callable[[Exception], None]) -> None:
    """fetch(library) on the search thread, then draw its answer (or say why not); an
    answer arriving after the dialog closed (and was deleted) is dropped."""
    def failed(error: Exception) -> None:
        if isValid(dialog):
            say(error)
            dialog.follower.done()

    def arrived(answer: Any) -> None:
        if isValid(dialog):
            draw(answer)

    bridge.run_on_searcher(fetch, arrived, failed)


class DuplicatesDialog(QDialog):
    """Groups of documents holding the same paper; the first two of the selected group
    side by side; remove the selected document (its file is never touched)."""

    def __init__(self, bridge: EngineBridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Duplicates")
        self.setObjectName("duplicatesDialog")
        self.resize(1100, 720)
        self.bridge = bridge
        self.groups: list[DuplicateGroup] = []
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Document", "Folder"])
        self.tree.setColumnWidth(0, 460)
        self.summary = QLabel("Looking for duplicates…")
        self.pages = [QLabel("") for _ in range(2)]
        for label in self.pages:
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            label.setMinimumSize(THUMBNAIL, THUMBNAIL)
        self.remove_button = QPushButton("Remove selected document from the library")
        self.remove_button.setEnabled(False)
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        side = QHBoxLayout()
        for label in self.pages:
            side.addWidget(label, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.tree, 1)
        layout.addLayout(side, 2)
        layout.addLayout(buttons)
        self.tree.currentItemChanged.connect(self._selected)
        self.remove_button.clicked.connect(self.remove_selected)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.follower = LibraryFollower(bridge, self, self.reload)
        self.reload()

    def reload(self) -> None:
        """Ask the engine for the groups again."""
        _fetch_into(self, self.bridge, lambda lib: lib.duplicates(), self.set_groups,
                    lambda e: self.summary.setText(f"Cannot look for duplicates: {e}"))

    def set_groups(self, groups: list[DuplicateGroup]) -> None:
        """Show the groups (biggest first) and select the first."""
        self.follower.done()
        chosen = self.selected_document()
        self.groups = groups
        self.tree.clear()
        for number, group in enumerate(groups, 1):
            kind = "copies" if group.similarity >= 1.0 else f"{group.similarity:.0%} alike"
            item = QTreeWidgetItem([f"Group {number}: {len(group.documents)} documents, {kind}"])
            for doc in group.documents:
                child = QTreeWidgetItem([Path(doc.path).name, str(Path(doc.path).parent)])
                child.setData(0, Qt.ItemDataRole.UserRole, doc)
                item.addChild(child)
            item.setData(0, Qt.ItemDataRole.UserRole, group)
            self.tree.addTopLevelItem(item)
            item.setExpanded(True)
        self.summary.setText(f"{len(groups)} group(s) of documents holding the same paper."
                             if groups else "No duplicates found.")
        target = (self._item_of(chosen.id) if chosen is not None else None) or \
            self.tree.topLevelItem(0)
        if target is not None:
            self.tree.setCurrentItem(target)

    def _item_of(self, doc_id: int) -> QTreeWidgetItem | None:
        groups = (self.tree.topLevelItem(i) for i in range(self.tree.topLevelItemCount()))
        for group in filter(None, groups):
            for child in filter(None, (group.child(j) for j in range(group.childCount()))):
                if child.data(0, Qt.ItemDataRole.UserRole).id == doc_id:
                    return child
        return None

    def _selected(self, item: QTreeWidgetItem | None, _previous: object) -> None:
        if item is None:
            return
        data = item.data(0, Qt.ItemDataRole.UserRole)
        parent = item.parent()
        group = data if isinstance(data, DuplicateGroup) or parent is None else \
            parent.data(0, Qt.ItemDataRole.UserRole)
        self.remove_button.setEnabled(not isinstance(data, DuplicateGroup))
        for label, doc in zip(self.pages, group.documents[:2], strict=False):
            label.setText("Loading…")
            self._show_page(label, doc.id)

    def _show_page(self, label: QLabel, doc_id: int) -> None:
        # Answers can arrive after the dialog closed (and was deleted): they are dropped.
        def shown(image: Any) -> None:
            if isValid(label):
                label.setPixmap(QPixmap.fromImage(image))

        def failed(error: Exception) -> None:
            if isValid(label):
                label.setText(f"Cannot show it: {error}")

        self.bridge.run_on_previewer(lambda lib: _thumbnail(lib, doc_id), shown, failed)

    def selected_document(self) -> Any:
        """The document selected in the tree (None: a group or nothing)."""
        item = self.tree.currentItem()
        data = item.data(0, Qt.ItemDataRole.UserRole) if item is not None else None
        return None if data is None or isinstance(data, DuplicateGroup) else data

    def remove_selected(self, *, confirm: bool = True) -> None:
        """Forget the selected document (after asking), then look again."""
        doc = self.selected_document()
        if doc is None:
            return
        if confirm and QMessageBox.question(
                self, "Remove from the library",
                f"Remove {Path(doc.path).name} from the library? The file stays where it is."
        ) != QMessageBox.StandardButton.Yes:
            return
        # The write's libraryChanged redraws this view (and the map, if open).
        self.bridge.run_on_indexer(lambda lib: lib.remove(doc.id), lambda _n: None)


class _Point(QGraphicsEllipseItem):
    def __init__(self, point: MapPoint, x: float, y: float, colour: str,
                 chosen: Any) -> None:
        super().__init__(QRectF(x - 4, y - 4, 8, 8))
        self.point = point
        self._chosen = chosen
        self.setBrush(QBrush(QColor(colour)))
        self.setPen(QPen(Qt.PenStyle.NoPen))
        tags = f" [{', '.join(point.tags)}]" if point.tags else ""
        self.setToolTip(f"{Path(point.path).name}{tags}\n{point.opening}")
        self.setAcceptHoverEvents(True)

    def mousePressEvent(self, event: Any) -> None:  # noqa: N802
        self._chosen(self.point)
        event.accept()


class MapDialog(QDialog):
    """Every document as a point, alike ones together, coloured by tag."""

    documentChosen = Signal(object)  # MapPoint
    SIZE = 900

    def __init__(self, bridge: EngineBridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Map of the library")
        self.setObjectName("mapDialog")
        self.resize(1000, 900)
        self.scene = QGraphicsScene(self)
        self.view = QGraphicsView(self.scene)
        self.legend = QLabel("Placing the documents…")
        self.legend.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.legend)
        layout.addWidget(self.view, 1)
        self.points: list[_Point] = []
        self.bridge = bridge
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.follower = LibraryFollower(bridge, self, self.reload)
        self.reload()

    def reload(self) -> None:
        """Place the documents again (the library changed, or the map just opened)."""
        _fetch_into(self, self.bridge, lambda lib: lib.map(), self.set_points,
                    lambda e: self.legend.setText(f"Cannot draw the map: {e}"))

    def set_points(self, points: list[MapPoint]) -> None:
        """Draw the points; hover shows the name and first words, a click opens."""
        self.follower.done()
        self.scene.clear()
        tags = sorted({p.tags[0] for p in points if p.tags}, key=str.casefold)
        colours = {t: PALETTE[i % len(PALETTE)] for i, t in enumerate(tags)}
        self.points = []
        for point in points:
            colour = colours.get(point.tags[0], UNTAGGED) if point.tags else UNTAGGED
            item = _Point(point, point.x * self.SIZE, point.y * self.SIZE, colour,
                          self.documentChosen.emit)
            self.scene.addItem(item)
            self.points.append(item)
        legend = " ".join(f'<span style="color:{c}">●</span> {t}' for t, c in colours.items())
        self.legend.setText(f"{len(points)} document(s). {legend} "
                            f'<span style="color:{UNTAGGED}">●</span> untagged. '
                            "Hover for the first words, click to open.")
        self.view.fitInView(self.scene.itemsBoundingRect().adjusted(-20, -20, 20, 20),
                            Qt.AspectRatioMode.KeepAspectRatio)
