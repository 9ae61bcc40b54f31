"""A real form photographed on a desk (perspective, the desk around it, uneven light) is
read flattened: more of the scan's text than the photo read as it is."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from PIL import Image

from bench.photos import phone_photo
from engine.backends.factory import make_ocr
from engine.models import Word
from engine.protocols import OcrOptions

pytestmark = pytest.mark.slow
FUNSD = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "funsd" / \
    "training_data" / "images"


def _grams(words: list[Word]) -> set[str]:
    letters = re.sub(r"[\W_]+", "", " ".join(w.text for w in words).lower())
    return {letters[i:i + 5] for i in range(len(letters) - 4)}


@pytest.mark.skipif(not FUNSD.is_dir(), reason="../shared/corpus not present")
def test_a_photographed_form_reads_like_its_scan() -> None:
    # Form 120 (a chain-accounts report, ~100 dpi): photographed, Tesseract drops most
    # of its header and half its names when the desk is left around it.
    scan = Image.open(sorted(FUNSD.glob("*.png"))[120]).convert("L")
    width, height = scan.size
    size = (int(width * 1.25), int(height * 1.25))
    corners = [(0.08 * size[0], 0.09 * size[1]), (0.95 * size[0], 0.05 * size[1]),
               (0.92 * size[0], 0.95 * size[1]), (0.05 * size[0], 0.92 * size[1])]
    photo = phone_photo(scan.resize((int(width * 1.2), int(height * 1.2))), corners, size)
    ocr, options = make_ocr(), OcrOptions()
    truth = _grams(ocr.ocr(scan, options).words)

    def likeness(words: list[Word]) -> float:
        read = _grams(words)
        return len(read & truth) / len(read | truth)

    as_it_is = likeness(ocr._read(photo, options).words)  # type: ignore[attr-defined]
    flattened = ocr.ocr(photo, options)
    assert likeness(flattened.words) >= 0.65
    assert likeness(flattened.words) >= as_it_is + 0.15
    assert (flattened.width, flattened.height) == photo.size
