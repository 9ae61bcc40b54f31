"""The int8 sketch scanned for queries far from every chunk: it finds what an exact scan
finds, survives a round trip to disk, is never used with a graph file it was not made
for, follows additions and removals, and rescues a graph that misses answers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import engine.search.ann as ann
import engine.search.sketch as sketches
from engine.search.vector_search import VectorSearch
from engine.store.db import Store
from tests.engine.search.test_ann import (
    DIM,
    MODEL,
    _add_documents,
    _approx,
    _exact,
    _indexed,
    _overlap,
    _ShortSightedGraph,
)

pytest.importorskip("usearch")


def _library_vectors(rows: int, dim: int, seed: int = 0) -> np.ndarray:
    """Topics with strong noise (cosine ~0.75 to their topic), like bench search's."""
    rng = np.random.default_rng(seed)
    topics = rng.standard_normal((60, dim))
    topics /= np.linalg.norm(topics, axis=1, keepdims=True)
    noise = rng.standard_normal((rows, dim))
    noise *= 0.88 / np.linalg.norm(noise, axis=1, keepdims=True)
    vectors = topics[rng.integers(0, len(topics), rows)] + noise
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def _far_queries(dim: int, count: int = 20) -> np.ndarray:
    """Random directions: far from every topic, their ten best are near-ties."""
    queries = np.random.default_rng(5).standard_normal((count, dim)).astype(np.float32)
    normed: np.ndarray = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    return normed


def _sketch_of(vectors: np.ndarray) -> sketches.Sketch:
    basis = sketches.Basis.learn(vectors[::3])
    keys = np.arange(len(vectors), dtype=np.int64) * 3 + 7  # keys are chunk ids, not rows
    return sketches.build(basis, keys, basis.codes(vectors))


def test_the_sketch_scan_finds_the_exact_best_of_far_queries() -> None:
    vectors = _library_vectors(30_000, 160)  # 128 head axes + 32 more
    sketch = _sketch_of(vectors)
    overlaps = []
    for query in _far_queries(160):
        exact = set((np.argsort(-(vectors @ query))[:10] * 3 + 7).tolist())
        keys, scores = sketch.candidates(query, 100)
        assert len(keys) == 100 and np.all(np.diff(scores) <= 0)
        rows = (keys - 7) // 3
        # Approximate cosines: within a few hundredths of the exact ones.
        assert np.abs(scores - vectors[rows] @ query).max() < 0.05
        overlaps.append(len(exact & set(keys.tolist())) / 10)
    assert np.mean(overlaps) >= 0.98


def test_a_sketch_survives_the_disk_and_a_damaged_one_is_refused(tmp_path: Path) -> None:
    vectors = _library_vectors(5_000, 160, seed=1)
    sketch = _sketch_of(vectors)
    path = tmp_path / "v.sketch"
    sketches.save(sketch, path, made_for={"bytes": 1})
    loaded = sketches.load(path, 160)
    assert loaded is not None and loaded.made_for == {"bytes": 1}
    assert np.array_equal(loaded.keys, sketch.keys)
    query = _far_queries(160, 1)[0]
    assert np.array_equal(loaded.candidates(query, 50)[0], sketch.candidates(query, 50)[0])
    assert sketches.load(path, 384) is None  # another model's width
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 100])  # cut short
    assert sketches.load(path, 160) is None
    path.write_bytes(b"garbage")
    assert sketches.load(path, 160) is None


def test_a_merged_sketch_drops_the_removed_and_holds_the_new() -> None:
    vectors = _library_vectors(3_000, 160, seed=2)
    sketch = _sketch_of(vectors[:2_000])
    dead = sketch.keys[::4]
    new_keys = np.arange(2_000, 3_000, dtype=np.int64) * 3 + 7
    merged = sketches.merged(sketch, dead, new_keys, sketch.basis.codes(vectors[2_000:]))
    assert np.all(np.diff(merged.keys) > 0)
    assert not np.isin(dead, merged.keys).any()
    assert np.isin(new_keys, merged.keys).all()
    query = vectors[2_500]  # a new chunk finds itself first
    assert merged.candidates(query, 5)[0][0] == 2_500 * 3 + 7


@pytest.fixture
def small_thresholds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ann, "ANN_FROM_CHUNKS", 200)
    monkeypatch.setattr(ann, "MERGE_TAIL_ROWS", 100)


@pytest.mark.usefixtures("small_thresholds")
def test_the_sketch_finds_what_a_blind_graph_misses(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store(tmp_path)
    _add_documents(store, 0, 150, seed=3)  # 600 chunks
    file = ann.AnnFile(tmp_path, MODEL, DIM)
    assert file.update(store)
    assert file.sketch_path.exists()
    queries = _far_queries(DIM, 10)
    search = VectorSearch()
    search.refresh(store, MODEL, DIM)
    assert search._ann is not None and search._ann.sketch is not None
    blind = _ShortSightedGraph(search._ann.index, 1.0, blind=True)
    monkeypatch.setattr(search._ann, "index", blind)
    with_sketch = [_overlap(_approx(search, store, q, 10), _exact(store, q, 10))
                   for q in queries]
    assert np.mean(with_sketch) >= 0.95
    monkeypatch.setattr(search._ann, "sketch", None)
    without = [_overlap(_approx(search, store, q, 10), _exact(store, q, 10)) for q in queries]
    assert np.mean(without) < 0.5  # the test would fail if the sketch did nothing
    store.close()


@pytest.mark.usefixtures("small_thresholds")
def test_a_sketch_follows_its_graph_and_is_rebuilt_when_lost(tmp_path: Path) -> None:
    store, file = _indexed(tmp_path, 100, seed=4)
    opened = file.open()
    assert opened is not None and opened.sketch is not None
    assert np.array_equal(opened.sketch.keys, opened.keys)
    # New and removed chunks: the fold carries both into the sketch.
    _add_documents(store, 100, 40, seed=5)
    store.remove_documents([d.id for d in store.documents()][:10])
    assert file.update(store, force=True)
    opened = file.open()
    assert opened is not None and opened.sketch is not None
    live = store.reads.vector_ids(MODEL)
    assert np.array_equal(opened.sketch.keys, np.sort(live))
    # A sketch left from an older graph file is not used with a newer one.
    stale = file.sketch_path.read_bytes()
    _add_documents(store, 140, 30, seed=6)
    assert file.update(store, force=True)
    file.sketch_path.write_bytes(stale)
    opened = file.open()
    assert opened is not None and opened.sketch is None
    # Lost (a kill before it was written): the next update writes it, graph untouched.
    stamp = file.stamp()
    file.sketch_path.unlink()
    assert file.update(store)
    assert file.stamp() == stamp
    opened = file.open()
    assert opened is not None and opened.sketch is not None
    query = _far_queries(DIM, 1)[0]
    assert _overlap(_approx(VectorSearch(), store, query, 10), _exact(store, query, 10)) >= 0.9
    # A searcher finding the graph without its sketch has it written in the background.
    file.sketch_path.unlink()
    search = VectorSearch()
    assert _overlap(_approx(search, store, query, 10), _exact(store, query, 10)) >= 0.9
    assert search._building is not None
    search._building.join(60)
    assert file.sketch_path.exists() and file.stamp() == stamp
    search.refresh(store, MODEL, DIM)  # the same searcher takes it up
    assert search._ann is not None and search._ann.sketch is not None
    store.close()


@pytest.mark.usefixtures("small_thresholds")
def test_only_the_best_candidates_are_rescored_and_the_rest_stay_close(tmp_path: Path) -> None:
    from engine.search.vector_search import EXACT_RESCORE, Scope
    from engine.search.vectors import VectorCache

    store = Store(tmp_path)
    _add_documents(store, 0, 150, seed=7)  # 600 chunks
    ann.AnnFile(tmp_path, MODEL, DIM).update(store)
    gone = [d.id for d in store.documents()][:5]
    store.remove_documents(gone)
    search = VectorSearch()
    search.refresh(store, MODEL, DIM)
    cache = VectorCache()
    cache.refresh(store, MODEL, DIM)
    query = _far_queries(DIM, 1)[0]
    exact = {h.chunk_id: h.score for h in cache.top(query, 600, None, floor=-1.0)}
    found = search.shortlist(query, 300, Scope(), -1.0)
    assert found.approx is not None and len(found.keys) == 300
    hits = search.resolve(store.reads, found)
    assert len(hits) == 300 and all(h.chunk_id in exact for h in hits)  # none removed
    by_id = {h.chunk_id: h.score for h in hits}
    rescored = found.keys[:EXACT_RESCORE].tolist()
    assert all(by_id[i] == pytest.approx(exact[i], abs=1e-6) for i in rescored)
    assert max(abs(h.score - exact[h.chunk_id]) for h in hits) < 0.05
    store.close()


def _contents(hits: list, count: int) -> list[str]:
    """The first `count` distinct contents of hits, in rank order."""
    return list(dict.fromkeys(h.sha256 for h in hits))[:count]


@pytest.mark.usefixtures("small_thresholds")
def test_meaning_alone_looks_up_the_rest_only_when_it_could_still_place(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.search.vector_search import Scope

    store = Store(tmp_path)
    _add_documents(store, 0, 150, seed=11)  # 600 chunks
    ann.AnnFile(tmp_path, MODEL, DIM).update(store)
    search = VectorSearch()
    search.refresh(store, MODEL, DIM)
    lookups: list[int] = []
    places = store.reads.chunk_places
    monkeypatch.setattr(store.reads, "chunk_places",
                        lambda model, ids: lookups.append(len(ids)) or places(model, ids))
    rows = store.reads.vectors_by_id(MODEL, [1, 50, 333])
    stored = [np.frombuffer(r[3], dtype="<f4") for r in rows]
    for query in [*stored, *_far_queries(DIM, 5)]:
        found = search.shortlist(query, 400, Scope(), -1.0)
        assert found.approx is not None
        full = search.resolve(store.reads, found)
        for enough in (1, 3, 10, 120):
            lookups.clear()
            shown = search.resolve(store.reads, found, enough)
            assert _contents(shown, enough) == _contents(full, enough)
    # A chunk's own vector is far above everything past the exact 100: no lookup.
    lookups.clear()
    search.resolve(store.reads, search.shortlist(stored[0], 400, Scope(), -1.0), 1)
    assert lookups == []
    search.resolve(store.reads, search.shortlist(stored[0], 400, Scope(), -1.0))
    assert lookups == [300]  # fusion (no `enough`) gets the whole shortlist
    store.close()
