"""Text the page's read left out: ink no word covers, ruling lines aside, read again."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from engine.backends.unread_ink import (
    _place,
    _rereads,
    unread_regions,
    unread_words,
    with_unread_ink,
)
from engine.models import Box, Word


def ruled_form() -> tuple[Image.Image, Box, Box]:
    """A form with a title and a bordered cell holding a date: the title's box and the
    date's box."""
    page = Image.new("L", (760, 1000), 255)
    draw = ImageDraw.Draw(page)
    font = ImageFont.load_default(size=16)
    draw.text((60, 60), "DECISION TREE ESTIMATION", font=font, fill=0)
    draw.rectangle((400, 90, 700, 130), outline=0, width=2)  # the cell
    draw.line((40, 300, 720, 300), fill=0, width=2)  # a rule across the page
    draw.line((380, 200, 380, 600), fill=0, width=2)  # and one down it
    draw.text((480, 102), "12-4-80", font=font, fill=0)
    title = draw.textbbox((60, 60), "DECISION TREE ESTIMATION", font=font)
    date = draw.textbbox((480, 102), "12-4-80", font=font)
    return (page, Box(title[0], title[1], title[2] - title[0], title[3] - title[1]),
            Box(date[0], date[1], date[2] - date[0], date[3] - date[1]))


def _inside(inner: Box, outer: Box) -> bool:
    return outer.x <= inner.x and outer.y <= inner.y and \
        inner.x + inner.w <= outer.x + outer.w and inner.y + inner.h <= outer.y + outer.h


def test_the_unread_cell_is_the_only_region_rules_and_read_words_are_not() -> None:
    page, title, date = ruled_form()
    read = [Word("DECISION", title, 95.0)]  # the title was read, the cell was not
    regions = unread_regions(page, read)
    assert len(regions) == 1
    box, text_height = regions[0]
    assert _inside(date, box) and box.w < 200 and 8 <= text_height <= 30
    # Everything read: nothing left.
    assert unread_regions(page, [*read, Word("12-4-80", date, 90.0)]) == []


@pytest.mark.parametrize("size", [(1, 1), (40, 30)])
def test_a_blank_or_tiny_page_has_no_regions(size: tuple[int, int]) -> None:
    assert unread_regions(Image.new("L", size, 255), []) == []


def test_a_big_page_is_searched_small_and_answered_in_its_own_pixels() -> None:
    page, title, date = ruled_form()
    big = page.resize((page.width * 4, page.height * 4))
    regions = unread_regions(big, [Word("DECISION", Box(title.x * 4, title.y * 4,
                                                         title.w * 4, title.h * 4), 95.0)])
    assert len(regions) == 1
    assert _inside(Box(date.x * 4, date.y * 4, date.w * 4, date.h * 4), regions[0][0])


def test_what_a_region_reads_joins_the_words_in_reading_order() -> None:
    page, title, date = ruled_form()
    before = Word("Form", Box(60, 20, 50, 16), 96.0)
    heading = Word("DECISION", title, 95.0)
    footer = Word("Lorillard", Box(60, 900, 90, 16), 93.0)
    asked: list[tuple[Box, int]] = []

    def read_lines(regions: list[tuple[Box, int]]) -> list[list[Word]]:
        asked.extend(regions)
        return [[Word("12-4-80", Box(date.x, date.y, date.w, date.h), 91.0),
                 Word("~", Box(box.x, box.y, 4, 4), 20.0),  # unsure: dropped
                 Word("DECISION", title, 97.0)]  # already read: not repeated
                for box, _ in regions]

    words = with_unread_ink(page, [before, heading, footer], read_lines)
    assert [w.text for w in words] == ["Form", "DECISION", "12-4-80", "Lorillard"]
    assert len(asked) == 1


@pytest.mark.parametrize(("misread", "conf", "replaced"), [
    ("Tr", 23.0, True),  # unsure
    ("i¢é5", 65.0, True),  # a number read with letters no number has
    ("12-4-80", 91.0, False), ("l2-4-8O", 70.0, False),  # sure; a look-alike date.py takes
    ("12-4-8", 10.0, True),  # a number: the recogniser reads digits better
    ("12-4-8O", 10.0, False)])  # with letters, a slip from the recogniser's read: kept
def test_an_unsure_read_word_is_read_again_and_gives_way(misread: str, conf: float,
                                                         replaced: bool) -> None:
    # FUNSD 00851772_1780: "DATE May" read "Tr" at 23 over a box taking in the cell's rule.
    page, title, date = ruled_form()
    wide = Box(date.x - 10, date.y - 6, date.w + 20, date.h + 12)
    asked: list[tuple[Box, int]] = []

    def read_lines(regions: list[tuple[Box, int]]) -> list[list[Word]]:
        asked.extend(regions)
        return [[Word("12-4-80", date, 84.0)] for _ in regions]

    # Three more sure words (on blank paper): the unsure word is the page's exception.
    sure = [Word("DECISION", title, 95.0)] + [Word(f"w{i}", Box(60, 700 + 40 * i, 40, 16), 96.0)
                                             for i in range(3)]
    # Beside a year: a word in a date.
    year = Word("1980", Box(700, 101, 40, 16), 96.0)
    words = with_unread_ink(page, [*sure, Word(misread, wide, conf), year], read_lines,
                            min_conf=60.0)
    texts = [w.text for w in words]
    assert ("12-4-80" in texts and misread not in texts) is replaced
    assert len(words) == 6 and bool(asked) is (conf < 50 or misread == "i¢é5")


def test_the_unsure_words_read_again_are_in_a_date_or_beside_one() -> None:
    box = Box(0, 0, 10, 10)
    words = [Word("sure", box, 95.0) for _ in range(30)]
    words[3:6] = [Word("Tr", box, 23.0), Word("27,", box, 95.0), Word("1982", box, 95.0)]
    words[8] = Word("2/3/80", box, 31.0)
    words[12], words[14] = Word("lorem", box, 10.0), Word("No.12", box, 12.0)
    words[19:21] = [Word("2,", box, 90.0), Word("i¢é5", box, 65.0)]
    # "Tr" before "27,", "2/3/80" and "i¢é5" after "2,": not "lorem", nor "No.12".
    assert _rereads(words) == {3, 8, 20}
    assert _rereads(words[:15]) == frozenset()  # 4 unsure of 15: a poor read, left alone


def test_a_mostly_unsure_read_is_not_read_again() -> None:
    # A fax copy: the recogniser's reads of its unsure words differ from copy to copy.
    page, title, date = ruled_form()
    words = [Word("DECISION", title, 45.0), Word("l2-4-B0", date, 40.0)]

    def read_lines(regions: list[tuple[Box, int]]) -> list[list[Word]]:
        raise AssertionError("nothing is left unread")

    assert with_unread_ink(page, words, read_lines, min_conf=60.0) == words


def test_unread_words_keeps_sure_words_where_nothing_was_read() -> None:
    read = [Word("Total", Box(10, 10, 50, 20), 90.0)]
    found = [Word("Total", Box(12, 11, 48, 19), 95.0), Word("42.00", Box(80, 10, 50, 20), 88.0),
             Word("x", Box(200, 10, 10, 20), 30.0)]
    assert [w.text for w in unread_words(found, read)] == ["42.00"]
    assert [w.text for w in unread_words(found, [])] == ["Total", "42.00"]


FUNSD = Path(__file__).resolve().parents[4] / "shared" / "corpus" / "funsd" / \
    "training_data" / "images"


@pytest.mark.slow
@pytest.mark.skipif(not FUNSD.is_dir(), reason="needs ../shared/corpus")
@pytest.mark.parametrize("backend", ["cli", "tesserocr"])
def test_a_date_in_a_ruled_cell_of_a_real_form_is_read(backend: str) -> None:
    from engine.backends.tesseract import TesseractOcr
    from engine.backends.tesserocr_ocr import TesserocrOcr
    from engine.protocols import OcrOptions

    # FUNSD 00838511: the page's read leaves out the bordered DATE cell's "12-4-80".
    ocr = TesseractOcr() if backend == "cli" else TesserocrOcr()
    result = ocr.ocr(Image.open(FUNSD / "00838511_00838525.png"), OcrOptions())
    texts = [w.text for w in result.words]
    assert "12-4-80" in texts
    assert texts.index("12-4-80") > texts.index("TOXIC")  # after the title above it


def test_a_scrap_the_page_read_in_a_cell_gives_way_to_the_cells_whole_read() -> None:
    page, title, date = ruled_form()
    heading = Word("DECISION", title, 95.0)
    scrap = Word("1", Box(date.x, date.y, 6, date.h), 93.0)  # the page's read of the cell

    def read_lines(regions: list[tuple[Box, int]]) -> list[list[Word]]:
        return [[Word("12-4-80", Box(date.x, date.y, date.w, date.h), 84.0)]
                for _ in regions]

    words = with_unread_ink(page, [heading, scrap], read_lines)
    assert [w.text for w in words] == ["DECISION", "12-4-80"]


def test_a_region_below_a_line_goes_after_the_whole_line_not_inside_it() -> None:
    # FUNSD 91355841: "SEPT. 27, 1991" with "MANUFACTURER:" read below-left of it; the
    # comma's descender made "27," the lowest word above, and the label split the date.
    line = [Word("SEPT.", Box(272, 206, 45, 12), 93.0), Word("27,", Box(323, 206, 25, 15), 96.0),
            Word("1991", Box(358, 206, 35, 12), 97.0)]
    footer = Word("BROWN", Box(279, 271, 50, 12), 93.0)
    assert _place([*line, footer], Box(97, 268, 120, 16)) == 3
