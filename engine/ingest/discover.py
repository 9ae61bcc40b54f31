"""Find the files to index: walk folders, sniff types by content, hash content."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Candidate:
    """A file found by the walk, before it is read."""

    path: Path
    size: int
    mtime_ns: int
    explicit: bool  # named by the user rather than found in a folder


@dataclass(frozen=True)
class WalkProblem:
    """A path that could not be walked (unreadable folder, broken link...)."""

    path: Path
    error: str


def _is_hidden(name: str) -> bool:
    return name.startswith(".")


def walk(
    roots: list[Path], *, exclude: list[Path] | None = None
) -> Iterator[Candidate | WalkProblem]:
    """Yield the files under roots, depth first, sorted by name.

    Hidden files and folders and the excluded folders (the library itself) are
    skipped; symlinked folders are followed once, so link loops end.
    """
    excluded = {p.resolve() for p in (exclude or [])}
    seen_dirs: set[tuple[int, int]] = set()
    for root in roots:
        try:
            st = root.stat()
        except OSError as e:
            yield WalkProblem(root, f"cannot read: {e.strerror or e}")
            continue
        if stat.S_ISDIR(st.st_mode):
            yield from _walk_dir(root, excluded, seen_dirs)
        elif stat.S_ISREG(st.st_mode):
            yield Candidate(root, st.st_size, st.st_mtime_ns, explicit=True)
        else:
            yield WalkProblem(root, "not a regular file or folder")


def _walk_dir(
    folder: Path, excluded: set[Path], seen_dirs: set[tuple[int, int]]
) -> Iterator[Candidate | WalkProblem]:
    try:
        st = folder.stat()
    except OSError as e:
        yield WalkProblem(folder, f"cannot read folder: {e.strerror or e}")
        return
    key = (st.st_dev, st.st_ino)
    if key in seen_dirs or folder.resolve() in excluded:
        return
    seen_dirs.add(key)
    try:
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError as e:
        yield WalkProblem(folder, f"cannot list folder: {e.strerror or e}")
        return
    for entry in entries:
        if _is_hidden(entry.name):
            continue
        path = Path(entry.path)
        try:
            est = entry.stat(follow_symlinks=True)
        except OSError as e:
            if entry.is_symlink():
                continue  # a dangling link is no document
            yield WalkProblem(path, f"cannot read: {e.strerror or e}")
            continue
        if stat.S_ISDIR(est.st_mode):
            yield from _walk_dir(path, excluded, seen_dirs)
        elif stat.S_ISREG(est.st_mode):
            yield Candidate(path, est.st_size, est.st_mtime_ns, explicit=False)
