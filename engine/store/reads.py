"""The reads search makes: FTS5 ranking, vocabulary, vectors, the documents behind hits,
and the filters as SQL. Every statement runs under the caller's time limit, so a
pathological query ends with a clear error instead of holding the library."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from engine.errors import QueryTooSlow, UsageError
from engine.models import SearchFilters

if TYPE_CHECKING:
    import numpy as np  # loaded where used: keyword-only processes never need it

# SQLite calls the handler every this many virtual-machine steps (~0.1-1 ms of work).
_HANDLER_EVERY = 10_000
_NS_MAX = 2**63 - 1

DocumentRow = tuple[int, str, str, str]  # id, path, kind, sha256
RankedRow = tuple[int, str, int, float]  # chunk id, sha256, page, score (lower: better)


# A hit's passage: (word start, word end, page width, page height, page words JSON).
Passage = tuple[int, int, int, int, str]

def _leading_varint(block: bytes) -> int | None:
    """The SQLite varint (big-endian 7-bit groups, a ninth byte of 8) at block's start."""
    value = 0
    for i, byte in enumerate(block[:9]):
        if i == 8:
            return (value << 8) | byte
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            return value
    return None


class IndexReads:
    """Read-only queries over one connection, each bounded by `time_limit`."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self._deadline = threading.local()
        db.set_progress_handler(self._over_time, _HANDLER_EVERY)

    def _over_time(self) -> int:
        deadline = getattr(self._deadline, "at", None)
        return 1 if deadline is not None and time.monotonic() > deadline else 0

    @contextmanager
    def time_limit(self, seconds: float | None) -> Iterator[None]:
        """Statements run by this thread inside the block stop after `seconds`
        (QueryTooSlow); None: no limit. The limit is per thread, so a writer on the
        same connection from another thread is never cut short."""
        if seconds is None:
            yield
            return
        previous = getattr(self._deadline, "at", None)
        self._deadline.at = time.monotonic() + seconds
        try:
            yield
        except sqlite3.OperationalError as e:
            if "interrupted" in str(e):
                raise QueryTooSlow(
                    f"the search was stopped after {seconds:g} s; use rarer words, "
                    "fewer prefix* words, or narrow it with --type/--path/--since") from e
            raise
        finally:
            self._deadline.at = previous

    # -- words ----------------------------------------------------------------

    @contextmanager
    def unbounded(self) -> Iterator[None]:
        """Statements of this thread inside the block are not bound by the query's time
        limit: loading what every query needs (the words, the vector index, the
        documents) takes seconds on a big index read from a cold disk, which is no fault
        of the first query that needed it."""
        previous = getattr(self._deadline, "at", None)
        self._deadline.at = None
        try:
            yield
        finally:
            self._deadline.at = previous

    def vocabulary(self) -> list[tuple[str, int]]:
        """Every indexed word and the number of chunks holding it (seconds at 1M chunks:
        engine/store/vocabulary.py keeps the result)."""
        with self.unbounded():
            return [(str(term), int(doc_count)) for term, doc_count
                    in self.db.execute("SELECT term, doc FROM chunks_vocab")]

    def chunks_with_word(self, word: str) -> int:
        """How many chunks hold word (0: the index has never seen it)."""
        row = self.db.execute("SELECT doc FROM chunks_vocab WHERE term = ?", (word,)).fetchone()
        return int(row[0]) if row else 0

    def chunk_count(self) -> int:
        """How many chunks the index holds: FTS5 keeps the count in its averages record
        (rowid 1 of its data table, a varint first), which reads at once where COUNT(*)
        walks an index (2.3 s at 1M chunks from a cold disk). COUNT(*) when that record
        is missing or unreadable."""
        row = self.db.execute("SELECT block FROM chunks_fts_data WHERE id = 1").fetchone()
        counted = _leading_varint(bytes(row[0])) if row and row[0] else None
        if counted is not None:
            return counted
        return int(self.db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0])

    def chunk_texts(self, ids: Sequence[int]) -> dict[int, str]:
        """The text of each chunk id."""
        texts: dict[int, str] = {}
        for start in range(0, len(ids), 500):
            batch = list(ids[start : start + 500])
            texts.update((int(i), str(t)) for i, t in self.db.execute(
                f"SELECT id, text FROM chunks WHERE id IN ({','.join('?' * len(batch))})",
                batch))
        return texts

    def chunk_texts_after(self, after: int, limit: int) -> list[tuple[int, str]]:
        """(id, text) of up to limit chunks with ids above after, by id."""
        return [(int(i), str(t)) for i, t in self.db.execute(
            "SELECT id, text FROM chunks WHERE id > ? ORDER BY id LIMIT ?", (after, limit))]

    def chunk_id_range(self) -> tuple[int, int]:
        """The lowest and highest chunk id (0, 0: none)."""
        # Two statements: SQLite answers MIN or MAX alone from the b-tree's ends, but
        # both in one statement by reading every row (277 ms at a million chunks).
        low = self.db.execute("SELECT MIN(id) FROM chunks").fetchone()[0]
        high = self.db.execute("SELECT MAX(id) FROM chunks").fetchone()[0]
        return int(low or 0), int(high or 0)

    def ranked_chunks(self, match: str, filters: SearchFilters, limit: int,
                      min_id: int | None = None) -> list[RankedRow]:
        """bm25's best `limit` chunks for an FTS5 MATCH expression, within filters (and
        with ids from min_id on: FTS5 seeks there without reading the rows before)."""
        args: list[Any] = [match]
        window = ""
        if min_id is not None:
            window = "AND chunks_fts.rowid >= ? "
            args.append(min_id)
        if filters.active:
            where, params = filter_clause(filters)
            sql = (
                "SELECT c.id, c.sha256, c.page_no, bm25(chunks_fts) AS rank "
                "FROM chunks_fts JOIN chunks c ON c.id = chunks_fts.rowid "
                f"WHERE chunks_fts MATCH ? {window}"
                f"AND c.sha256 IN (SELECT d.sha256 FROM documents d WHERE {where}) "
                "ORDER BY rank LIMIT ?"
            )
            args.extend(params)
        else:
            # Rank inside FTS5 first, then join only the candidates to their chunks.
            # bm25() by name, not the rank column: the same order, ~40 % less time (a
            # window of 18k matches: 81 ms instead of 142).
            sql = (
                "SELECT c.id, c.sha256, c.page_no, f.score FROM ("
                f"SELECT rowid, bm25(chunks_fts) AS score FROM chunks_fts WHERE chunks_fts "
                f"MATCH ? {window}ORDER BY score LIMIT ?) f JOIN chunks c ON c.id = f.rowid "
                "ORDER BY f.score"
            )
        args.append(limit)
        try:
            rows = self.db.execute(sql, args).fetchall()
        except sqlite3.OperationalError as e:
            if "interrupted" in str(e):
                raise
            raise UsageError(f"cannot search for that: {e}") from e
        return [(int(i), str(s), int(p), float(r)) for i, s, p, r in rows]

    # -- vectors ----------------------------------------------------------------

    def vectors_after(self, model_id: str, after: int) -> list[tuple[int, str, int, bytes]]:
        """(id, sha256, page, float32 blob) of model_id's vectors with ids above after."""
        return [(int(i), str(s), int(p), bytes(v)) for i, s, p, v in self.db.execute(
            "SELECT id, sha256, page_no, vector FROM chunks "
            "WHERE model_id = ? AND vector IS NOT NULL AND id > ? ORDER BY id",
            (model_id, after))]

    def vector_ids(self, model_id: str, after: int = -1) -> np.ndarray:
        """The ids (above after) of every chunk holding a vector of model_id, ascending
        (int64)."""
        cursor = self.db.execute(
            "SELECT id FROM chunks WHERE model_id = ? AND vector IS NOT NULL AND id > ? "
            "ORDER BY id", (model_id, after))
        import numpy as np

        return np.fromiter((r[0] for r in cursor), dtype=np.int64)

    def vectors_by_id(self, model_id: str,
                      ids: Sequence[int]) -> list[tuple[int, str, int, bytes]]:
        """(id, sha256, page, float32 blob) of those ids that still hold a vector of
        model_id (a removed chunk is simply missing), by id."""
        rows: list[tuple[int, str, int, bytes]] = []
        for start in range(0, len(ids), 500):
            batch = [int(i) for i in ids[start : start + 500]]
            rows.extend((int(i), str(s), int(p), bytes(v)) for i, s, p, v in self.db.execute(
                "SELECT id, sha256, page_no, vector FROM chunks WHERE model_id = ? "
                f"AND vector IS NOT NULL AND id IN ({','.join('?' * len(batch))})",
                [model_id, *batch]))
        rows.sort()
        return rows

    def chunk_places(self, model_id: str, ids: Sequence[int]) -> list[tuple[int, str, int]]:
        """(id, sha256, page) of those ids that still hold a vector of model_id, as
        vectors_by_id without reading the vectors."""
        rows: list[tuple[int, str, int]] = []
        for start in range(0, len(ids), 500):
            batch = [int(i) for i in ids[start : start + 500]]
            rows.extend((int(i), str(s), int(p)) for i, s, p in self.db.execute(
                "SELECT id, sha256, page_no FROM chunks WHERE model_id = ? "
                f"AND vector IS NOT NULL AND id IN ({','.join('?' * len(batch))})",
                [model_id, *batch]))
        return rows

    def content_vectors(self, sha256: str, model_id: str) -> list[bytes]:
        """The float32 blobs of one content's chunk vectors."""
        return [bytes(r[0]) for r in self.db.execute(
            "SELECT vector FROM chunks WHERE sha256 = ? AND model_id = ? "
            "AND vector IS NOT NULL ORDER BY id", (sha256, model_id))]

    def content_chunks(self, model_id: str, sha256s: list[str] | None = None,
                       ) -> Iterator[tuple[str, int, str, bytes | None]]:
        """(sha256, pages, chunk text, float32 blob or None) of every indexed content's
        chunks (or those of sha256s), grouped by content, in reading order."""
        chosen = ""
        if sha256s is not None:
            self.db.execute("CREATE TEMP TABLE IF NOT EXISTS chosen_contents "
                            "(sha256 TEXT PRIMARY KEY)")
            self.db.execute("DELETE FROM chosen_contents")
            self.db.executemany("INSERT OR IGNORE INTO chosen_contents VALUES (?)",
                                [(sha,) for sha in sha256s])
            chosen = "AND c.sha256 IN (SELECT sha256 FROM chosen_contents) "
        rows: Iterable[tuple[Any, ...]] = self.db.execute(
                "SELECT c.sha256, n.pages, c.text, c.vector, c.model_id FROM chunks c "
                "JOIN contents n ON n.sha256 = c.sha256 "
                "WHERE c.sha256 IN (SELECT sha256 FROM documents WHERE state = 'indexed') "
                f"{chosen}ORDER BY c.sha256, c.page_no, c.ordinal")
        if sha256s is not None:
            rows = list(rows)  # the chosen table is refilled by the next call
        for sha, pages, text, vector, model in rows:
            yield (str(sha), int(pages), str(text),
                   bytes(vector) if vector is not None and model == model_id else None)

    def opening_texts(self) -> dict[str, str]:
        """Each content's first chunk text (for labels)."""
        return {str(sha): str(text) for sha, text, _ in self.db.execute(
            "SELECT sha256, text, MIN(id) FROM chunks GROUP BY sha256")}

    def chunk_ids_within(self, filters: SearchFilters, model_id: str) -> np.ndarray:
        """The ids of model_id's chunks in documents within filters, ascending."""
        where, params = filter_clause(filters)
        cursor = self.db.execute(
            "SELECT id FROM chunks WHERE model_id = ? AND vector IS NOT NULL AND sha256 IN "
            f"(SELECT d.sha256 FROM documents d WHERE {where}) ORDER BY id",
            [model_id, *params])
        import numpy as np

        return np.fromiter((r[0] for r in cursor), dtype=np.int64)

    # -- documents ----------------------------------------------------------------

    def allowed_contents(self, filters: SearchFilters) -> set[str]:
        """The content hashes of indexed documents within filters."""
        where, params = filter_clause(filters)
        return {str(r[0]) for r in self.db.execute(
            f"SELECT DISTINCT d.sha256 FROM documents d WHERE {where}", params)}

    def documents_with(self, shas: Sequence[str], filters: SearchFilters) -> list[DocumentRow]:
        """Indexed documents within filters holding one of the contents, by id."""
        where, params = filter_clause(filters)
        rows: list[DocumentRow] = []
        for start in range(0, len(shas), 500):
            batch = list(shas[start : start + 500])
            rows.extend((int(i), str(p), str(k), str(s)) for i, p, k, s in self.db.execute(
                f"SELECT d.id, d.path, d.kind, d.sha256 FROM documents d WHERE {where} "
                f"AND d.sha256 IN ({','.join('?' * len(batch))}) ORDER BY d.id",
                [*params, *batch]))
        return rows

    def indexed_documents(self, after: int = 0) -> list[DocumentRow]:
        """Every indexed document (with an id above after), by id."""
        return [(int(i), str(p), str(k), str(s)) for i, p, k, s in self.db.execute(
            "SELECT id, path, kind, sha256 FROM documents WHERE state = 'indexed' "
            "AND sha256 IS NOT NULL AND id > ? ORDER BY id", (after,))]

    def passages(self, chunk_ids: Sequence[int]) -> dict[int, Passage]:
        """Chunks' word ranges and their pages: id -> (start, end, width, height, words
        JSON), in one query (the hits of a search)."""
        ids = list(dict.fromkeys(chunk_ids))[:500]
        if not ids:
            return {}
        return {int(r[0]): (int(r[1]), int(r[2]), int(r[3]), int(r[4]), str(r[5]))
                for r in self.db.execute(
                    "SELECT c.id, c.word_start, c.word_end, p.width, p.height, p.words "
                    "FROM chunks c JOIN pages p ON p.sha256 = c.sha256 AND p.page_no = "
                    f"c.page_no WHERE c.id IN ({','.join('?' * len(ids))})", ids)}


def filter_clause(filters: SearchFilters) -> tuple[str, list[Any]]:
    """A WHERE fragment over documents `d` and its parameters."""
    clauses = ["d.state = 'indexed'"]
    params: list[Any] = []
    if filters.kinds:
        clauses.append(f"d.kind IN ({','.join('?' * len(filters.kinds))})")
        params.extend(k.lower() for k in filters.kinds)
    if filters.path_prefix:
        # A folder, not a text prefix: /scans/2024 holds /scans/2024/a.png, not
        # /scans/2024-old/a.png.
        folder = filters.path_prefix.rstrip("/\\") or filters.path_prefix
        below = folder if folder.endswith(("/", "\\")) else folder + _separator(folder)
        # Compared as bytes: a folder whose name is not UTF-8 is its exact bytes.
        clauses.append("(d.raw_path = ? OR substr(d.raw_path, 1, ?) = ?)")
        raw_below = os.fsencode(below)
        params.extend([os.fsencode(folder), len(raw_below), raw_below])
    # The date the paper carries when one was found, else the file's modification time.
    day = "(SELECT day FROM content_dates c WHERE c.sha256 = d.sha256)"
    if filters.since:
        clauses.append(f"(CASE WHEN {day} IS NULL THEN d.mtime_ns >= ? ELSE {day} >= ? END)")
        params.extend([_ns(filters.since), filters.since.date().isoformat()])
    if filters.until:
        clauses.append(f"(CASE WHEN {day} IS NULL THEN d.mtime_ns <= ? ELSE {day} <= ? END)")
        params.extend([_ns(filters.until), filters.until.date().isoformat()])
    for tag in filters.tags:
        clauses.append("d.sha256 IN (SELECT sha256 FROM tags WHERE tag = ? AND present = 1)")
        params.append(tag)
    return " AND ".join(clauses), params


def _ns(moment: datetime) -> int:
    """A moment as ns since the epoch, clamped to what the index can hold."""
    if moment.tzinfo is None:  # local time; astimezone() fails far from the epoch
        offset = datetime.now().astimezone().utcoffset() or timedelta(0)
        seconds = (moment - datetime(1970, 1, 1)).total_seconds() - offset.total_seconds()
    else:
        seconds = (moment - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds()
    return max(0, min(_NS_MAX, int(seconds * 1e9)))


def _separator(path: str) -> str:
    """The separator a stored path uses (s3:// URLs and POSIX paths: '/')."""
    return "\\" if "\\" in path and "/" not in path else "/"
