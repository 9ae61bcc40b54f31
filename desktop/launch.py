"""`make run`: the desktop app when a display is present, else the engine's headless demo."""

from __future__ import annotations

import os
import sys

from engine.cli.demo import demo_library_dir, has_display, run_demo


def main() -> int:
    """Open the app on a display; otherwise index the samples and print searches."""
    if has_display() and os.environ.get("SCANDEX_HEADLESS") != "1":
        try:
            from desktop.app import main as desktop_main
        except ImportError as e:
            print(f"The desktop app cannot start here ({e}); running the headless demo.")
        else:
            return int(desktop_main([]))
    return run_demo(demo_library_dir())


if __name__ == "__main__":
    sys.exit(main())
