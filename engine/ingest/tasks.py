"""Work a worker process does for one page: load it (render or decode) and OCR it.

Only paths and options cross the process boundary, never page pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine.ingest.readers.dispatch import load_page
from engine.models import FileKind, PageText
from engine.protocols import OcrEngine, OcrOptions


@dataclass(frozen=True)
class OcrTask:
    """One page to load and OCR in a worker process: only paths cross the boundary."""

    path: str
    kind: FileKind
    page_no: int
    options: OcrOptions
    engine: OcrEngine


def run_ocr_task(task: OcrTask) -> PageText:
    """Worker entry point: load the page, OCR it, return its words."""
    image = load_page(Path(task.path), task.kind, task.page_no)
    result = task.engine.ocr(image, task.options)
    return PageText(
        page_no=task.page_no,
        width=result.width,
        height=result.height,
        words=result.words,
        source="ocr",
        rotation=result.rotation,
    )
