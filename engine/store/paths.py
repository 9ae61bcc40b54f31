"""How the index names files: a document is its path's exact bytes (any bytes a file
system allows), shown as UTF-8 text with \\xNN escapes for the bytes that are not."""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path


def db_path_text(path: Path | str | bytes) -> tuple[str, bytes]:
    """A path as display text (always valid UTF-8) and its exact bytes."""
    raw = os.fsencode(path)
    return raw.decode("utf-8", "backslashreplace"), raw


@dataclass(frozen=True)
class FileRow:
    """What the index remembers of a file to skip it when unchanged."""

    id: int
    path: str
    size: int
    mtime_ns: int
    state: str
    sha256: str | None
    etag: str | None = None


class DocumentPaths:
    """Finding documents by path. The display text is not a key: a name that is not
    UTF-8 and a name spelling its escapes show alike, so lookups go by bytes."""

    db: sqlite3.Connection

    def file_rows(self) -> dict[bytes, FileRow]:
        """Every document keyed by its path's exact bytes."""
        return {
            bytes(row[0]): FileRow(*row[1:])
            for row in self.db.execute(
                "SELECT raw_path, id, path, size, mtime_ns, state, sha256, etag FROM documents"
            )
        }

    def document_id_by_path(self, path: str | bytes) -> int | None:
        """The id of the document at a path: its exact bytes, else its display text
        when exactly one document shows that text."""
        raw = os.fsencode(path)
        row = self.db.execute("SELECT id FROM documents WHERE raw_path = ?", (raw,)).fetchone()
        if row or isinstance(path, bytes) or _undecodable(path):
            return int(row[0]) if row else None
        rows = self.db.execute("SELECT id FROM documents WHERE path = ? LIMIT 2",
                               (path,)).fetchall()
        return int(rows[0][0]) if len(rows) == 1 else None

    def ids_under(self, prefix: str | bytes) -> list[int]:
        """Ids of documents whose path is prefix or lies below it (compared as bytes,
        so a folder whose name is not UTF-8 holds exactly its own files)."""
        raw = os.fsencode(prefix)
        sep = b"/" if raw.startswith(b"s3://") else os.fsencode(os.sep)
        folder = raw.rstrip(sep) + sep
        return [
            int(r[0])
            for r in self.db.execute(
                "SELECT id FROM documents WHERE raw_path = ? OR substr(raw_path, 1, ?) = ?",
                (raw, len(folder), folder),
            )
        ]

    def raw_path(self, doc_id: int) -> bytes | None:
        """The exact bytes of a document's path."""
        row = self.db.execute("SELECT raw_path FROM documents WHERE id = ?", (doc_id,)).fetchone()
        return bytes(row[0]) if row else None


def _undecodable(text: str) -> bool:
    """True for text that holds bytes that were not UTF-8 (surrogate escapes): it names
    exact bytes and is never a display text."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False
