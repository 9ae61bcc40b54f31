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
import time
from collections.abc import Callable, Iterator
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
    def writer_lock(self, wait_s: float = 0.0,
                    cancelled: Callable[[], bool] = lambda: False) -> Iterator[None]:
        """One indexer per library at a time; readers never wait for it. A second
        writer waits up to wait_s (looking every quarter second, and giving up when
        cancelled), then raises LibraryBusy."""
        try:
            import fcntl
        except ImportError:  # Windows: SQLite's own locking still keeps the index safe
            yield
            return
        deadline = time.monotonic() + wait_s
        with self.lock.open("a+") as handle:
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError as e:
                    if time.monotonic() >= deadline or cancelled():
                        raise LibraryBusy(f"another Scandex process is indexing into "
                                          f"{self.root}; wait for it to finish") from e
                    time.sleep(0.25)
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

    def cached_copy(self, sha256: str, name: str) -> Path:
        """A copy of an original deleted from disk, fetched from the sync bucket to show
        or open (its own name kept, so the desktop opens it with the right viewer)."""
        return self.root / "cache" / "originals" / sha256 / name

    def cached_object(self, sha256: str) -> Path:
        """A bucket original fetched once for previews."""
        return self.root / "cache" / "objects" / sha256

    def files_searches_read(self) -> list[Path]:
        """The files every search reads, most read first: the vector sketches (scanned
        whole by meaning queries), the index, then the vector graphs (filtered queries)."""
        return [*sorted(self.root.glob("vectors-*.sketch")), self.index,
                *sorted(self.root.glob("vectors-*.usearch"))]
