"""Adaptive OCR: the real resolution is estimated from the text itself; pages that stay
hard to read are listed for review."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from engine import Library
from engine.backends.tesseract import _median_text_height
from engine.models import Box, PageText, Word
from engine.store.migrations import CONFIDENCE_BACKFILL, apply_migrations

WORDS = ("invoice", "harbour", "delivery", "quarterly", "pressure", "gardening", "reminder",
         "telephone", "signature", "payment", "warranty", "kitchen", "bicycle", "balance")


def small_text_page(seed: int = 3) -> tuple[Image.Image, list[str]]:
    """A large page (no DPI tag, so no size rule applies) with tiny text: what a
    ~100-dpi scan saved without its resolution looks like."""
    rng = random.Random(seed)
    page = Image.new("L", (1700, 2200), 255)
    draw = ImageDraw.Draw(page)
    font = ImageFont.load_default(size=11)
    lines = [" ".join(rng.choice(WORDS) for _ in range(7)) for _ in range(24)]
    for i, line in enumerate(lines):
        draw.text((120, 150 + i * 24), line, font=font, fill=0)
    return page, lines


def recall(words: list[Word], lines: list[str]) -> float:
    truth = [w for line in lines for w in line.split()]
    read = [w.text.lower().strip(".,") for w in words]
    return sum(min(read.count(w), truth.count(w)) for w in set(truth)) / len(truth)


@pytest.mark.slow
def test_tiny_text_without_a_dpi_tag_is_read_again_larger() -> None:
    from engine.backends.tesseract import TesseractOcr
    from engine.protocols import OcrOptions

    page, lines = small_text_page()
    assert "dpi" not in page.info
    ocr = TesseractOcr()
    single = ocr._words(page, OcrOptions(), 1.0)
    adaptive = ocr.ocr(page, OcrOptions(detect_rotation=False))
    assert recall(adaptive.words, lines) > recall(single, lines) + 0.05
    assert recall(adaptive.words, lines) > 0.9
    # Boxes stay in the page's own coordinates.
    assert max(w.box.x + w.box.w for w in adaptive.words) <= page.width


def test_text_height_estimate_ignores_specks_and_numbers() -> None:
    words = [Word("ab", Box(0, 0, 5, 2)), Word("1234", Box(0, 0, 30, 50)),
             Word("harbour", Box(0, 0, 60, 12)), Word("invoice", Box(0, 0, 60, 14)),
             Word("balance", Box(0, 0, 60, 13))]
    assert _median_text_height(words) == 13
    assert _median_text_height([]) == 0


def test_low_confidence_pages_are_listed_for_review(fake_library: Library,
                                                    tmp_path: Path) -> None:
    good = PageText(1, 100, 100, [Word("clear", Box(0, 0, 5, 5), 94.0)], "ocr")
    poor = PageText(2, 100, 100, [Word("smudged", Box(0, 0, 5, 5), 41.0),
                                  Word("x", Box(0, 0, 5, 5), 90.0)], "ocr")
    layer = PageText(3, 100, 100, [Word("typed", Box(0, 0, 5, 5))], "text-layer")
    fake_library.store.commit_document(
        path=tmp_path / "scan.pdf", kind="pdf", sha256="a" * 64, size=1, mtime_ns=1,
        pages=[good, poor, layer])
    review = fake_library.status().review
    assert [(Path(r.path).name, r.page) for r in review] == [("scan.pdf", 2)]
    assert review[0].confidence == pytest.approx((41 * 7 + 90) / 8, abs=0.1)


def test_confidence_is_backfilled_for_pages_stored_before_it_existed() -> None:
    db = sqlite3.connect(":memory:", isolation_level=None)
    apply_migrations(db)
    db.execute("INSERT INTO contents (sha256, kind, pages, created_at) VALUES ('s', 'png', 1, "
               "'2024')")
    db.execute("INSERT INTO pages (sha256, page_no, width, height, source, rotation, words) "
               "VALUES ('s', 1, 10, 10, 'ocr', 0, ?)",
               ('[["abcd",0,0,1,1,50.0],["ab",0,0,1,1,80.0]]',))
    db.executescript(CONFIDENCE_BACKFILL)
    value = db.execute("SELECT confidence FROM pages").fetchone()[0]
    assert value == pytest.approx((50 * 4 + 80 * 2) / 6)


class _ScriptedOcr:
    """TesseractOcr's adaptive reading over scripted reads: psm 3 and psm 11 answers."""

    def __init__(self, page_conf: float, sparse_conf: float = 55.0) -> None:
        from engine.backends.tesseract import TesseractOcr

        class Scripted(TesseractOcr):
            def _words(self, image, options, scale):  # type: ignore[no-untyped-def]
                reads.append(options.psm)
                if options.psm == 11:
                    return [Word("Invoice", Box(10, 10, 80, 20), sparse_conf),  # read already
                            Word("Total", Box(400, 300, 60, 20), sparse_conf),  # missed
                            Word("~~", Box(600, 500, 20, 20), 31.0)]  # a speck
                return [Word("Invoice", Box(12, 11, 78, 19), page_conf),
                        Word("Harbour", Box(120, 10, 90, 20), page_conf)]

        reads: list[int] = []
        self.reads = reads
        self.ocr = Scripted(binary="tesseract")


def test_a_poorly_read_page_is_read_once_its_unread_ink_line_by_line() -> None:
    from engine.protocols import OcrOptions

    page = Image.new("L", (1500, 1200), 255)  # read at its own size
    scripted = _ScriptedOcr(page_conf=65.0)
    result = scripted.ocr.ocr(page, OcrOptions(detect_rotation=False))
    # No second, sparse read of the whole page any more (the unread ink is read instead).
    assert scripted.reads == [3]
    assert [w.text for w in result.words] == ["Invoice", "Harbour"]

def test_a_ruled_cell_the_page_read_left_out_is_read_on_its_own() -> None:
    from engine.backends.tesseract import TesseractOcr
    from engine.protocols import OcrOptions
    from tests.engine.backends.test_unread_ink import ruled_form

    page, title, date = ruled_form()
    reads: list[int] = []

    class Scripted(TesseractOcr):
        def _words(self, image, options, scale):  # type: ignore[no-untyped-def]
            reads.append(options.psm)
            if options.psm == 7:  # the cell, alone: its box within the crop
                return [Word("12-4-80", Box(round((date.x - 400) * scale), 10,
                                            round(date.w * scale), 30), 92.0)]
            return [Word(text, Box(title.x + 90 * i, title.y, 80, title.h), 94.0)
                    for i, text in enumerate(["DECISION", "TREE", "ESTIMATION"])]

    page.info["dpi"] = (300, 300)  # read as it is
    # Without the line recogniser (its wheel missing): Tesseract reads the region.
    result = Scripted(binary="tesseract", line_reader=None).ocr(
        page, OcrOptions(detect_rotation=False))
    assert [w.text for w in result.words] == ["DECISION", "TREE", "ESTIMATION", "12-4-80"]
    assert reads.count(7) == 1  # the one region left unread, read alone
    # With it, the recogniser reads the region and Tesseract only the page.
    reads.clear()
    result = Scripted(binary="tesseract").ocr(page, OcrOptions(detect_rotation=False))
    assert [w.text for w in result.words] == ["DECISION", "TREE", "ESTIMATION", "12-4-80"]
    assert reads.count(7) == 0


@pytest.mark.parametrize("upscaled_read", [
    [],  # nothing at all
    [Word("Quart", Box(20, 40, 50, 24), 93.0), Word("ment", Box(200, 40, 50, 24), 91.0)],
])
def test_a_page_that_reads_as_almost_nothing_upscaled_is_read_at_its_own_size(
        upscaled_read: list[Word]) -> None:
    from engine.backends.tesseract import TesseractOcr
    from engine.protocols import OcrOptions

    scales: list[float] = []

    class UpscaledBlind(TesseractOcr):
        def _words(self, image, options, scale):  # type: ignore[no-untyped-def]
            scales.append(scale)
            if scale != 1.0:
                return upscaled_read
            return [Word(text, Box(20 + 80 * i, 40, 70, 24), 88.0)
                    for i, text in enumerate(["Quarterly", "statement", "balance", "payment",
                                              "harbour", "delivery", "kitchen", "warranty"])]

    page = Image.new("L", (700, 900), 255)  # small, no DPI tag: read larger first
    result = UpscaledBlind(binary="tesseract").ocr(page, OcrOptions(detect_rotation=False))
    assert scales[0] > 1.0 and scales[1] == 1.0
    assert [w.text for w in result.words][:2] == ["Quarterly", "statement"]
    assert max(w.box.x + w.box.w for w in result.words) <= page.width


class _TurnedWorse:
    """TesseractOcr over scripted reads of a page upright (portrait) or turned by OSD's
    angle (landscape): `upright` and `turned` are (words, confidence) per read."""

    def __init__(self, upright: list[tuple[int, float]], turned: list[tuple[int, float]]
                 ) -> None:
        from engine.backends.tesseract import TesseractOcr

        def words(spec: list[tuple[int, float]]) -> list[Word]:
            out, i = [], 0
            for count, conf in spec:
                for _ in range(count):
                    out.append(Word(f"word{i:03}", Box(20 + 90 * (i % 8), 30 * (i // 8), 80, 20),
                                    conf))
                    i += 1
            return out

        class Scripted(TesseractOcr):
            def _words(self, image, options, scale):  # type: ignore[no-untyped-def]
                return words(turned if image.width > image.height else upright)

            def _osd_rotation(self, image, options):  # type: ignore[no-untyped-def]
                return 90

        self.ocr = Scripted(binary="tesseract")


def test_a_poor_copy_is_not_turned_for_a_higher_mean_over_fewer_sure_words() -> None:
    from engine.protocols import OcrOptions

    page = Image.new("L", (800, 1000), 255)
    # A fax of a form (measured): upright, 164 words of which 34 fairly sure, mean 25;
    # turned by OSD's 90, 30 words, 12 sure, mean 44.
    fax = _TurnedWorse(upright=[(34, 65.0), (130, 15.0)], turned=[(12, 70.0), (18, 28.0)])
    assert fax.ocr.ocr(page, OcrOptions()).rotation == 0
    # A page really on its side reads more, and more surely, turned.
    sideways = _TurnedWorse(upright=[(6, 30.0)], turned=[(40, 91.0)])
    assert sideways.ocr.ocr(page, OcrOptions()).rotation == 90


def test_low_resolution_pages_are_read_at_about_160_dpi_photos_larger() -> None:
    from engine.backends.tesseract import LOW_RES_TARGET_DPI, ocr_scale

    def page(size: tuple[int, int], dpi: float | None = None) -> Image.Image:
        image = Image.new("L", size, 255)
        if dpi:
            image.info["dpi"] = (dpi, dpi)
        return image

    assert ocr_scale(page((2550, 3300), 300)) == 1.0
    assert ocr_scale(page((1700, 2200), 200)) == 1.0
    assert ocr_scale(page((850, 1100), 100)) == pytest.approx(LOW_RES_TARGET_DPI / 100)
    assert ocr_scale(page((400, 500), 40)) == 1.0  # a bogus tag: read as it is
    assert ocr_scale(page((300, 400), 50)) == 3.0  # never more than 3x
    fax = page((762, 1000))  # untagged and page-shaped but small: ~90 dpi
    assert 1.0 < ocr_scale(fax) < ocr_scale(fax, photographed=True)
    assert ocr_scale(page((2480, 3508))) == 1.0
    assert ocr_scale(page((300, 200))) == 1.0  # a snippet, not a page
    # A smaller (poorer) untagged page is scaled up more.
    assert ocr_scale(page((565, 750))) > ocr_scale(fax)


@pytest.mark.parametrize(("photographed", "first", "read_again"), [
    (False, 1.6, False),  # a scan's 7-px text (11.2 px at 1.6x) reads best as it is
    (True, 2.0, True),  # a photographed sheet's (14 px at 2x, under 15) is read larger
])
def test_small_text_on_an_upscaled_page_is_judged_by_what_was_scanned(
        photographed: bool, first: float, read_again: bool) -> None:
    from engine.backends.tesseract import TesseractOcr
    from engine.protocols import OcrOptions

    scales: list[float] = []

    class Scripted(TesseractOcr):
        def _words(self, image, options, scale):  # type: ignore[no-untyped-def]
            scales.append(scale)
            return [Word(text, Box(20 + 60 * i, 40, 50, 7), 92.0)  # page pixels
                    for i, text in enumerate(WORDS * 2)]

    page = Image.new("L", (762, 1000), 255)  # untagged, page-shaped, small: ~90 dpi
    Scripted(binary="tesseract")._read(page, OcrOptions(detect_rotation=False),
                                       photographed=photographed)
    assert scales[0] == pytest.approx(first)
    assert (len(scales) > 1 and scales[1] > first) is read_again, scales
