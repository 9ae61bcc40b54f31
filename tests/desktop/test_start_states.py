"""The desktop never dies (issue 19): libraries it cannot use at start-up, on Open library
and in Settings get a dialog; Cancel stops every queued drop; a slow original never holds
up searching; "No matches" clears the preview."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox

from engine import Library, ScandexError
from engine.backends.pool import InlineExecutor
from engine.testing import FakeOcr, HashingEmbedder, write_fake_scan
from tests.desktop.conftest import drop_paths
from tests.desktop.test_main_window import rows

FAKES = {"embedder": HashingEmbedder(), "ocr": FakeOcr(), "executor": InlineExecutor()}


def healthy_library(folder: Path, text: str = "harbour master letter") -> Path:
    with Library.open(folder, **FAKES) as library:  # type: ignore[arg-type]
        library.add([write_fake_scan(folder.parent / f"{folder.name}.png", text)])
    return folder


def damaged_library(folder: Path) -> Path:
    healthy_library(folder)
    index = folder / "index.sqlite"
    data = bytearray(index.read_bytes())
    data[:100] = os.urandom(100)  # the header too: nothing of it can be opened
    index.write_bytes(bytes(data))
    return folder


@pytest.fixture
def bad_libraries(tmp_path: Path) -> dict[str, Path]:
    as_file = tmp_path / "a-file"
    as_file.write_text("not a folder")
    return {"damaged": damaged_library(tmp_path / "damaged"), "a file": as_file}


@pytest.mark.parametrize("kind", ["damaged", "a file"])
def test_unusable_library_at_start_raises_before_any_thread(qtbot, bad_libraries, kind: str  # type: ignore[no-untyped-def]
                                                            ) -> None:
    from desktop import create_main_window

    with pytest.raises(ScandexError):
        create_main_window(bad_libraries[kind], **FAKES)  # no QThread left running: no abort


def test_start_up_offers_another_folder_and_remembers_it(qtbot, bad_libraries,  # type: ignore[no-untyped-def]
                                                        tmp_path: Path) -> None:
    from desktop.app import open_window_or_ask
    from desktop.settings import AppSettings

    settings = AppSettings.load()
    settings.library_dir = str(bad_libraries["damaged"])
    settings.save()  # a bad folder saved by an earlier version must not lock the user out
    good = healthy_library(tmp_path / "good")
    asked: list[tuple[Path, str]] = []

    def ask(folder: Path, error: Exception) -> Path | None:
        asked.append((folder, str(error)))
        return good

    window = open_window_or_ask(None, ask, **FAKES)
    qtbot.addWidget(window)
    try:
        assert asked and asked[0][0] == bad_libraries["damaged"] and "damaged" in asked[0][1]
        assert window.config.library_dir == good
        assert AppSettings.load().library_dir == str(good)
    finally:
        window.bridge.shutdown()
    assert open_window_or_ask(str(bad_libraries["a file"]), lambda _f, _e: None,
                              **FAKES) is None


def test_open_library_on_a_bad_folder_keeps_the_current_one(make_window, qtbot,  # type: ignore[no-untyped-def]
                                                            bad_libraries, monkeypatch
                                                            ) -> None:
    warnings: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning",
                        staticmethod(lambda _p, _t, text, *a: warnings.append(text)))
    window = make_window()
    current = window.config.library_dir
    for folder in bad_libraries.values():
        assert not window.switch_library(folder)
    assert len(warnings) == 2 and window.config.library_dir == current
    window.search_input.setText("anything")
    window.run_search()  # the old library still answers
    qtbot.waitUntil(lambda: "match" in window.results_label.text(), timeout=10_000)


def test_settings_never_save_a_folder_that_cannot_be_used(make_window, qtbot, bad_libraries,  # type: ignore[no-untyped-def]
                                                          monkeypatch) -> None:
    from desktop import main_window as module
    from desktop.settings import AppSettings

    monkeypatch.setattr(QMessageBox, "warning", staticmethod(lambda *a: None))
    window = make_window()
    good_dir = str(window.config.library_dir)
    window.settings.library_dir = good_dir

    class Dialog:
        def __init__(self, settings: AppSettings, _parent: object) -> None:
            self.settings = settings

        def exec(self) -> bool:
            return True

        def result_settings(self) -> AppSettings:
            return AppSettings(library_dir=str(bad_libraries["damaged"]), languages="eng")

    monkeypatch.setattr(module, "SettingsDialog", Dialog)
    window.settings_dialog()
    assert AppSettings.load().library_dir == good_dir


@pytest.fixture
def read_only_library(tmp_path: Path) -> Iterator[Path]:
    source = healthy_library(tmp_path / "lib", "read only harbour letter")
    target = tmp_path / "ro"
    target.mkdir()
    if subprocess.run(["mount", "--bind", str(source), str(target)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot bind-mount here (needs root)")
    subprocess.run(["mount", "-o", "remount,bind,ro", str(target)], check=True)
    try:
        yield target
    finally:
        if subprocess.run(["umount", str(target)], capture_output=True).returncode:
            subprocess.run(["umount", "-l", str(target)], check=False)


def test_read_only_library_opens_for_search(make_window, qtbot, read_only_library: Path  # type: ignore[no-untyped-def]
                                            ) -> None:
    window = make_window(read_only_library)
    assert window.bridge.read_only and "read-only" in window.windowTitle()
    window.search_input.setText("harbour")
    window.run_search()
    results = window.results_view
    qtbot.waitUntil(lambda: bool(rows(results)), timeout=10_000)
    assert rows(results)[0].startswith("lib.png")


def test_cancel_stops_every_queued_drop(make_window, qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    class SlowOcr(FakeOcr):
        def ocr(self, image, options):  # type: ignore[no-untyped-def]
            time.sleep(0.1)
            return super().ocr(image, options)

    batches = []
    for b in range(2):
        folder = tmp_path / f"batch{b}"
        folder.mkdir()
        for i in range(20):
            write_fake_scan(folder / f"p{i:02}.png", f"batch {b} page {i}")
        batches.append(folder)
    window = make_window(ocr=SlowOcr())
    drop_paths(window, [batches[0]])
    drop_paths(window, [batches[1]])
    qtbot.waitUntil(lambda: window.view_model.last_progress is not None
                    and window.view_model.last_progress.pages_done >= 2, timeout=20_000)
    window.cancel_indexing()
    qtbot.waitUntil(lambda: not window.bridge.indexing, timeout=30_000)
    assert window.progress_label.text().startswith("Cancelled")
    window.refresh_library()
    view = window.library_view
    qtbot.waitUntil(lambda: len(rows(view)) > 0, timeout=10_000)
    time.sleep(0.3)
    indexed = rows(view)
    assert 0 < len(indexed) < 20 and not any("batch1" in r for r in indexed)


def test_no_matches_clears_the_preview(make_window, qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "docs"
    folder.mkdir()
    write_fake_scan(folder / "letter.png", "harbour master letter")
    window = make_window()
    drop_paths(window, [folder])
    qtbot.waitUntil(lambda: len(rows(window.library_view)) == 1, timeout=10_000)
    mode = window.search_mode
    mode.setCurrentIndex(mode.findData("keyword"))
    window.search_input.setText("harbour")
    window.run_search()
    qtbot.waitUntil(lambda: window.preview.pages > 0, timeout=10_000)
    window.search_input.setText("zeppelin")
    window.run_search()
    qtbot.waitUntil(lambda: window.results_label.text().startswith("No matches."),
                    timeout=10_000)
    assert window.preview.pages == 0 and window.view_model.current_hit is None


def test_a_slow_original_never_holds_up_searching(make_window, qtbot, tmp_path: Path  # type: ignore[no-untyped-def]
                                                 ) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    write_fake_scan(folder / "letter.png", "harbour master letter")
    window = make_window()
    drop_paths(window, [folder])
    qtbot.waitUntil(lambda: len(rows(window.library_view)) == 1, timeout=10_000)
    release = threading.Event()
    window.bridge.run_on_previewer(lambda _lib: release.wait(30), lambda _r: None)
    window.search_input.setText("harbour")
    window.run_search()
    qtbot.waitUntil(lambda: bool(rows(window.results_view)), timeout=5_000)
    release.set()


def test_remove_asks_first(make_window, qtbot, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "docs"
    folder.mkdir()
    write_fake_scan(folder / "letter.png", "harbour master letter")
    window = make_window()
    drop_paths(window, [folder])
    qtbot.waitUntil(lambda: len(rows(window.library_view)) == 1, timeout=10_000)
    window.library_view.selectRow(0)
    answers = [QMessageBox.StandardButton.No, QMessageBox.StandardButton.Yes]
    monkeypatch.setattr(QMessageBox, "question", staticmethod(lambda *a: answers.pop(0)))
    window.remove_selected()
    qtbot.wait(300)
    assert len(rows(window.library_view)) == 1  # "No": nothing forgotten
    window.remove_selected()
    qtbot.waitUntil(lambda: len(rows(window.library_view)) == 0, timeout=10_000)


def test_show_in_folder_without_a_file_manager_says_where(make_window, qtbot, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                         monkeypatch) -> None:
    from PySide6.QtGui import QDesktopServices

    monkeypatch.setattr(QDesktopServices, "openUrl", staticmethod(lambda _url: False))
    folder = tmp_path / "docs"
    folder.mkdir()
    write_fake_scan(folder / "letter.png", "harbour master letter")
    window = make_window()
    drop_paths(window, [folder])
    qtbot.waitUntil(lambda: len(rows(window.library_view)) == 1, timeout=10_000)
    window.search_input.setText("harbour")
    window.run_search()
    qtbot.waitUntil(lambda: window.view_model.current_hit is not None, timeout=10_000)
    window.show_in_folder()
    qtbot.waitUntil(lambda: "No application" in window.results_label.text(), timeout=10_000)
    assert str(folder) in window.results_label.text()


def test_settings_show_the_library_that_is_open(make_window, monkeypatch, tmp_path: Path  # type: ignore[no-untyped-def]
                                                ) -> None:
    from desktop import main_window as module

    seen: list[str] = []

    class Dialog:
        def __init__(self, settings, _parent):  # type: ignore[no-untyped-def]
            seen.append(settings.library_dir)

        def exec(self) -> bool:
            return False

    monkeypatch.setattr(module, "SettingsDialog", Dialog)
    window = make_window(tmp_path / "given-by-flag")
    window.settings_dialog()
    assert seen == [str(tmp_path / "given-by-flag")]


def test_library_tab_follows_another_process_indexing(make_window, qtbot, tmp_path: Path  # type: ignore[no-untyped-def]
                                                      ) -> None:
    window = make_window()
    window.outside_changes.setInterval(100)
    qtbot.wait(300)  # the window has seen the library as it was
    with Library.open(window.config.library_dir, **FAKES) as other:  # type: ignore[arg-type]
        other.add([write_fake_scan(tmp_path / "from-cli.png", "indexed by the command line")])
    qtbot.waitUntil(lambda: any("from-cli.png" in r for r in rows(window.library_view)),
                    timeout=10_000)


def test_a_background_failure_is_shown_not_swallowed(make_window, qtbot) -> None:  # type: ignore[no-untyped-def]
    window = make_window()

    def broken(_library: object) -> None:
        raise OSError("the disk went away")

    with qtbot.waitSignal(window.bridge.problem, timeout=10_000) as shown:
        window.bridge.run_on_previewer(broken, lambda _r: None)
    assert "the disk went away" in shown.args[0]
    qtbot.waitUntil(lambda: "the disk went away" in window.statusBar().currentMessage(),
                    timeout=5_000)


def test_a_mistyped_library_flag_asks_before_creating(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from desktop.app import open_window_or_ask

    good = healthy_library(tmp_path / "good")
    typo = tmp_path / "goood"
    asked: list[Path] = []

    def quit_(folder: Path) -> Path | None:
        asked.append(folder)
        return None

    assert open_window_or_ask(str(typo), confirm_new=quit_, **FAKES) is None
    assert asked == [typo] and not typo.exists()  # nothing created behind the user's back

    def choose_existing(folder: Path) -> Path | None:
        asked.append(folder)
        return good

    window = open_window_or_ask(str(typo), confirm_new=choose_existing, **FAKES)
    qtbot.addWidget(window)
    try:
        assert window.config.library_dir == good and not typo.exists()
    finally:
        window.bridge.shutdown()
    window = open_window_or_ask(str(typo), confirm_new=lambda folder: folder, **FAKES)
    qtbot.addWidget(window)
    try:
        assert window.config.library_dir == typo and (typo / "index.sqlite").exists()
    finally:
        window.bridge.shutdown()
    existing = open_window_or_ask(str(good), confirm_new=quit_, **FAKES)  # never asked
    qtbot.addWidget(existing)
    existing.bridge.shutdown()
    assert asked == [typo, typo]


def test_a_missing_language_is_said_at_once_while_the_model_loads(make_window, qtbot  # type: ignore[no-untyped-def]
                                                                   ) -> None:
    import threading
    import time

    from engine import available_languages

    if not available_languages():
        pytest.skip("needs Tesseract to list its languages")
    loaded = threading.Event()

    class SlowModel(HashingEmbedder):
        def load(self) -> None:
            loaded.wait(20)  # a model that takes its time, as the real one does cold

    window = make_window(embedder=SlowModel(), lang="eng+qqq")
    started = time.monotonic()
    window.bridge.warm_up()
    window.check_dependencies()
    try:
        qtbot.waitUntil(lambda: getattr(window, "dependency_box", None) is not None,
                        timeout=5_000)
        assert time.monotonic() - started < 5 and "qqq" in window.dependency_box.text()
    finally:
        loaded.set()


def test_the_window_reads_its_library_ahead_at_start_and_after_a_switch(
        make_window, qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch  # type: ignore[no-untyped-def]
) -> None:
    asked: list[Path] = []

    def warm(library: Library) -> threading.Thread:
        asked.append(library.directory)
        return threading.Thread()

    monkeypatch.setattr(Library, "warm_page_cache", warm)
    window = make_window(healthy_library(tmp_path / "first"))
    window.bridge.warm_up()
    qtbot.waitUntil(lambda: asked == [tmp_path / "first"], timeout=5_000)
    assert window.switch_library(healthy_library(tmp_path / "second"))
    qtbot.waitUntil(lambda: asked == [tmp_path / "first", tmp_path / "second"], timeout=5_000)
