"""A content's first page image, read again from its file on disk, for the rescan
judge's image evidence (engine/search/page_likeness.py)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.errors import ScanError
from engine.ingest.readers.dispatch import load_page
from engine.models import FileKind
from engine.store.db import Store


def first_page_reader(store: Store) -> Callable[[str], Any | None]:
    """sha256 -> the first page (PIL, turned as it was read), or None when no file of that
    content is on this machine unchanged (synced from elsewhere, moved, edited since):
    the judge then goes by the text alone."""

    def read(sha256: str) -> Any | None:
        source = store.pairs.first_page_source(sha256)
        if source is None:
            return None
        raw, kind, mtime_ns, rotation = source
        path = Path(os.fsdecode(raw))
        try:
            if path.stat().st_mtime_ns != mtime_ns:
                return None  # changed since it was read: not the content we hold
            image = load_page(path, FileKind(kind), 1)
        except (OSError, ValueError, ScanError):
            return None
        return image.rotate(-rotation, expand=True) if rotation else image

    return read
