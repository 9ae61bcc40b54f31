"""What an SQLite error means for the user: a damaged index, a read-only library, a full
disk, a busy index; each as the LibraryError that says what to do next."""

from __future__ import annotations

import functools
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.errors import IndexDamaged, LibraryError, ReadOnlyLibrary


def translate_error(index: Path, error: sqlite3.Error) -> LibraryError:
    """The error met on the index file `index`, as a LibraryError."""
    text = str(error).lower()
    where = index.parent
    if any(hint in text for hint in ("malformed", "not a database", "file is encrypted")):
        return IndexDamaged(
            f"the index {index} is damaged ({error}). Your scans are untouched: "
            "restore index.sqlite from a backup, or pull it into a new library "
            f"('scandex --library NEW sync pull'), or move it aside and index again")
    cannot_write = index.is_file() and not (
        os.access(where, os.W_OK) and os.access(index, os.W_OK))
    if "readonly" in text or "read-only" in text or (
            "unable to open" in text and cannot_write):
        return ReadOnlyLibrary(
            f"the library {where} is read-only: searching works; to index or remove, "
            "make it writable or choose another library folder")
    if "disk is full" in text or "disk i/o" in text:
        return LibraryError(
            f"cannot write the index in {where} ({error}): free some disk space and run "
            "the same command again; finished documents are kept")
    if "locked" in text or "busy" in text:
        return LibraryError(f"the index {index} is busy ({error}); try again when "
                            "the other Scandex process has finished")
    if "unable to open" in text:
        return LibraryError(f"cannot open the index {index} ({error}); check that "
                            "the folder exists and is readable")
    return LibraryError(f"the index {index} cannot be used: {error}")


def translating_index_errors(method: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a method of an object holding a `store`: SQLite errors met while it runs
    become LibraryErrors that say what to do (a damaged index, a read-only folder, a
    full disk), never a traceback."""

    @functools.wraps(method)
    def guarded(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.DatabaseError as e:
            raise self.store.translate(e) from e

    return guarded
