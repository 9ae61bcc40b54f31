"""A long-lived searching process (the desktop, the server) reads its library's files once
in the background, so its first queries do not wait for the disk.

At a million chunks the index is ~6.7 GB. After a reboot, or once other work has pushed
it out of the operating system's page cache, every query makes a few hundred random
reads of it (the candidates' vectors, the hits' pages, the words' postings): the first
pass of 120 queries measured semantic p95 95 ms there against 30 ms once the files were
cached (docs/benchmarks.md). Bringing the files in costs a few seconds of disk at that
size (little CPU: read_through) and nothing at the usual ones.

The files are read in order (the sketch every meaning query scans first), each only
while the running total stays within a share of the memory the system has available,
so a library larger than the machine's spare memory never evicts everything else.
SCANDEX_READ_AHEAD=0 turns it off (a library on a slow or metered network share).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

log = logging.getLogger(__name__)

# The share of available memory the warmed files may take together.
MEMORY_SHARE = 0.5
_BLOCK = 8 << 20


def available_memory() -> int | None:
    """Bytes the system could give without swapping (Linux: MemAvailable), or None."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def files_within_budget(paths: Sequence[Path], budget: int | None) -> list[Path]:
    """The leading files whose sizes together fit the budget (None: only the first,
    the one every query reads; the rest could be larger than the machine's memory)."""
    chosen: list[Path] = []
    total = 0
    for path in paths:
        try:
            size = path.stat().st_size
        except OSError:
            continue  # missing (no graph yet) or unreadable: nothing to warm
        if budget is None and chosen:
            break
        if budget is not None and total + size > budget:
            break
        chosen.append(path)
        total += size
    return chosen


def read_through(paths: Sequence[Path], stop: threading.Event | None = None) -> int:
    """Bring each file into the page cache; the bytes asked for.

    Linux: a read-ahead hint per block (posix_fadvise WILLNEED, one call per block since
    the kernel caps one call at its read-ahead window): the kernel reads without copying
    to us, 6.7 GB in 2.5 s for 0.4 s of CPU here, where reading them took 6.8 s of one
    core. Elsewhere the files are read and the bytes dropped."""
    advise = getattr(os, "posix_fadvise", None)
    buffer = None if advise is not None else bytearray(_BLOCK)
    done = 0
    for path in paths:
        try:
            with path.open("rb", buffering=0) as handle:
                size = os.fstat(handle.fileno()).st_size
                for offset in range(0, size, _BLOCK):
                    if stop is not None and stop.is_set():
                        return done
                    if advise is not None:
                        advise(handle.fileno(), offset, _BLOCK, os.POSIX_FADV_WILLNEED)
                        done += min(_BLOCK, size - offset)
                    else:
                        done += handle.readinto(buffer) or 0  # type: ignore[arg-type]
                if advise is not None:
                    # The hints only start the reads: a byte from each block's end waits
                    # for them, so the caller knows when the file is in memory.
                    for offset in range(_BLOCK - 1, size + _BLOCK - 1, _BLOCK):
                        if stop is not None and stop.is_set():
                            return done
                        os.pread(handle.fileno(), 1, min(offset, size - 1))
        except OSError as e:  # a file replaced or removed meanwhile: warming is a hint
            log.debug("not warming %s: %s", path, e)
    return done


def _lower_this_threads_priority() -> None:
    """Let queries have the CPU first (Linux gives each thread its own nice value)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)


def warm_in_background(paths: Sequence[Path], stop: threading.Event | None = None
                       ) -> threading.Thread:
    """Start reading the files that fit MEMORY_SHARE of available memory on a daemon
    thread; join it to know they are read."""
    available = available_memory()
    chosen = files_within_budget(paths, None if available is None
                                 else int(available * MEMORY_SHARE))
    if os.environ.get("SCANDEX_READ_AHEAD", "1").strip() == "0":
        chosen = []  # e.g. a library on a slow network share: its users' choice

    def warm() -> None:
        _lower_this_threads_priority()
        read_through(chosen, stop)

    thread = threading.Thread(target=warm, name="scandex-warm-page-cache", daemon=True)
    thread.start()
    return thread
