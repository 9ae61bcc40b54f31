"""The main window: search, results, page preview, library view, progress. A thin view:
every engine call goes through EngineBridge, off the GUI thread."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QModelIndex, QTimer
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QLabel,
    QListView,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from desktop.bridge import EngineBridge, EngineConfig
from desktop.delegates import SnippetDelegate
from desktop.intelligence import IntelligenceActions
from desktop.models import HitRole, ResultsModel
from desktop.originals import OriginalActions
from desktop.panels import FileDropTarget, LibraryTab, SearchBar, row_of
from desktop.preview import PagePreview, pil_to_qimage
from desktop.settings import AppSettings, SettingsDialog
from desktop.syncing import SyncActions
from desktop.view_model import SCAN_FILTER, WindowViewModel, library_problem
from desktop.watching import WatchActions
from engine import (
    IndexProgress,
    IndexReport,
    MissingDependency,
    ScandexError,
    SearchHit,
    matching_word_indexes,
)

SEARCH_DEBOUNCE_MS = 250
OUTSIDE_CHANGES_MS = 2000


class MainWindow(FileDropTarget, OriginalActions, IntelligenceActions, WatchActions, SyncActions,
                 QMainWindow):
    """Scandex's window over one library."""

    def __init__(self, config: EngineConfig, settings: AppSettings | None = None) -> None:
        super().__init__()
        self.settings = settings or AppSettings.load()
        self.config = config
        self.bridge = EngineBridge(config)
        self.view_model = WindowViewModel()
        self._started = time.monotonic()
        self._build()
        self._connect()
        self.setAcceptDrops(True)
        self.resize(1280, 800)
        self._update_title()
        self.refresh_library()

    # -- building -------------------------------------------------------------------

    def _build(self) -> None:
        bar = SearchBar()
        self.search_input, self.search_mode = bar.search_input, bar.search_mode
        self.type_filter, self.folder_filter = bar.type_filter, bar.folder_filter
        self.date_filter, self.tag_filter = bar.date_filter, bar.tag_filter

        self.results_model = ResultsModel()
        self.results_view = QListView()
        self.results_view.setObjectName("resultsView")
        self.results_view.setModel(self.results_model)
        self.results_view.setItemDelegate(SnippetDelegate(self.results_view))
        self.results_view.setWordWrap(True)
        self.results_view.setUniformItemSizes(False)
        self.results_view.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.results_label = QLabel("Drop scans or folders anywhere on this window to add them.")
        self.results_label.setWordWrap(True)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.results_label)
        left_layout.addWidget(self.results_view, 1)

        self.preview = PagePreview()
        library_tab = LibraryTab()
        self.library_model, self.library_view = library_tab.model, library_tab.view
        self.retry_button, self.remove_button = library_tab.retry_button, library_tab.remove_button
        self.library_summary = library_tab.summary
        self.library_tab = library_tab
        self.tabs = QTabWidget()
        self.tabs.addTab(self.preview, "Page")
        self.tabs.addTab(library_tab, "Library")

        splitter = QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(self.tabs)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 3)
        splitter.setSizes([500, 780])

        self.progress_label = QLabel("Ready.")
        self.progress_bar = QProgressBar()
        self.progress_bar.setObjectName("indexProgress")
        self.progress_bar.setTextVisible(True)
        self.progress_bar.setMaximumWidth(320)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("cancelButton")
        self.cancel_button.setEnabled(False)
        bottom = row_of(self.progress_label, self.progress_bar, self.cancel_button)

        central = QWidget()
        layout = QVBoxLayout(central)
        layout.addWidget(bar)
        layout.addWidget(splitter, 1)
        layout.addLayout(bottom)
        self.setCentralWidget(central)
        self._build_menus()
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(SEARCH_DEBOUNCE_MS)
        self._library_refresh = QTimer(self)
        self._library_refresh.setSingleShot(True)
        self._library_refresh.setInterval(500)
        # Another process (the CLI, a server) may index into this library too.
        self.outside_changes = QTimer(self)
        self.outside_changes.setInterval(OUTSIDE_CHANGES_MS)
        self._seen_generation: tuple[int, int] | None = None

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self._action(file_menu, "Add &files…", self.add_files_dialog, QKeySequence.StandardKey.Open)
        self._action(file_menu, "Add f&older…", self.add_folder_dialog, "Ctrl+Shift+O")
        self._action(file_menu, "Open &library…", self.open_library_dialog)
        file_menu.addSeparator()
        self._action(file_menu, "S&ync now", self.sync_now, "Ctrl+Shift+S")
        self._action(file_menu, "&Settings…", self.settings_dialog, "Ctrl+,")
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        self.install_intelligence(self.menuBar().addMenu("&Library"))
        help_menu = self.menuBar().addMenu("&Help")
        self._action(help_menu, "Try it with &samples", self.add_samples)
        self._action(help_menu, "&About Scandex", self._about)
        QShortcut(QKeySequence("Ctrl+F"), self, self._focus_search)

    def _action(self, menu: Any, text: str, slot: Any, shortcut: Any = None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _connect(self) -> None:
        self.search_input.textChanged.connect(lambda _t: self._debounce.start())
        self.search_input.returnPressed.connect(self.run_search)
        for combo in (self.search_mode, self.type_filter, self.date_filter):
            combo.currentIndexChanged.connect(lambda _i: self._debounce.start())
        for field_ in (self.folder_filter, self.tag_filter):
            field_.editingFinished.connect(self._debounce.start)
        self._debounce.timeout.connect(self.run_search)
        self.results_view.selectionModel().currentChanged.connect(self._result_selected)
        self.results_view.activated.connect(self._result_activated)
        self._connect_bridge_only()
        self._library_refresh.timeout.connect(self.refresh_library)
        self.outside_changes.timeout.connect(self._check_outside_changes)
        self.outside_changes.start()
        self.cancel_button.clicked.connect(self.cancel_indexing)
        self.retry_button.clicked.connect(self.retry_failed)
        self.remove_button.clicked.connect(self.remove_selected)
        self.preview.pageRequested.connect(self._go_to_page)
        self.preview.openOriginal.connect(self.open_original)
        self.preview.showInFolder.connect(self.show_in_folder)
        self.preview.savePdf.connect(lambda: self.save_searchable_pdf())

    # -- indexing -------------------------------------------------------------------

    def add_paths(self, paths: list[str], *, retry_failed: bool = False) -> None:
        """Index paths in the background (queued behind any run in progress)."""
        if not paths:
            return
        self.progress_label.setText(f"Adding {len(paths)} item(s)…")
        self.progress_bar.setRange(0, 0)
        self.cancel_button.setEnabled(True)
        self._started = time.monotonic()
        self.bridge.add(paths, retry_failed=retry_failed)

    def add_files_dialog(self) -> None:
        """File > Add files…"""
        files, _ = QFileDialog.getOpenFileNames(
            self, "Add scans", str(Path.home()), SCAN_FILTER)
        self.add_paths(files)

    def add_folder_dialog(self) -> None:
        """File > Add folder…"""
        folder = QFileDialog.getExistingDirectory(self, "Add a folder of scans", str(Path.home()))
        if folder:
            self.add_paths([folder])

    def add_samples(self) -> None:
        """Help > Try it with samples."""
        from importlib.resources import files

        samples = files("resources") / "samples"
        self.add_paths([str(samples)])

    def cancel_indexing(self) -> None:
        """Stop after the pages in flight; finished documents are kept."""
        self.bridge.cancel()
        self.cancel_button.setEnabled(False)
        self.progress_label.setText("Cancelling — finished documents are kept…")

    def _on_progress(self, progress: IndexProgress) -> None:
        if progress.pages_total:
            self.progress_bar.setRange(0, progress.pages_total)
            self.progress_bar.setValue(progress.pages_done)
        self.progress_label.setText(self.view_model.progress(progress))

    def _index_finished(self, report: IndexReport) -> None:
        self.cancel_button.setEnabled(False)
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(1)
        self.progress_label.setText(self.view_model.finished(report))
        self.refresh_library()
        if self.search_input.text().strip():
            self.run_search()
        if self.settings.sync_after_indexing and (report.indexed or report.removed):
            self.sync_now()

    def _index_failed(self, error: Exception) -> None:
        self.cancel_button.setEnabled(False)
        self.progress_bar.setRange(0, 1)
        self.progress_label.setText(f"Indexing stopped: {error}")
        if isinstance(error, MissingDependency):
            self.show_missing_dependency(error)

    def show_missing_dependency(self, error: Exception) -> None:
        """One dialog that says exactly what to install."""
        box = QMessageBox(QMessageBox.Icon.Warning, "Something is missing", str(error),
                          QMessageBox.StandardButton.Ok, self)
        box.setObjectName("missingDependencyDialog")
        box.open()
        self.dependency_box = box

    def check_dependencies(self) -> None:
        """Check Tesseract and its languages off the GUI and search (model) threads."""
        from engine import available_languages

        def check(_lib: Any) -> Any:
            available_languages.cache_clear()
            for code in self.config.lang.split("+"):
                if code not in available_languages():
                    from engine import MissingLanguage

                    raise MissingLanguage(code, list(available_languages()))
            return True

        self.bridge.run_on_previewer(check, lambda _r: None, self._dependency_failed)

    def _dependency_failed(self, error: Exception) -> None:
        if isinstance(error, MissingDependency):
            self.show_missing_dependency(error)

    # -- library view -----------------------------------------------------------------

    def _check_outside_changes(self) -> None:
        def changed(generation: tuple[int, int]) -> None:
            if self._seen_generation is not None and generation != self._seen_generation:
                self.refresh_library()
            self._seen_generation = generation

        self.bridge.run_on_searcher(lambda lib: lib.generation(), changed)

    def refresh_library(self) -> None:
        """Reload the document list (off the GUI thread)."""
        self.bridge.run_on_searcher(lambda lib: lib.documents(), self._show_documents)

    def _show_documents(self, documents: list[Any]) -> None:
        failed = self.library_tab.show_documents(documents)
        if not self.search_input.text().strip():
            if documents:
                self.results_label.setText(
                    f"{len(documents) - failed} documents indexed. Type to search.")
            else:
                self.results_label.setText(
                    "Drop scans or folders anywhere on this window to add them, or try the "
                    "samples from the Help menu.")

    def retry_failed(self) -> None:
        """Index the failed documents again."""
        self.add_paths(self.library_tab.failed_paths(), retry_failed=True)

    def remove_selected(self) -> None:
        """Forget the selected documents (the files stay on disk)."""
        ids = self.library_tab.selected_ids()
        if not ids:
            return
        answer = QMessageBox.question(
            self, "Remove from the library",
            f"Forget {len(ids)} document(s)? The files stay on disk; indexing them again "
            "brings them back.")
        if answer != QMessageBox.StandardButton.Yes:
            return

        def remove(lib: Any) -> int:
            return int(sum(lib.remove(i) for i in ids))

        def removed(_count: int) -> None:
            self.refresh_library()
            self.run_search()

        self.bridge.run_on_indexer(remove, removed)

    def run_search(self) -> None:
        """Search now with the current text, mode and filters."""
        self._debounce.stop()
        request = self.view_model.new_search(
            self.search_input.text(), self.search_mode.currentData(),
            kind=self.type_filter.currentData(), folder=self.folder_filter.text(),
            days=self.date_filter.currentData(), tag=self.tag_filter.text())
        if request is None:
            self.results_model.set_hits([])
            self.refresh_library()
            return
        self.results_label.setText("Searching…")
        self.bridge.search(request.number, request.query, **request.options())

    def _show_results(self, request: int, hits: list[SearchHit]) -> None:
        if not self.view_model.accept_results(request, hits):
            return  # an older query answered late
        self.results_model.set_hits(hits)
        self.results_label.setText(self.view_model.results_text())
        if hits:
            self.results_view.setCurrentIndex(self.results_model.index(0))
        else:
            self.preview.clear()  # no page of an earlier query stays on show

    def _search_failed(self, request: int, error: Exception) -> None:
        if self.view_model.is_current(request):
            self.results_label.setText(f"Search failed: {error}")

    def _result_selected(self, current: QModelIndex, _previous: QModelIndex) -> None:
        hit = current.data(HitRole) if current.isValid() else None
        if hit is not None:
            self._show_hit_page(hit, hit.page)

    def _result_activated(self, index: QModelIndex) -> None:
        hit = index.data(HitRole)
        if hit is not None:
            self.tabs.setCurrentWidget(self.preview)
            self._show_hit_page(hit, hit.page)

    def _show_hit_page(self, hit: SearchHit, page_no: int) -> None:
        page_no = self.view_model.show_hit(hit, page_no)
        query = self.search_input.text()

        def load(lib: Any) -> Any:
            detail = lib.document(hit.id)
            page = next(p for p in detail.pages if p.page_no == page_no)
            if page_no == hit.page:
                boxes = hit.boxes
            else:
                matched = matching_word_indexes(page.words, query)
                boxes = [page.words[i].box.as_list() for i in matched]
            image = lib.page_image(hit.id, page_no)
            image.thumbnail((2000, 2000 * image.height // max(1, image.width)))
            return (pil_to_qimage(image), boxes, (page.width, page.height), len(detail.pages))

        def show(result: Any) -> None:
            if self.view_model.current_hit is not hit:
                return
            image, boxes, size, pages = result
            self.preview.show_page(f"<b>{Path(hit.path).name}</b> — {hit.path}", page_no, pages,
                                   image, boxes, size)

        def failed(error: Exception) -> None:
            self.preview.clear()
            self.preview.title.setText(f"Cannot show this page: {error}")

        self.bridge.run_on_previewer(load, show, failed)

    def _go_to_page(self, page_no: int) -> None:
        hit = self.view_model.current_hit
        if hit is not None and self.view_model.page_in_range(page_no, self.preview.pages):
            self._show_hit_page(hit, page_no)

    def _focus_search(self) -> None:
        self.search_input.setFocus()
        self.search_input.selectAll()

    # -- library and settings ------------------------------------------------------------

    def open_library_dialog(self) -> None:
        """File > Open library…"""
        folder = QFileDialog.getExistingDirectory(self, "Open a library folder",
                                                  str(self.config.library_dir))
        if folder:
            self.switch_library(Path(folder))

    def switch_library(self, folder: Path) -> bool:
        """Use another library folder (remembered in the settings); a folder that cannot
        be used gets a dialog and the current library stays open."""
        config = replace(self.config, library_dir=folder)
        try:
            bridge = EngineBridge(config)
        except ScandexError as e:
            QMessageBox.warning(self, "Cannot open this library", library_problem(folder, e))
            return False
        self.bridge.shutdown()
        self.config, self.bridge = config, bridge
        bridge.read_ahead()
        self._connect_bridge_only()
        self.settings.library_dir = str(folder)
        self.settings.save()
        self.results_model.set_hits([])
        self.preview.clear()
        self._update_title()
        self.refresh_library()
        return True

    def _connect_bridge_only(self) -> None:
        self.bridge.searchFinished.connect(self._show_results)
        self.bridge.searchFailed.connect(self._search_failed)
        self.bridge.progress.progressed.connect(self._on_progress)
        self.bridge.progress.documentDone.connect(lambda *_a: self._library_refresh.start())
        self.bridge.indexFinished.connect(self._index_finished)
        self.bridge.indexFailed.connect(self._index_failed)
        self.bridge.problem.connect(lambda text: self.statusBar().showMessage(text, 20_000))
        self.connect_watching()
        self.connect_syncing()
        if resumed := self.bridge.resume_pending():
            self.progress_label.setText(f"Indexing {resumed} drop(s) left from last time…")
            self.cancel_button.setEnabled(True)

    def settings_dialog(self) -> None:
        """File > Settings…"""
        # The dialog shows the library that is open (also one given by --library).
        shown = replace(self.settings, library_dir=str(self.config.library_dir))
        dialog = SettingsDialog(shown, self)
        if dialog.exec():
            new = dialog.result_settings()
            old_dir = self.settings.library_dir
            if new.library_dir and new.library_dir != old_dir and not self.switch_library(
                    Path(new.library_dir)):
                new.library_dir = old_dir  # checked before saving: a bad folder is not kept
            new.save()
            self.settings = new
            self.config.lang = new.languages
            self.rewatch()

    def _update_title(self) -> None:
        mode = " (read-only: search only)" if self.bridge.read_only else ""
        self.setWindowTitle(f"Scandex — {self.config.library_dir}{mode}")

    def _about(self) -> None:
        QMessageBox.about(self, "About Scandex",
                          "<b>Scandex</b><br>Local-first search over scanned paper.<br>"
                          f"Library: {self.config.library_dir}")

    def closeEvent(self, event: Any) -> None:  # noqa: N802
        """Cancel indexing (finished documents stay) and stop the engine threads."""
        if self.bridge.indexing:
            self.progress_label.setText("Finishing the pages in flight… finished documents "
                                        "are kept")
            self.progress_label.repaint()
        self.bridge.shutdown()
        super().closeEvent(event)
