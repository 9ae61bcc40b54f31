"""The order files go to the workers: the run's tail by estimated OCR work, most first."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from engine.backends.s3 import S3Object
from engine.backends.tesseract import ocr_scale
from engine.ingest.discover import Candidate
from engine.ingest.order import TAIL_PER_WORKER, balanced_tail, estimated_work


def _page(folder: Path, name: str, size: tuple[int, int], dpi: int | None = 300,
          frames: int = 1) -> Candidate:
    path = folder / name
    images = [Image.new("L", size, 255) for _ in range(frames)]
    extra = {"dpi": (dpi, dpi)} if dpi else {}
    images[0].save(path, save_all=frames > 1, append_images=images[1:], **extra)
    return Candidate(path, path.stat().st_size, 0, explicit=False)


def test_work_is_the_pixels_read_including_the_upscale_of_small_pages(tmp_path: Path) -> None:
    letter = _page(tmp_path, "letter.png", (2480, 3508))
    fax = _page(tmp_path, "fax.png", (762, 1000), dpi=None)  # no DPI, page-shaped: upscaled
    two_pages = _page(tmp_path, "two.tif", (1000, 1000), frames=2)
    assert estimated_work(letter) == 2480 * 3508
    factor = ocr_scale(Image.open(tmp_path / "fax.png"))
    assert factor > 1.0
    assert estimated_work(fax) == pytest.approx(762 * 1000 * factor ** 2)
    assert estimated_work(two_pages) == 2 * 1000 * 1000


def test_unknown_work_goes_early_and_unreadable_files_last(tmp_path: Path) -> None:
    pdf = tmp_path / "scan.pdf"
    pdf.write_bytes(b"%PDF-1.4 whatever")
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    obj = S3Object("s3://bucket/a.png", "bucket", "a.png", 10, "etag", 0)
    assert estimated_work(Candidate(pdf, 17, 0, explicit=False)) == float("inf")
    assert estimated_work(obj) == float("inf")
    assert estimated_work(Candidate(broken, 20, 0, explicit=False)) == 0.0
    assert estimated_work(Candidate(tmp_path / "gone.png", 0, 0, explicit=False)) == 0.0


def test_only_the_tail_is_reordered_and_ties_keep_the_listing_order(tmp_path: Path) -> None:
    workers = 2
    tail = TAIL_PER_WORKER * workers
    small = [_page(tmp_path, f"small-{i}.png", (600, 400)) for i in range(tail + 3)]
    big = _page(tmp_path, "big.png", (2480, 3508))
    listed = [*small, big]  # the big page listed last would start last
    ordered = balanced_tail(listed, workers)
    assert sorted(map(str, ordered)) == sorted(map(str, listed))  # nothing lost or doubled
    assert ordered[:4] == small[:4]  # the head keeps its order
    assert ordered[4] is big  # the big page starts first among the tail
    assert ordered[5:] == small[4:]


def test_a_short_run_is_ordered_whole(tmp_path: Path) -> None:
    pages = [_page(tmp_path, "a.png", (500, 500)), _page(tmp_path, "b.png", (2000, 2000)),
             _page(tmp_path, "c.png", (1000, 1000))]
    assert [c.path.name for c in balanced_tail(pages, 4)] == ["b.png", "c.png", "a.png"]
    assert balanced_tail([], 2) == []
