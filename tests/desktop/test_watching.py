"""Watched folders in the desktop: set in Settings, followed in the background while
the window is open (drops and watched files write one at a time), shown in the Library
tab; a drop while another process indexes waits instead of failing."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QAbstractItemView, QPushButton

from desktop.settings import AppSettings, SettingsDialog
from engine.layout import LibraryLayout
from engine.testing import write_fake_scan
from tests.desktop.conftest import drop_paths


def rows(view: QAbstractItemView) -> list[str]:
    model = view.model()
    return [model.index(r, 0).data() for r in range(model.rowCount())]


@contextlib.contextmanager
def another_writer(library_dir: Path) -> Iterator[threading.Event]:
    """Another process holding the library's writer lock until the event is set."""
    held, release = threading.Event(), threading.Event()

    def indexing() -> None:
        with LibraryLayout(library_dir).writer_lock():
            held.set()
            release.wait(30)

    other = threading.Thread(target=indexing)
    other.start()
    held.wait(10)
    try:
        yield release
    finally:
        release.set()
        other.join(10)


def test_settings_edit_the_watched_folders(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    dialog = SettingsDialog(AppSettings(watched_folders=f"{tmp_path / 'a'}\n"))
    qtbot.addWidget(dialog)
    dialog.add_watched_folder(str(tmp_path / "b"))
    dialog.add_watched_folder(str(tmp_path / "b"))  # once only
    dialog.poll.setChecked(True)
    dialog.poll_s.setValue(15)
    edited = dialog.result_settings()
    assert edited.watched() == [tmp_path / "a", tmp_path / "b"]
    assert edited.poll_seconds() == 15
    dialog.watched.item(0).setSelected(True)
    remove = next(b for b in dialog.findChildren(QPushButton) if b.text() == "Remove")
    remove.click()
    dialog.poll.setChecked(False)
    assert dialog.result_settings().watched() == [tmp_path / "b"]
    assert dialog.result_settings().poll_seconds() is None


def test_watched_folder_is_followed_while_the_window_runs(make_window, qtbot,  # type: ignore[no-untyped-def]
                                                          tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    write_fake_scan(inbox / "waiting.png", "already in the inbox")
    window = make_window()
    window.settings.watched_folders = str(inbox)
    window.settings.watch_poll_s = "1"
    window.rewatch()
    view = window.library_view
    qtbot.waitUntil(lambda: rows(view) == ["waiting.png"], timeout=20_000)
    status = window.library_tab.watch_status
    assert not status.isHidden() and "Watching 1 folder(s), looking every 1 s" in status.text()
    write_fake_scan(inbox / "scanned.png", "landed while running")
    qtbot.waitUntil(lambda: sorted(rows(view)) == ["scanned.png", "waiting.png"],
                    timeout=20_000)
    qtbot.waitUntil(lambda: "Last pass" in status.text(), timeout=5_000)
    (inbox / "waiting.png").unlink()
    qtbot.waitUntil(lambda: rows(view) == ["scanned.png"], timeout=20_000)
    window.settings.watched_folders = ""  # Settings → removed: no longer followed
    window.rewatch()
    assert status.isHidden()
    write_fake_scan(inbox / "ignored.png", "not watched any more")
    qtbot.wait(2500)
    assert rows(view) == ["scanned.png"]


def test_a_drop_waits_for_another_writer(make_window, qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    with another_writer(window.config.library_dir) as release:
        drop_paths(window, [write_fake_scan(tmp_path / "dropped.png", "dropped while busy")])
        qtbot.waitUntil(lambda: "Waiting" in window.progress_label.text(), timeout=10_000)
        assert rows(window.library_view) == []
        release.set()
        qtbot.waitUntil(lambda: rows(window.library_view) == ["dropped.png"], timeout=20_000)


@pytest.mark.parametrize("forced", ["", "abc", "-3", "0"])
def test_no_usable_poll_value_means_events(forced: str) -> None:
    assert AppSettings(watch_poll_s=forced).poll_seconds() is None


def test_a_drop_left_waiting_at_close_runs_at_the_next_start(make_window, qtbot,  # type: ignore[no-untyped-def]
                                                            tmp_path: Path) -> None:
    from desktop.pending import PendingDrops

    library_dir = tmp_path / "lib"
    first = make_window(library_dir)
    with another_writer(library_dir):
        drop_paths(first, [write_fake_scan(tmp_path / "late.png", "dropped before closing")])
        qtbot.waitUntil(lambda: "Waiting" in first.progress_label.text(), timeout=10_000)
        first.close()  # the app quits while its drop waits for the other process
        first.bridge.shutdown()
    assert [d.paths for d in PendingDrops(library_dir).load()] == [[str(tmp_path / "late.png")]]
    second = make_window(library_dir)  # the next start runs it
    qtbot.waitUntil(lambda: rows(second.library_view) == ["late.png"], timeout=20_000)
    qtbot.waitUntil(lambda: not PendingDrops(library_dir).load(), timeout=5_000)


def test_cancel_forgets_the_remembered_drops(make_window, qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from desktop.pending import PendingDrops

    window = make_window()
    with another_writer(window.config.library_dir):
        drop_paths(window, [write_fake_scan(tmp_path / "unwanted.png", "changed my mind")])
        qtbot.waitUntil(lambda: "Waiting" in window.progress_label.text(), timeout=10_000)
        window.cancel_indexing()
        qtbot.waitUntil(lambda: not window.bridge.indexing, timeout=10_000)
    assert PendingDrops(window.config.library_dir).load() == []
    assert rows(window.library_view) == []


def test_pending_drops_survive_damage_and_forget_by_id(tmp_path: Path) -> None:
    from desktop.pending import PendingDrops

    queue = PendingDrops(tmp_path)
    first = queue.add(["/a"])
    second = queue.add(["/b", "/c"], retry_failed=True)
    assert [d.paths for d in PendingDrops(tmp_path).load()] == [["/a"], ["/b", "/c"]]
    queue.forget(first.id)
    assert PendingDrops(tmp_path).load() == [second]
    queue.path.write_text("{not json")
    assert queue.load() == []  # a damaged file is an empty queue, never a crash
    queue.clear()
    assert not queue.path.exists()
