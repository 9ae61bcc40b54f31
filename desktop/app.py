"""`scandex-desktop` / `python -m desktop`: open the main window."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence

os.environ.setdefault("OMP_THREAD_LIMIT", "1")


def main(argv: Sequence[str] | None = None) -> int:
    """Parse options, show the window at once, load the model in the background."""
    parser = argparse.ArgumentParser(prog="scandex-desktop", description="Scandex desktop app")
    parser.add_argument("--library", metavar="DIR", help="library folder")
    parser.add_argument("--quit-after", type=float, default=0,
                        help=argparse.SUPPRESS)  # seconds; for start-up measurements
    args = parser.parse_args(list(argv) if argv is not None else None)
    started = time.perf_counter()
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from desktop import create_main_window

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName("Scandex")
    app.setApplicationName("Scandex")
    window = create_main_window(args.library)
    window.show()
    shown = time.perf_counter() - started
    QTimer.singleShot(0, window.bridge.warm_up)
    QTimer.singleShot(0, window.check_dependencies)
    if args.quit_after:
        print(json.dumps({"window_shown_s": round(shown, 3), "window_shown_at": time.time()}),
              flush=True)
        QTimer.singleShot(int(args.quit_after * 1000), window.close)
    return int(app.exec())


if __name__ == "__main__":
    sys.exit(main())
