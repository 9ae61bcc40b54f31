"""Retrieval quality on SciFact rendered as scans: nDCG@10 and Recall@100 for keyword,
semantic and hybrid search, on clean text and on OCR'd page images."""

from __future__ import annotations

import json
import math
import random
import textwrap
import time
import zlib
from collections import defaultdict
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "beir-scifact"
CACHE = Path(__file__).resolve().parents[1] / ".cache" / "bench-quality"
PUBLISHED = {"BM25 (BEIR)": 0.665, "all-MiniLM-L6-v2 (MTEB)": 0.645}
MODES = ("keyword", "semantic", "hybrid")


def load() -> tuple[dict[str, dict[str, str]], dict[str, str], dict[str, set[str]]]:
    """Corpus, test queries and test qrels."""
    corpus: dict[str, dict[str, str]] = {}
    for part in sorted(CORPUS.glob("corpus.part*.jsonl")):
        for line in part.read_text().splitlines():
            doc = json.loads(line)
            corpus[doc["_id"]] = doc
    qrels: dict[str, set[str]] = defaultdict(set)
    for line in (CORPUS / "qrels" / "test.tsv").read_text().splitlines()[1:]:
        query, doc, score = line.split("\t")
        if int(score) > 0:
            qrels[query].add(doc)
    queries = {}
    for line in (CORPUS / "queries.jsonl").read_text().splitlines():
        q = json.loads(line)
        if q["_id"] in qrels:
            queries[q["_id"]] = q["text"]
    return corpus, queries, qrels


def select(corpus: dict[str, dict[str, str]], qrels: dict[str, set[str]], size: int,
           seed: int = 13) -> list[str]:
    """Every judged document plus random others up to size (fixed seed)."""
    judged = sorted({d for docs in qrels.values() for d in docs})
    others = sorted(set(corpus) - set(judged))
    random.Random(seed).shuffle(others)
    return judged + others[: max(0, size - len(judged))]


def render(doc: dict[str, str], seed: int) -> Image.Image:
    """The abstract as a 300-dpi letter page with a scanner's skew, blur and noise."""
    rng = random.Random(seed)
    page = Image.new("L", (2550, 3300), 248)
    draw = ImageDraw.Draw(page)
    title_font, body_font = ImageFont.load_default(size=50), ImageFont.load_default(size=40)
    y = 260
    for line in textwrap.wrap(doc["title"], 70):
        draw.text((250, y), line, font=title_font, fill=15)
        y += 68
    y += 40
    for line in textwrap.wrap(doc["text"], 88):
        draw.text((250, y), line, font=body_font, fill=25)
        y += 56
        if y > 3150:
            break
    page = page.rotate(rng.uniform(-1.0, 1.0), resample=Image.Resampling.BILINEAR, fillcolor=248)
    page = page.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 0.9)))
    pixels = np.asarray(page, dtype=np.int16)
    gen = np.random.default_rng(seed)
    # float32 Gaussian noise and integer dust positions: the same statistics as float64
    # draws at a third of the cost, which matters over thousands of 8-megapixel pages.
    noise = gen.standard_normal(pixels.shape, dtype=np.float32)
    pixels = pixels + (noise * 6).astype(np.int16)
    specks = gen.integers(0, pixels.size, pixels.size // 1000)
    pixels.flat[specks] = 60
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def _render_to(job: tuple[dict[str, str], int, str]) -> None:
    doc, seed, target = job
    # JPEG as an office scanner writes it: PNG of a noisy 300-dpi page takes ten times
    # longer to encode and is twice the size.
    partial = target + ".part"
    render(doc, seed).save(partial, format="JPEG", quality=90, dpi=(300, 300))
    Path(partial).replace(target)


def render_pages(corpus: dict[str, dict[str, str]], docs: list[str], folder: Path) -> list[Path]:
    """Page images for docs, rendered in parallel on every core; existing ones are kept."""
    import os
    from concurrent.futures import ProcessPoolExecutor

    folder.mkdir(parents=True, exist_ok=True)
    targets = [folder / f"{d}.jpg" for d in docs]
    jobs = [(corpus[d], int(d), str(t)) for d, t in zip(docs, targets, strict=True)
            if not t.exists()]
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        for i, _ in enumerate(pool.map(_render_to, jobs, chunksize=8)):
            if i % 200 == 199:
                print(f"  rendered {i + 1}/{len(jobs)}", flush=True)
    return targets


def ndcg_at_10(ranked: list[str], relevant: set[str]) -> float:
    """Binary-relevance nDCG@10."""
    dcg = sum(1 / math.log2(i + 2) for i, d in enumerate(ranked[:10]) if d in relevant)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(10, len(relevant))))
    return dcg / ideal if ideal else 0.0


def recall_at_100(ranked: list[str], relevant: set[str]) -> float:
    """Share of relevant documents in the top 100."""
    return len(set(ranked[:100]) & relevant) / len(relevant) if relevant else 0.0


def score(library: object, queries: dict[str, str], qrels: dict[str, set[str]]) -> dict[str, tuple[float, float]]:  # noqa: E501
    """Mean nDCG@10 and Recall@100 per mode."""
    out = {}
    for mode in MODES:
        ndcg = rec = 0.0
        for qid, text in queries.items():
            hits = library.search(text, mode=mode, limit=100)  # type: ignore[attr-defined]
            ranked = [Path(h.path).stem for h in hits]
            ndcg += ndcg_at_10(ranked, qrels[qid])
            rec += recall_at_100(ranked, qrels[qid])
        out[mode] = (ndcg / len(queries), rec / len(queries))
    return out


NOISE_RATES = (0.05, 0.10, 0.20)


def clean_library(folder: Path, docs: list[str], corpus: dict[str, dict[str, str]],
                  embedder: object, noise: float = 0.0) -> object:
    """The same documents as clean text (no OCR), chunked and embedded like scans; with
    noise, that share of characters is garbled first as OCR garbles them (bench named's
    confusions, drops and stray marks), each document seeded by its id."""
    from engine import Library
    from engine.ingest.chunking import chunk_document
    from engine.models import Box, PageText, Word

    library = Library.open(folder, embedder=embedder)  # type: ignore[arg-type]
    known = {Path(d.path).stem for d in library.documents()}
    for doc_id in docs:
        if doc_id in known:
            continue
        doc = corpus[doc_id]
        text = f"{doc['title']} {doc['text']}"
        if noise:
            from bench.named_lookup import ocr_noise

            text = ocr_noise(text, noise, random.Random(zlib.crc32(doc_id.encode())))
        tokens = text.split()
        page = PageText(1, 2550, 3300, [Word(t, Box(0, 0, 1, 1)) for t in tokens], "text-layer")
        chunks = chunk_document([page])
        vectors = library.embedder.embed([c.text for c in chunks])
        library.store.commit_document(
            path=folder / "docs" / f"{doc_id}.txt", kind="png", sha256=f"clean-{doc_id}",
            size=0, mtime_ns=0, pages=[page], chunks=chunks, vectors=vectors,
            model_id=library.embedder.model_id)
    return library


def bench_quality(size: int, quick: bool = False, max_queries: int = 40) -> str:
    """Run everything; print and return the markdown table."""
    from engine import Library
    from engine.backends.minilm import MiniLMEmbedder

    started = time.monotonic()
    corpus, queries, qrels = load()
    if quick:
        queries = dict(list(queries.items())[:max_queries])
        qrels = {q: qrels[q] for q in queries}
    docs = select(corpus, qrels, size)
    print(f"documents: {len(docs)} ({len({d for r in qrels.values() for d in r})} judged), "
          f"queries: {len(queries)}", flush=True)
    tag = f"{len(docs)}"
    page_files = render_pages(corpus, docs, CACHE / "pages")
    print(f"pages rendered ({(time.monotonic() - started) / 60:.1f} min)", flush=True)
    embedder = MiniLMEmbedder()
    clean = clean_library(CACHE / f"clean-{tag}", docs, corpus, embedder)
    clean_scores = score(clean, queries, qrels)
    print(f"clean text scored ({(time.monotonic() - started) / 60:.1f} min)", flush=True)
    noisy_scores = {}
    for rate in NOISE_RATES:
        noisy = clean_library(CACHE / f"noise{round(rate * 100)}-{tag}", docs, corpus,
                              embedder, noise=rate)
        noisy_scores[rate] = score(noisy, queries, qrels)
        print(f"{rate:.0%} character errors scored "
              f"({(time.monotonic() - started) / 60:.1f} min)", flush=True)
    # Unchanged page images are skipped: OCR results are cached by the library itself.
    scanned = Library.open(CACHE / f"scanned-{tag}", embedder=embedder)
    report = scanned.add(page_files)
    print(f"scans indexed: {report.indexed} new, {report.skipped_unchanged} cached, "
          f"{report.pages} pages OCR'd in {report.seconds / 60:.1f} min", flush=True)
    scanned_scores = score(scanned, queries, qrels)
    took = time.monotonic() - started
    rows = ["| mode | clean nDCG@10 | scanned nDCG@10 | clean Recall@100 | scanned Recall@100 |",
            "|---|---|---|---|---|"]
    for mode in MODES:
        c, s = clean_scores[mode], scanned_scores[mode]
        rows.append(f"| {mode} | {c[0]:.3f} | {s[0]:.3f} | {c[1]:.3f} | {s[1]:.3f} |")
    for name, value in PUBLISHED.items():
        rows.append(f"| published {name}, full collection | {value:.3f} | | | |")
    rows += ["", "Clean text with injected OCR-like character errors (nDCG@10; in brackets "
             "the loss against clean text):", "",
             "| mode | " + " | ".join(f"{r:.0%} errors" for r in NOISE_RATES) + " |",
             "|---|" + "---|" * len(NOISE_RATES)]
    for mode in MODES:
        ndcgs = [noisy_scores[r][mode][0] for r in NOISE_RATES]
        cells = [f"{n:.3f} ({n - clean_scores[mode][0]:+.3f})" for n in ndcgs]
        rows.append(f"| {mode} | " + " | ".join(cells) + " |")
    table = "\n".join(rows)
    print(f"\n{table}\n\n{len(docs)} documents, {len(queries)} queries; took {took / 60:.1f} min")
    return table + f"\n\n({len(docs)} documents, {len(queries)} queries; took {took / 60:.1f} min)"
