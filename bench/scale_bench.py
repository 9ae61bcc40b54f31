"""Scale-out: pages/min through the local pool vs a Dask LocalCluster (local:2), and
the single writer's cost per document, from which the worker count where the writer
becomes the bottleneck follows."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np


def bench_scale(work: Path, pages: int = 16) -> None:
    """Print the figures and the estimate."""
    from bench.engine_bench import _page_image
    from engine import Library
    from engine.backends.dask_cluster import DaskExecutor
    from engine.backends.factory import make_embedder

    docs = work / "pages"
    docs.mkdir(parents=True)
    for i in range(pages):
        _page_image(100 + i).save(docs / f"p{i:03}.png", dpi=(300, 300))
    start = time.perf_counter()
    # The real (default) embedder on both paths: the writer's process embeds while the
    # workers OCR, as in real use.
    with Library.open(work / "pool", embedder=make_embedder()) as lib:
        lib.add([docs], workers=2)
    pool = time.perf_counter() - start
    start = time.perf_counter()
    executor = DaskExecutor("local:2")
    startup = time.perf_counter() - start
    try:
        start = time.perf_counter()
        with Library.open(work / "dask", embedder=make_embedder(), executor=executor) as lib:
            lib.add([docs])
        dask = time.perf_counter() - start
    finally:
        executor.shutdown()
    pool_rate, dask_rate = pages / pool * 60, pages / dask * 60
    print(f"{pages} A4 pages at 300 dpi, 2 cores")
    print(f"local process pool (2 workers):        {pool_rate:.1f} pages/min")
    print(f"Dask LocalCluster local:2 (2 x 1 thread): {dask_rate:.1f} pages/min "
          f"(+{startup:.1f} s cluster start-up, not counted)")
    print(f"scheduler overhead: {(1 - dask_rate / pool_rate) * 100:+.1f}% (target <= 10%)")
    writer = _writer_cost(work / "writer")
    per_worker_pages_s = dask_rate / 60 / 2
    print(f"single writer: {writer * 1000:.1f} ms per 1-page document (commit with pages, "
          f"3 chunks, vectors, FTS)")
    print(f"one OCR worker: {per_worker_pages_s:.2f} pages/s -> the writer keeps up with "
          f"~{1 / writer / per_worker_pages_s:.0f} workers before it becomes the bottleneck")


def _writer_cost(folder: Path, documents: int = 200) -> float:
    """Seconds per committed one-page document with 3 chunks and their vectors."""
    from engine.ingest.chunking import chunk_document
    from engine.models import Box, PageText, Word
    from engine.store.db import Store

    store = Store(folder)
    words = [Word(f"word{i % 300}", Box(i, i, 10, 10), 90.0) for i in range(220)]
    page = PageText(1, 2480, 3508, words, "ocr")
    chunks = chunk_document([page])
    vectors = np.random.default_rng(0).standard_normal((len(chunks), 384)).astype(np.float32)
    start = time.perf_counter()
    for i in range(documents):
        store.commit_document(path=Path(f"/w/{i}.png"), kind="png", sha256=f"{i:064x}", size=1,
                              mtime_ns=1, pages=[page], chunks=chunks, vectors=vectors,
                              model_id="m")
    cost = (time.perf_counter() - start) / documents
    store.close()
    return cost
