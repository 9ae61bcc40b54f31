"""The main window, driven like a user would: drops, typing, cancel, failures, settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QAbstractItemModel, Qt
from PySide6.QtWidgets import QAbstractItemView, QComboBox, QLineEdit, QPushButton, QWidget

from engine.testing import write_fake_scan
from tests.desktop.conftest import drop_paths


def child(window: QWidget, cls: type, name: str) -> object:
    widget = window.findChild(cls, name)
    assert widget is not None, name
    return widget


def rows(view: QAbstractItemView) -> list[str]:
    model: QAbstractItemModel = view.model()
    return [model.index(r, 0).data() for r in range(model.rowCount())]


@pytest.fixture
def scans(tmp_path: Path) -> Path:
    folder = tmp_path / "scans"
    folder.mkdir()
    write_fake_scan(folder / "lease.png", "apartment lease monthly rent landlord deposit")
    write_fake_scan(folder / "invoice.png", "invoice acme total due payment terms")
    write_fake_scan(folder / "recipe.png", "chocolate cake recipe flour sugar")
    return folder


def test_widgets_carry_their_object_names(make_window) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    for cls, name in [(QLineEdit, "searchInput"), (QComboBox, "searchMode"),
                      (QAbstractItemView, "resultsView"), (QWidget, "pagePreview"),
                      (QAbstractItemView, "libraryView"), (QWidget, "indexProgress"),
                      (QPushButton, "cancelButton")]:
        child(window, cls, name)


def test_drop_index_search_preview(make_window, qtbot, scans: Path) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    library_view = child(window, QAbstractItemView, "libraryView")
    drop_paths(window, [scans])
    qtbot.waitUntil(lambda: len(rows(library_view)) == 3, timeout=20_000)
    search = child(window, QLineEdit, "searchInput")
    qtbot.keyClicks(search, "landlord rent")
    results = child(window, QAbstractItemView, "resultsView")
    qtbot.waitUntil(lambda: bool(rows(results)), timeout=20_000)
    assert rows(results)[0].startswith("lease.png")
    preview = child(window, QWidget, "pagePreview")
    qtbot.waitUntil(lambda: preview.highlight_count() == 2, timeout=20_000)
    mode = child(window, QComboBox, "searchMode")
    mode.setCurrentIndex(mode.findData("keyword"))
    search.setText("chocolate")
    qtbot.waitUntil(lambda: rows(results)[:1] == [rows(results)[0]]
                    and rows(results)[0].startswith("recipe.png"), timeout=20_000)


def test_cancel_keeps_finished_documents(make_window, qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import time

    from engine.testing import FakeOcr

    class SlowOcr(FakeOcr):
        def ocr(self, image, options):  # type: ignore[no-untyped-def]
            time.sleep(0.15)
            return super().ocr(image, options)

    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(30):
        write_fake_scan(folder / f"page{i:02}.png", f"page number {i} text")
    window = make_window(ocr=SlowOcr())
    drop_paths(window, [folder])
    cancel = child(window, QPushButton, "cancelButton")
    qtbot.waitUntil(lambda: window.bridge.indexing and cancel.isEnabled(), timeout=10_000)
    qtbot.waitUntil(lambda: window.view_model.last_progress is not None
                    and window.view_model.last_progress.pages_done >= 3, timeout=20_000)
    qtbot.mouseClick(cancel, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.bridge.indexing, timeout=20_000)
    assert window.progress_label.text().startswith("Cancelled")
    library_view = child(window, QAbstractItemView, "libraryView")
    qtbot.waitUntil(lambda: 0 < len(rows(library_view)) < 30, timeout=10_000)


def test_corrupt_file_is_listed_as_failed(make_window, qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "mixed"
    folder.mkdir()
    write_fake_scan(folder / "good.png", "fine page")
    (folder / "broken.pdf").write_bytes(b"%PDF-1.7 this is not really a pdf")
    window = make_window()
    drop_paths(window, [folder])
    view = child(window, QAbstractItemView, "libraryView")
    qtbot.waitUntil(lambda: len(rows(view)) == 2, timeout=20_000)
    model = view.model()
    failed = [r for r in range(model.rowCount()) if model.index(r, 1).data() == "failed"]
    assert [model.index(r, 0).data() for r in failed] == ["broken.pdf"]
    assert "PDF" in model.index(failed[0], 3).data()
    assert window.retry_button.isEnabled()


def test_settings_survive_a_restart(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    save = ("from PySide6.QtCore import QCoreApplication; app = QCoreApplication([]);"
            "from desktop.settings import AppSettings; s = AppSettings.load();"
            "s.languages = 'eng+deu'; s.s3_bucket = 'my-bucket'; s.sync_after_indexing = True;"
            "s.library_dir = '/data/lib'; s.save()")
    load = ("from PySide6.QtCore import QCoreApplication; app = QCoreApplication([]);"
            "from desktop.settings import AppSettings; s = AppSettings.load();"
            "print(s.languages, s.s3_bucket, s.sync_after_indexing, s.library_dir)")
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "config")}
    for code in (save, load):
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                             text=True, timeout=60)
        assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["eng+deu", "my-bucket", "True", "/data/lib"]
    assert (tmp_path / "config" / "Scandex" / "Scandex.conf").exists()


def test_missing_tesseract_shows_what_to_install(make_window, qtbot, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from engine.backends.tesseract import TesseractOcr, available_languages

    monkeypatch.setenv("SCANDEX_TESSERACT", "/nonexistent/tesseract")
    available_languages.cache_clear()
    window = make_window(ocr=TesseractOcr(binary="/nonexistent/tesseract"))
    window.check_dependencies()
    qtbot.waitUntil(lambda: getattr(window, "dependency_box", None) is not None, timeout=10_000)
    assert "apt-get install tesseract-ocr" in window.dependency_box.text()
    available_languages.cache_clear()


@pytest.mark.slow
def test_real_stack_drop_to_boxes(make_window, qtbot, tmp_path: Path, real_embedder) -> None:  # type: ignore[no-untyped-def]
    from engine.backends.pool import LocalPoolExecutor
    from engine.backends.tesseract import TesseractOcr
    from tests.scans import save_text_page

    folder = tmp_path / "real"
    folder.mkdir()
    save_text_page(folder / "permit.png", ["Building permit for a garden shed",
                                           "Approved by the city council"])
    save_text_page(folder / "menu.png", ["Lunch menu: tomato soup", "Dessert: apple pie"])
    window = make_window(embedder=real_embedder, ocr=TesseractOcr(),
                         executor=LocalPoolExecutor(2))
    drop_paths(window, [folder])
    view = child(window, QAbstractItemView, "libraryView")
    qtbot.waitUntil(lambda: len(rows(view)) == 2 and not window.bridge.indexing, timeout=120_000)
    qtbot.keyClicks(child(window, QLineEdit, "searchInput"), "council permit")
    results = child(window, QAbstractItemView, "resultsView")
    qtbot.waitUntil(lambda: bool(rows(results)), timeout=60_000)
    assert rows(results)[0].startswith("permit.png")
    preview = child(window, QWidget, "pagePreview")
    qtbot.waitUntil(lambda: preview.highlight_count() == 2, timeout=60_000)


def test_sync_now_pushes_to_the_bucket(make_window, qtbot, tmp_path: Path, scans: Path,  # type: ignore[no-untyped-def]
                                       monkeypatch) -> None:
    pytest.importorskip("boto3")
    from desktop.settings import AppSettings
    from engine.backends.s3 import RemoteConfig, S3Remote
    from tests.s3_servers import KEY, SECRET, make_bucket, moto_endpoint

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    with moto_endpoint() as ep:
        make_bucket(ep.url, "desk-sync")
        window = make_window()
        window.settings = AppSettings(s3_bucket="desk-sync", s3_prefix="me",
                                      s3_endpoint=ep.url, sync_after_indexing=True)
        drop_paths(window, [scans])
        qtbot.waitUntil(lambda: window.progress_label.text().startswith("Synced"),
                        timeout=30_000)
        remote = S3Remote(RemoteConfig(bucket="desk-sync", prefix="me", endpoint_url=ep.url))
        assert len(remote.get_json("manifest.json")["documents"]) == 3


def test_open_original_hands_the_desktop_a_local_file(make_window, qtbot, scans: Path,  # type: ignore[no-untyped-def]
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from PySide6.QtGui import QDesktopServices

    opened: list[str] = []
    monkeypatch.setattr(QDesktopServices, "openUrl",
                        staticmethod(lambda url: opened.append(url.toLocalFile()) or True))
    window = make_window()
    drop_paths(window, [scans])
    results = child(window, QAbstractItemView, "resultsView")
    qtbot.waitUntil(lambda: len(rows(child(window, QAbstractItemView, "libraryView"))) == 3,
                    timeout=20_000)
    child(window, QLineEdit, "searchInput").setText("chocolate cake")
    window.run_search()
    qtbot.waitUntil(lambda: bool(rows(results)) and window.view_model.current_hit is not None,
                    timeout=20_000)
    window.open_original()
    qtbot.waitUntil(lambda: len(opened) == 1, timeout=10_000)
    assert opened == [str(scans / "recipe.png")]
    window.show_in_folder()
    qtbot.waitUntil(lambda: len(opened) == 2, timeout=10_000)
    assert opened[1] == str(scans)
