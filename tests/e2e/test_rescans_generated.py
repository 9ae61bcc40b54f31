"""Rescans on the real stack without any corpus: a typed page and its poor rescan (0.4x
the resolution, blur, grain, hard JPEG), which Tesseract reads too poorly for the text
to decide (confidence ~64), are grouped by their pages; another page of the same layout
and words, typed with other words in other places, is not grouped with either."""

from __future__ import annotations

import random
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter

from engine import Library
from tests.scans import text_page

pytestmark = pytest.mark.slow
WORDS = ("purchase requisition vendor microbiological associates bethesda research centre "
         "attention minnemeyer quantity description authorization provide effect inhalation "
         "reference cigarette smoke cytogenetic endpoints chromosome aberrations sister "
         "chromatid exchange fixed price tests performed accordance formal agreement between "
         "laboratories budget account department approved").split()


def _page(seed: int) -> Image.Image:
    """24 typed lines of the form's words, each with a figure."""
    rng = random.Random(seed)
    return text_page([" ".join(rng.choice(WORDS) for _ in range(6)) + f" {rng.randint(10, 9999)}"
                      for _ in range(24)], font_px=26, paper=250, ink=20, line_px=60)


def _poor_copy(page: Image.Image, seed: int, factor: float = 0.4) -> Image.Image:
    """Tilted, less resolution, blurred, grainy, JPEG at quality 30."""
    page = page.rotate(1.2, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=255)
    page = page.resize((int(page.width * factor), int(page.height * factor)),
                       Image.Resampling.BILINEAR)
    page = page.filter(ImageFilter.GaussianBlur(0.7))
    grain = np.random.default_rng(seed).normal(0, 8, (page.height, page.width))
    page = Image.fromarray(np.clip(np.asarray(page, dtype=np.float64) + grain, 0, 255)
                           .astype(np.uint8))
    out = BytesIO()
    page.save(out, format="JPEG", quality=30)
    return Image.open(BytesIO(out.getvalue()))


def test_a_poor_rescan_of_a_typed_page_is_grouped_by_its_pages(
        tmp_path: Path, real_embedder: object) -> None:
    scans = tmp_path / "scans"
    scans.mkdir()
    _page(1).save(scans / "page.png")
    _poor_copy(_page(1), 2).save(scans / "page-rescan.png")
    _page(3).save(scans / "other-page.png")
    library = Library.open(tmp_path / "lib", embedder=real_embedder)  # type: ignore[arg-type]
    assert library.add([scans]).indexed == 3
    weakest = min(p.confidence or 100.0 for d in library.documents()
                  for p in library.document(d.id).pages if "rescan" in d.path)
    assert weakest < 86.0  # read poorly: the pages are what decides
    groups = sorted(sorted(Path(d.path).stem for d in g.documents)
                    for g in library.duplicates())
    assert groups == [["page", "page-rescan"]]
    library.close()


@pytest.mark.parametrize("factor", [0.39, 0.41])
def test_a_poor_copy_that_reads_as_nothing_upscaled_is_read_at_its_own_size(
        factor: float) -> None:
    from engine.backends.factory import make_ocr
    from engine.protocols import OcrOptions

    # Read upscaled (a small page without a DPI tag), these copies gave Tesseract no words
    # at all at 2x, 14 at 1.6x; at their own size it reads ~160, as the bare CLI does.
    words = make_ocr().ocr(_poor_copy(_page(1), 2, factor), OcrOptions()).words
    assert len(words) > 100
