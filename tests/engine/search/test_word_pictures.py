"""Words compared as pictures: the same word on a poor copy looks alike, another word
written in the same field does not, and a word of one page over blank paper on the
other does not either."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from engine.search.page_likeness import ink_print, page_likeness, rough_likeness
from engine.search.word_pictures import word_pictures

PRINTED = ("purchase requisition vendor associates bethesda research centre attention "
           "quantity description authorization provide reference smoke endpoints "
           "chromosome sister exchange fixed price tests performed accordance formal "
           "agreement between budget account department approved").split()
FILL = "harold goldfarb elm street hamilton county invoice pending signed copy".split()
OTHER = "maria santos oak avenue jefferson parish receipt overdue unsigned draft".split()


def _page(fill: list[str] | None) -> tuple[Image.Image, list[tuple[str, float, float, float,
                                                                     float]]]:
    """A typed form (fill None: its fields left blank) and its words' boxes."""
    page = Image.new("L", (850, 1100), 250)
    draw = ImageDraw.Draw(page)
    font = ImageFont.load_default(size=17)
    words = PRINTED[:20] + (fill or [""] * len(FILL)) + PRINTED[20:]
    boxes = []
    for i, word in enumerate(words):
        row, column = divmod(i, 8)
        x, y = 40 + column * 95, 60 + row * 40
        if word:
            draw.text((x, y), word[:8], font=font, fill=15)
            left, top, right, bottom = draw.textbbox((x, y), word[:8], font=font)
            boxes.append((word, (left + right) / 2, (top + bottom) / 2, (right - left) / 2,
                          (bottom - top) / 2))
        if 20 <= i < 20 + len(FILL):
            draw.line((x, y + 22, x + 85, y + 22), fill=15, width=1)
    return page, boxes


def _fax(page: Image.Image) -> Image.Image:
    small = page.resize((page.width * 3 // 4, page.height * 3 // 4), Image.Resampling.BILINEAR)
    grain = np.random.default_rng(1).normal(0, 12, (small.height, small.width))
    noisy = np.asarray(small.filter(ImageFilter.GaussianBlur(0.6)), dtype=np.float64) + grain
    out = io.BytesIO()
    Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).save(out, format="JPEG",
                                                                   quality=30)
    return Image.open(io.BytesIO(out.getvalue())).convert("L")


def _pictures(first: Image.Image, first_words: list, second: Image.Image,
              second_words: list, shapes: tuple[bool, bool] = (True, True),
              ) -> tuple[np.ndarray, np.ndarray]:
    a, b = ink_print(first), ink_print(second)
    assert a is not None and b is not None
    likeness = page_likeness(a, b, near_scale=rough_likeness(a, b).scale)
    return word_pictures(first, a, first_words, second, b, second_words, likeness, shapes)


def test_a_word_looks_alike_on_its_fax_copy_and_not_where_another_filled_the_field() -> None:
    filled, words = _page(FILL)
    other, _ = _page(OTHER)
    fax_boxes = [(w, x * 0.75, y * 0.75, hw * 0.75, hh * 0.75) for w, x, y, hw, hh in words]
    on_copy, back = _pictures(filled, words, _fax(filled), fax_boxes)
    assert len(on_copy) == len(words) and np.percentile(on_copy, 10) > 0.7
    assert np.percentile(back, 10) > 0.5
    on_other, _ = _pictures(filled, words, _fax(other), fax_boxes)
    printed = [i for i, w in enumerate(words) if w[0] not in FILL]
    written = [i for i, w in enumerate(words) if w[0] in FILL]
    assert np.min(on_other[printed]) > 0.7  # the printed form is the same
    assert np.median(on_other[written]) < 0.6  # its fields say something else
    assert np.percentile(on_other, 10) < np.percentile(on_copy, 10) - 0.3


def test_a_filled_field_over_blank_paper_does_not_look_alike() -> None:
    filled, words = _page(FILL)
    blank, blank_words = _page(None)
    # The filled copy's words as boxes (as a poor read finds them), on the blank form.
    on_blank, _ = _pictures(filled, words, blank, blank_words, shapes=(False, True))
    written = [i for i, w in enumerate(words) if w[0] in FILL]
    assert np.max(on_blank[written]) < 0.5
    assert np.percentile(on_blank, 10) < 0.45


def test_a_box_the_size_of_a_block_is_not_taken_for_a_word() -> None:
    filled, words = _page(FILL)
    block = [("garbage", 425.0, 550.0, 200.0, 150.0)]  # a poor read's box over a block
    on_copy, _ = _pictures(filled, words + block, _fax(filled), [])
    assert len(on_copy) == len(words)
