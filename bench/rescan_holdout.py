"""Rescans judged on scans made after the rescan thresholds were set: real FUNSD forms
not used anywhere else (80-99 and 112-148), each rescanned with new seeds, ten of them
also sent through a fax-like copy (3/4 resolution, blur, noise, harsh JPEG), 112-148
also photographed on a desk with a phone (bench/photos.py), and look-alikes whose reads
are poor on purpose: two filled copies of one blank form and two receipts of one shop,
both sides copied down to a third of their resolution, so their reads fall to 20-85 %
confidence and the judge's image evidence is what is tested.
"""

from __future__ import annotations

import itertools
import random
from io import BytesIO
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from bench.intelligence_bench import CACHE, FORMS, FUNSD, SHOPS, filled_form, receipt, rescan
from bench.photos import photographed

HELD_OUT_FORMS = [*range(80, 100), *range(112, 149)]
PHOTOGRAPHED_FORMS = range(112, 149)


def fax_copy(image: Image.Image, seed: int, factor: float = 0.75) -> Image.Image:
    """A poor copy: less resolution, blurred, grainy, recompressed hard."""
    rng = random.Random(seed)
    page = image.convert("L")
    page = page.resize((round(page.width * factor), round(page.height * factor)),
                       Image.Resampling.BILINEAR)
    page = page.filter(ImageFilter.GaussianBlur(rng.uniform(0.4, 0.8)))
    noise = np.random.default_rng(seed).normal(0, 14, (page.height, page.width))
    page = Image.fromarray(np.clip(np.asarray(page, dtype=np.float64) + noise, 0, 255)
                           .astype(np.uint8))
    out = BytesIO()
    page.save(out, format="JPEG", quality=rng.randint(20, 35))
    return Image.open(BytesIO(out.getvalue()))


def build_holdout(folder: Path) -> dict[str, set[frozenset[str]]]:
    """The held-out scans and their truth (same-paper and look-alike pairs, by stem)."""
    folder.mkdir(parents=True, exist_ok=True)
    same: set[frozenset[str]] = set()
    alike: set[frozenset[str]] = set()

    def save(image: Image.Image, name: str) -> None:
        if not (folder / f"{name}.png").exists():
            image.save(folder / f"{name}.png")

    images = sorted(FUNSD.glob("*.png"))
    for i in HELD_OUT_FORMS:
        original = Image.open(images[i])
        names = [f"held-{i:03}", f"held-{i:03}-rescan"]
        save(original, names[0])
        save(rescan(original, 5000 + i), names[1])
        if i < 90:
            names.append(f"held-{i:03}-fax")
            save(fax_copy(original, 5500 + i), names[2])
        if i in PHOTOGRAPHED_FORMS:
            names.append(f"held-{i:03}-photo")
            save(photographed(original, 5800 + i), names[-1])
        same.update(frozenset(p) for p in itertools.combinations(names, 2))
    for f, title in enumerate(FORMS):
        save(fax_copy(filled_form(title, 7000 + 10 * f), 7100 + f, 0.35), f"faxform-{f}-a")
        save(fax_copy(filled_form(title, 7001 + 10 * f), 7200 + f, 0.35), f"faxform-{f}-b")
        alike.add(frozenset({f"faxform-{f}-a", f"faxform-{f}-b"}))
    for s, shop in enumerate(SHOPS):
        save(fax_copy(receipt(shop, 7300 + 10 * s), 7400 + s, 0.35), f"faxreceipt-{s}-a")
        save(fax_copy(receipt(shop, 7301 + 10 * s), 7500 + s, 0.35), f"faxreceipt-{s}-b")
        alike.add(frozenset({f"faxreceipt-{s}-a", f"faxreceipt-{s}-b"}))
    return {"same": same, "alike": alike}


def bench_rescan_holdout() -> list[str]:
    """Index the held-out scans (cached), group them; return the table rows."""
    from engine import Library

    truth = build_holdout(CACHE / "holdout")
    library = Library.open(CACHE / "library-holdout")
    library.add([CACHE / "holdout"])
    found: set[frozenset[str]] = set()
    for group in library.duplicates():
        stems = [Path(d.path).stem for d in group.documents]
        found.update(frozenset(p) for p in itertools.combinations(stems, 2))
    poor = [path for path, _, _ in library.store.low_confidence_pages(86.0)
            if Path(path).stem.startswith("fax")]
    library.close()
    right = found & truth["same"]
    precision = len(right) / len(found) if found else 1.0
    recall = len(right) / len(truth["same"])
    fax_same = {p for p in truth["same"] if any(s.endswith("-fax") for s in p)}
    photo_same = {p for p in truth["same"] if any(s.endswith("-photo") for s in p)}
    # The figures without the photos: the set as it was before they joined it.
    scans_same = truth["same"] - photo_same
    scans_found = {p for p in found if not any(s.endswith("-photo") for s in p)}
    scans_precision = len(scans_found & scans_same) / len(scans_found) if scans_found else 1.0
    missed = sorted(" + ".join(sorted(p)) for p in truth["same"] - found)
    wrong = sorted(" + ".join(sorted(p)) for p in found - truth["same"])
    if missed:
        print("held-out missed:", ", ".join(missed))
    if wrong:
        print("held-out wrongly grouped:", ", ".join(wrong))
    return [f"| held-out same-paper pairs ({len(HELD_OUT_FORMS)} other FUNSD forms; 10 also "
            f"fax-copied, {len(PHOTOGRAPHED_FORMS)} also photographed) | {len(truth['same'])} |",
            f"| held-out look-alikes, both sides fax-copied (poor reads: {len(poor)} pages "
            f"below 86 % confidence) | {len(truth['alike'])} |",
            f"| **held-out precision** | **{precision:.3f}** |",
            f"| **held-out recall** | **{recall:.3f}** |",
            f"| held-out recall on fax copies | {len(fax_same & found) / len(fax_same):.3f} |",
            f"| held-out recall on phone photos | "
            f"{len(photo_same & found) / len(photo_same):.3f} |",
            f"| held-out without the photos: precision / recall | {scans_precision:.3f} / "
            f"{len(scans_found & scans_same) / len(scans_same):.3f} |",
            f"| held-out look-alikes grouped | {len(found & truth['alike'])} |"]
