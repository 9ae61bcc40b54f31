"""Open original when the file was deleted from disk but its copy is in the sync
bucket: the window shows the copy and offers to put it back."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox

from engine import Library, RemoteConfig
from engine.testing import write_fake_scan
from tests.desktop.conftest import drop_paths


@pytest.mark.parametrize("restore", [True, False])
def test_a_deleted_original_is_offered_back_from_the_bucket(  # type: ignore[no-untyped-def]
        make_window, qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        restore: bool) -> None:
    pytest.importorskip("boto3")
    from PySide6.QtGui import QDesktopServices

    from tests.s3_servers import KEY, SECRET, make_bucket, moto_endpoint

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    opened: list[str] = []
    monkeypatch.setattr(QDesktopServices, "openUrl",
                        staticmethod(lambda url: opened.append(url.toLocalFile()) or True))
    asked: list[str] = []

    def answer(_parent: object, _title: str, text: str, *_a: object) -> object:
        asked.append(text)
        return QMessageBox.StandardButton.Yes if restore else QMessageBox.StandardButton.No

    monkeypatch.setattr(QMessageBox, "question", staticmethod(answer))
    (tmp_path / "docs").mkdir()
    original = write_fake_scan(tmp_path / "docs" / "will.png", "last will and testament")
    data = original.read_bytes()
    with moto_endpoint() as ep:
        make_bucket(ep.url, "desk-sync")
        window = make_window()
        drop_paths(window, [original])
        qtbot.waitUntil(lambda: window.library_model.rowCount() == 1, timeout=10_000)
        with Library.open(window.config.library_dir, embedder=window.config.embedder) as lib:
            lib.push(RemoteConfig(bucket="desk-sync", endpoint_url=ep.url))
        original.unlink()
        window.search_input.setText("testament")
        window.run_search()
        qtbot.waitUntil(lambda: window.view_model.current_hit is not None, timeout=10_000)
        window.open_original()
        qtbot.waitUntil(lambda: len(opened) == 1, timeout=20_000)
    assert len(asked) == 1 and str(original) in asked[0]
    if restore:
        assert opened == [str(original)] and original.read_bytes() == data
    else:
        assert not original.exists() and opened[0] != str(original)
        assert Path(opened[0]).read_bytes() == data and Path(opened[0]).name == "will.png"


def test_sync_shows_progress_and_cancel_stops_it(make_window, qtbot, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("boto3")
    from desktop.settings import AppSettings
    from engine.backends.s3 import S3Remote
    from tests.s3_servers import KEY, SECRET, make_bucket, moto_endpoint

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(40):
        write_fake_scan(docs / f"page{i:02}.png", f"page number{i}", size=(1700, 2200))
    with moto_endpoint() as ep:
        make_bucket(ep.url, "desk-sync")
        window = make_window()
        drop_paths(window, [docs])
        qtbot.waitUntil(lambda: window.library_model.rowCount() == 40 and
                        not window.bridge.indexing, timeout=30_000)
        window.settings = AppSettings(s3_bucket="desk-sync", s3_prefix="me",
                                      s3_endpoint=ep.url)
        seen: list[str] = []
        window.bridge.syncProgress.connect(seen.append)
        window.sync_now()
        assert window.cancel_button.isEnabled()
        qtbot.waitUntil(lambda: bool(seen), timeout=20_000)
        assert seen[0].startswith("Syncing… 1 moved")
        window.cancel_button.click()
        qtbot.waitUntil(lambda: "Sync cancelled" in window.progress_label.text(),
                        timeout=20_000)
        assert not window.cancel_button.isEnabled()
        remote = S3Remote(RemoteConfig(bucket="desk-sync", prefix="me", endpoint_url=ep.url))
        assert not remote.list("manifests")  # a stopped push announces nothing
        assert len(remote.list("blobs/sha256")) < 40
        window.sync_now()  # the rest goes next time
        qtbot.waitUntil(lambda: window.progress_label.text().startswith("Synced"),
                        timeout=30_000)
        assert len(remote.list("blobs/sha256")) == 40


def test_save_as_searchable_pdf_from_the_preview_and_the_menu(  # type: ignore[no-untyped-def]
        make_window, qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pypdfium2 as pdfium
    from PySide6.QtWidgets import QFileDialog

    chosen: list[str] = []
    answers = [str(tmp_path / "out" / "will"), str(tmp_path / "out" / "menu.pdf"),
               str(tmp_path / "nowhere" / "x.pdf"), ""]

    def ask(_parent: object, _title: str, suggested: str, _filter: str) -> tuple[str, str]:
        chosen.append(suggested)
        return answers.pop(0), "PDF (*.pdf)"

    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(ask))
    (tmp_path / "docs").mkdir()
    (tmp_path / "out").mkdir()
    original = write_fake_scan(tmp_path / "docs" / "will.png", "last will and testament")
    window = make_window()
    drop_paths(window, [original])
    qtbot.waitUntil(lambda: window.library_model.rowCount() == 1, timeout=10_000)
    window.search_input.setText("testament")
    window.run_search()
    qtbot.waitUntil(lambda: window.view_model.current_hit is not None
                    and window.preview.pdf_button.isEnabled(), timeout=10_000)
    window.preview.pdf_button.click()  # the file name gets its .pdf
    qtbot.waitUntil(lambda: window.results_label.text().startswith("Saved"), timeout=10_000)
    assert chosen[0].endswith("will.searchable.pdf")
    saved = tmp_path / "out" / "will.pdf"
    document = pdfium.PdfDocument(str(saved))
    assert document[0].get_textpage().get_text_range().split() == \
        ["last", "will", "and", "testament"]
    document.close()
    hit = window.view_model.current_hit
    menu = window.result_menu(hit)
    action = next(a for a in menu.actions() if a.text().startswith("Save as searchable"))
    action.trigger()
    qtbot.waitUntil(lambda: (tmp_path / "out" / "menu.pdf").exists(), timeout=10_000)
    # A folder that is not there: said in the window, nothing raised.
    window.save_searchable_pdf()
    qtbot.waitUntil(lambda: window.results_label.text().startswith("Cannot save the PDF"),
                    timeout=10_000)
    window.save_searchable_pdf()  # cancelled: nothing happens
    assert answers == []
