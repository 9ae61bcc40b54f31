"""Where a library lives and what sits inside its folder: the one on-disk layout.

    <library>/index.sqlite (+ -wal, -shm)   the index
    <library>/index.lock                     held by the one writer
    <library>/sync.json                      the bucket it syncs with (no secrets)
    <library>/blobs/                         originals the library owns (uploads, pulls)
    <library>/cache/objects/<sha256>         bucket originals fetched for previews
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from engine.errors import LibraryBusy

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

    @contextlib.contextmanager
    def writer_lock(self) -> Iterator[None]:
        """One indexer per library at a time (LibraryBusy otherwise); readers never
        wait for it."""
        try:
            import fcntl
        except ImportError:  # Windows: SQLite's own locking still keeps the index safe
            yield
            return
        with self.lock.open("a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as e:
                raise LibraryBusy(f"another Scandex process is indexing into {self.root}; "
                                  "wait for it to finish") from e
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

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
