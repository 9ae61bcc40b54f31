"""The search side's reads: the time limit that stops a runaway query, per thread."""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path

import pytest

from engine.errors import ExitCode, QueryTooSlow
from engine.models import SearchFilters
from engine.store.db import Store
from engine.store.reads import filter_clause

# Counts to ten million: ~1 s of SQLite work, far past any limit below.
_SLOW = ("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000000) "
         "SELECT COUNT(*) FROM n")


def test_a_query_past_its_time_limit_stops_with_advice(tmp_path: Path) -> None:
    store = Store(tmp_path)
    with pytest.raises(QueryTooSlow) as caught, store.reads.time_limit(0.05):
        store.reads.db.execute(_SLOW).fetchone()
    assert caught.value.exit_code == ExitCode.USAGE
    assert "--type" in str(caught.value)
    # The connection stays usable, and the limit ended with its block.
    assert store.reads.chunk_count() == 0
    assert store.reads.db.execute(_SLOW).fetchone() == (10_000_000,)


def test_the_limit_applies_only_to_the_thread_that_set_it(tmp_path: Path) -> None:
    store = Store(tmp_path)
    results: list[object] = []

    def unlimited() -> None:
        results.append(store.reads.db.execute(_SLOW).fetchone())

    with store.reads.time_limit(0.01):
        worker = threading.Thread(target=unlimited)
        worker.start()
        worker.join()
    assert results == [(10_000_000,)]


def test_no_limit_means_none(tmp_path: Path) -> None:
    store = Store(tmp_path)
    with store.reads.time_limit(None):
        assert store.reads.db.execute(_SLOW).fetchone() == (10_000_000,)


def test_folder_filter_matches_the_folder_not_a_text_prefix() -> None:
    where, params = filter_clause(SearchFilters(path_prefix="/scans/2024/"))
    assert "substr" in where
    assert params == [b"/scans/2024", len(b"/scans/2024/"), b"/scans/2024/"]


def test_a_read_only_store_opens_from_a_relative_path(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    Store(tmp_path / "lib").close()
    monkeypatch.chdir(tmp_path)
    store = Store(Path("lib"), read_only=True)
    assert store.reads.chunk_count() == 0
    store.close()


def test_an_older_library_opened_read_only_still_searches(tmp_path: Path) -> None:
    """Read-only opens do not migrate: tables added since stand in, empty."""
    import sqlite3

    from engine import Library
    from engine.backends.pool import InlineExecutor
    from engine.testing import FakeOcr, HashingEmbedder, write_fake_scan

    (tmp_path / "scans").mkdir()
    write_fake_scan(tmp_path / "scans" / "a.png", "lease rent landlord dated 3 May 2001")
    lib = Library.open(tmp_path / "lib", embedder=HashingEmbedder(), ocr=FakeOcr(),
                       executor=InlineExecutor())
    lib.add([tmp_path / "scans"])
    lib.close()
    db = sqlite3.connect(tmp_path / "lib" / "index.sqlite")
    db.executescript("DROP TABLE tags; DROP TABLE content_dates; DELETE FROM migrations "
                     "WHERE name IN ('0006_tags', '0007_content_dates');")
    db.close()
    old = Library.open(tmp_path / "lib", embedder=HashingEmbedder(), read_only=True)
    hits = old.search("landlord", tags=[], since=datetime(2000, 1, 1))
    assert hits and hits[0].tags == () and hits[0].document_date is None
    assert old.search("landlord", tags=["x"]) == []
    old.close()
    # The next writable open migrates, and the next index run dates the paper.
    lib = Library.open(tmp_path / "lib", embedder=HashingEmbedder(), ocr=FakeOcr(),
                       executor=InlineExecutor())
    lib.add([tmp_path / "scans"])
    assert lib.search("landlord")[0].document_date == "2001-05-03"


def test_the_chunk_count_follows_additions_and_removals(tmp_path: Path) -> None:
    """Read from FTS5's own record, it must say what COUNT(*) says at every step."""
    from engine.models import Box, Chunk, PageText, Word

    store = Store(tmp_path)
    page = PageText(1, 100, 100, [Word("w", Box(0, 0, 1, 1))] * 8, "ocr")

    def counted() -> int:
        return int(store.db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0])

    for doc in range(300):
        chunks = [Chunk(1, k, k, k + 1, f"text {doc} {k}") for k in range(doc % 3 + 1)]
        store.commit_document(path=Path(f"/docs/d{doc}.png"), kind="png",
                              sha256=f"{doc:064x}", size=1, mtime_ns=1, pages=[page],
                              chunks=chunks, vectors=None, model_id=None)
    assert store.reads.chunk_count() == counted() == 600
    store.remove_documents([d.id for d in store.documents()][::2])
    assert store.reads.chunk_count() == counted() < 600
    store.close()


def test_loading_is_not_bound_by_the_query_time_limit(tmp_path: Path) -> None:
    """What every query needs, loaded once (seconds from a cold disk on a big index), is
    not the first query's fault."""
    store = Store(tmp_path)
    with store.reads.time_limit(0.01), store.reads.unbounded():
        assert store.reads.db.execute(_SLOW).fetchone() == (10_000_000,)
    with pytest.raises(QueryTooSlow), store.reads.time_limit(0.01):  # the limit came back
        store.reads.db.execute(_SLOW).fetchone()
