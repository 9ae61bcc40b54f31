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
