"""Rescans found as contents arrive (see engine/search/duplicates.py for the judging):
which contents were compared already, and the pairs judged the same paper."""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np  # loaded where used: keyword-only processes never need it


_LIVE = "(SELECT sha256 FROM documents WHERE state = 'indexed' AND sha256 IS NOT NULL)"


class DuplicateRecords:
    """The content_profiles and duplicate_pairs tables over the store's connection."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def missing(self, model_id: str) -> list[str]:
        """Indexed contents not compared yet under model_id, in a stable order."""
        return [str(r[0]) for r in self.db.execute(
            f"SELECT DISTINCT sha256 FROM {_LIVE} WHERE sha256 NOT IN "
            "(SELECT sha256 FROM content_profiles WHERE model_id = ?) ORDER BY sha256",
            (model_id,))]

    def checked(self, model_id: str) -> tuple[list[str], np.ndarray, list[str]]:
        """Indexed contents compared already: those with a mean vector (and the vectors,
        one row each) and those without one."""
        import numpy as np

        with_vectors: list[str] = []
        rows: list[np.ndarray] = []
        without: list[str] = []
        for sha, blob in self.db.execute(
                f"SELECT sha256, vector FROM content_profiles WHERE model_id = ? AND sha256 IN "
                f"{_LIVE} ORDER BY sha256", (model_id,)):
            if blob is None:
                without.append(str(sha))
            else:
                with_vectors.append(str(sha))
                rows.append(np.frombuffer(blob, dtype="<f4"))
        matrix = np.vstack(rows) if rows else np.zeros((0, 0), dtype=np.float32)
        return with_vectors, matrix, without

    def forget_gone(self) -> None:
        """Drop what is known of contents no longer indexed: if one comes back, it is
        compared afresh with everything that arrived meanwhile."""
        self.db.execute(f"DELETE FROM content_profiles WHERE sha256 NOT IN {_LIVE}")
        self.db.execute(f"DELETE FROM duplicate_pairs WHERE first NOT IN {_LIVE} "
                        f"OR second NOT IN {_LIVE}")

    def record(self, model_id: str, profiles: list[tuple[str, bytes | None]],
               pairs: list[tuple[str, str, float]]) -> None:
        """Contents just compared (sha256, mean vector) and the pairs found among them."""
        self.db.executemany(
            "INSERT INTO content_profiles (sha256, model_id, vector) VALUES (?, ?, ?) "
            "ON CONFLICT(sha256) DO UPDATE SET model_id = excluded.model_id, "
            "vector = excluded.vector", [(sha, model_id, blob) for sha, blob in profiles])
        self.db.executemany(
            "INSERT INTO duplicate_pairs (first, second, similarity) VALUES (?, ?, ?) "
            "ON CONFLICT(first, second) DO UPDATE SET similarity = excluded.similarity",
            [(min(a, b), max(a, b), similarity) for a, b, similarity in pairs])

    def pairs(self) -> list[tuple[str, str, float]]:
        """Every recorded pair whose two contents are both indexed."""
        return [(str(a), str(b), float(s)) for a, b, s in self.db.execute(
            f"SELECT first, second, similarity FROM duplicate_pairs WHERE first IN {_LIVE} "
            f"AND second IN {_LIVE}")]

    def weakest_reads(self, sha256s: list[str]) -> dict[str, float]:
        """Each content's lowest page confidence from OCR (contents read from a text
        layer, or from before confidences were kept, are left out)."""
        found: dict[str, float] = {}
        for sha in sha256s:
            row = self.db.execute("SELECT MIN(confidence) FROM pages WHERE sha256 = ? "
                                  "AND source = 'ocr'", (sha,)).fetchone()
            if row and row[0] is not None:
                found[sha] = float(row[0])
        return found

    def poor_reads(self, below: float) -> set[str]:
        """The contents with a page OCR read at less than below confidence."""
        return {str(r[0]) for r in self.db.execute(
            "SELECT sha256 FROM pages WHERE source = 'ocr' GROUP BY sha256 "
            "HAVING MIN(confidence) < ?", (below,))}

    def first_page_source(self, sha256: str) -> tuple[bytes, str, int, int] | None:
        """Where an indexed document of this content lies on disk (raw path, kind, the
        file's mtime when it was read, the first page's rotation), or None."""
        row = self.db.execute(
            "SELECT d.raw_path, d.kind, d.mtime_ns, COALESCE(p.rotation, 0) FROM documents d "
            "JOIN pages p ON p.sha256 = d.sha256 AND p.page_no = 1 "
            "WHERE d.sha256 = ? AND d.state = 'indexed' AND d.raw_path IS NOT NULL "
            "AND d.kind IS NOT NULL AND d.path NOT LIKE 's3://%' ORDER BY d.id LIMIT 1",
            (sha256,)).fetchone()
        if row is None:
            return None
        return bytes(row[0]), str(row[1]), int(row[2] or 0), int(row[3])
