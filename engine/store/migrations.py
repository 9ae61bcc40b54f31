"""Append-only, named schema migrations. Never edit one that has shipped: add a new one."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

# Words are stored as [text, x, y, w, h, conf] rows (store/codecs.py).
CONFIDENCE_BACKFILL = """
        UPDATE pages SET confidence = (
            SELECT SUM(json_extract(value, '$[5]') * length(json_extract(value, '$[0]')))
                   / SUM(length(json_extract(value, '$[0]')))
            FROM json_each(pages.words))
        WHERE source = 'ocr' AND confidence IS NULL;
"""

# (name, SQL script), applied in this order, each once, each in one transaction.
MIGRATIONS: list[tuple[str, str]] = [
    (
        "0001_initial",
        """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE contents (
            sha256 TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            pages INTEGER NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE TABLE documents (
            id INTEGER PRIMARY KEY,
            path TEXT NOT NULL UNIQUE,
            raw_path BLOB NOT NULL,
            kind TEXT,
            sha256 TEXT REFERENCES contents(sha256),
            size INTEGER NOT NULL DEFAULT 0,
            mtime_ns INTEGER NOT NULL DEFAULT 0,
            state TEXT NOT NULL CHECK (state IN ('indexed', 'failed')),
            error TEXT,
            indexed_at TEXT NOT NULL
        );
        CREATE INDEX documents_sha256 ON documents(sha256);
        CREATE TABLE pages (
            sha256 TEXT NOT NULL REFERENCES contents(sha256) ON DELETE CASCADE,
            page_no INTEGER NOT NULL,
            width INTEGER NOT NULL,
            height INTEGER NOT NULL,
            source TEXT NOT NULL,
            rotation INTEGER NOT NULL DEFAULT 0,
            words TEXT NOT NULL,
            PRIMARY KEY (sha256, page_no)
        );
        CREATE TABLE chunks (
            id INTEGER PRIMARY KEY,
            sha256 TEXT NOT NULL REFERENCES contents(sha256) ON DELETE CASCADE,
            page_no INTEGER NOT NULL,
            ordinal INTEGER NOT NULL,
            word_start INTEGER NOT NULL,
            word_end INTEGER NOT NULL,
            text TEXT NOT NULL,
            model_id TEXT,
            vector BLOB
        );
        CREATE INDEX chunks_sha256 ON chunks(sha256, page_no);
        CREATE VIRTUAL TABLE chunks_fts USING fts5(
            text, content='chunks', content_rowid='id',
            tokenize='unicode61 remove_diacritics 2', prefix='2 3'
        );
        CREATE TRIGGER chunks_ai AFTER INSERT ON chunks BEGIN
            INSERT INTO chunks_fts(rowid, text) VALUES (new.id, new.text);
        END;
        CREATE TRIGGER chunks_ad AFTER DELETE ON chunks BEGIN
            INSERT INTO chunks_fts(chunks_fts, rowid, text) VALUES ('delete', old.id, old.text);
        END;
        CREATE TRIGGER chunks_au AFTER UPDATE OF text ON chunks BEGIN
            INSERT INTO chunks_fts(chunks_fts, rowid, text) VALUES ('delete', old.id, old.text);
            INSERT INTO chunks_fts(rowid, text) VALUES (new.id, new.text);
        END;
        """,
    ),
    (
        "0002_chunks_vocab",
        """
        -- Document frequency per term: lets search drop terms that carry no weight.
        CREATE VIRTUAL TABLE chunks_vocab USING fts5vocab(chunks_fts, 'row');
        """,
    ),
    (
        "0003_tombstones",
        """
        -- Content removed here, so that sync removes it elsewhere too.
        CREATE TABLE tombstones (sha256 TEXT PRIMARY KEY, removed_at TEXT NOT NULL);
        """,
    ),
    (
        "0004_source_etag",
        """
        -- Objects indexed from a bucket (s3://...) are checked for change by ETag.
        ALTER TABLE documents ADD COLUMN etag TEXT;
        """,
    ),
    (
        "0005_page_confidence",
        f"""
        -- OCR's mean confidence per page (weighted by word length), for "review these".
        ALTER TABLE pages ADD COLUMN confidence REAL;
        {CONFIDENCE_BACKFILL}
        """,
    ),
    (
        "0006_tags",
        """
        -- Tags belong to the content (they survive renames and travel with sync). Each
        -- (content, tag) keeps its last event: added (present = 1) or removed, and when;
        -- merging two libraries keeps the later event of each pair.
        CREATE TABLE tags (
            sha256 TEXT NOT NULL,
            tag TEXT NOT NULL COLLATE NOCASE,
            present INTEGER NOT NULL,
            at TEXT NOT NULL,
            PRIMARY KEY (sha256, tag)
        );
        CREATE INDEX tags_by_tag ON tags(tag, present);
        """,
    ),
    (
        "0007_content_dates",
        """
        -- The date the paper itself carries (best candidate, ISO yyyy-mm-dd, or NULL when
        -- it shows none) and the ranked candidates as JSON; a row means "looked at".
        CREATE TABLE content_dates (
            sha256 TEXT PRIMARY KEY,
            day TEXT,
            candidates TEXT NOT NULL
        );
        """,
    ),
    (
        "0008_chunk_vectors_index",
        """
        -- The ids of one model's vectors without reading every row (4.3 s -> an index-only
        -- scan at a million chunks): the ANN index compares them at every start.
        CREATE INDEX chunks_vectors ON chunks(model_id, id) WHERE vector IS NOT NULL;
        """,
    ),
    (
        "0009_documents_keyed_by_bytes",
        """
        -- A document is its path's exact bytes, not their display text: a name that is
        -- not UTF-8 shows as "\\xNN" escapes, which a real name can also spell, so the
        -- display text could make two files one document. Rebuilt because SQLite cannot
        -- drop a UNIQUE constraint; ids are kept, nothing refers to documents by rowid.
        CREATE TABLE documents_by_bytes (
            id INTEGER PRIMARY KEY,
            path TEXT NOT NULL,
            raw_path BLOB NOT NULL UNIQUE,
            kind TEXT,
            sha256 TEXT REFERENCES contents(sha256),
            size INTEGER NOT NULL DEFAULT 0,
            mtime_ns INTEGER NOT NULL DEFAULT 0,
            state TEXT NOT NULL CHECK (state IN ('indexed', 'failed')),
            error TEXT,
            indexed_at TEXT NOT NULL,
            etag TEXT
        );
        INSERT INTO documents_by_bytes (id, path, raw_path, kind, sha256, size, mtime_ns,
                                        state, error, indexed_at, etag)
            SELECT id, path, raw_path, kind, sha256, size, mtime_ns, state, error,
                   indexed_at, etag FROM documents;
        DROP TABLE documents;
        ALTER TABLE documents_by_bytes RENAME TO documents;
        CREATE INDEX documents_sha256 ON documents(sha256);
        CREATE INDEX documents_path ON documents(path);
        """,
    ),
    (
        "0010_duplicate_pairs",
        """
        -- Rescans found as contents arrive, not all at once when asked: a row in
        -- content_profiles means "compared with every content checked before it" (under
        -- that model's mean vector, kept to propose the next ones' candidates), and
        -- duplicate_pairs holds the pairs judged the same paper (first < second).
        CREATE TABLE content_profiles (
            sha256 TEXT PRIMARY KEY,
            model_id TEXT NOT NULL,
            vector BLOB
        );
        CREATE TABLE duplicate_pairs (
            first TEXT NOT NULL,
            second TEXT NOT NULL,
            similarity REAL NOT NULL,
            PRIMARY KEY (first, second)
        );
        CREATE INDEX duplicate_pairs_second ON duplicate_pairs(second);
        """,
    ),
]


def apply_migrations(db: sqlite3.Connection) -> int:
    """Apply what is missing, each in its own transaction; return the schema version."""
    db.execute(
        "CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
    )
    done = {row[0] for row in db.execute("SELECT name FROM migrations")}
    known = {name for name, _ in MIGRATIONS}
    unknown = done - known
    if unknown:
        from engine.errors import LibraryError

        raise LibraryError(
            f"this library was written by a newer Scandex (migrations {sorted(unknown)}); "
            "upgrade Scandex to open it"
        )
    for name, sql in MIGRATIONS:
        if name in done:
            continue
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        try:
            db.executescript(
                f"BEGIN IMMEDIATE;\n{sql}\n"
                f"INSERT INTO migrations (name, applied_at) VALUES ('{name}', '{stamp}');\nCOMMIT;"
            )
        except sqlite3.Error:
            if db.in_transaction:
                db.execute("ROLLBACK")
            # Another process may have applied it while we waited for the lock.
            if not db.execute("SELECT 1 FROM migrations WHERE name = ?", (name,)).fetchone():
                raise
    return len(MIGRATIONS)


# Tables later migrations add that reads use, as empty stand-ins.
_STAND_INS = {
    "tags": "CREATE TEMP TABLE tags (sha256 TEXT, tag TEXT COLLATE NOCASE, present INTEGER, "
            "at TEXT)",
    "content_dates": "CREATE TEMP TABLE content_dates (sha256 TEXT PRIMARY KEY, day TEXT, "
                     "candidates TEXT)",
    "content_profiles": "CREATE TEMP TABLE content_profiles (sha256 TEXT PRIMARY KEY, "
                        "model_id TEXT, vector BLOB)",
    "duplicate_pairs": "CREATE TEMP TABLE duplicate_pairs (first TEXT, second TEXT, "
                       "similarity REAL, PRIMARY KEY (first, second))",
}


def stand_in_for_new_tables(db: sqlite3.Connection) -> None:
    """A library opened read-only is not migrated: an older one lacks the tables newer
    migrations add, so empty temporary ones stand in (searching it works; it simply has
    no tags or paper dates until Scandex writes to it once)."""
    present = {str(r[0]) for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    for name, sql in _STAND_INS.items():
        if name not in present:
            db.execute(sql)
