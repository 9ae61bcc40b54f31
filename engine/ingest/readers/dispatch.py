"""Reading a document by kind: plan its pages cheaply, then load one page image to OCR."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.errors import CorruptFile, UnsupportedFile
from engine.ingest.readers.base import MAX_PAGE_PIXELS, PagePlan
from engine.ingest.readers.images import heif_readable, load_image_page, plan_image
from engine.ingest.readers.pdf import plan_pdf, render_pdf_page
from engine.models import FileKind


def plan_pages(path: Path, kind: FileKind, *, max_pixels: int = MAX_PAGE_PIXELS) -> list[PagePlan]:
    """List a document's pages cheaply, without decoding any image data."""
    if kind is FileKind.PDF:
        return plan_pdf(path, max_pixels=max_pixels)
    if kind is FileKind.HEIF and not heif_readable():
        raise UnsupportedFile("a HEIC/HEIF photo, and this install cannot decode HEIC: "
                              "install the pi-heif package (pip install pi-heif), then index "
                              "again with --retry-failed")
    try:
        return plan_image(path, max_pixels=max_pixels)
    except UnsupportedFile as e:
        # Its first bytes said what it is, so a decoder that cannot open it means damage.
        raise CorruptFile(f"a {kind.label} file that cannot be decoded (truncated or "
                          "damaged?)") from e


def load_page(path: Path, kind: FileKind, page_no: int, *, color: bool = False) -> Any:
    """The page image (PIL) as the OCR sees it (and the preview shows it); with color,
    in colour where it has any (for a searchable PDF of it)."""
    if kind is FileKind.PDF:
        return render_pdf_page(path, page_no - 1, color=color)
    return load_image_page(path, page_no - 1, color=color)
