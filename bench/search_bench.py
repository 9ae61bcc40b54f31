"""Search at scale: p50/p95 of each mode, the ANN ranker's recall@10 against exact search,
the searching process's memory, cold start, the ANN build and an incremental update.

The synthetic libraries are built once and cached in .cache/bench-search (1M chunks:
see docs/benchmarks.md for how long). Their words follow a Zipf law over the WORDS of
engine_bench; their vectors are MiniLM embeddings of SciFact abstracts with noise (cosine
~0.75 to their anchor), so real MiniLM queries land among them as they would among a
real library's chunks (random vectors would make every ANN look worse than it is).
Each size is measured in a fresh process, so its memory is the searching process's only.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.engine_bench import WORDS, _pct

CACHE = Path(__file__).resolve().parents[1] / ".cache" / "bench-search"
PER_DOC = 10
_ANCHORS = 3000


def _anchors() -> np.ndarray:
    """MiniLM vectors of real abstracts (cached)."""
    path = CACHE / "anchors.npy"
    if path.exists():
        return np.load(path)
    from bench.quality import load
    from engine.backends.factory import make_embedder

    corpus, _, _ = load()
    texts = [f"{d['title']}. {d['text'][:600]}" for d in list(corpus.values())[:_ANCHORS]]
    embedder = make_embedder()
    vectors = np.vstack([embedder.embed(texts[i : i + 64]) for i in range(0, len(texts), 64)])
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors.astype(np.float32))
    return vectors.astype(np.float32)


def _queries(count: int = 60) -> list[str]:
    """Word queries drawn like the indexed words (Zipf; a tenth the commonest words
    only) and SciFact's own questions for meaning."""
    from bench.quality import load

    rng = random.Random(3)
    vocabulary = WORDS + [f"term{i}" for i in range(5000)]
    weights = [1 / (i + 1) for i in range(len(vocabulary))]
    qs = [" ".join(rng.choices(vocabulary, weights, k=rng.randint(1, 3)))
          for _ in range(count * 9 // 10)]
    qs += [" ".join(rng.choice(WORDS[:10]) for _ in range(2)) for _ in range(count // 10)]
    _, questions, _ = load()
    return qs + sorted(questions.values())[:count]


def library(size: int) -> tuple[Path, dict[str, Any]]:
    """The cached synthetic library of `size` chunks and how it was built."""
    from engine.backends.minilm import MINILM_ID
    from engine.models import Box, Chunk, PageText, Word
    from engine.search import ann
    from engine.store.db import Store

    folder = CACHE / f"lib{size}"
    record = folder / "built.json"
    if record.exists():
        store = Store(folder)  # brings a library cached by an older version up to date
        _writers_pass(store, folder)
        store.close()
        return folder, json.loads(record.read_text())
    if folder.exists():
        import shutil

        shutil.rmtree(folder)  # an interrupted build: start again
    anchors = _anchors()
    rng = np.random.default_rng(1)
    vocabulary = WORDS + [f"term{i}" for i in range(5000)]
    weights = 1 / np.arange(1, len(vocabulary) + 1)
    weights /= weights.sum()
    start = time.perf_counter()
    store = Store(folder)
    for doc in range(size // PER_DOC):
        tokens = rng.choice(len(vocabulary), size=PER_DOC * 60, p=weights)
        words = [Word(vocabulary[t], Box(i % 12 * 150, i // 12 * 60, 140, 50))
                 for i, t in enumerate(tokens)]
        page = PageText(1, 2480, 3508, words, "ocr")
        chunks = [Chunk(1, k, k * 60, k * 60 + 60,
                        " ".join(w.text for w in words[k * 60:k * 60 + 60]))
                  for k in range(PER_DOC)]
        noise = rng.standard_normal((PER_DOC, anchors.shape[1])).astype(np.float32)
        noise *= 0.88 / np.linalg.norm(noise, axis=1, keepdims=True)
        vectors = anchors[rng.integers(0, len(anchors), PER_DOC)] + noise
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        store.commit_document(path=Path(f"/bench/{doc % 10}/doc{doc:07}.png"), kind="png",
                              sha256=f"{doc:064x}", size=1, mtime_ns=1, pages=[page],
                              chunks=chunks, vectors=vectors, model_id=MINILM_ID)
    built = {"chunks": size, "library_s": round(time.perf_counter() - start, 1)}
    start = time.perf_counter()
    ann.AnnFile(folder, MINILM_ID, anchors.shape[1]).update(store)
    built["ann_build_s"] = round(time.perf_counter() - start, 1) if size >= ann.ANN_FROM_CHUNKS \
        else None
    _writers_pass(store, folder)
    store.close()
    record.write_text(json.dumps(built))
    return folder, built


def _writers_pass(store: Any, folder: Path) -> None:
    """What a writer leaves after each index run (Library._update_derived): the word
    list and the vector index's description, which a searching process's start reads."""
    from engine.backends.minilm import MINILM_ID
    from engine.search import ann
    from engine.store.vocabulary import write_vocabulary

    write_vocabulary(store)
    ann.AnnFile(folder, MINILM_ID, 384).update(store)


def cold_start(folder: Path, evict: bool) -> float:
    """Seconds from opening the library to the first search's hits, in a fresh process;
    evict: the library's files dropped from the page cache first (as after a reboot)."""
    from engine import Library
    from engine.backends.factory import make_embedder

    if evict:
        _evict(folder)
    embedder = make_embedder()
    start = time.perf_counter()
    lib = Library.open(folder, embedder=embedder, read_only=True)
    lib.search("scanned invoice from the garage", mode="hybrid")
    seconds = time.perf_counter() - start
    lib.close()
    return round(seconds, 2)


def _evict(folder: Path) -> None:
    """Drop the library's files from the page cache (as after a reboot)."""
    for path in folder.iterdir():
        with path.open("rb") as handle:  # clean pages only: the cache is written
            os.posix_fadvise(handle.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)


def first_queries(folder: Path, read_ahead: bool = True) -> dict[str, Any]:
    """Hybrid p50/p95 of the queries a fresh process asks first after the library left
    the page cache (a reboot), with the read-ahead the desktop and the server start."""
    from engine import Library
    from engine.backends.factory import make_embedder

    _evict(folder)
    lib = Library.open(folder, embedder=make_embedder(), read_only=True)
    reading = lib.warm_page_cache() if read_ahead else None
    times = []
    for q in _queries():
        t = time.perf_counter()
        lib.search(q, mode="hybrid", limit=10)
        times.append(time.perf_counter() - t)
    out = {"p50_ms": round(_pct(times, 50), 1), "p95_ms": round(_pct(times, 95), 1),
           "read_ahead_still_running": reading is not None and reading.is_alive()}
    lib.close()
    return out


def measure(folder: Path, ann_from: int | None) -> dict[str, Any]:
    """Run in a fresh process: cold start, each mode's p50/p95 once the library is read
    ahead (as the desktop and the server do after opening), memory, recall@10."""
    import engine.search.ann as ann
    from engine import Library
    from engine.backends.factory import make_embedder

    if ann_from is not None:
        ann.ANN_FROM_CHUNKS = ann_from
    queries = _queries()
    start = time.perf_counter()
    lib = Library.open(folder, embedder=make_embedder(), read_only=True)
    lib.search("warm up", mode="hybrid")
    cold = time.perf_counter() - start
    start = time.perf_counter()
    lib.warm_page_cache().join()  # steady state; first_queries measures before it
    vectors = lib._searcher.vectors
    out: dict[str, Any] = {"approximate": vectors.approximate, "cold_start_s": round(cold, 2),
                           "read_ahead_s": round(time.perf_counter() - start, 2)}
    bare = []
    for q in queries:  # the raw tool: one FTS5 bm25 query, nothing else
        t = time.perf_counter()
        lib.store.db.execute("SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ? "
                             "ORDER BY rank LIMIT 400",
                             [" OR ".join(f'"{w}"' for w in q.split() if w.isalnum())
                              or '"x"']).fetchall()
        bare.append(time.perf_counter() - t)
    out["bare_fts5_any_word"] = {"p50_ms": round(_pct(bare, 50), 1),
                                 "p95_ms": round(_pct(bare, 95), 1)}
    for mode in ("keyword", "semantic", "hybrid"):
        times = []
        for q in queries:
            lib._searcher._recent.clear()  # no help from the query-vector cache
            t = time.perf_counter()
            lib.search(q, mode=mode, limit=10)
            times.append(time.perf_counter() - t)
        out[mode] = {"p50_ms": round(_pct(times, 50), 1), "p95_ms": round(_pct(times, 95), 1)}
    out["rss_mb"] = round(int(Path("/proc/self/statm").read_text().split()[1])
                          * os.sysconf("SC_PAGE_SIZE") / 2**20)
    out["recall_at_10"] = _recall(lib, queries)
    out["recall_at_10_by_query"] = _recall_by_kind(lib, queries)
    lib.close()
    return out


def _recall(lib: Any, queries: list[str]) -> float:
    """Overlap of the meaning ranker's top 10 chunks with an exact scan's, streamed from
    SQLite in blocks (no second copy of the vectors stays in memory)."""
    from engine.search.vector_search import Scope

    searcher = lib._searcher
    model = lib.embedder.model_id
    matrix = np.vstack([lib.embedder.embed([q])[0] for q in queries]).astype(np.float32)
    # As search asks: its 400 candidates, rescored exactly, then the best 10.
    found = [[h.chunk_id for h in searcher.vectors.resolve(
        lib.store.reads, searcher.vectors.shortlist(row, 400, Scope(), -1.0))][:10]
        for row in matrix]
    ids = lib.store.reads.vector_ids(model)
    best_scores = np.full((len(queries), 10), -np.inf, dtype=np.float32)
    best_ids = np.zeros((len(queries), 10), dtype=np.int64)
    for start in range(0, len(ids), 50_000):
        rows = lib.store.reads.vectors_by_id(model, ids[start : start + 50_000].tolist())
        block = np.frombuffer(b"".join(r[3] for r in rows), dtype="<f4").reshape(len(rows), -1)
        block_ids = np.array([r[0] for r in rows], dtype=np.int64)
        scores = matrix @ block.T
        all_scores = np.hstack([best_scores, scores])
        all_ids = np.hstack([best_ids, np.broadcast_to(block_ids, scores.shape)])
        top = np.argsort(-all_scores, axis=1)[:, :10]
        best_scores = np.take_along_axis(all_scores, top, axis=1)
        best_ids = np.take_along_axis(all_ids, top, axis=1)
    overlaps = [len(set(f) & set(e.tolist())) / 10 for f, e in zip(found, best_ids, strict=True)]
    return round(float(np.mean(overlaps)), 3)


def _recall_by_kind(lib: Any, queries: list[str]) -> dict[str, float]:
    """Recall@10 for the word queries (far from every synthetic chunk: their top 10 are
    near-ties, the hardest case for a graph) and for SciFact's questions (near them)."""
    half = len(queries) // 2
    return {"word_queries": _recall(lib, queries[:half]),
            "questions": _recall(lib, queries[half:])}


def _update_cost(folder: Path) -> dict[str, float]:
    """Commit 1,000 chunks to the library, then: a reader's refresh (the new chunks join
    the exact tail), the writer's pass after an index run (below MERGE_TAIL_ROWS: no
    fold) and a forced merge into the ANN file; all removed again after."""
    import shutil

    from engine.backends.minilm import MINILM_ID
    from engine.models import Box, Chunk, PageText, Word
    from engine.search import ann
    from engine.search.vector_search import VectorSearch
    from engine.store.db import Store

    copy = folder.parent / f"{folder.name}-update"
    if copy.exists():
        shutil.rmtree(copy)
    shutil.copytree(folder, copy)
    try:
        store = Store(copy)
        search = VectorSearch()
        search.refresh(store, MINILM_ID, 384)
        rng = np.random.default_rng(9)
        page = PageText(1, 100, 100, [Word("new", Box(0, 0, 1, 1))] * 20, "ocr")
        chunks = [Chunk(1, k, 2 * k, 2 * k + 2, "new text") for k in range(PER_DOC)]
        for doc in range(100):
            vectors = rng.standard_normal((PER_DOC, 384)).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            store.commit_document(path=Path(f"/new/{doc}.png"), kind="png",
                                  sha256=f"{10**9 + doc:064x}", size=1, mtime_ns=1,
                                  pages=[page], chunks=chunks, vectors=vectors,
                                  model_id=MINILM_ID)
        start = time.perf_counter()
        search.refresh(store, MINILM_ID, 384)
        refresh = time.perf_counter() - start
        start = time.perf_counter()
        ann.AnnFile(copy, MINILM_ID, 384).update(store)  # the writer's pass after a run
        writer = time.perf_counter() - start
        start = time.perf_counter()
        ann.AnnFile(copy, MINILM_ID, 384).update(store, force=True)
        merge = time.perf_counter() - start
        store.close()
    finally:
        shutil.rmtree(copy)
    return {"add_1000_refresh_s": round(refresh, 3), "add_1000_writer_s": round(writer, 3),
            "add_1000_merge_s": round(merge, 2)}


def bench_search(sizes: list[int], as_json: bool = False) -> dict[str, Any]:
    """Measure every size; print a table, and with as_json the JSON object last."""
    results: dict[str, Any] = {}
    for size in sizes:
        start = time.perf_counter()
        folder, built = library(size)
        print(f"\n{size} chunks: library built in {built['library_s']} s, ANN in "
              f"{built['ann_build_s']} s (cached; ready in {time.perf_counter() - start:.0f} s)",
              flush=True)
        figures = _measure_in_child(folder, None)
        figures["build_s"] = built["ann_build_s"]
        from engine.search import ann

        if size >= ann.ANN_FROM_CHUNKS:
            figures.update(_update_cost(folder))
            # The exact scan at this size, for comparison (its memory is the cost).
            exact = _measure_in_child(folder, 10**12)
            figures["exact_scan"] = {k: exact[k] for k in
                                     ("semantic", "hybrid", "rss_mb", "cold_start_s")}
        elif size >= 50_000:
            forced = _measure_in_child(folder, 0, build_first=True)
            figures["with_ann"] = {k: forced[k] for k in
                                   ("semantic", "hybrid", "rss_mb", "recall_at_10")}
        figures["cold_start_warm_cache_s"] = _cold_start_in_child(folder, evict=False)
        # Last: these drop the library from the page cache, which the figures above and
        # a next size's would otherwise pay for.
        figures["cold_start_cold_disk_s"] = _cold_start_in_child(folder, evict=True)
        figures["hybrid_first_queries_cold_disk"] = _first_queries_in_child(folder)
        results[str(size)] = figures
        for key, value in figures.items():
            print(f"  {key}: {value}", flush=True)
    report = {"sizes": results}
    if as_json:
        print(json.dumps(report))
    return report


def _measure_in_child(folder: Path, ann_from: int | None,
                      build_first: bool = False) -> dict[str, Any]:
    if build_first:
        # An ANN file for a size below the threshold, to show what it would give there.
        _build_forced(folder)
    code = ("import json, sys; from pathlib import Path; from bench.search_bench import measure;"
            "a = None if sys.argv[2] == 'none' else int(sys.argv[2]);"
            "print(json.dumps(measure(Path(sys.argv[1]), a)))")
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-c", code, str(folder),
                           "none" if ann_from is None else str(ann_from)],
                          cwd=root, capture_output=True, text=True, check=True,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _cold_start_in_child(folder: Path, evict: bool) -> float:
    code = ("import sys; from pathlib import Path; from bench.search_bench import cold_start;"
            "print(cold_start(Path(sys.argv[1]), sys.argv[2] == 'evict'))")
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-c", code, str(folder),
                           "evict" if evict else "keep"], cwd=root, capture_output=True,
                          text=True, check=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    return float(done.stdout.strip().splitlines()[-1])


def _first_queries_in_child(folder: Path) -> dict[str, Any]:
    code = ("import json, sys; from pathlib import Path; from bench.search_bench import "
            "first_queries; print(json.dumps(first_queries(Path(sys.argv[1]))))")
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-c", code, str(folder)], cwd=root,
                          capture_output=True, text=True, check=True,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _build_forced(folder: Path) -> None:
    from engine.backends.minilm import MINILM_ID
    from engine.search import ann
    from engine.store.db import Store

    file = ann.AnnFile(folder, MINILM_ID, 384)
    if file.open() is not None:
        return
    saved = ann.ANN_FROM_CHUNKS
    ann.ANN_FROM_CHUNKS = 0
    try:
        store = Store(folder)
        file.update(store)
        store.close()
    finally:
        ann.ANN_FROM_CHUNKS = saved
