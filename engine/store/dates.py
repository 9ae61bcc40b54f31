"""The dates papers carry, one row per content once it was looked at (see
engine/ingest/dates.py for how they are found)."""

from __future__ import annotations

import json
import sqlite3
from typing import Any


class ContentDates:
    """The content_dates table over the store's connection."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def missing(self, limit: int = 500) -> list[str]:
        """Indexed contents not looked at yet."""
        return [str(r[0]) for r in self.db.execute(
            "SELECT DISTINCT d.sha256 FROM documents d WHERE d.state = 'indexed' "
            "AND d.sha256 IS NOT NULL AND d.sha256 NOT IN (SELECT sha256 FROM content_dates) "
            "LIMIT ?", (limit,))]

    def after(self, sha256: str, limit: int) -> list[str]:
        """Contents already looked at, in hash order after sha256 (a cursor)."""
        return [str(r[0]) for r in self.db.execute(
            "SELECT sha256 FROM content_dates WHERE sha256 > ? ORDER BY sha256 LIMIT ?",
            (sha256, limit))]

    def record(self, rows: list[tuple[str, str | None, list[dict[str, Any]]]]) -> None:
        """(sha256, best day or None, candidates) for contents just looked at."""
        self.db.executemany(
            "INSERT INTO content_dates (sha256, day, candidates) VALUES (?, ?, ?) "
            "ON CONFLICT(sha256) DO UPDATE SET day = excluded.day, "
            "candidates = excluded.candidates",
            [(sha, day, json.dumps(candidates)) for sha, day, candidates in rows])

    def days_of(self, sha256s: list[str]) -> dict[str, str]:
        """The best day of each content that has one (the hits of a search)."""
        wanted = list(dict.fromkeys(sha256s))[:500]
        return {str(sha): str(day) for sha, day in self.db.execute(
            f"SELECT sha256, day FROM content_dates WHERE day IS NOT NULL AND sha256 IN "
            f"({','.join('?' * len(wanted))})", wanted)} if wanted else {}

    def of(self, sha256: str) -> tuple[str | None, list[dict[str, Any]]]:
        """A content's best day and its candidates (None, []: none, or not looked at)."""
        row = self.db.execute("SELECT day, candidates FROM content_dates WHERE sha256 = ?",
                              (sha256,)).fetchone()
        if row is None:
            return None, []
        return (str(row[0]) if row[0] else None), list(json.loads(row[1]))
