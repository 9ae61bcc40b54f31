"""The ANN index beside SQLite: it agrees with exact search, never returns a removed
chunk, sees what it does not hold yet, and a missing, damaged or half-written file (a kill
mid-update) costs speed only."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import engine.search.ann as ann
import engine.search.vector_search as vector_search
from engine.models import Box, Chunk, PageText, SearchFilters, Word
from engine.search.vector_search import VectorSearch
from engine.search.vectors import VectorCache
from engine.store.db import Store

pytest.importorskip("usearch")

MODEL = "test-model"
DIM = 32
PER_DOC = 4


def _vectors(rng: np.random.Generator, centers: np.ndarray, n: int) -> np.ndarray:
    """Clustered unit vectors, like embeddings of texts on a few topics."""
    v = centers[rng.integers(0, len(centers), n)] + rng.standard_normal((n, DIM)) * 0.8
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def _add_documents(store: Store, start: int, count: int, seed: int,
                   folder: str = "/docs") -> None:
    rng = np.random.default_rng(seed)
    centers = np.random.default_rng(0).standard_normal((12, DIM))
    words = [Word("w", Box(0, 0, 1, 1))] * 8
    page = PageText(1, 100, 100, words, "ocr")
    chunks = [Chunk(1, k, 2 * k, 2 * k + 2, f"text {k}") for k in range(PER_DOC)]
    for doc in range(start, start + count):
        store.commit_document(path=Path(f"{folder}/d{doc:05}.png"), kind="png",
                              sha256=f"{doc:064x}", size=1, mtime_ns=1, pages=[page],
                              chunks=chunks, vectors=_vectors(rng, centers, PER_DOC),
                              model_id=MODEL)


def _indexed(tmp_path: Path, documents: int, seed: int) -> tuple[Store, ann.AnnFile]:
    """A library of `documents` (4 chunks each) and its ANN file, brought up to date."""
    store = Store(tmp_path)
    _add_documents(store, 0, documents, seed=seed)
    file = ann.AnnFile(tmp_path, MODEL, DIM)
    file.update(store)
    return store, file


@pytest.fixture
def small_thresholds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ann, "ANN_FROM_CHUNKS", 200)
    monkeypatch.setattr(ann, "MERGE_TAIL_ROWS", 100)


def _queries(n: int = 25) -> list[np.ndarray]:
    return list(_vectors(np.random.default_rng(77), np.random.default_rng(0).standard_normal(
        (12, DIM)), n))


def _exact(store: Store, query: np.ndarray, k: int,
           filters: SearchFilters | None = None) -> list[int]:
    cache = VectorCache()
    cache.refresh(store, MODEL, DIM)
    allowed = store.reads.allowed_contents(filters) if filters else None
    return [h.chunk_id for h in cache.top(query, k, allowed, floor=-1.0)]


def _approx(search: VectorSearch, store: Store, query: np.ndarray, k: int,
            filters: SearchFilters | None = None) -> list[int]:
    search.refresh(store, MODEL, DIM)
    scope = search.scope(store, filters or SearchFilters())
    found = search.resolve(store.reads, search.shortlist(query, k, scope, floor=-1.0))
    return [h.chunk_id for h in found]


def _overlap(a: list[int], b: list[int]) -> float:
    return len(set(a) & set(b)) / max(1, len(b))


@pytest.mark.usefixtures("small_thresholds")
def test_ann_agrees_with_exact_search(tmp_path: Path) -> None:
    store = Store(tmp_path)
    _add_documents(store, 0, 150, seed=1)  # 600 chunks
    assert ann.AnnFile(tmp_path, MODEL, DIM).update(store)
    search = VectorSearch()
    search.refresh(store, MODEL, DIM)
    assert search.approximate
    overlaps = [_overlap(_approx(search, store, q, 10), _exact(store, q, 10)) for q in _queries()]
    assert np.mean(overlaps) >= 0.95
    # Scores are the exact float32 ones, whatever the graph's f16 said.
    query = _queries(1)[0]
    cache = VectorCache()
    cache.refresh(store, MODEL, DIM)
    exact = {h.chunk_id: h.score for h in cache.top(query, 600, None, floor=-1.0)}
    found = search.resolve(store.reads, search.shortlist(query, 10, vector_search.Scope(), -1.0))
    for hit in found:
        assert hit.score == pytest.approx(exact[hit.chunk_id], abs=1e-6)
    store.close()


@pytest.mark.usefixtures("small_thresholds")
def test_removed_chunks_never_come_back_and_new_ones_are_found(tmp_path: Path) -> None:
    store = Store(tmp_path)
    _add_documents(store, 0, 100, seed=2)
    ann.AnnFile(tmp_path, MODEL, DIM).update(store)
    removed_docs = [d.id for d in store.documents()][::2]
    store.remove_documents(removed_docs)
    _add_documents(store, 100, 20, seed=3)  # the tail: not in the file yet
    live = set(store.reads.vector_ids(MODEL).tolist())
    search = VectorSearch()
    for query in _queries():
        found = _approx(search, store, query, 20)
        assert set(found) <= live
        assert _overlap(found, _exact(store, query, 20)) >= 0.9
    # The newest chunks (higher ids than anything removed) are found through the tail.
    newest = store.reads.vectors_by_id(MODEL, [max(live)])[0]
    vector = np.frombuffer(newest[3], dtype="<f4")
    assert _approx(search, store, vector, 1) == [max(live)]
    # A forced update folds tail and removals into the file.
    assert ann.AnnFile(tmp_path, MODEL, DIM).update(store, force=True)
    opened = ann.AnnFile(tmp_path, MODEL, DIM).open()
    assert opened is not None and set(opened.keys.tolist()) == live
    store.close()


@pytest.mark.usefixtures("small_thresholds")
def test_a_reader_skips_reading_every_id_while_only_additions_happened(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Reading every chunk id costs seconds at 1M chunks from a cold disk: after
    additions only, the tail is the chunks after the file's highest key. A removal, or
    vectors set on existing chunks, sends readers back to comparing every id."""
    store, _ = _indexed(tmp_path, 100, seed=12)
    _add_documents(store, 100, 5, seed=13)  # the tail, after the file's keys
    every_id = store.reads.vector_ids
    read_every_id: list[bool] = []

    def counted(model_id: str, after: int = -1) -> np.ndarray:
        read_every_id.append(after < 0)
        return every_id(model_id, after)

    monkeypatch.setattr(store.reads, "vector_ids", counted)
    search = VectorSearch()
    search.refresh(store, MODEL, DIM)
    assert search.approximate and not any(read_every_id)
    newest = int(every_id(MODEL)[-1])
    vector = np.frombuffer(store.reads.vectors_by_id(MODEL, [newest])[0][3], dtype="<f4")
    assert _approx(search, store, vector, 1) == [newest]
    assert not ann.AnnFile(tmp_path, MODEL, DIM).update(store)  # the writer's pass, too
    assert not any(read_every_id)

    def fresh_reader_reads_every_id() -> bool:
        read_every_id.clear()
        VectorSearch().refresh(store, MODEL, DIM)
        return any(read_every_id)

    def update(force: bool = False) -> None:
        with monkeypatch.context() as undo:
            undo.setattr(store.reads, "vector_ids", every_id)
            ann.AnnFile(tmp_path, MODEL, DIM).update(store, force=force)

    # A removal from the tail: readers compare every id until the writer's next pass
    # (no fold: too few changes) notes that the file still lacks only what follows it.
    store.remove_documents([d.id for d in store.documents()][-1:])
    assert fresh_reader_reads_every_id()
    update()
    assert not fresh_reader_reads_every_id()

    # A removal of chunks the file holds: every id compared until the file is folded.
    removed = [d.id for d in store.documents()][:3]
    gone = {int(i) for i, _, _, _ in store.reads.vectors_by_id(MODEL, list(range(1, 13)))}
    store.remove_documents(removed)
    assert fresh_reader_reads_every_id()
    update()
    assert fresh_reader_reads_every_id()
    reader = VectorSearch()
    for query in _queries(10):
        assert not set(_approx(reader, store, query, 30)) & gone
    update(force=True)
    assert not fresh_reader_reads_every_id()
    assert not set(_approx(VectorSearch(), store, _queries(1)[0], 30)) & gone

    # Vectors set on existing chunks (a model's re-embedding).
    store.set_vectors([newest], vector[None, :], MODEL)
    assert fresh_reader_reads_every_id()
    store.close()


def test_chunk_ids_are_never_reused(tmp_path: Path) -> None:
    store = Store(tmp_path)
    _add_documents(store, 0, 2, seed=4)
    top = int(store.reads.vector_ids(MODEL).max())
    store.remove_documents([d.id for d in store.documents()][-1:])
    _add_documents(store, 5, 1, seed=5)
    assert int(store.reads.vector_ids(MODEL).min()) == 1
    assert sorted(store.reads.vector_ids(MODEL).tolist())[-PER_DOC] > top
    store.close()


@pytest.mark.usefixtures("small_thresholds")
@pytest.mark.parametrize("narrow_from", [0, 10_000])
def test_filters_lose_nothing_on_the_ann_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              narrow_from: int) -> None:
    """Wide filters oversample the graph, narrow ones are scanned exactly: both return
    what exact search returns within the filter (never fewer because candidates were cut
    before filtering)."""
    monkeypatch.setattr(vector_search, "EXACT_SCOPE_ROWS", narrow_from)
    store = Store(tmp_path)
    _add_documents(store, 0, 140, seed=6, folder="/docs/main")
    _add_documents(store, 140, 10, seed=7, folder="/docs/few")
    ann.AnnFile(tmp_path, MODEL, DIM).update(store)
    search = VectorSearch()
    for folder, k in (("/docs/few", 40), ("/docs/few", 10), ("/docs/main", 10)):
        filters = SearchFilters(path_prefix=folder)
        for query in _queries(10):
            found = _approx(search, store, query, k, filters)
            exact = _exact(store, query, k, filters)
            assert len(found) == len(exact)
            assert _overlap(found, exact) >= 0.9
            allowed = set(store.reads.chunk_ids_within(filters, MODEL).tolist())
            assert set(found) <= allowed
    store.close()


class _ShortSightedGraph:
    """An index whose searches reach only some of its keys, as an HNSW graph's may
    (blind: its walks end early, among the count after the best 4 * count)."""

    def __init__(self, index: object, reach: float, blind: bool = False) -> None:
        self._index, self._reach, self._blind = index, reach, blind

    def search(self, query: np.ndarray, count: int, threads: int = 1) -> object:
        asked = count * 5 if self._blind else count
        found = self._index.search(query, asked, threads=threads)  # type: ignore[attr-defined]
        reached = found.keys[-count:] if self._blind else \
            found.keys[: max(1, int(len(found.keys) * self._reach))]

        class Found:
            keys = reached

        return Found()

    def __getattr__(self, name: str) -> object:
        return getattr(self._index, name)


@pytest.mark.usefixtures("small_thresholds")
def test_a_graph_that_misses_keys_still_returns_all_that_exist(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A filtered search asking the graph for every key, when the graph returns fewer
    than asked, is answered by an exact scan of the allowed keys (it used to return
    the short list)."""
    monkeypatch.setattr(vector_search, "EXACT_SCOPE_ROWS", 10_000_000)
    store = Store(tmp_path)
    _add_documents(store, 0, 140, seed=6, folder="/docs/main")
    _add_documents(store, 140, 10, seed=7, folder="/docs/few")
    ann.AnnFile(tmp_path, MODEL, DIM).update(store)
    search = VectorSearch()
    search.refresh(store, MODEL, DIM)
    assert search._ann is not None
    monkeypatch.setattr(search._ann, "index", _ShortSightedGraph(search._ann.index, 0.3))
    monkeypatch.setattr(vector_search, "EXACT_SCOPE_ROWS", 0)
    filters = SearchFilters(path_prefix="/docs/few")
    for query in _queries(5):
        found = _approx(search, store, query, 40, filters)
        assert sorted(found) == sorted(_exact(store, query, 40, filters))
    store.close()


@pytest.mark.usefixtures("small_thresholds")
def test_missing_or_damaged_file_searches_exactly_and_is_rebuilt(tmp_path: Path) -> None:
    store = Store(tmp_path)
    _add_documents(store, 0, 100, seed=8)
    file = ann.AnnFile(tmp_path, MODEL, DIM)
    file.update(store)
    # Damage: cut the file short (its description no longer matches).
    data = file.path.read_bytes()
    file.path.write_bytes(data[: len(data) // 3])
    assert file.open() is None
    search = VectorSearch()
    query = _queries(1)[0]
    assert _approx(search, store, query, 10) == _exact(store, query, 10)
    assert not search.approximate  # exact meanwhile ...
    assert search._building is not None
    search._building.join(60)  # ... while a writable library rebuilds it in the background
    assert file.open() is not None
    assert _overlap(_approx(search, store, query, 10), _exact(store, query, 10)) >= 0.9
    assert search.approximate
    # Deleted outright: the same.
    file.path.unlink()
    assert _approx(search, store, query, 10) == _exact(store, query, 10)
    store.close()


_UPDATER = """
import sys
from pathlib import Path
import engine.search.ann as ann
from engine.store.db import Store
ann.ANN_FROM_CHUNKS = 200
store = Store(Path(sys.argv[1]))
print("ready", flush=True)
while True:
    ann.AnnFile(Path(sys.argv[1]), "test-model", 32).update(store, force=True)
    ann.AnnFile(Path(sys.argv[1]), "test-model", 32).path.unlink()
"""


@pytest.mark.usefixtures("small_thresholds")
def test_a_kill_mid_update_leaves_search_working(tmp_path: Path) -> None:
    store = Store(tmp_path)
    _add_documents(store, 0, 300, seed=9)
    query = _queries(1)[0]
    expected = _exact(store, query, 10)
    root = Path(__file__).resolve().parents[3]
    for delay in (0.05, 0.2, 0.45, 0.8):
        child = subprocess.Popen([sys.executable, "-c", _UPDATER, str(tmp_path)], cwd=root,
                                 stdout=subprocess.PIPE,
                                 env={**os.environ, "PYTHONPATH": str(root)})
        assert child.stdout is not None and child.stdout.readline().strip() == b"ready"
        time.sleep(delay)
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        search = VectorSearch()
        assert _overlap(_approx(search, store, query, 10), expected) >= 0.9
        if search._building is not None:
            search._building.join(60)
    assert ann.AnnFile(tmp_path, MODEL, DIM).update(store, force=True) in (True, False)
    assert ann.AnnFile(tmp_path, MODEL, DIM).open() is not None
    store.close()


@pytest.mark.usefixtures("small_thresholds")
def test_a_small_library_keeps_no_file(tmp_path: Path) -> None:
    store = Store(tmp_path)
    _add_documents(store, 0, 60, seed=10)  # 240 chunks
    file = ann.AnnFile(tmp_path, MODEL, DIM)
    assert file.update(store)
    store.remove_documents([d.id for d in store.documents()][:30])  # 120 chunks left
    assert file.update(store)
    assert not file.path.exists()
    search = VectorSearch()
    query = _queries(1)[0]
    assert _approx(search, store, query, 5) == _exact(store, query, 5)
    assert not search.approximate
    store.close()


def test_the_ann_library_loads_before_the_embedder_without_a_crash() -> None:
    """usearch first, then onnxruntime, crashed the process (found by bench search)."""
    pytest.importorskip("onnxruntime")
    code = ("import engine.search.ann as a; a.usearch_index(); import onnxruntime;"
            "print('alive')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[3], timeout=120)
    assert done.returncode == 0 and "alive" in done.stdout, done.stderr
