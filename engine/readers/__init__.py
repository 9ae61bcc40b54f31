"""Readers turn a file into pages: text pages with word boxes, or page images to OCR."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine.models import FileKind, PageText

# A page of more pixels than this is refused (an A0 sheet at 300 dpi is ~140 MP).
MAX_PAGE_PIXELS = 150_000_000


@dataclass(frozen=True)
class PagePlan:
    """One page of a document: either its text is already known, or it must be OCR'd."""

    page_no: int  # 1-based
    text: PageText | None  # set when the page had a usable text layer


def plan_pages(path: Path, kind: FileKind, *, max_pixels: int = MAX_PAGE_PIXELS) -> list[PagePlan]:
    """List a document's pages cheaply, without decoding any image data."""
    if kind is FileKind.PDF:
        from engine.readers.pdf import plan_pdf

        return plan_pdf(path, max_pixels=max_pixels)
    from engine.readers.images import plan_image

    return plan_image(path, max_pixels=max_pixels)
