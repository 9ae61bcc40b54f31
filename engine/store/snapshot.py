"""Index snapshots: a consistent copy of a live index (what sync uploads), and the
read-only view of a downloaded one that pull merges from."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from engine.errors import SyncError


def take_snapshot(index: Path, target: Path) -> None:
    """A consistent copy of the index with SQLite's backup API (safe while indexing runs)."""
    source = sqlite3.connect(f"{index.as_uri()}?mode=ro", uri=True)
    dest = sqlite3.connect(target)
    try:
        source.backup(dest)
    finally:
        dest.close()
        source.close()


class Snapshot:
    """A downloaded snapshot, opened read-only; its rows go to Store.import_content."""

    def __init__(self, db: sqlite3.Connection, name: str) -> None:
        self._db = db
        self._name = name

    def indexed_contents(self) -> list[tuple[str, str, str, int]]:
        """(sha256, kind, created_at, size) of every content an indexed document holds."""
        return [(str(s), str(k), str(c), int(n)) for s, k, c, n in self._read(
            "SELECT c.sha256, c.kind, c.created_at, d.size FROM contents c "
            "JOIN documents d ON d.sha256 = c.sha256 AND d.state = 'indexed' "
            "GROUP BY c.sha256")]

    def pages(self, sha256: str) -> list[tuple[Any, ...]]:
        """A content's page rows, in Store.import_content's column order."""
        return self._read(
            "SELECT page_no, width, height, source, rotation, words FROM pages "
            "WHERE sha256 = ? ORDER BY page_no", (sha256,))

    def chunks(self, sha256: str) -> list[tuple[Any, ...]]:
        """A content's chunk rows, in Store.import_content's column order."""
        return self._read(
            "SELECT page_no, ordinal, word_start, word_end, text, model_id, vector "
            "FROM chunks WHERE sha256 = ? ORDER BY id", (sha256,))

    def _read(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        try:
            return list(self._db.execute(sql, params).fetchall())
        except sqlite3.DatabaseError as e:
            raise SyncError(f"the bucket's index snapshot {self._name} cannot be read ({e}); "
                            "push again from a healthy library to replace it") from e


@contextmanager
def open_snapshot(path: Path, name: str) -> Iterator[Snapshot]:
    """A downloaded snapshot file, read-only, closed when the block ends."""
    try:
        db = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    except sqlite3.DatabaseError as e:
        raise SyncError(f"the bucket's index snapshot {name} cannot be opened ({e}); "
                        "push again from a healthy library to replace it") from e
    try:
        yield Snapshot(db, name)
    finally:
        db.close()
