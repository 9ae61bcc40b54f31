"""The engine's benchmarks, each against the raw tool on the same input in the same run."""

from __future__ import annotations

import os
import random
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
    variants = onnx_variants(texts)
    for name, figures in variants.items():
        print(f"ONNX {name:5}: {figures['chunks_per_s']:.1f} chunks/s, "
              f"{figures['cpu_ms_per_chunk']:.1f} ms of CPU a chunk (one thread)")
    less = variants["float"]["cpu_ms_per_chunk"] / variants["int8"]["cpu_ms_per_chunk"]
    print(f"int8 vs float: {less:.2f}x less CPU; cosine min {variants['int8']['cosine_min']:.4f}, "
          f"median {variants['int8']['cosine_median']:.4f}")


def onnx_variants(texts: list[str]) -> dict[str, dict[str, float]]:
    """The default embedder's two model files on the same texts: speed, and the int8
    vectors' cosine to the float ones (docs/benchmarks.md, "The int8 embedder")."""
    from engine.backends.onnx_minilm import OnnxMiniLMEmbedder

    out: dict[str, dict[str, float]] = {}
    vectors = {}
    for precision in ("float", "int8"):
        embedder = OnnxMiniLMEmbedder(precision=precision)
        embedder.embed(texts[:2])  # load the session outside the timing
        wall, cpu = time.perf_counter(), time.process_time()
        vectors[precision] = embedder.embed(texts)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        out[precision] = {"chunks_per_s": len(texts) / wall,
                          "cpu_ms_per_chunk": cpu * 1000 / len(texts)}
    cosines = (vectors["int8"] * vectors["float"]).sum(axis=1)
    out["int8"]["cosine_min"] = float(cosines.min())
    out["int8"]["cosine_median"] = float(np.median(cosines))
    return out


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
