"""The shortcuts that keep hybrid search fast on big libraries must not change answers:
the split vector product, the postings budget, and re-scoring when every word is common."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import engine.search.searcher as searcher
import engine.search.vectors as search
from engine import Library
from engine.backends.pool import InlineExecutor
from engine.testing import FakeOcr, HashingEmbedder, write_fake_scan


@pytest.mark.parametrize("scanner", ["torch", "numkong"])
def test_float16_scan_finds_the_same_top_chunks(
        monkeypatch: pytest.MonkeyPatch, scanner: str) -> None:
    pytest.importorskip(scanner)
    if scanner == "numkong":
        # The scan a process without torch makes (the default ONNX embedder's).
        monkeypatch.setitem(sys.modules, "torch", None)
    cache = search.VectorCache()
    rng = np.random.default_rng(5)
    matrix = rng.standard_normal((3000, 384)).astype(np.float32)
    cache.matrix = matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
    cache.ids = np.arange(3000, dtype=np.int64)
    cache.pages = np.ones(3000, dtype=np.int32)
    cache.shas = [f"sha{i % 300}" for i in range(3000)]
    query = cache.matrix[17] + 0.5 * cache.matrix[99]
    query = (query / np.linalg.norm(query)).astype(np.float32)
    allowed = {"sha17", "sha99", "sha5"}
    exact, exact_allowed = cache.top(query, 50, None), cache.top(query, 50, allowed)
    monkeypatch.setattr(search, "_SPLIT_FROM_ROWS", 10)
    fast, fast_allowed = cache.top(query, 50, None), cache.top(query, 50, allowed)
    # The float16 path really ran.
    assert (cache._half if scanner == "torch" else cache._half_np) is not None
    assert [h.chunk_id for h in fast] == [h.chunk_id for h in exact]
    np.testing.assert_allclose([h.score for h in fast], [h.score for h in exact], rtol=1e-5)
    assert [h.chunk_id for h in fast_allowed] == [h.chunk_id for h in exact_allowed]
    assert {h.sha256 for h in fast_allowed} <= allowed


@pytest.fixture
def library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Library:
    """30 one-page documents; 'harbour' is on 6 of them (20 %: over a 10 % budget)."""
    monkeypatch.setattr(searcher, "_PRUNE_FROM_CHUNKS", 10)
    monkeypatch.setattr(searcher, "_BUDGET_FROM_CHUNKS", 10)
    folder = tmp_path / "docs"
    folder.mkdir()
    for i in range(30):
        words = f"record {i} about the {'harbour pilot boats' if i % 5 == 0 else 'orchard frost'}"
        if i == 7:
            words = "the zeppelin ledger mentions a harbour once"
        write_fake_scan(folder / f"d{i:02}.png", words)
    lib = Library.open(tmp_path / "lib", embedder=HashingEmbedder(), ocr=FakeOcr(),
                       executor=InlineExecutor())
    lib.add([folder])
    return lib


def test_every_word_too_common_reranks_meaning_without_a_full_scan(
        library: Library, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_full_scan(*_args: object) -> list[object]:
        raise AssertionError("the words ranker scanned the whole index")

    monkeypatch.setattr(library._searcher, "_keyword", no_full_scan)
    hits = library.search("harbour", mode="hybrid", limit=7)
    with_word = {f"d{i:02}.png" for i in (0, 5, 7, 10, 15, 20, 25)}
    assert {Path(h.path).name for h in hits} == with_word
    assert all("keyword" in h.matched_by for h in hits)
    assert all("<mark>harbour</mark>" in h.snippet for h in hits)


def test_a_rare_word_still_ranks_the_whole_index(library: Library) -> None:
    hits = library.search("zeppelin harbour", mode="hybrid", limit=3)
    assert Path(hits[0].path).name == "d07.png"
    assert "keyword" in hits[0].matched_by


def test_hybrid_words_fit_the_words_budget_so_bm25_ranks_them_in_one_go(
        library: Library, monkeypatch: pytest.MonkeyPatch) -> None:
    """The words hybrid keeps are never cut again by the words budget (which would
    re-score their hits in Python: 26-35 ms a query at 1M chunks)."""
    assert searcher._HYBRID_POSTINGS_MAX <= searcher._WORDS_POSTINGS_BUDGET
    monkeypatch.setattr(searcher, "_HYBRID_POSTINGS_SHARE", 1.0)
    monkeypatch.setattr(searcher, "_HYBRID_POSTINGS_MAX", 8)
    rescored: list[object] = []
    monkeypatch.setattr(library._searcher, "_rescore",
                        lambda hits, terms: rescored.append(terms) or hits)
    # 'zeppelin' (1 page) and 'harbour' (7) fit a hybrid budget of 8 ...
    monkeypatch.setattr(searcher, "_WORDS_POSTINGS_BUDGET", 4)
    library.search("zeppelin harbour", mode="hybrid", limit=3)
    assert rescored  # ... and a smaller words budget cut them again
    rescored.clear()
    monkeypatch.setattr(searcher, "_WORDS_POSTINGS_BUDGET", 8)
    hits = library.search("zeppelin harbour", mode="hybrid", limit=3)
    assert Path(hits[0].path).name == "d07.png"
    assert rescored == []


def test_words_mode_is_not_budgeted_below_its_postings_budget(library: Library) -> None:
    hits = library.search("harbour", mode="keyword", limit=20)
    assert len(hits) == 7


def test_a_word_over_the_postings_budget_ranks_the_newest_chunks(
        library: Library, monkeypatch: pytest.MonkeyPatch) -> None:
    """'frost' is on 23 pages; with a budget of 8 postings only the newest pages that fit
    are ranked, unless that window holds too few hits (then everything is)."""
    monkeypatch.setattr(searcher, "_WORDS_POSTINGS_BUDGET", 8)
    monkeypatch.setattr(searcher, "_WINDOW_ENOUGH", 2)
    calls: list[object] = []
    ranked = library.store.reads.ranked_chunks

    def spy(*args: object) -> object:
        calls.append(args[-1])
        return ranked(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(library.store.reads, "ranked_chunks", spy)
    hits = library.search("frost", mode="keyword", limit=30)
    names = sorted(Path(h.path).name for h in hits)
    assert calls and calls[0] is not None  # a window was used
    assert 2 <= len(hits) < 23
    assert names[0] >= "d15.png"  # the newest pages only
    assert all("<mark>frost</mark>" in h.snippet for h in hits)
    # A rare word is never windowed.
    calls.clear()
    assert Path(library.search("zeppelin", mode="keyword")[0].path).name == "d07.png"
    assert calls == [None]
    # Too few hits in the window: the whole index after all.
    monkeypatch.setattr(searcher, "_WINDOW_ENOUGH", 20)
    assert len(library.search("frost", mode="keyword", limit=30)) == 23


def test_a_search_settles_its_caches_out_of_full_collections(library: Library) -> None:
    """After the first search on an index state, what it built is frozen (full garbage
    collections no longer walk it), and garbage from before is still freed: the next
    change of the index unfreezes and collects before freezing again."""
    import gc
    import weakref

    class Node:
        partner: object = None

    try:
        cycle = Node()
        cycle.partner = cycle
        alive_until_collected = weakref.ref(cycle)
        library.search("harbour")
        assert gc.get_freeze_count() > 0
        del cycle  # a cycle frozen while alive, dead now: only a collection frees it
        assert alive_until_collected() is not None
        library.search("harbour")  # the index did not change: nothing is settled again
        assert alive_until_collected() is not None
        extra = library.store.path.parent.parent / "more"
        extra.mkdir()
        write_fake_scan(extra / "new.png", "a new harbour page")
        library.add([extra])
        library.search("harbour")
        assert alive_until_collected() is None
    finally:
        gc.unfreeze()
