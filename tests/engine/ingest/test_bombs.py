"""Decompression bombs in every frame and page are refused before decoding."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from engine import ImageTooLarge, Library
from engine.ingest.readers.dispatch import load_page, plan_pages
from engine.models import FileKind


def _tiff_with_huge_second_frame(path: Path) -> Path:
    small = Image.new("1", (100, 100), 1)
    huge = Image.new("1", (13000, 13000), 1)  # 169 MP; CCITT G4 makes it a few KB
    small.save(path, format="TIFF", compression="group4", save_all=True, append_images=[huge])
    return path


def test_tiff_second_frame_bomb_is_refused_at_planning(tmp_path: Path) -> None:
    path = _tiff_with_huge_second_frame(tmp_path / "bomb.tif")
    assert path.stat().st_size < 100_000
    with pytest.raises(ImageTooLarge, match="frame 2"):
        plan_pages(path, FileKind.TIFF)


def test_tiff_second_frame_bomb_is_refused_at_loading(tmp_path: Path) -> None:
    path = _tiff_with_huge_second_frame(tmp_path / "bomb.tif")
    assert load_page(path, FileKind.TIFF, 1).size == (100, 100)
    with pytest.raises(ImageTooLarge, match="frame 2"):
        load_page(path, FileKind.TIFF, 2)


def test_bomb_is_a_failed_document_and_the_batch_goes_on(fake_library: Library,
                                                         tmp_path: Path) -> None:
    from engine.testing import write_fake_scan

    bomb = _tiff_with_huge_second_frame(tmp_path / "bomb.tif")
    fine = write_fake_scan(tmp_path / "fine.png", "an ordinary letter")
    report = fake_library.add([bomb, fine])
    assert report.indexed == 1
    assert [f.path for f in report.failed] == [str(bomb)]
    assert "frame 2" in report.failed[0].error and "over the limit" in report.failed[0].error


def test_giant_pdf_page_is_refused_at_planning(tmp_path: Path) -> None:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument.new()
    pdf.new_page(14400, 14400)  # 200 x 200 inches: 3.6 GP at 300 dpi
    path = tmp_path / "giant.pdf"
    pdf.save(path)
    pdf.close()
    with pytest.raises(ImageTooLarge, match="too large to render"):
        plan_pages(path, FileKind.PDF)
