"""Screenshots of the main views for the README (run by `make screenshots` under Xvfb)."""

from __future__ import annotations

import os
import sys
import tempfile
from importlib.resources import files
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication

OUT = Path(os.environ.get("SCANDEX_SCREENSHOTS_DIR")
           or Path(__file__).resolve().parent.parent / "docs" / "screenshots")


def spin(until: object, timeout_s: float = 300) -> None:
    """Run the event loop until the condition holds."""
    loop = QEventLoop()
    poll = QTimer()
    poll.setInterval(50)
    poll.timeout.connect(lambda: loop.quit() if until() else None)  # type: ignore[operator]
    QTimer.singleShot(int(timeout_s * 1000), loop.quit)
    poll.start()
    loop.exec()
    poll.stop()


def main() -> int:
    """Index the samples, search, and grab the window in each view."""
    app = QApplication.instance() or QApplication(sys.argv[:1])  # noqa: F841 - kept alive
    from desktop import create_main_window

    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        window = create_main_window(Path(tmp) / "library")
        window.resize(1280, 800)
        window.show()
        window.grab().save(str(OUT / "empty.png"))
        samples = files("resources") / "samples"
        done = [False]
        window.bridge.indexFinished.connect(lambda _r: done.__setitem__(0, True))
        window.add_paths([str(samples)])
        spin(lambda: done[0])
        window.search_input.setText("monthly rent deposit")
        window.run_search()
        spin(lambda: window.preview.highlight_count() > 0, 120)
        spin(lambda: False, 0.5)
        window.grab().save(str(OUT / "search.png"))
        window.search_mode.setCurrentIndex(window.search_mode.findData("semantic"))
        window.search_input.setText("medicine for an infection")
        window.run_search()
        spin(lambda: window.results_model.rowCount() > 0 and window.preview.highlight_count(), 120)
        spin(lambda: False, 0.5)
        window.grab().save(str(OUT / "meaning.png"))
        window.tabs.setCurrentIndex(1)
        spin(lambda: False, 0.5)
        window.grab().save(str(OUT / "library.png"))
        window.close()
    _intelligence_shots()
    print(f"screenshots written to {OUT}")
    return 0


def _intelligence_shots() -> None:
    """The Duplicates view and the Map, on the libraries `python -m bench intelligence`
    builds (real FUNSD forms and their rescans; four kinds of scan tagged by kind)."""
    import shutil

    from desktop import create_main_window

    cache = Path(__file__).resolve().parent.parent / ".cache" / "bench-intelligence"
    if not (cache / "library").exists() or not (cache / "library-kinds").exists():
        print("no bench intelligence libraries: run python -m bench intelligence first")
        return
    with tempfile.TemporaryDirectory() as tmp:
        for name, shot in (("library", "duplicates.png"), ("library-kinds", "map.png")):
            shutil.copytree(cache / name, Path(tmp) / name)
            window = create_main_window(Path(tmp) / name)
            window.show()
            dialog: Any = window.show_duplicates() if shot == "duplicates.png" else \
                window.show_map()
            if shot == "duplicates.png":
                spin(lambda d=dialog: bool(d.groups), 120)
                dialog.tree.setCurrentItem(dialog.tree.topLevelItem(3))
                spin(lambda d=dialog: all(not label.pixmap().isNull() for label in d.pages), 60)
            else:
                spin(lambda d=dialog: bool(d.points), 120)
            spin(lambda: False, 0.5)
            dialog.grab().save(str(OUT / shot))
            dialog.close()
            window.close()


if __name__ == "__main__":
    sys.exit(main())
