"""A form's date field read again alone when the page's read of it is no date."""

from __future__ import annotations

import pytest
from PIL import Image

from engine.backends.fields import date_fields, looks_like_date, reread_date_fields
from engine.models import Box, Word
from engine.protocols import OcrOptions


@pytest.mark.parametrize("text", ["11/28/84", "3.7.97", "2024-03-11", "10-NOV-1986",
                                  "September 13, 1982", "28. Apr. 98", "DATE 1/4/90"])
def test_written_dates_look_like_dates(text: str) -> None:
    assert looks_like_date(text)


@pytest.mark.parametrize("text", ["“42/28/84", "3,493,204,34", "-3./4/90", "LH-NUMBER(s)",
                                  "Maybe 40 boxes", "", "tofalan"])
def test_garbled_or_other_numbers_do_not(text: str) -> None:
    assert not looks_like_date(text)


def _page(field: str) -> list[Word]:
    return [Word("Submitted", Box(10, 10, 90, 12)), Word("DATE:", Box(10, 40, 44, 12)),
            Word(field, Box(70, 40, 80, 12)), Word("Signature", Box(10, 70, 90, 12))]


def test_a_garbled_field_is_replaced_by_its_reread_in_reading_order() -> None:
    asked: list[tuple[Box, int]] = []

    def reread(box: Box, text_height: int) -> list[Word]:
        asked.append((box, text_height))
        return [Word("11/28/84", Box(72, 41, 78, 11), 88.0)]

    words = reread_date_fields(_page("“42/28/84"), 760, reread)
    assert [w.text for w in words] == ["Submitted", "DATE:", "11/28/84", "Signature"]
    (box, height), = asked
    assert height == 12 and box.x > 54 and box.y <= 40 <= box.y + box.h  # right of the label


def test_a_field_already_read_as_a_date_or_a_reread_without_one_changes_nothing() -> None:
    def never(box: Box, text_height: int) -> list[Word]:
        raise AssertionError("a field read as a date is not read again")

    read = _page("11/28/84")
    assert reread_date_fields(read, 760, never) == read
    garbled = _page("“42/28/84")
    assert reread_date_fields(garbled, 760, lambda b, h: [Word("212/2B", b)]) == garbled


def test_a_label_run_into_its_field_is_read_again_with_it() -> None:
    words = [Word("Form", Box(10, 10, 40, 12)), Word("DATE___-3./4/90", Box(100, 40, 116, 14))]
    fresh = [Word("DATE", Box(100, 40, 40, 14)), Word("1/4/90", Box(150, 40, 50, 14))]
    assert [w.text for w in reread_date_fields(words, 760, lambda b, h: fresh)] == \
        ["Form", "DATE", "1/4/90"]


def test_two_labels_on_one_line_are_read_once_each_at_most() -> None:
    words = [Word("Date:", Box(10, 40, 40, 12)), Word("4Z/1", Box(60, 40, 40, 12)),
             Word("Date:", Box(200, 40, 40, 12)), Word("7/8", Box(250, 40, 30, 12))]
    fresh = [Word("4/2/91", Box(60, 40, 50, 12)), Word("Due", Box(200, 40, 30, 12))]
    assert [w.text for w in reread_date_fields(words, 760, lambda b, h: fresh)] == \
        ["Date:", "4/2/91", "Due"]


def test_a_table_of_dates_is_not_a_form_field() -> None:
    many = [Word("Date", Box(10, 20 * i, 30, 12)) for i in range(6)]
    assert date_fields(many, 760) == []


def test_the_ocr_reads_a_garbled_date_field_again_alone_and_large() -> None:
    from engine.backends.tesseract import TesseractOcr

    reads: list[tuple[int, tuple[int, int]]] = []

    class Scripted(TesseractOcr):
        def _words(self, image, options, scale):  # type: ignore[no-untyped-def]
            reads.append((options.psm, image.size))
            if options.psm == 7:  # the field alone, in its own (scaled) pixels
                return [Word("11/28/84", Box(2, 1, 60, 11), 90.0)]
            return [Word("DATE:", Box(100, 200, 44, 12), 92.0),
                    Word("“42/28/84", Box(160, 200, 80, 12), 91.0)]

    page = Image.new("L", (1000, 800), 255)
    result = Scripted(binary="tesseract").ocr(page, OcrOptions(detect_rotation=False))
    assert [w.text for w in result.words] == ["DATE:", "11/28/84"]
    field = result.words[1].box
    assert field.x > 144 and 190 <= field.y <= 212  # back in page coordinates
    psm, size = reads[-1]
    assert psm == 7 and size[1] >= 3 * 24  # read at least 3x larger


@pytest.mark.slow
@pytest.mark.parametrize("engine_name", ["tesserocr", "tesseract"])
def test_real_tesseract_rereads_a_field_without_breaking_the_page(engine_name: str) -> None:
    """Through the real engines: a field whose read is no date is read again alone (psm 7,
    cropped, scaled) and the page keeps its words and their places."""
    from PIL import ImageDraw, ImageFont

    from engine.backends.tesseract import TesseractOcr
    from engine.backends.tesserocr_ocr import TesserocrOcr, tesserocr_usable

    if engine_name == "tesserocr" and not tesserocr_usable():
        pytest.skip("tesserocr is not installed")
    ocr = TesserocrOcr() if engine_name == "tesserocr" else TesseractOcr()
    page = Image.new("L", (1700, 600), 255)
    draw = ImageDraw.Draw(page)
    font = ImageFont.load_default(size=40)
    draw.text((100, 100), "Harbour Mutual quarterly statement", font=font, fill=0)
    draw.text((100, 250), "DATE: pending review", font=font, fill=0)
    draw.text((100, 400), "Signature of the account holder", font=font, fill=0)
    fields_read: list[Box] = []
    real_read_field = ocr._read_field

    def spy(image, box, text_height, options):  # type: ignore[no-untyped-def]
        fields_read.append(box)
        return real_read_field(image, box, text_height, options)

    object.__setattr__(ocr, "_read_field", spy)
    words = ocr.ocr(page, OcrOptions(detect_rotation=False)).words
    texts = [w.text for w in words]
    assert fields_read, "the field that reads as no date was read again"
    assert {"Harbour", "pending", "review", "Signature"} <= set(texts)
    assert texts.index("pending") < texts.index("Signature")  # reading order kept
    assert all(w.box.x + w.box.w <= page.width for w in words)
