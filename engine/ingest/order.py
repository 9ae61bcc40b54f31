"""The order a run hands its files to the workers: the last few by their OCR work, most
first, so that the cores finish together instead of one reading a big page alone while
the others wait (on 20 mixed pages the run otherwise ends on a 300-dpi letter started
last: ~0.3 s of one idle core, 3 % of the run; docs/benchmarks.md)."""

from __future__ import annotations

import warnings
from collections.abc import Iterable

from PIL import Image

from engine.backends.s3 import S3Object
from engine.backends.tesseract import ocr_scale
from engine.ingest.discover import Candidate
from engine.ingest.items import Source

# Files among the last TAIL_PER_WORKER x workers are ordered; the rest keep the listing's
# order (a big batch's balance is only lost in its last pages, and reading every file's
# header up front would delay the first page).
TAIL_PER_WORKER = 6
_UNKNOWN = float("inf")  # a PDF or a bucket object may hold many pages: start it early


def estimated_work(source: Source) -> float:
    """The pixels OCR will read for the source, from its image header alone (a bare
    guess, never an error: what cannot be told goes early, what cannot be opened fails
    fast and goes last)."""
    if isinstance(source, S3Object) or not isinstance(source, Candidate):
        return _UNKNOWN
    if source.path.suffix.lower() == ".pdf":
        return _UNKNOWN
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a huge page is the reader's to report
            image = Image.open(source.path)
        with image:
            frames = int(getattr(image, "n_frames", 1) or 1)
            return float(image.width * image.height) * ocr_scale(image) ** 2 * frames
    except Exception:  # noqa: BLE001 - any unreadable header: the reader reports it later
        return 0.0


def balanced_tail(todo: Iterable[Source], workers: int) -> list[Source]:
    """todo with its tail (TAIL_PER_WORKER x workers files) sorted by estimated work,
    most first; ties keep the listing's order."""
    listed = list(todo)
    split = max(0, len(listed) - TAIL_PER_WORKER * max(1, workers))
    tail = sorted(listed[split:], key=estimated_work, reverse=True)
    return [*listed[:split], *tail]
