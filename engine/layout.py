"""Where a library lives and what sits inside its folder: the one on-disk layout.

    <library>/index.sqlite (+ -wal, -shm)   the index
    <library>/index.lock                     held by the one writer
    <library>/sync.json                      the bucket it syncs with (no secrets)
    <library>/blobs/                         originals the library owns (uploads, pulls)
    <library>/cache/objects/<sha256>         bucket originals fetched for previews
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

LIBRARY_ENV = "SCANDEX_LIBRARY"


def default_library_dir() -> Path:
    """SCANDEX_LIBRARY, else the platform's user data folder (e.g. ~/.local/share/scandex)."""
    configured = os.environ.get(LIBRARY_ENV)
    if configured:
        return Path(configured).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("scandex", appauthor=False))


@dataclass(frozen=True)
class LibraryLayout:
    """The paths inside one library folder."""

    root: Path

    @property
    def index(self) -> Path:
        """The SQLite index."""
        return self.root / "index.sqlite"

    @property
    def lock(self) -> Path:
        """The writer lock file."""
        return self.root / "index.lock"

    @property
    def sync_config(self) -> Path:
        """The remembered sync remote."""
        return self.root / "sync.json"

    @property
    def blobs(self) -> Path:
        """Originals the library owns (uploads and pulled documents)."""
        return self.root / "blobs"

    def blob_path(self, sha256: str, name: str) -> Path:
        """Where an owned original with this content and (safe) name is kept."""
        return self.blobs / "sha256" / sha256[:2] / sha256 / name

    def upload_dir(self) -> Path:
        """Where uploads through the server land."""
        return self.blobs

    def cached_object(self, sha256: str) -> Path:
        """A bucket original fetched once for previews."""
        return self.root / "cache" / "objects" / sha256
