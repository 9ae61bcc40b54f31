"""Watch folders: index files as they land, without babysitting.

One catch-up run, then: wake on a file-system event (watchdog, where the OS sends them)
or every poll interval (network shares send none), take a cheap listing of sizes and
modification times, and index only once the listing has stopped changing for the settle
time. So a half-written file is never read (it is still growing), a scanner's burst of
200 pages becomes one batch, and a move reuses the stored OCR by content hash (the
incremental index does that). A watched folder that vanishes (an unmounted share) keeps
its documents: the run skips it and says so until it is back.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.content import SCAN_EXTENSIONS
from engine.errors import LibraryBusy
from engine.ingest.discover import Candidate, walk
from engine.library import Library
from engine.models import IndexReport
from engine.progress import CancelToken, NullProgress, ProgressSink

Listing = dict[str, tuple[int, int]]  # path -> (size, mtime_ns)
# Between full listings a poll checks folder times (an entry added, removed or renamed)
# and the known files' own times (a file rewritten in place); a full listing still comes
# every so often, as a safety net.
FULL_LISTING_EVERY_S = 30.0
_SCAN_SUFFIXES = tuple(SCAN_EXTENSIONS)
NETWORK_FILESYSTEMS = frozenset({"nfs", "nfs4", "cifs", "smb3", "smbfs", "fuse.sshfs",
                                 "9p", "afs", "ceph", "glusterfs", "fuse.rclone",
                                 "fuse.s3fs", "davfs", "fuse.gvfsd-fuse"})


@dataclass
class WatchBatch:
    """What one indexing pass did (also reported when it only waited)."""

    report: IndexReport | None
    offline: list[str] = field(default_factory=list)  # watched roots not there now
    note: str | None = None  # e.g. waiting for another indexer


def listing(roots: list[Path], exclude: list[Path] | None = None) -> Listing:
    """Sizes and mtimes of the files under roots (hidden files and the excluded folders
    skipped, as the index does: a library inside a watched folder is not a change)."""
    found: Listing = {}
    for item in walk(roots, exclude=exclude):
        if isinstance(item, Candidate):
            found[str(item.path)] = (item.size, item.mtime_ns)
    return found


def folder_times(roots: list[Path], exclude: list[Path] | None = None) -> dict[str, int]:
    """The modification time of every folder under roots (hidden and excluded skipped);
    -1 for a root that is not there. A folder's time changes when an entry is added,
    removed or renamed in it."""
    skipped = {str(p.resolve()) for p in exclude or []}
    times: dict[str, int] = {}
    for root in roots:
        times[str(root)] = _mtime(str(root))
        if not root.is_dir():
            continue
        for folder, subfolders, _files in os.walk(root):
            subfolders[:] = [d for d in subfolders if not d.startswith(".")
                             and str(Path(folder, d).resolve()) not in skipped]
            times[folder] = _mtime(folder)
    return times


def unchanged_folders(times: dict[str, int]) -> bool:
    """True when every folder has the same time (or is still missing): a stat per folder,
    not per file, which is cheap on a big archive and on a network share."""
    return all(_mtime(folder) == when for folder, when in times.items())


def unchanged_files(known: Listing) -> bool:
    """True when every listed scan (by its name) still has its size and time: one stat
    per file, no folder listing (a rewrite in place changes no folder's time). Other
    files (an archive of notes beside the scans) wait for the full listing."""
    for path, seen in known.items():
        if not path.lower().endswith(_SCAN_SUFFIXES):
            continue
        try:
            stat = os.stat(path)  # noqa: PTH116 - 10k files a poll: no Path objects
        except OSError:
            return False
        if (stat.st_size, stat.st_mtime_ns) != seen:
            return False
    return True


def _mtime(path: str) -> int:
    try:
        return Path(path).stat().st_mtime_ns
    except OSError:
        return -1


def mount_type(path: Path, mounts: str = "/proc/mounts") -> str | None:
    """The file-system type path lives on (Linux), or None when unknown."""
    try:
        lines = Path(mounts).read_text().splitlines()
    except OSError:
        return None
    target = str(path.resolve())
    best, kind = "", None
    for line in lines:
        parts = line.split()
        if len(parts) < 3:
            continue
        point = parts[1].replace("\\040", " ")
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, kind = point, parts[2]
    return kind


def needs_polling(roots: list[Path]) -> bool:
    """True when events cannot be trusted: watchdog missing, or a root on a network share."""
    try:
        import watchdog.observers  # noqa: F401
    except ImportError:
        return True
    return any(mount_type(r) in NETWORK_FILESYSTEMS for r in roots)


class FolderWatcher:
    """Keeps a library in step with watched folders until cancelled."""

    def __init__(self, library: Library, roots: list[Path], *, poll_s: float | None = None,
                 settle_s: float = 2.0, lang: str = "eng",
                 on_batch: Callable[[WatchBatch], None] = lambda _b: None,
                 progress: ProgressSink | None = None, cancel: CancelToken | None = None,
                 index: Callable[[list[Path]], IndexReport] | None = None,
                 ) -> None:
        """index: how a batch is indexed (default: library.add with lang, progress and
        cancel); the desktop passes one that queues behind its own drops."""
        self.library = library
        self.roots = [Path(r).absolute() for r in roots]
        self.polling = poll_s is not None or needs_polling(self.roots)
        # Events wake the loop at once; the interval is then only a safety net.
        self.interval_s = poll_s if poll_s is not None else (2.0 if self.polling else 30.0)
        self.settle_s = settle_s
        self.lang = lang
        self.on_batch = on_batch
        self.progress = progress or NullProgress()
        self.cancel = cancel or CancelToken()
        self._woken = threading.Event()
        self._index_roots = index or (lambda present: self.library.add(
            present, lang=self.lang, progress=self.progress, cancel=self.cancel))

    def run(self) -> None:
        """Catch up, then follow changes until cancel. Returns when cancelled."""
        observer = None if self.polling else self._observe()
        try:
            excluded = [self.library.directory]
            # Folder times are taken before each listing: a change made while listing
            # then shows as a changed folder at the next look, never as nothing.
            folders, listed_at = folder_times(self.roots, excluded), time.monotonic()
            last = listing(self.roots, excluded)
            # A catch-up that must wait (another writer) is retried like any batch.
            changed_at: float | None = None if self._index() else time.monotonic()
            while not self.cancel.cancelled:
                woke = self._woken.wait(self.interval_s if changed_at is None
                                        else min(self.interval_s, self.settle_s))
                self._woken.clear()
                if self.cancel.cancelled:
                    break
                # An event always means a listing (a rewrite in place changes no folder
                # time); a quiet poll looks at folder times, then at the files' times.
                if (changed_at is None and not woke
                        and time.monotonic() - listed_at < FULL_LISTING_EVERY_S
                        and unchanged_folders(folders)
                        and (not self.polling or unchanged_files(last))):
                    continue
                folders, listed_at = folder_times(self.roots, excluded), time.monotonic()
                now = listing(self.roots, excluded)
                if now != last:
                    last, changed_at = now, time.monotonic()  # still moving: wait it out
                elif changed_at is not None and time.monotonic() - changed_at >= self.settle_s:
                    changed_at = None if self._index() else time.monotonic()
        finally:
            if observer is not None:
                observer.stop()
                observer.join(timeout=5)

    def stop(self) -> None:
        """Ask the loop to end (from a signal handler or another thread)."""
        self.cancel.cancel()
        self._woken.set()

    def _index(self) -> bool:
        """One incremental pass over the roots that are there; False when it must be
        retried (another process holds the writer lock)."""
        present = [r for r in self.roots if r.exists()]
        offline = [str(r) for r in self.roots if r not in present]
        if not present:
            self.on_batch(WatchBatch(None, offline, "no watched folder is there; waiting"))
            return True
        try:
            report = self._index_roots(present)
        except LibraryBusy as e:
            self.on_batch(WatchBatch(None, offline, f"{e}; trying again shortly"))
            return False
        self.on_batch(WatchBatch(report, offline))
        return True

    def _observe(self) -> Any:
        from watchdog.events import FileSystemEvent, FileSystemEventHandler
        from watchdog.observers import Observer

        woken = self._woken
        # The library's own writes (when it lies inside a watched folder) are no change.
        own = os.fsencode(self.library.directory.absolute()) + b"/"

        class Wake(FileSystemEventHandler):
            def on_any_event(self, event: FileSystemEvent) -> None:
                if event.event_type in ("opened", "closed_no_write"):
                    return
                if os.fsencode(event.src_path).startswith(own):
                    return
                woken.set()

        observer = Observer()
        for root in self.roots:
            folder = root if root.is_dir() else root.parent
            if folder.is_dir():
                observer.schedule(Wake(), str(folder), recursive=True)
        observer.daemon = True
        observer.start()
        return observer
