"""End to end indexing against bare Tesseract: `python -m bench e2e --pages N`.

N mixed pages (FUNSD forms, UNLV and sample scans from ../shared/corpus, synthetic A4
letters at 300 dpi) are read twice: by the `tesseract` CLI (TSV out, OMP_THREAD_LIMIT=1,
as many at a time as Scandex has workers) and by a whole `scandex index` process on a
fresh library (import, model load, discovery, OCR, chunking, embedding with the default
embedder, commits). The ratio is Tesseract's time over Scandex's (1.0: same pace).
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"


def _corpus_pages() -> list[Path]:
    """Real scans, alternating kinds so any N is a mix."""
    forms = sorted((CORPUS / "funsd" / "training_data" / "images").glob("*.png"))
    unlv = sorted((CORPUS / "tesseract-test").glob("*.tif"))
    samples = [CORPUS / "pytesseract-testdata" / n for n in ("test.png", "test-european.jpg")]
    groups = [forms, unlv, [p for p in samples if p.exists()]]
    mixed = [p for row in itertools.zip_longest(*groups) for p in row if p is not None]
    return mixed


def _prepare(folder: Path, pages: int) -> list[Path]:
    from bench.engine_bench import _page_image

    folder.mkdir(parents=True)
    chosen: list[Path] = []
    real = _corpus_pages()
    for i in range(pages):
        if i % 5 == 4 or i // 5 * 4 + i % 5 >= len(real):
            target = folder / f"{i:04}-letter.png"
            _page_image(i).save(target, dpi=(300, 300))
        else:
            source = real[(i // 5 * 4 + i % 5) % len(real)]
            target = folder / f"{i:04}-{source.name}"
            shutil.copyfile(source, target)
        chosen.append(target)
    return chosen


def bench_e2e(work: Path, pages: int) -> None:
    """Print both times and the ratio; the last line is one JSON object."""
    from engine.backends.pool import default_workers

    folder = work / "pages"
    files = _prepare(folder, pages)
    workers = default_workers()
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}

    def tesseract(path: Path) -> None:
        subprocess.run(["tesseract", str(path), "stdout", "tsv"], env=env, check=True,
                       capture_output=True)

    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(tesseract, files))
    bare = time.perf_counter() - start

    scandex = [sys.executable, "-m", "engine.cli.main"]
    start = time.perf_counter()
    done = subprocess.run([*scandex, "index", str(folder), "--library", str(work / "lib"),
                           "--json"], capture_output=True, text=True)
    ours = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise SystemExit(f"scandex index failed ({done.returncode}): {done.stderr[-2000:]}")
    report = json.loads(done.stdout)
    ratio = bare / ours
    print(f"pages: {pages} mixed (forms, UNLV scans, A4 letters), workers: {workers}")
    print(f"tesseract CLI (tsv, OMP_THREAD_LIMIT=1, {workers} at a time): {bare:.1f} s")
    embedder = os.environ.get("SCANDEX_EMBEDDER") or "default"
    print(f"scandex index, whole process ({embedder} embedder):           {ours:.1f} s "
          f"(indexed {report.get('indexed')}, failed {len(report.get('failed', []))})")
    print(f"ratio: {ratio:.2f}x bare tesseract (target >= 0.90x at 20 pages, 0.95x at 200)")
    print(json.dumps({"pages": pages, "tesseract_s": round(bare, 2),
                      "scandex_s": round(ours, 2), "ratio": round(ratio, 3)}))
