"""Pages compared as images, for rescans whose OCR reads are too poor to tell: another
scan of the same page (tilt, crop, resolution, blur, recompression) looks the same in
every inked tile; another hand in the fields does not; sure words agree or disagree; a
phone photo is compared by its sheet, flattened."""

from __future__ import annotations

import random
from io import BytesIO

import pytest
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from bench.photos import cast_shadow, phone_photo
from engine.backends.paper import Sheet
from engine.models import Box, Word
from engine.search.page_content import content_difference
from engine.search.page_likeness import (
    ink_print,
    page_likeness,
    sure_words,
    word_agreement,
)

LABELS = ["PURCHASE REQUISITION", "Vendor: Microbiological Associates", "Ship to: Research Centre",
          "Quantity    Code    Description    Unit price", "Terms: 15 Net   F.O.B.: N/A",
          "Date wanted: as required", "Budget no.    Acct. no. 4111    Dept. no. 9590",
          "Approved by", "Follow up date", "Requisition no. 00922237"]


def _form(seed: int, filled: bool = True) -> Image.Image:
    """A form page: printed labels and lines, and a hand's scribbles in two fields."""
    page = Image.new("L", (900, 1160), 250)
    draw = ImageDraw.Draw(page)
    font = ImageFont.load_default(size=24)
    for i, label in enumerate(LABELS):
        draw.text((60, 60 + 105 * i), label, font=font, fill=15)
        draw.line((60, 100 + 105 * i, 840, 100 + 105 * i), fill=15, width=2)
    if filled:
        rng = random.Random(seed)
        for top in (140, 170, 670, 700):  # two fields written by hand, two lines each
            x, y = rng.randint(380, 520), top  # each hand starts and stops elsewhere
            for _ in range(rng.randint(15, 45)):
                nx, ny = x + rng.randint(4, 14), top + rng.randint(-12, 12)
                draw.line((x, y, nx, ny), fill=25, width=3)
                x, y = nx, ny
    return page


def _rescan(page: Image.Image, seed: int) -> Image.Image:
    """The same paper through another scanner: a tilt, a crop, another resolution, blur,
    other exposure, hard JPEG."""
    rng = random.Random(seed)
    w, h = page.size
    page = page.crop((int(w * 0.02), int(h * 0.01), w - int(w * 0.015), h - int(h * 0.02)))
    page = page.rotate(rng.choice([-1.6, 1.4]), resample=Image.Resampling.BICUBIC, expand=True,
                       fillcolor=255)
    page = page.resize((int(page.width * 0.87), int(page.height * 0.87)),
                       Image.Resampling.LANCZOS)
    page = page.filter(ImageFilter.GaussianBlur(0.6)).point(lambda v: min(255, int(v * 0.9 + 20)))
    out = BytesIO()
    page.save(out, format="JPEG", quality=40)
    return Image.open(BytesIO(out.getvalue()))


def test_a_rescan_looks_like_its_original_in_every_tile() -> None:
    original = ink_print(_form(1))
    rescanned = ink_print(_rescan(_form(1), 7))
    assert original is not None and rescanned is not None
    likeness = page_likeness(original, rescanned)
    assert likeness.typical_tile >= 0.8 and likeness.worst_tile >= 0.6
    # In units of each page's long side the crop and the border the tilt adds nearly
    # cancel: the rescan's ink lies on the original's at about the same scale.
    assert likeness.scale == pytest.approx(0.99, abs=0.03)


def test_another_hand_in_the_fields_shows_in_the_worst_tile() -> None:
    first = ink_print(_form(1))
    other_hand = ink_print(_rescan(_form(2), 7))
    assert first is not None and other_hand is not None
    likeness = page_likeness(first, other_hand)
    assert likeness.typical_tile >= 0.5  # the printed form is the same...
    assert likeness.worst_tile < 0.6  # ...the writing is not


def test_a_blank_page_has_no_ink_to_compare() -> None:
    assert ink_print(Image.new("L", (600, 800), 255)) is None


# Words of the labels, as a read sure of them gives them (one per _words box).
LABEL_WORDS = ["vendor", "microbiological", "associates", "research", "quantity",
               "description", "terms", "wanted", "budget", "approved", "follow", "requisition"]


def _words(texts: list[str], confidence: float = 95.0) -> list[Word]:
    return [Word(text, Box(60 + 200 * (i % 4), 60 + 105 * (i // 4), 150, 24), confidence)
            for i, text in enumerate(texts)]


def test_sure_words_agree_where_both_reads_say_them_and_disagree_where_they_differ() -> None:
    page = ink_print(_form(1))
    assert page is not None
    likeness = page_likeness(page, page)
    same = LABEL_WORDS
    slips = same[:10] + ["folow", "requisitlon"]  # one letter off: still the same word
    other = same[:6] + ["smith", "jones", "4450", "9911", "harbour", "supplies"]
    sure = sure_words(_words(same), 1.0)
    assert word_agreement(page, sure, page, sure_words(_words(slips), 1.0), likeness) == (12, 0)
    assert word_agreement(page, sure, page, sure_words(_words(other), 1.0), likeness) == (6, 6)
    unsure = sure_words(_words(other, confidence=60.0), 1.0)
    assert unsure == [] and word_agreement(page, sure, page, unsure, likeness) == (0, 0)


def test_a_big_page_is_compared_at_a_working_size_and_its_words_still_land() -> None:
    small = _form(1)
    big = small.resize((small.width * 3, small.height * 3))  # the same page at 3x the dpi
    print_small, print_big = ink_print(small), ink_print(big)
    assert print_small is not None and print_big is not None
    assert print_big.long_side <= 1400 and len(print_big.points) <= 40_000
    likeness = page_likeness(print_small, print_big)
    assert likeness.typical_tile >= 0.8
    words = ["vendor", "microbiological", "associates", "research", "quantity", "description",
             "terms", "wanted", "budget", "approved"]
    big_words = [Word(w.text, Box(w.box.x * 3, w.box.y * 3, w.box.w * 3, w.box.h * 3), w.conf)
                 for w in _words(words)]
    assert word_agreement(print_small, sure_words(_words(words), 1.0), print_big,
                          sure_words(big_words, print_big.image_side / max(big.size)),
                          likeness) == (10, 0)


def test_a_phone_photo_is_compared_by_its_sheet_and_its_words_land_there() -> None:
    # Photographed from a slant on a dark desk: in perspective, the desk all around.
    form = _form(1)
    corners = [(120.0, 150.0), (1010.0, 95.0), (1060.0, 1330.0), (70.0, 1290.0)]
    photo = phone_photo(form, corners, (1130, 1420), desk=70)
    scan, photographed = ink_print(form), ink_print(photo)
    assert scan is not None and photographed is not None and photographed.sheet is not None
    likeness = page_likeness(scan, photographed)
    assert likeness.typical_tile >= 0.7 and likeness.worst_tile >= 0.6
    # The photo's OCR boxes are in photo pixels (read flat, mapped back): placed on the
    # print they meet the scan's words.
    words = ["vendor", "microbiological", "associates", "research", "quantity", "description",
             "terms", "wanted", "budget", "approved"]
    on_photo = Sheet(tuple(corners), form.size).onto_photo(_words(words), photo.size)
    assert word_agreement(scan, sure_words(_words(words), 1.0), photographed,
                          sure_words(on_photo, photographed.image_side / max(photo.size)),
                          likeness) == (10, 0)


def test_two_names_in_one_field_clash_where_a_misread_does_not() -> None:
    # Two copies of one typed form: where both reads are sure, a field says "madison" on
    # one and "spring" on the other, and neither word is anywhere on the other page.
    page = ink_print(_form(1))
    assert page is not None
    likeness = page_likeness(page, page)
    same = LABEL_WORDS
    named = same[:10] + ["madison", "avenue"]
    other = same[:10] + ["spring", "harbour"]
    misread = same[:10] + ["madisom", "avenve"]  # one read's slips
    merged = same[:10] + ["madisonavenue", "madisonavenue"]  # two words read as one

    def clashes(first: list[str], second: list[str]) -> int:
        return content_difference(page, sure_words(_words(first), 1.0), set(first), page,
                                  sure_words(_words(second), 1.0), set(second),
                                  likeness).clashes

    assert clashes(named, other) == 2
    assert clashes(named, misread) == 0 and clashes(named, merged) == 0
    # Short words and numbers are too often misread to count as another name.
    assert clashes(same[:10] + ["4450", "tom"], same[:10] + ["9911", "jim"]) == 0
    # A word the other page holds elsewhere is a misplaced word, not another name.
    assert content_difference(page, sure_words(_words(named), 1.0), set(named), page,
                              sure_words(_words(other), 1.0), {*other, "madison"},
                              likeness).clashes == 1
    # On one paper compared with itself nothing lies on blank paper.
    assert content_difference(page, sure_words(_words(same), 1.0), set(same), page,
                              sure_words(_words(same), 1.0), set(same),
                              likeness).on_blank == (0, 0)


def test_a_phone_photo_half_in_shadow_is_still_compared_by_its_sheet() -> None:
    # Otsu's threshold on the flattened sheet took the shadowed half for ink: the pages
    # no longer aligned. The sheet's light is evened first, as OCR reads it.
    form = _form(1)
    corners = [(120.0, 150.0), (1010.0, 95.0), (1060.0, 1330.0), (70.0, 1290.0)]
    photo = cast_shadow(phone_photo(form, corners, (1130, 1420), desk=70), 0.4, (0.5, 0.55),
                        0.45, 8.0)
    scan, photographed = ink_print(form), ink_print(photo)
    assert scan is not None and photographed is not None and photographed.sheet is not None
    likeness = page_likeness(scan, photographed)
    assert likeness.typical_tile >= 0.7 and likeness.worst_tile >= 0.5
