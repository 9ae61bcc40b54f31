"""A photographed sheet is found on its desk, flattened for OCR, and its words' boxes
put back onto the photo; scans are left as they are."""

from __future__ import annotations

import random

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

from bench.photos import cast_shadow, phone_photo
from engine.backends.paper import Sheet, even_light, find_sheet
from engine.models import Box, Word
from tests.scans import text_page

WORDS = ("invoice", "harbour", "delivery", "quarterly", "pressure", "gardening", "reminder",
         "telephone", "signature", "payment", "warranty", "kitchen", "bicycle", "balance")
# A sheet photographed from a little to the left and above: every corner moved.
CORNERS = [(140.0, 160.0), (1180.0, 110.0), (1230.0, 1480.0), (90.0, 1420.0)]
PHOTO_SIZE = (1320, 1600)


def _lines(seed: int = 5, count: int = 16) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(5)) for _ in range(count)]


def test_a_sheet_on_a_desk_is_found_at_its_corners() -> None:
    photo = phone_photo(text_page(_lines()), CORNERS, PHOTO_SIZE)
    sheet = find_sheet(photo)
    assert sheet is not None
    for (x, y), (tx, ty) in zip(sheet.corners, CORNERS, strict=True):
        assert abs(x - tx) < 0.015 * PHOTO_SIZE[0] and abs(y - ty) < 0.015 * PHOTO_SIZE[1]
    # Flattened to the sheet's size on the photo: its opposite edges averaged.
    tl, tr, br, bl = (np.array(c) for c in CORNERS)
    width = (np.linalg.norm(tr - tl) + np.linalg.norm(br - bl)) / 2
    height = (np.linalg.norm(bl - tl) + np.linalg.norm(br - tr)) / 2
    assert abs(sheet.size[0] - width) < 0.02 * width
    assert abs(sheet.size[1] - height) < 0.02 * height


@pytest.mark.parametrize(("angle", "through", "darkest"), [
    (0.3, (0.5, 0.5), 0.5),  # across the middle, nearly upright
    (2.2, (0.4, 0.6), 0.45),  # a corner's worth, slanted
    (4.0, (0.6, 0.4), 0.6),
])
def test_a_sheet_half_in_shadow_is_found_whole(angle: float, through: tuple[float, float],
                                                darkest: float) -> None:
    # The lit part alone is a bright quadrilateral on a dark surround too: it used to be
    # taken for the sheet, and its OCR lost the shadowed half.
    photo = cast_shadow(phone_photo(text_page(_lines()), CORNERS, PHOTO_SIZE), angle,
                         through, darkest, softness=8.0)
    sheet = find_sheet(photo)
    assert sheet is not None
    for (x, y), (tx, ty) in zip(sheet.corners, CORNERS, strict=True):
        assert abs(x - tx) < 0.02 * PHOTO_SIZE[0] and abs(y - ty) < 0.02 * PHOTO_SIZE[1]


def test_a_scan_with_a_shadow_across_it_is_still_a_scan() -> None:
    for kind in ("plain", "band", "two borders", "picture", "banner"):
        assert find_sheet(cast_shadow(_scan_with(kind), 0.7, (0.5, 0.5), 0.5, 8.0)) is None


def test_the_flattened_sheet_is_upright_and_has_no_desk() -> None:
    photo = phone_photo(text_page(_lines()), CORNERS, PHOTO_SIZE)
    sheet = find_sheet(photo)
    assert sheet is not None
    flat = np.asarray(sheet.flatten(photo))
    # The desk (80 at most, darker with the light) is gone from every edge.
    inner = flat[8:-8, 8:-8]
    assert min(inner[0].mean(), inner[-1].mean(), inner[:, 0].mean(),
               inner[:, -1].mean()) > 160


def test_words_read_on_the_flat_sheet_land_on_the_photo() -> None:
    sheet = Sheet(tuple(CORNERS), (1000, 1300))
    corner, centre = sheet.onto_photo(
        [Word("a", Box(0, 0, 10, 10)), Word("b", Box(495, 645, 10, 10), 77.0)], PHOTO_SIZE)
    assert abs(corner.box.x - CORNERS[0][0]) <= 1 and abs(corner.box.y - CORNERS[0][1]) <= 1
    # The flat page's centre is where the quadrilateral's diagonals cross.
    (x1, y1), (x2, y2), (x3, y3), (x4, y4) = CORNERS
    denominator = (x1 - x3) * (y2 - y4) - (y1 - y3) * (x2 - x4)
    cross_x = ((x1 * y3 - y1 * x3) * (x2 - x4) - (x1 - x3) * (x2 * y4 - y2 * x4)) / denominator
    cross_y = ((x1 * y3 - y1 * x3) * (y2 - y4) - (y1 - y3) * (x2 * y4 - y2 * x4)) / denominator
    middle = (centre.box.x + centre.box.w / 2, centre.box.y + centre.box.h / 2)
    assert abs(middle[0] - cross_x) < 3 and abs(middle[1] - cross_y) < 3
    assert centre.text == "b" and centre.conf == 77.0


def test_boxes_past_the_photo_are_clamped_to_it() -> None:
    sheet = Sheet(((0.0, 0.0), (100.0, 0.0), (100.0, 100.0), (0.0, 100.0)), (100, 100))
    (word,) = sheet.onto_photo([Word("x", Box(90, 90, 40, 40))], (100, 100))
    assert word.box.x + word.box.w <= 100 and word.box.y + word.box.h <= 100


def _scan_with(draw_on: str) -> Image.Image:
    page = text_page(_lines())
    draw = ImageDraw.Draw(page)
    width, height = page.size
    if draw_on == "band":  # a dark band across the foot, like a scanned magazine page
        draw.rectangle((0, int(height * 0.7), width, height), fill=0)
    elif draw_on == "two borders":  # the scanner lid's shadow along two edges
        draw.rectangle((0, 0, width, 60), fill=10)
        draw.rectangle((0, 0, 60, height), fill=10)
    elif draw_on == "picture":  # a dark photograph printed on the page
        draw.rectangle((200, 300, 900, 900), fill=30)
    elif draw_on == "banner":
        draw.rectangle((50, 40, width - 50, 200), fill=0)
    return page


@pytest.mark.parametrize("kind", ["plain", "band", "two borders", "picture", "banner"])
def test_scans_are_read_as_they_are(kind: str) -> None:
    assert find_sheet(_scan_with(kind)) is None


@pytest.mark.parametrize("image", [Image.new("L", (600, 800), 255), Image.new("L", (600, 800), 0),
                                   Image.new("L", (20, 20), 128), Image.new("RGB", (1, 1))])
def test_blank_dark_and_tiny_images_have_no_sheet(image: Image.Image) -> None:
    assert find_sheet(image) is None


def test_a_sheet_filling_the_photo_needs_no_flattening() -> None:
    page = text_page(_lines())
    framed = Image.new("L", (page.width + 6, page.height + 6), 60)
    framed.paste(page, (3, 3))
    assert find_sheet(framed) is None


def _recall(words: list[Word], lines: list[str]) -> float:
    truth = [w for line in lines for w in line.split()]
    read = [w.text.lower().strip(".,") for w in words]
    return sum(min(read.count(w), truth.count(w)) for w in set(truth)) / len(truth)


@pytest.mark.slow
@pytest.mark.parametrize("turn", [0, 90])
def test_real_ocr_reads_a_photographed_sheet_and_boxes_fit_the_photo(turn: int) -> None:
    from engine.backends.factory import make_ocr
    from engine.protocols import OcrOptions

    lines = _lines(count=14)
    photo = phone_photo(text_page(lines, font_px=30), CORNERS, PHOTO_SIZE)
    if turn:
        photo = photo.rotate(turn, expand=True)  # taken sideways, no EXIF to say so
    result = make_ocr().ocr(photo, OcrOptions())
    assert _recall(result.words, lines) >= 0.9
    assert result.rotation == turn  # PIL turned it anticlockwise; reading turns it back
    # The boxes fit the photo as it is shown upright (the page turned back).
    upright = photo.rotate(-result.rotation, expand=True) if result.rotation else photo
    assert (result.width, result.height) == upright.size
    ink = np.asarray(upright.convert("L"))
    dark_inside = []
    for word in result.words:
        if word.text.lower() in WORDS:
            box = word.box
            assert box.x >= 0 and box.x + box.w <= upright.width
            assert box.y >= 0 and box.y + box.h <= upright.height
            dark_inside.append((ink[box.y:box.y + box.h, box.x:box.x + box.w] < 100).any())
    assert dark_inside and all(dark_inside)


def test_photo_pixels_go_back_onto_the_flat_sheet() -> None:
    sheet = Sheet(tuple(CORNERS), (1000, 1300))
    xs, ys = sheet.onto_sheet(np.array([c[0] for c in CORNERS]), np.array([c[1] for c in CORNERS]))
    assert np.allclose(xs, [0, 1000, 1000, 0], atol=1e-6)
    assert np.allclose(ys, [0, 0, 1300, 1300], atol=1e-6)
    # And back: a word placed on the photo lands where it was read on the sheet.
    (word,) = sheet.onto_photo([Word("x", Box(400, 500, 2, 2))], PHOTO_SIZE)
    x, y = sheet.onto_sheet(np.array([word.box.x + word.box.w / 2]),
                            np.array([word.box.y + word.box.h / 2]))
    assert abs(float(x[0]) - 401) <= 1.5 and abs(float(y[0]) - 501) <= 1.5


def _shadowed(page: Image.Image, darkest: float = 0.5) -> Image.Image:
    """page with the light falling off towards its bottom-right corner, to darkest."""
    pixels = np.asarray(page.convert("L"), dtype=np.float64)
    height, width = pixels.shape
    rows, columns = np.mgrid[0:height, 0:width]
    light = 1.0 - (1.0 - darkest) * (columns / width * 0.5 + rows / height * 0.5)
    return Image.fromarray(np.clip(pixels * light, 0, 255).astype(np.uint8))


def test_an_evenly_lit_page_is_left_as_it_is() -> None:
    for kind in ("plain", "band", "two borders", "picture", "banner"):
        page = _scan_with(kind)
        assert even_light(page) is page, kind


def test_the_light_is_evened_and_the_text_stays_dark() -> None:
    shadowed = _shadowed(text_page(_lines()), darkest=0.5)
    evened = np.asarray(even_light(shadowed))
    # Paper: the top-left corner and the shadowed bottom-right now match.
    assert np.asarray(shadowed)[-40:, -40:].mean() < 140
    assert abs(float(evened[:40, :40].mean()) - float(evened[-40:, -40:].mean())) < 20
    # Ink: the darkest pixels of the text are still dark.
    assert np.percentile(evened[100:700, 100:1100], 1) < 60


def test_a_black_band_in_shadow_stays_black() -> None:
    page = _scan_with("band")
    evened = np.asarray(even_light(_shadowed(page, darkest=0.6)))
    band = evened[int(page.height * 0.75):, : page.width // 2]
    assert band.mean() < 40  # lightened at most by the floor's share, never to paper


def test_the_flattened_sheet_has_no_desk_at_its_edge() -> None:
    # Corners found a little outside the sheet: a sliver of desk inside the flat image.
    photo = phone_photo(text_page(_lines()), CORNERS, PHOTO_SIZE, desk=30)
    outside = tuple((x + dx, y + dy) for (x, y), (dx, dy) in
                    zip(CORNERS, [(-8, -8), (8, -8), (8, 8), (-8, 8)], strict=True))
    flat = np.asarray(Sheet(outside, (1040, 1330)).flatten(photo))
    assert min(flat[0].min(), flat[-1].min(), flat[:, 0].min(), flat[:, -1].min()) > 150


@pytest.mark.slow
def test_real_ocr_keeps_a_faint_print_on_a_dim_sheet() -> None:
    from engine.backends.factory import make_ocr
    from engine.protocols import OcrOptions

    # Grey ink, the light falling to 70 %: evened with a desk sliver at its edge,
    # Tesseract read nothing of this page (its threshold fell between desk and paper).
    lines = _lines(count=14)
    page = np.asarray(text_page(lines, font_px=24, ink=160, paper=235), dtype=np.float64)
    rows, columns = np.mgrid[0 : page.shape[0], 0 : page.shape[1]]
    light = 1.0 - 0.3 * (columns / page.shape[1] * 0.6 + rows / page.shape[0] * 0.4)
    dim = Image.fromarray(np.clip(page * light, 0, 255).astype(np.uint8))
    photo = phone_photo(dim, CORNERS, PHOTO_SIZE, desk=40).filter(ImageFilter.GaussianBlur(0.8))
    assert _recall(make_ocr().ocr(photo, OcrOptions()).words, lines) >= 0.9
