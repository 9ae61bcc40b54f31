"""Noticing damage done behind Scandex's back. SQLite checks only the pages a statement
reads, so a search could run happily on an index whose middle was overwritten. Every
state of the index file that Scandex verified (quick_check) or wrote itself is stamped
beside it; an open that finds the file in another state (changed by something else, or
left by a killed writer) verifies it before use."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

# quick_check reads the whole file (~1 GB/s from the page cache here): up to this size
# an open pays it when the file changed unseen; above it, the writes (index, remove)
# and `scandex status` still check every time, and reads notice damage they meet.
CHECK_ON_OPEN_LIMIT = 1 << 30
STAMP_SUFFIX = ".checked"


def file_state(index: Path) -> tuple[int, int] | None:
    """(size, mtime_ns) of the index file, or None when it does not exist."""
    try:
        stat = index.stat()
    except OSError:
        return None
    return stat.st_size, stat.st_mtime_ns


def _stamp_path(index: Path) -> Path:
    return index.with_name(index.name + STAMP_SUFFIX)


def stamped_state(index: Path) -> tuple[int, int] | None:
    """The last state of the file Scandex verified or wrote, if remembered."""
    try:
        data = json.loads(_stamp_path(index).read_text(encoding="utf-8"))
        return int(data["size"]), int(data["mtime_ns"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def needs_check(index: Path) -> bool:
    """True when the file is in a state nobody vouched for and small enough to check."""
    state = file_state(index)
    return (state is not None and state != stamped_state(index)
            and state[0] <= CHECK_ON_OPEN_LIMIT)


def stamp(index: Path) -> None:
    """Remember the file's current state as verified (best effort: a read-only library
    cannot remember, and then checks again next time)."""
    state = file_state(index)
    if state is None:
        return
    target = _stamp_path(index)
    temporary = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    with contextlib.suppress(OSError):
        temporary.write_text(json.dumps({"size": state[0], "mtime_ns": state[1]}),
                             encoding="utf-8")
        temporary.replace(target)
    with contextlib.suppress(OSError):
        temporary.unlink(missing_ok=True)
