"""Where the library lives and the defaults a run starts from."""

from __future__ import annotations

import os
from pathlib import Path

LIBRARY_ENV = "SCANDEX_LIBRARY"


def default_library_dir() -> Path:
    """SCANDEX_LIBRARY, else the platform's user data folder (e.g. ~/.local/share/scandex)."""
    configured = os.environ.get(LIBRARY_ENV)
    if configured:
        return Path(configured).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("scandex", appauthor=False))
