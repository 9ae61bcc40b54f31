"""`scandex-desktop` / `python -m desktop`: open the main window."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_THREAD_LIMIT", "1")


def main(argv: Sequence[str] | None = None) -> int:
    """Parse options, show the window at once, load the model in the background."""
    parser = argparse.ArgumentParser(prog="scandex-desktop", description="Scandex desktop app")
    parser.add_argument("--library", metavar="DIR", help="library folder")
    parser.add_argument("--quit-after", type=float, default=0,
                        help=argparse.SUPPRESS)  # seconds; for start-up measurements
    parser.add_argument("--self-test", action="store_true",
                        help="index and search a bundled sample in an offscreen window, "
                             "print a JSON report and exit (0 when everything works)")
    args = parser.parse_args(list(argv) if argv is not None else None)
    if args.self_test:
        return self_test()
    started = time.perf_counter()
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName("Scandex")
    app.setApplicationName("Scandex")
    if isinstance(app, QApplication):
        app.setWindowIcon(app_icon())
    window = open_window_or_ask(args.library)
    if window is None:
        return 2
    window.show()
    shown = time.perf_counter() - started
    QTimer.singleShot(0, window.check_dependencies)
    QTimer.singleShot(0, window.bridge.warm_up)
    if args.quit_after:
        print(json.dumps({"window_shown_s": round(shown, 3), "window_shown_at": time.time()}),
              flush=True)
        QTimer.singleShot(int(args.quit_after * 1000), window.close)
    return int(app.exec())


def open_window_or_ask(library: str | None,
                       ask: Callable[[Path, Exception], Path | None] | None = None,
                       confirm_new: Callable[[Path], Path | None] | None = None,
                       **engine_options: Any) -> Any:
    """The main window on library (or the one in the settings); a library it cannot use
    gets a dialog offering another folder, never an abort, and a --library folder that
    holds no library yet is created only when the user says so (a typo is not a new
    library). None when the user quits."""
    from desktop import create_main_window
    from desktop.settings import AppSettings
    from engine import ScandexError, default_library_dir
    from engine.layout import LibraryLayout

    ask = ask or ask_for_another_library
    confirm_new = confirm_new or confirm_new_library
    settings = AppSettings.load()
    folder = Path(library or settings.library_dir or default_library_dir()).expanduser()
    confirmed = library is None  # the settings' or the default library: no question
    while True:
        if not confirmed and not folder.is_file() and not LibraryLayout(folder).index.exists():
            chosen = confirm_new(folder)
            if chosen is None:
                return None
            confirmed, folder = chosen == folder, chosen
            if not confirmed:
                continue
        try:
            window = create_main_window(folder, **engine_options)
        except ScandexError as e:
            chosen = ask(folder, e)
            if chosen is None:
                return None
            folder = chosen
            continue
        if library is None and str(folder) != (settings.library_dir or ""):
            window.settings.library_dir = str(folder)  # the folder chosen is remembered
            window.settings.save()
        return window


def confirm_new_library(folder: Path) -> Path | None:
    """A dialog for a --library folder with no library in it: create one there, choose
    another folder, or quit."""
    from PySide6.QtWidgets import QFileDialog, QMessageBox

    box = QMessageBox(QMessageBox.Icon.Question, "No library there yet",
                      f"There is no Scandex library in {folder}.\n\nCreate a new, empty "
                      "library there, or choose the folder of an existing one?")
    create = box.addButton("Create a new library", QMessageBox.ButtonRole.AcceptRole)
    choose = box.addButton("Choose another folder…", QMessageBox.ButtonRole.ActionRole)
    box.addButton("Quit", QMessageBox.ButtonRole.RejectRole)
    box.exec()
    if box.clickedButton() is create:
        return folder
    if box.clickedButton() is choose:
        chosen = QFileDialog.getExistingDirectory(None, "Choose a library folder")
        return Path(chosen) if chosen else None
    return None


def ask_for_another_library(folder: Path, error: Exception) -> Path | None:
    """A dialog: choose another folder, use the default library, or quit."""
    from PySide6.QtWidgets import QFileDialog, QMessageBox

    from desktop.view_model import library_problem
    from engine import default_library_dir

    box = QMessageBox(QMessageBox.Icon.Critical, "Cannot open the library",
                      library_problem(folder, error))
    choose = box.addButton("Choose another folder…", QMessageBox.ButtonRole.AcceptRole)
    default = box.addButton("Use the default library", QMessageBox.ButtonRole.ActionRole)
    box.addButton("Quit", QMessageBox.ButtonRole.RejectRole)
    box.exec()
    if box.clickedButton() is choose:
        chosen = QFileDialog.getExistingDirectory(None, "Choose a library folder")
        return Path(chosen) if chosen else None
    if box.clickedButton() is default:
        return default_library_dir()
    return None


def app_icon() -> Any:
    """The Scandex icon from the resources package."""
    from importlib.resources import files

    from PySide6.QtGui import QIcon, QPixmap

    pixmap = QPixmap()
    pixmap.loadFromData((files("resources") / "icons" / "scandex.png").read_bytes())
    return QIcon(pixmap)


def self_test() -> int:
    """The engine self-test driven through an offscreen main window."""

    # Offscreen, and with settings of its own: a self-test must not touch the user's.
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    settings_home = tempfile.TemporaryDirectory(prefix="scandex-selftest-settings-")
    os.environ["XDG_CONFIG_HOME"] = settings_home.name
    try:
        from PySide6.QtGui import QGuiApplication
        from PySide6.QtWidgets import QApplication

        from desktop.selftest import WindowDriver
        from engine.service.selftest import run_self_test

        app = QApplication.instance() or QApplication(sys.argv[:1])
        app.setOrganizationName("Scandex")
        app.setApplicationName("Scandex self-test")
        drivers: list[WindowDriver] = []

        def make_driver(library_dir: Any) -> WindowDriver:
            drivers.append(WindowDriver(library_dir))
            return drivers[-1]

        report = run_self_test("desktop", make_driver)
        if drivers:
            report["timings_s"]["window_shown"] = drivers[0].window_shown_s
        report["versions"]["qt_platform"] = QGuiApplication.platformName()
    except Exception as e:  # noqa: BLE001 - the report must say what broke, whatever it is
        report = {"frontend": "desktop", "ok": False, "error": f"{type(e).__name__}: {e}"}
    finally:
        settings_home.cleanup()
    text = json.dumps(report, ensure_ascii=False, indent=2)
    if sys.stdout is None:
        # A windowed Windows executable has no console; leave the report where it can be found.
        Path(tempfile.gettempdir(), "scandex-selftest.json").write_text(text, encoding="utf-8")
    else:
        print(text, flush=True)
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
