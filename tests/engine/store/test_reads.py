"""The search side's reads: the time limit that stops a runaway query, per thread."""

from __future__ import annotations

import threading
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
    assert params == ["/scans/2024", len("/scans/2024/"), "/scans/2024/"]


def test_a_read_only_store_opens_from_a_relative_path(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    Store(tmp_path / "lib").close()
    monkeypatch.chdir(tmp_path)
    store = Store(Path("lib"), read_only=True)
    assert store.reads.chunk_count() == 0
    store.close()
