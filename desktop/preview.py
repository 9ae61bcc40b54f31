"""PagePreview: the page image, fit to width, with zoom, pan, page navigation and the
matched words drawn as translucent boxes over the scan."""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QImage, QPen, QPixmap, QWheelEvent
from PySide6.QtWidgets import (
    QGraphicsPixmapItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsView,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

HIGHLIGHT = QColor(255, 200, 0, 90)
HIGHLIGHT_EDGE = QColor(230, 120, 0, 200)


def pil_to_qimage(image: object) -> QImage:
    """A grayscale or RGB PIL image as a QImage (copied, so the PIL buffer can go)."""
    from PIL import Image

    assert isinstance(image, Image.Image)
    if image.mode != "L":
        image = image.convert("RGB")
        data = image.tobytes("raw", "RGB")
        fmt, stride = QImage.Format.Format_RGB888, image.width * 3
    else:
        data = image.tobytes("raw", "L")
        fmt, stride = QImage.Format.Format_Grayscale8, image.width
    return QImage(data, image.width, image.height, stride, fmt).copy()


class PageCanvas(QGraphicsView):
    """The zoomable, pannable page; Ctrl+wheel zooms, dragging pans."""

    def __init__(self) -> None:
        super().__init__()
        self.setScene(QGraphicsScene(self))
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setBackgroundBrush(QColor("#3c3f41"))
        self._pixmap: QGraphicsPixmapItem | None = None
        self.boxes: list[QGraphicsRectItem] = []
        self.fit_width = True

    def show_page(self, image: QImage, boxes: list[list[int]], page_size: tuple[int, int]) -> None:
        """Draw the page and its highlight boxes (given in page_size coordinates)."""
        scene = self.scene()
        scene.clear()
        self.boxes = []
        self._pixmap = scene.addPixmap(QPixmap.fromImage(image))
        width, height = page_size
        sx = image.width() / width if width else 1.0
        sy = image.height() / height if height else 1.0
        for x, y, w, h in boxes:
            pad = 3
            rect = scene.addRect(
                QRectF(x * sx - pad, y * sy - pad, w * sx + 2 * pad, h * sy + 2 * pad),
                QPen(HIGHLIGHT_EDGE, 2), QBrush(HIGHLIGHT),
            )
            self.boxes.append(rect)
        scene.setSceneRect(QRectF(0, 0, image.width(), image.height()))
        self.fit_width = True
        self._fit()
        if self.boxes:
            self.centerOn(self.boxes[0])

    def clear(self) -> None:
        """Show nothing."""
        self.scene().clear()
        self.boxes = []
        self._pixmap = None

    def _fit(self) -> None:
        if self._pixmap is None:
            return
        width = self._pixmap.pixmap().width()
        if width:
            scale = (self.viewport().width() - 4) / width
            self.resetTransform()
            self.scale(scale, scale)

    def zoom(self, factor: float) -> None:
        """Zoom in (>1) or out (<1) around the centre."""
        self.fit_width = False
        self.scale(factor, factor)

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802
        """Ctrl+wheel zooms; the plain wheel scrolls."""
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.zoom(1.25 if event.angleDelta().y() > 0 else 0.8)
        else:
            super().wheelEvent(event)

    def resizeEvent(self, event: object) -> None:  # noqa: N802
        """Keep fit-to-width while the user has not zoomed."""
        super().resizeEvent(event)  # type: ignore[arg-type]
        if self.fit_width:
            self._fit()


class PagePreview(QWidget):
    """Canvas plus a toolbar: page navigation, zoom, open original, show in folder."""

    pageRequested = Signal(int)
    openOriginal = Signal()
    showInFolder = Signal()
    savePdf = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.page = 0
        self.pages = 0
        self.setObjectName("pagePreview")
        self.canvas = PageCanvas()
        self.title = QLabel("Select a result to see the page.")
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.page_label = QLabel("")
        self.prev_button = QPushButton("◀")
        self.next_button = QPushButton("▶")
        zoom_in, zoom_out, fit = QPushButton("+"), QPushButton("−"), QPushButton("Fit width")
        self.open_button = QPushButton("Open original")
        self.folder_button = QPushButton("Show in folder")
        self.pdf_button = QPushButton("Save PDF…")
        self.pdf_button.setToolTip("Save as a searchable PDF: the pages with their text "
                                   "laid over them")
        for b in (self.prev_button, self.next_button, zoom_in, zoom_out):
            b.setFixedWidth(34)
        self.prev_button.setToolTip("Previous page")
        self.next_button.setToolTip("Next page")
        self.prev_button.clicked.connect(lambda: self.pageRequested.emit(self.page - 1))
        self.next_button.clicked.connect(lambda: self.pageRequested.emit(self.page + 1))
        zoom_in.clicked.connect(lambda: self.canvas.zoom(1.25))
        zoom_out.clicked.connect(lambda: self.canvas.zoom(0.8))
        fit.clicked.connect(self._fit)
        self.open_button.clicked.connect(self.openOriginal)
        self.folder_button.clicked.connect(self.showInFolder)
        self.pdf_button.clicked.connect(self.savePdf)
        bar = QHBoxLayout()
        for w in (self.prev_button, self.page_label, self.next_button):
            bar.addWidget(w)
        bar.addStretch(1)
        for w in (zoom_out, zoom_in, fit, self.open_button, self.folder_button,
                  self.pdf_button):
            bar.addWidget(w)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addLayout(bar)
        layout.addWidget(self.canvas, 1)
        self._update_buttons()

    def _fit(self) -> None:
        self.canvas.fit_width = True
        self.canvas._fit()

    def show_page(self, title: str, page: int, pages: int, image: QImage,
                  boxes: list[list[int]], page_size: tuple[int, int]) -> None:
        """Show page `page` of `pages` with its highlight boxes."""
        self.title.setText(title)
        self.page, self.pages = page, pages
        self.page_label.setText(f"page {page} of {pages}")
        self.canvas.show_page(image, boxes, page_size)
        self._update_buttons()

    def clear(self) -> None:
        """Back to the empty state."""
        self.canvas.clear()
        self.title.setText("Select a result to see the page.")
        self.page = self.pages = 0
        self.page_label.setText("")
        self._update_buttons()

    def highlight_count(self) -> int:
        """How many highlight boxes are drawn (for tests and automation)."""
        return len(self.canvas.boxes)

    def _update_buttons(self) -> None:
        self.prev_button.setEnabled(self.page > 1)
        self.next_button.setEnabled(0 < self.page < self.pages)
        self.open_button.setEnabled(self.pages > 0)
        self.folder_button.setEnabled(self.pages > 0)
        self.pdf_button.setEnabled(self.pages > 0)
