"""Drops not yet indexed, remembered in the library folder: a drop that waits for another
process (or is still queued) when the app closes runs again at the next start. Qt-free.
Re-running one is cheap: the index skips the files a first run finished."""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

QUEUE_FILE = "desktop-queue.json"


@dataclass(frozen=True)
class PendingDrop:
    """Paths dropped together, and how."""

    id: str
    paths: list[str]
    retry_failed: bool = False


class PendingDrops:
    """The queue file of one library (nothing is remembered where it cannot be written)."""

    def __init__(self, library_dir: Path) -> None:
        self.path = library_dir / QUEUE_FILE

    def load(self) -> list[PendingDrop]:
        """What is waiting, oldest first; a damaged file counts as empty."""
        try:
            entries = json.loads(self.path.read_text(encoding="utf-8"))
            return [PendingDrop(str(e["id"]), [str(p) for p in e["paths"]],
                                bool(e.get("retry_failed", False))) for e in entries]
        except (OSError, ValueError, KeyError, TypeError):
            return []

    def add(self, paths: list[str], *, retry_failed: bool = False) -> PendingDrop:
        """Remember a drop; returns it (its id forgets it later)."""
        drop = PendingDrop(uuid.uuid4().hex, list(paths), retry_failed)
        self._save([*self.load(), drop])
        return drop

    def forget(self, drop_id: str) -> None:
        """A drop that ran (or that the user cancelled)."""
        self._save([d for d in self.load() if d.id != drop_id])

    def clear(self) -> None:
        """Forget every drop."""
        self._save([])

    def _save(self, drops: list[PendingDrop]) -> None:
        if not drops:
            with contextlib.suppress(OSError):
                self.path.unlink(missing_ok=True)
            return
        temporary = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        with contextlib.suppress(OSError):
            temporary.write_text(json.dumps([asdict(d) for d in drops]), encoding="utf-8")
            temporary.replace(self.path)
