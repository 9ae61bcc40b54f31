"""The engine's benchmarks, each against the raw tool on the same input in the same run."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

WORDS = (
    "invoice payment lease rent landlord tenant deposit insurance claim policy doctor "
    "hospital receipt pharmacy school board meeting minutes budget tax return refund "
    "contract agreement signature notary property deed mortgage bank statement account "
    "salary employer pension letter council permit building garden water electricity gas "
    "meter reading quarter annual report vehicle registration ticket fine court hearing"
).split()


def _page_image(seed: int) -> Image.Image:
    """An A4 page at 300 dpi with ~350 words of text."""
    rng = random.Random(seed)
    page = Image.new("L", (2480, 3508), 255)
    draw = ImageDraw.Draw(page)
    font = ImageFont.load_default(size=42)
    for line in range(40):
        text = " ".join(rng.choice(WORDS) for _ in range(9))
        draw.text((200, 200 + line * 75), text, font=font, fill=0)
    page.info["dpi"] = (300, 300)
    return page


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values) * 1000, q))


def bench_ocr(work: Path, pages: int) -> None:
    """Pages/min through Library.add vs the tesseract CLI with the same parallelism."""
    from engine import Library
    from engine.backends.pool import default_workers
    from engine.testing import HashingEmbedder

    work.mkdir(parents=True)
    docs = work / "pages"
    docs.mkdir()
    for i in range(pages):
        _page_image(i).save(docs / f"page{i:03}.png", dpi=(300, 300))
    workers = default_workers()

    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}

    def cli(path: Path) -> None:
        subprocess.run(["tesseract", str(path), "stdout", "tsv"], env=env, check=True,
                       capture_output=True)

    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(cli, sorted(docs.iterdir())))
    raw = time.perf_counter() - start

    start = time.perf_counter()
    with Library.open(work / "lib", embedder=HashingEmbedder()) as lib:
        report = lib.add([docs], workers=workers)
    ours = time.perf_counter() - start
    assert report.indexed == pages, report
    raw_rate, our_rate = pages / raw * 60, pages / ours * 60
    print(f"pages: {pages} (A4, 300 dpi), workers: {workers}")
    print(f"tesseract CLI (tsv, OMP_THREAD_LIMIT=1, {workers} parallel): {raw_rate:.1f} pages/min")
    print(f"scandex index (OCR + chunk + store, fake embedder):      {our_rate:.1f} pages/min")
    print(f"ratio: {our_rate / raw_rate:.2f}x (target >= 0.95x)")


def bench_embed(chunks: int = 256) -> None:
    """Chunks/s through MiniLMEmbedder vs a bare SentenceTransformer.encode."""
    from engine.backends.minilm import MiniLMEmbedder

    rng = random.Random(7)
    texts = [" ".join(rng.choice(WORDS) for _ in range(96)) for _ in range(chunks)]
    ours = MiniLMEmbedder()
    model = ours.load()
    model.encode(texts[:16])  # warm up both paths once
    start = time.perf_counter()
    model.encode(texts, batch_size=16, normalize_embeddings=True, convert_to_numpy=True)
    raw = time.perf_counter() - start
    start = time.perf_counter()
    ours.embed(texts)
    mine = time.perf_counter() - start
    print(f"chunks: {chunks} x 96 words")
    print(f"bare SentenceTransformer.encode: {chunks / raw:.1f} chunks/s")
    print(f"MiniLMEmbedder.embed:            {chunks / mine:.1f} chunks/s")
    print(f"ratio: {raw / mine:.2f}x (target >= 0.95x)")


def _fill_store(library_dir: Path, chunks: int) -> None:
    """A library with `chunks` synthetic chunks (10 per document, 384-d random vectors)."""
    from engine.backends.minilm import MINILM_ID
    from engine.models import Box, Chunk, PageText, Word
    from engine.store.db import Store

    rng = np.random.default_rng(1)
    vocabulary = WORDS + [f"term{i}" for i in range(5000)]
    weights = 1 / np.arange(1, len(vocabulary) + 1)
    weights /= weights.sum()
    store = Store(library_dir)
    per_doc = 10
    for doc in range(chunks // per_doc):
        tokens = rng.choice(len(vocabulary), size=per_doc * 60, p=weights)
        words = [Word(vocabulary[t], Box(i % 12 * 150, i // 12 * 60, 140, 50))
                 for i, t in enumerate(tokens)]
        page = PageText(1, 2480, 3508, words, "ocr")
        chunk_list = [Chunk(1, k, k * 60, k * 60 + 60,
                            " ".join(w.text for w in words[k * 60:k * 60 + 60]))
                      for k in range(per_doc)]
        vectors = rng.standard_normal((per_doc, 384)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        sha = f"{doc:064x}"
        store.commit_document(path=Path(f"/bench/doc{doc:06}.png"), kind="png", sha256=sha,
                              size=1, mtime_ns=1, pages=[page], chunks=chunk_list,
                              vectors=vectors, model_id=MINILM_ID)
    store.close()


def bench_search(work: Path, sizes: list[int], queries: int = 60) -> None:
    """p50/p95 of each mode vs a bare FTS5 query and a bare numpy dot product."""
    from engine import Library
    from engine.backends.minilm import MiniLMEmbedder

    embedder = MiniLMEmbedder()
    embedder.load()
    rng = random.Random(3)
    # Query words drawn like the indexed text's words (Zipf), as real queries mix
    # common and rare terms; a tenth of the queries are the commonest words only.
    vocabulary = WORDS + [f"term{i}" for i in range(5000)]
    weights = [1 / (i + 1) for i in range(len(vocabulary))]
    qs = [" ".join(rng.choices(vocabulary, weights, k=rng.randint(1, 3)))
          for _ in range(queries * 9 // 10)]
    qs += [" ".join(rng.choice(WORDS[:10]) for _ in range(2)) for _ in range(queries // 10)]
    for size in sizes:
        lib_dir = work / f"lib{size}"
        start = time.perf_counter()
        _fill_store(lib_dir, size)
        print(f"\n{size} chunks (built in {time.perf_counter() - start:.0f} s)")
        with Library.open(lib_dir, embedder=embedder, read_only=True) as lib:
            lib.search("warm up", mode="hybrid")  # loads the vector matrix once
            db = lib.store.db
            matrix = lib._searcher.vectors.matrix
            raw_fts, raw_dot = [], []
            for q in qs:
                t = time.perf_counter()
                db.execute("SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ? "
                           "ORDER BY bm25(chunks_fts) LIMIT 400",
                           [" OR ".join(f'"{w}"' for w in q.split())]).fetchall()
                raw_fts.append(time.perf_counter() - t)
                vector = embedder.embed([q])[0]
                t = time.perf_counter()
                scores = matrix @ vector
                np.argpartition(-scores, 400)[:400]
                raw_dot.append(time.perf_counter() - t)
            print(f"  bare FTS5 bm25 query:   p50 {_pct(raw_fts, 50):6.1f} ms  "
                  f"p95 {_pct(raw_fts, 95):6.1f} ms")
            print(f"  bare numpy dot + top-k: p50 {_pct(raw_dot, 50):6.1f} ms  "
                  f"p95 {_pct(raw_dot, 95):6.1f} ms")
            for mode in ("keyword", "semantic", "hybrid"):
                times = []
                for q in qs:
                    lib._searcher._recent.clear()  # no help from the query-vector cache
                    t = time.perf_counter()
                    lib.search(q, mode=mode, limit=10)
                    times.append(time.perf_counter() - t)
                print(f"  scandex {mode:8} (incl. query embedding, snippets, boxes): "
                      f"p50 {_pct(times, 50):6.1f} ms  p95 {_pct(times, 95):6.1f} ms")
        shutil.rmtree(lib_dir)


def bench_incremental(work: Path, files: int = 1000) -> None:
    """Re-index of unchanged files vs a bare os.walk + stat of the same tree."""
    from engine import Library
    from engine.backends.pool import InlineExecutor
    from engine.testing import FakeOcr, HashingEmbedder, write_fake_scan

    docs = work / "docs"
    for i in range(files):
        folder = docs / f"box{i // 100:02}"
        folder.mkdir(parents=True, exist_ok=True)
        write_fake_scan(folder / f"scan{i:04}.png", f"document {i} words", size=(40, 40))
    with Library.open(work / "lib", embedder=HashingEmbedder(), ocr=FakeOcr(),
                      executor=InlineExecutor()) as lib:
        lib.add([docs])
        start = time.perf_counter()
        report = lib.add([docs])
        ours = time.perf_counter() - start
    assert report.skipped_unchanged == files, report
    start = time.perf_counter()
    count = sum(1 for root, _, names in os.walk(docs) for n in names
                if os.stat(os.path.join(root, n)).st_size >= 0)
    raw = time.perf_counter() - start
    print(f"re-index of {count} unchanged files: {ours:.3f} s (target <= 1 s)")
    print(f"bare os.walk + stat of the same tree: {raw:.3f} s (ratio {ours / raw:.1f}x)")
