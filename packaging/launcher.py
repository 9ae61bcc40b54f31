"""Entry point of the packaged install: one script behind both executables.

PyInstaller builds `scandex` and `scandex-desktop` from this file (packaging/scandex.spec);
the executable's own name picks the CLI or the window, so both share one _internal folder.
"""

from __future__ import annotations

import multiprocessing
import sys
from pathlib import Path


def main() -> int:
    """Configure the bundle, then run the CLI or the desktop app."""
    # OCR workers are spawned processes of this same executable: let them start here.
    multiprocessing.freeze_support()
    from engine.backends.bundle import configure_environment, restore_library_path

    configure_environment()
    if getattr(sys, "frozen", False):
        restore_library_path()
    if Path(sys.executable).stem.lower() == "scandex-desktop":
        from desktop.app import main as desktop_main

        return desktop_main()
    from engine.cli.main import main as cli_main

    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
