"""The SQLite index: one file in WAL mode, one writer, read-only connections for search."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import engine.store.integrity as integrity
from engine.errors import LibraryError
from engine.models import Chunk, DocumentInfo, DocumentState, PageText
from engine.store.codecs import to_blob, words_from_json, words_to_json
from engine.store.dates import ContentDates
from engine.store.diagnosis import translate_error
from engine.store.migrations import CONFIDENCE_BACKFILL, apply_migrations, stand_in_for_new_tables
from engine.store.pairs import DuplicateRecords
from engine.store.paths import DocumentPaths, db_path_text
from engine.store.reads import IndexReads
from engine.store.tags import Tags

if TYPE_CHECKING:
    import numpy as np  # loaded where used: keyword-only processes never need it

INDEX_FILE = "index.sqlite"
BUSY_TIMEOUT_MS = 15_000
_CHUNK_ID_FLOOR = "chunk_id_floor"  # meta: no chunk id at or below it is handed out again
_DOCUMENTS_CHANGED = "documents_changed"  # meta: document rows changed or removed


def now_iso() -> str:
    """The current UTC time as ISO 8601."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


_DOC_COLUMNS = (
    "d.id, d.path, d.kind, d.sha256, d.size, d.mtime_ns, d.state, d.error, "
    "COALESCE(c.pages, 0), d.indexed_at"
)


class Store(DocumentPaths):
    """The index's writes and its document/page reads (search's reads: `self.reads`).
    The writer commits each document in one transaction."""

    def __init__(self, library_dir: Path, *, read_only: bool = False) -> None:
        self.path = library_dir / INDEX_FILE
        self.read_only = read_only
        self._side: IndexReads | None = None
        try:
            if read_only:
                self.db = self._open_read_only(library_dir)
            else:
                library_dir.mkdir(parents=True, exist_ok=True)
                self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self.db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self.db.execute("PRAGMA foreign_keys = ON")
            # Changed since Scandex last vouched for it: verified before any use.
            self._vouched = not integrity.needs_check(self.path)
            if not self._vouched:
                self.check_integrity()
            if not read_only:
                self.db.execute("PRAGMA journal_mode = WAL")
                # WAL + NORMAL: a crash never corrupts; a power cut may lose the last commit.
                self.db.execute("PRAGMA synchronous = NORMAL")
                self.schema_version = apply_migrations(self.db)
            else:
                self.schema_version = int(
                    self.db.execute("SELECT COUNT(*) FROM migrations").fetchone()[0])
                stand_in_for_new_tables(self.db)
            self.reads = IndexReads(self.db)
            self.tags, self.dates = Tags(self.db, self.transaction), ContentDates(self.db)
            self.pairs = DuplicateRecords(self.db)
        except sqlite3.DatabaseError as e:
            if hasattr(self, "db"):
                self.db.close()  # a failed open must not keep the file (or its disk) busy
            raise self.translate(e) from e
        except LibraryError:
            self.db.close()
            raise
        except OSError as e:
            raise LibraryError(f"cannot create the library folder {library_dir}: "
                               f"{e.strerror or e}; choose another --library or fix its "
                               "permissions") from e

    def _open_read_only(self, library_dir: Path) -> sqlite3.Connection:
        """A read-only connection. On a read-only disk or folder SQLite cannot create the
        WAL's shared-memory file; nobody can write there either, so the file is opened as
        immutable."""
        def connect(options: str) -> sqlite3.Connection:
            db = sqlite3.connect(f"{self.path.absolute().as_uri()}?{options}", uri=True,
                                 isolation_level=None, check_same_thread=False)
            db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
            return db

        try:
            return connect("mode=ro")
        except sqlite3.OperationalError:
            if not self.path.is_file() or os.access(library_dir, os.W_OK):
                raise
            return connect("mode=ro&immutable=1")

    def translate(self, error: sqlite3.Error) -> LibraryError:
        """An SQLite error as the library error a user can act on."""
        return translate_error(self.path, error)

    def check_integrity(self) -> None:
        """IndexDamaged unless SQLite's quick_check passes (cost: one read of the file)."""
        try:
            rows = self.db.execute("PRAGMA quick_check(5)").fetchall()
        except sqlite3.DatabaseError as e:
            raise self.translate(e) from e
        if rows != [("ok",)]:
            detail = "; ".join(str(r[0]) for r in rows)
            raise self.translate(sqlite3.DatabaseError(f"database disk image is malformed: "
                                                       f"{detail}"))
        self._vouched = True
        integrity.stamp(self.path)

    def side_reads(self) -> IndexReads:
        """Reads on a second, read-only connection, opened on first use: a search's
        meaning side confirms its candidates there while its words side holds the first
        (SQLite runs one statement at a time per connection). It sees what is committed.
        One thread at a time uses it."""
        if self._side is None:
            side = self._open_read_only(self.path.parent)
            side.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self._side = IndexReads(side)
        return self._side

    def close(self) -> None:
        """Close the connections; a writer that found the index sound vouches for the
        state it leaves (closing checkpoints the WAL into the file)."""
        if self._side is not None:
            self._side.db.close()
            self._side = None
        self.db.close()
        if self._vouched and not self.read_only:
            integrity.stamp(self.path)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, rolled back on any error."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # -- meta ---------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        """A value from the meta table."""
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        """Set a meta value (in the caller's transaction, if any)."""
        self.db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def _bump(self, key: str) -> None:
        self.db.execute(
            "INSERT INTO meta (key, value) VALUES (?, '1') "
            "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1",
            (key,),
        )

    def generation(self) -> tuple[int, int]:
        """(commits, changes other than additions) counters: search caches compare them
        to stay fresh, and take up only new rows while the second stays the same. The
        second counts removals and vectors set on existing chunks (its key in meta is
        still 'deletions')."""
        rows = dict(
            self.db.execute(
                "SELECT key, value FROM meta WHERE key IN ('generation', 'deletions')"
            ).fetchall()
        )
        return int(rows.get("generation", 0)), int(rows.get("deletions", 0))

    def document_changes(self) -> int:
        """How often a document row was changed or removed (not added): a reader's map of
        the documents takes up only new rows while this stays the same."""
        row = self.db.execute("SELECT value FROM meta WHERE key = ?",
                              (_DOCUMENTS_CHANGED,)).fetchone()
        return int(row[0]) if row else 0

    # -- files --------------------------------------------------------------

    def content_by_etag(self, etag: str, size: int) -> tuple[str, str] | None:
        """(sha256, kind) of indexed content fetched from an object with this ETag and size."""
        row = self.db.execute(
            "SELECT sha256, kind FROM documents WHERE etag = ? AND size = ? AND state = 'indexed' "
            "AND sha256 IS NOT NULL LIMIT 1", (etag, size)).fetchone()
        return (str(row[0]), str(row[1])) if row else None

    def content_known(self, sha256: str) -> bool:
        """True when this content's pages and chunks are already stored."""
        row = self.db.execute("SELECT 1 FROM contents WHERE sha256 = ?", (sha256,)).fetchone()
        return row is not None

    def commit_document(
        self,
        *,
        path: Path | str,
        kind: str,
        sha256: str,
        size: int,
        mtime_ns: int,
        pages: Sequence[PageText] | None,
        chunks: Sequence[Chunk] = (),
        vectors: np.ndarray | None = None,
        model_id: str | None = None,
        etag: str | None = None,
    ) -> int:
        """Store a document (and its content unless already known) in one transaction."""
        text, raw = db_path_text(path)
        with self.transaction() as db:
            db.execute("DELETE FROM tombstones WHERE sha256 = ?", (sha256,))
            if pages is not None and not self.content_known(sha256):
                db.execute(
                    "INSERT INTO contents (sha256, kind, pages, created_at) VALUES (?, ?, ?, ?)",
                    (sha256, kind, len(pages), now_iso()),
                )
                db.executemany(
                    "INSERT INTO pages (sha256, page_no, width, height, source, rotation, words, "
                    "confidence) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        (sha256, p.page_no, p.width, p.height, p.source, p.rotation,
                         words_to_json(p.words), p.confidence)
                        for p in pages
                    ],
                )
                self._insert_chunks(
                    sha256,
                    [
                        (c.page_no, c.ordinal, c.word_start, c.word_end, c.text,
                         model_id if vectors is not None else None,
                         to_blob(vectors[i]) if vectors is not None else None)
                        for i, c in enumerate(chunks)
                    ],
                )
            elif not self.content_known(sha256):
                raise LibraryError(f"content {sha256[:12]} is not stored; index the file again")
            old = db.execute("SELECT sha256 FROM documents WHERE raw_path = ?", (raw,)).fetchone()
            doc_id = self._upsert_document(text, raw, kind, sha256, size, mtime_ns,
                                           DocumentState.INDEXED, None, etag)
            if old and old[0] and old[0] != sha256:
                self._collect_garbage([old[0]])
            self._bump("generation")
        return doc_id

    def record_failure(
        self, *, path: Path | str, kind: str | None, size: int, mtime_ns: int, error: str,
        etag: str | None = None,
    ) -> int:
        """Record a file that could not be indexed, with its one-line reason."""
        text, raw = db_path_text(path)
        with self.transaction() as db:
            old = db.execute("SELECT sha256 FROM documents WHERE raw_path = ?", (raw,)).fetchone()
            doc_id = self._upsert_document(text, raw, kind, None, size, mtime_ns,
                                           DocumentState.FAILED, error, etag)
            if old and old[0]:
                self._collect_garbage([old[0]])
            self._bump("generation")
        return doc_id

    def _upsert_document(
        self, text: str, raw: bytes, kind: str | None, sha256: str | None,
        size: int, mtime_ns: int, state: str, error: str | None, etag: str | None = None,
    ) -> int:
        if self.db.execute("SELECT 1 FROM documents WHERE raw_path = ?", (raw,)).fetchone():
            self._bump(_DOCUMENTS_CHANGED)  # not an addition: readers' maps reload
        row = self.db.execute(
            "INSERT INTO documents (path, raw_path, kind, sha256, size, mtime_ns, state, error, "
            "indexed_at, etag) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(raw_path) DO UPDATE SET path = excluded.path, kind = excluded.kind, "
            "sha256 = excluded.sha256, size = excluded.size, mtime_ns = excluded.mtime_ns, "
            "state = excluded.state, error = excluded.error, indexed_at = excluded.indexed_at, "
            "etag = excluded.etag RETURNING id",
            (text, raw, kind, sha256, size, mtime_ns, state, error, now_iso(), etag),
        ).fetchone()
        return int(row[0])

    def _insert_chunks(self, sha256: str, rows: Sequence[tuple[Any, ...]]) -> None:
        """rows: (page_no, ordinal, word_start, word_end, text, model_id, vector). Chunk
        ids are never reused (SQLite would hand out a removed highest id again): the ANN
        index keys its entries by them; a reused id would pair a new chunk with an old
        vector."""
        top = self.db.execute("SELECT COALESCE(MAX(id), 0) FROM chunks").fetchone()[0]
        first = max(int(top), int(self.get_meta(_CHUNK_ID_FLOOR) or 0)) + 1
        self.db.executemany(
            "INSERT INTO chunks (id, sha256, page_no, ordinal, word_start, word_end, text, "
            "model_id, vector) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(first + i, sha256, *row) for i, row in enumerate(rows)])

    def _raise_chunk_id_floor(self) -> None:
        top = int(self.db.execute("SELECT COALESCE(MAX(id), 0) FROM chunks").fetchone()[0])
        if top > int(self.get_meta(_CHUNK_ID_FLOOR) or 0):
            self.set_meta(_CHUNK_ID_FLOOR, str(top))

    def _collect_garbage(self, shas: Iterable[str], removed_at: str | None = None) -> None:
        for sha in set(shas):
            used = self.db.execute(
                "SELECT 1 FROM documents WHERE sha256 = ? LIMIT 1", (sha,)
            ).fetchone()
            if not used:
                self.db.execute(
                    "INSERT INTO tombstones (sha256, removed_at) VALUES (?, ?) "
                    "ON CONFLICT(sha256) DO UPDATE SET removed_at = excluded.removed_at",
                    (sha, removed_at or now_iso()),
                )
                self._raise_chunk_id_floor()
                self.db.execute("DELETE FROM chunks WHERE sha256 = ?", (sha,))
                self.db.execute("DELETE FROM pages WHERE sha256 = ?", (sha,))
                self.db.execute("DELETE FROM contents WHERE sha256 = ?", (sha,))
                self._bump("deletions")

    def remove_documents(self, ids: Sequence[int], *, removed_at: str | None = None) -> int:
        """Forget documents (not the files); content no one else uses goes too.

        removed_at dates the removal (a removal learnt from another machine keeps its own
        time); by default it is now.
        """
        if not ids:
            return 0
        with self.transaction() as db:
            shas = [
                r[0]
                for i in ids
                for r in db.execute("SELECT sha256 FROM documents WHERE id = ?", (i,))
                if r[0]
            ]
            removed = sum(
                db.execute("DELETE FROM documents WHERE id = ?", (i,)).rowcount for i in ids
            )
            if removed:
                self._bump(_DOCUMENTS_CHANGED)
            self._collect_garbage(shas, removed_at)
            self._bump("generation")
        return removed

    # -- sync -----------------------------------------------------------------

    def import_content(
        self,
        *,
        sha256: str,
        kind: str,
        created_at: str,
        pages: Sequence[tuple[Any, ...]],
        chunks: Sequence[tuple[Any, ...]],
        path: Path,
        size: int,
    ) -> int:
        """A document indexed elsewhere: its content rows as they were, in one transaction.

        pages: (page_no, width, height, source, rotation, words);
        chunks: (page_no, ordinal, word_start, word_end, text, model_id, vector).
        """
        text, raw = db_path_text(path)
        with self.transaction() as db:
            if not self.content_known(sha256):
                db.execute(
                    "INSERT INTO contents (sha256, kind, pages, created_at) VALUES (?, ?, ?, ?)",
                    (sha256, kind, len(pages), created_at),
                )
                db.executemany(
                    "INSERT INTO pages (sha256, page_no, width, height, source, rotation, words) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)", [(sha256, *row) for row in pages])
                self._insert_chunks(sha256, chunks)
                # Snapshots from older versions carry no confidence: derive it here.
                db.execute(CONFIDENCE_BACKFILL.replace("confidence IS NULL",
                                                       "confidence IS NULL AND sha256 = ?"),
                           (sha256,))
            doc_id = self._upsert_document(text, raw, kind, sha256, size, 0,
                                           DocumentState.INDEXED, None)
            self._bump("generation")
        return doc_id

    def content_created(self) -> dict[str, str]:
        """created_at of every stored content (when it was first indexed anywhere)."""
        return {str(s): str(c) for s, c in self.db.execute(
            "SELECT sha256, created_at FROM contents")}

    def tombstones(self) -> dict[str, str]:
        """Contents removed here: sha256 -> when."""
        return {str(s): str(t) for s, t in self.db.execute(
            "SELECT sha256, removed_at FROM tombstones")}

    def record_tombstone(self, sha256: str, removed_at: str) -> None:
        """Remember a removal learnt from elsewhere (keeps the later time)."""
        with self.transaction() as db:
            db.execute(
                "INSERT INTO tombstones (sha256, removed_at) VALUES (?, ?) "
                "ON CONFLICT(sha256) DO UPDATE SET removed_at = max(removed_at, "
                "excluded.removed_at)", (sha256, removed_at))

    def ids_with_content(self, sha256: str) -> list[int]:
        """Documents whose content is sha256."""
        return [int(r[0]) for r in self.db.execute(
            "SELECT id FROM documents WHERE sha256 = ?", (sha256,))]

    # -- documents ----------------------------------------------------------

    def documents(self, *, state: str | None = None) -> list[DocumentInfo]:
        """Every document, optionally of one state, by path."""
        sql = (
            f"SELECT {_DOC_COLUMNS} FROM documents d "
            "LEFT JOIN contents c ON c.sha256 = d.sha256"
        )
        params: tuple[str, ...] = ()
        if state:
            sql += " WHERE d.state = ?"
            params = (state,)
        return [DocumentInfo(*row) for row in self.db.execute(sql + " ORDER BY d.path", params)]

    def document(self, doc_id: int) -> DocumentInfo | None:
        """One document by id."""
        row = self.db.execute(
            f"SELECT {_DOC_COLUMNS} FROM documents d LEFT JOIN contents c "
            "ON c.sha256 = d.sha256 WHERE d.id = ?",
            (doc_id,),
        ).fetchone()
        return DocumentInfo(*row) if row else None

    def pages(self, sha256: str) -> list[PageText]:
        """Every page of a content, in order."""
        return [
            PageText(no, w, h, words_from_json(words), source, rot)
            for no, w, h, source, rot, words in self.db.execute(
                "SELECT page_no, width, height, source, rotation, words FROM pages "
                "WHERE sha256 = ? ORDER BY page_no",
                (sha256,),
            )
        ]

    def page(self, sha256: str, page_no: int) -> PageText | None:
        """One page of a content."""
        row = self.db.execute("SELECT page_no, width, height, source, rotation, words FROM "
                              "pages WHERE sha256 = ? AND page_no = ?", (sha256, page_no)
                              ).fetchone()
        if row is None:
            return None
        no, w, h, source, rot, words = row
        return PageText(no, w, h, words_from_json(words), source, rot)

    # -- embeddings ---------------------------------------------------------

    def chunks_needing_vectors(self, model_id: str, limit: int = 256) -> list[tuple[int, str]]:
        """Chunks embedded with another model (or none), to embed again."""
        return [
            (int(i), str(t))
            for i, t in self.db.execute(
                "SELECT id, text FROM chunks WHERE model_id IS NOT ? OR vector IS NULL "
                "ORDER BY id LIMIT ?",
                (model_id, limit),
            )
        ]

    def set_vectors(self, ids: Sequence[int], vectors: np.ndarray, model_id: str) -> None:
        """Store vectors for chunks in one transaction."""
        with self.transaction() as db:
            db.executemany(
                "UPDATE chunks SET vector = ?, model_id = ? WHERE id = ?",
                [(to_blob(vectors[k]), model_id, i) for k, i in enumerate(ids)],
            )
            self._bump("generation")
            self._bump("deletions")  # rows that are not new changed: caches reload

    def low_confidence_pages(self, below: float) -> list[tuple[str, int, float]]:
        """(document path, page, confidence) of OCR'd pages read below a confidence."""
        return [(str(p), int(n), float(c)) for p, n, c in self.db.execute(
            "SELECT d.path, p.page_no, p.confidence FROM pages p "
            "JOIN documents d ON d.sha256 = p.sha256 AND d.state = 'indexed' "
            "WHERE p.confidence < ? ORDER BY p.confidence, d.path, p.page_no", (below,))]

    def counts(self) -> dict[str, int]:
        """Documents by state, pages and chunks."""
        q = self.db.execute
        return {
            "documents": q("SELECT COUNT(*) FROM documents").fetchone()[0],
            "indexed": q("SELECT COUNT(*) FROM documents WHERE state = 'indexed'").fetchone()[0],
            "failed": q("SELECT COUNT(*) FROM documents WHERE state = 'failed'").fetchone()[0],
            "pages": q(
                "SELECT COALESCE(SUM(c.pages), 0) FROM documents d "
                "JOIN contents c ON c.sha256 = d.sha256"
            ).fetchone()[0],
            "chunks": q("SELECT COUNT(*) FROM chunks").fetchone()[0],
        }
