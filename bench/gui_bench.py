"""GUI responsiveness: time to a visible window, and the longest event-loop stall while
50 pages index with the real Tesseract and the real model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path


def bench_gui(work: Path, pages: int = 50) -> None:
    """Print both figures beside their targets."""
    env = {**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen"),
           "SCANDEX_LIBRARY": str(work / "startup-lib"), "XDG_CONFIG_HOME": str(work / "cfg")}
    shown = []
    for _ in range(3):
        launched = time.time()
        out = subprocess.run([sys.executable, "-m", "desktop", "--quit-after", "0.2"],
                             env=env, capture_output=True, text=True, timeout=120)
        report = json.loads(out.stdout.strip().splitlines()[-1])
        shown.append(report["window_shown_at"] - launched)
    print(f"window visible after launch (process start to show(), best of 3): "
          f"{min(shown):.2f} s, worst {max(shown):.2f} s — target <= 1.5 s")
    warm, stall = _stall_during_indexing(work, pages)
    print(f"longest GUI event-loop stall while the model loads in the background: "
          f"{warm * 1000:.0f} ms")
    print(f"longest GUI event-loop stall while indexing {pages} pages: {stall * 1000:.0f} ms "
          "— target <= 100 ms")


def _stall_during_indexing(work: Path, pages: int) -> tuple[float, float]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ["XDG_CONFIG_HOME"] = str(work / "cfg")
    from PySide6.QtCore import QElapsedTimer, QTimer
    from PySide6.QtWidgets import QApplication

    from desktop import create_main_window
    from tests.scans import save_text_page

    docs = work / "pages"
    docs.mkdir(parents=True)
    for i in range(pages):
        save_text_page(docs / f"p{i:03}.png", [f"Page {i} of the responsiveness run",
                                               "Quarterly figures and meeting notes"])
    app = QApplication.instance() or QApplication([])
    window = create_main_window(work / "gui-lib")
    window.show()
    clock = QElapsedTimer()
    clock.start()
    last = [clock.elapsed()]
    worst = [0]

    def tick() -> None:
        now = clock.elapsed()
        worst[0] = max(worst[0], now - last[0] - 10)
        last[0] = now

    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(tick)
    done = [False]
    ready = [False]
    window.bridge.modelReady.connect(lambda: ready.__setitem__(0, True))
    window.bridge.indexFinished.connect(lambda _r: done.__setitem__(0, True))
    window.bridge.indexFailed.connect(lambda _e: done.__setitem__(0, True))
    last[0] = clock.elapsed()
    timer.start()
    window.bridge.warm_up()
    _spin(app, lambda: ready[0])
    warm = worst[0]
    worst[0] = 0
    last[0] = clock.elapsed()
    window.add_paths([str(docs)])
    _spin(app, lambda: done[0])
    timer.stop()
    window.close()
    return warm / 1000, worst[0] / 1000


def _spin(app: object, until: object) -> None:
    """Run the event loop (as app.exec would) until the condition holds."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    poll = QTimer()
    poll.setInterval(20)
    poll.timeout.connect(lambda: loop.quit() if until() else None)  # type: ignore[operator]
    poll.start()
    loop.exec()
    poll.stop()
