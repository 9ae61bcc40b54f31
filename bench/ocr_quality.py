"""OCR word recall on real scans with ground truth: Scandex's stored text vs the bare
`tesseract` CLI with default settings, on the same images."""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
_WORD = re.compile(r"[A-Za-z0-9]+(?:['.-][A-Za-z0-9]+)*")


def words(text: str) -> Counter[str]:
    """Lower-cased word multiset (punctuation stripped)."""
    return Counter(w.lower() for w in _WORD.findall(text))


def recall(truth: Counter[str], found: Counter[str]) -> tuple[int, int]:
    """(ground-truth words found, ground-truth words), counting repeats."""
    hit = sum(min(n, found[w]) for w, n in truth.items())
    return hit, sum(truth.values())


def datasets(quick: bool, work: Path | None = None) -> dict[str, list[tuple[Path, Counter[str]]]]:
    """Image -> ground-truth words, per data set (with work, photos are made there too)."""
    out: dict[str, list[tuple[Path, Counter[str]]]] = {}
    funsd = CORPUS / "funsd" / "training_data"
    notes = sorted((funsd / "annotations").glob("*.json"))[: 12 if quick else None]
    out["FUNSD forms (~100 dpi)"] = [
        (funsd / "images" / f"{a.stem}.png",
         words(" ".join(w["text"] for block in json.loads(a.read_text())["form"]
                        for w in block["words"])))
        for a in notes]
    if work is not None:
        out["FUNSD forms photographed on a desk"] = _photos(out["FUNSD forms (~100 dpi)"][::3],
                                                            work / "photos")
        out["FUNSD forms photographed under a shadow"] = _photos(
            out["FUNSD forms (~100 dpi)"][::3], work / "photos", shadow=True)
    tt = CORPUS / "tesseract-test"
    out["UNLV pages (300 dpi)"] = [(tt / f"{n}.tif", words((tt / f"{n}.txt").read_text()))
                                   for n in ("8071_093.3B", "8087_054.3B")]
    linn = CORPUS / "ocrmypdf-resources"
    out["linn brochure (300 dpi)"] = [(linn / "linn.png", words((linn / "linn.txt").read_text()))]
    return out


def _photos(scans: list[tuple[Path, Counter[str]]], folder: Path,
            shadow: bool = False) -> list[tuple[Path, Counter[str]]]:
    """Each scan photographed with a phone (perspective, a desk around it, uneven light);
    with shadow, a shadow cast across the photo too (a half-plane through a point near
    the middle, darkened to 40-65 %, its edge 3-25 px soft)."""
    import random

    from PIL import Image

    from bench.photos import cast_shadow, photographed

    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i, (scan, truth) in enumerate(scans):
        photo = folder / f"{scan.stem}-photo{'-shadow' if shadow else ''}.jpg"
        if not photo.exists():
            image = photographed(Image.open(scan), 9000 + i)
            if shadow:
                rng = random.Random(9500 + i)
                image = cast_shadow(image, rng.uniform(0, 6.2832),
                                    (rng.uniform(0.3, 0.7), rng.uniform(0.3, 0.7)),
                                    rng.uniform(0.4, 0.65), rng.uniform(3, 25))
            image.save(photo)
        out.append((photo, truth))
    return out


def bench_ocr_quality(work: Path, quick: bool = False) -> str:
    """Print and return the table (markdown)."""
    from engine import Library
    from engine.testing import HashingEmbedder

    sets = datasets(quick, work)
    rows = ["| data set | pages | bare `tesseract` CLI | Scandex | difference |",
            "|---|---|---|---|---|"]
    started = time.monotonic()
    for name, items in sets.items():
        images = [img for img, _ in items]

        def cli(image: Path) -> str:
            return subprocess.run(["tesseract", str(image), "stdout"], capture_output=True,
                                  text=True, env={"OMP_THREAD_LIMIT": "1", "PATH": "/usr/bin"},
                                  check=True).stdout

        with ThreadPoolExecutor(2) as pool:
            raw_texts = list(pool.map(cli, images))
        library_dir = work / re.sub(r"\W+", "-", name)
        with Library.open(library_dir, embedder=HashingEmbedder()) as lib:
            lib.add(images)
            ours = {}
            for doc in lib.documents(state="indexed"):
                ours[Path(doc.path).name] = " ".join(p.text for p in lib.document(doc.id).pages)
        raw_hit = our_hit = total = 0
        for (image, truth), raw in zip(items, raw_texts, strict=True):
            h, t = recall(truth, words(raw))
            raw_hit += h
            total += t
            our_hit += recall(truth, words(ours.get(image.name, "")))[0]
        rows.append(f"| {name} | {len(items)} | {raw_hit / total:.1%} | {our_hit / total:.1%} "
                    f"| {(our_hit - raw_hit) / total:+.1%} |")
        print(rows[-1], flush=True)
    took = time.monotonic() - started
    table = "\n".join(rows)
    print(f"\n{table}\n\nword recall = share of ground-truth words (with repeats) found in the "
          f"page text; took {took / 60:.1f} min")
    return table + f"\n\n(took {took / 60:.1f} min{', quick mode' if quick else ''})"
