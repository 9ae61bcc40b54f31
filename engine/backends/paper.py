"""A photographed page: the sheet found on its background and flattened before OCR.

A phone photo of a page shows the desk around the sheet and the sheet in perspective.
Tesseract's layout analysis reads the dark surround as a picture and drops the text
beside it, and lines that run downhill lose words: held-out FUNSD forms photographed
that way (a 4 % tilt at each corner, uneven light) read only 0.51 of their scan's text
(5-gram Jaccard); the same photos flattened read 0.60 (docs/quality.md).

The sheet is the largest bright region of the photo with the text blurred away (paper
shows between letters). It is trusted only when it looks like a photographed sheet:
clearly brighter than what surrounds it, a convex quadrilateral (its corners' polygon
filled, nothing sticking out), with background along at least three of the photo's
edges. Scans, even with a black band or a dark picture on the page, fail one of these
and are read as they are. The words read on the flattened sheet are mapped back onto the
photo, so their boxes fit the file the user opened.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from engine.models import Box, Word

# The photo is looked at this big (pixels, long side): the sheet's outline, not its text.
_LOOK_SIDE = 500
# The brightest pixel within this many look-pixels stands for the paper under the text.
_PAPER_WINDOW = 7
# The sheet must be at least this much brighter (0-255) than its surround.
_MIN_CONTRAST = 40
# The sheet's share of the photo: smaller is not a page photo; larger is a scan.
_MIN_SHARE, _MAX_SHARE = 0.30, 0.97
# The sheet fills its corners' quadrilateral, and almost nothing of it lies outside.
_MIN_FILL = 0.97
_MAX_SPILL = 0.03
_MIN_BACKGROUND_EDGES = 3
# The flattened sheet's edge painted over (share of each side): a desk sliver left there
# is the darkest thing on an evened page, and Tesseract's threshold then falls between it
# and everything else (a faint print read as nothing).
_EDGE_MARGIN = 0.015
# Flattening changes nothing worth a resample for a sheet this close to the photo's frame.
_FRAME_TOLERANCE = 0.01
# The light is evened out where the paper's darkest tenth is below this share of its
# brightest tenth (a photo's fall-off and shadows; a flat scan's paper is one shade)...
_UNEVEN = 0.9
# ... but an area darker than this share of the paper is not paper in shadow (a black
# band, a dark picture): it is lightened no further than this would.
_SHADOW_FLOOR = 0.35
# Thresholds tried between Otsu's and the desk's shade when a shadow may cut the sheet.
_SHADOW_STEPS = 6
# ... and a larger region is taken only if it is this close to as good a quadrilateral,
# and this much larger: a lower threshold also widens the sheet by the blurred rim of its
# edge (~2 %), which is desk, while paper in shadow is a large part of the sheet.
_SHAPE_SLACK = 0.002
_SHADOW_GROWTH = 1.05


def otsu_threshold(values: np.ndarray) -> int:
    """Otsu's grey level splitting values (uint8) into dark and light."""
    counts = np.bincount(values.ravel(), minlength=256).astype(np.float64)
    share = counts / max(counts.sum(), 1.0)
    below = np.cumsum(share)
    mean_below = np.cumsum(share * np.arange(256))
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (mean_below[-1] * below - mean_below) ** 2 / (below * (1 - below))
    return int(np.nanargmax(between)) if np.isfinite(between).any() else 128


def _perspective(source: list[tuple[float, float]],
                 target: list[tuple[float, float]]) -> tuple[float, ...]:
    """PIL's eight PERSPECTIVE coefficients taking target points to source points."""
    rows = []
    for (x, y), (u, v) in zip(target, source, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
    solved = np.linalg.solve(np.array(rows, dtype=np.float64),
                             np.array(source, dtype=np.float64).reshape(8))
    return tuple(float(c) for c in solved)


def _apply(coefficients: tuple[float, ...], xs: np.ndarray, ys: np.ndarray,
           ) -> tuple[np.ndarray, np.ndarray]:
    a, b, c, d, e, f, g, h = coefficients
    scale = g * xs + h * ys + 1.0
    return (a * xs + b * ys + c) / scale, (d * xs + e * ys + f) / scale


@dataclass(frozen=True)
class Sheet:
    """Where the sheet lies on the photo (corners clockwise from top-left, photo pixels)
    and the upright size it is flattened to."""

    corners: tuple[tuple[float, float], ...]
    size: tuple[int, int]

    @property
    def _flat_corners(self) -> list[tuple[float, float]]:
        width, height = self.size
        return [(0, 0), (width, 0), (width, height), (0, height)]

    @property
    def _coefficients(self) -> tuple[float, ...]:
        return _perspective(list(self.corners), self._flat_corners)

    def onto_sheet(self, xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Where photo pixels (xs, ys) lie on the flattened sheet."""
        return _apply(_perspective(self._flat_corners, list(self.corners)),
                      np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64))

    def flatten(self, photo: Image.Image) -> Image.Image:
        """The sheet alone, upright and rectangular; its edge, where slivers of the desk
        remain (the corners are found to ~1 %), painted the paper's shade."""
        flat = photo.transform(self.size, Image.Transform.PERSPECTIVE, self._coefficients,
                               Image.Resampling.BICUBIC)
        width, height = flat.size
        across, down = round(width * _EDGE_MARGIN), round(height * _EDGE_MARGIN)
        if across and down and width > 2 * across and height > 2 * down:
            paper = np.percentile(np.asarray(flat), 90, axis=(0, 1))
            shade = tuple(int(v) for v in np.atleast_1d(paper))
            fill: Any = shade[0] if len(shade) == 1 else shade
            draw = ImageDraw.Draw(flat)
            draw.rectangle((0, 0, width, down), fill=fill)
            draw.rectangle((0, height - down, width, height), fill=fill)
            draw.rectangle((0, 0, across, height), fill=fill)
            draw.rectangle((width - across, 0, width, height), fill=fill)
        return flat

    def onto_photo(self, words: list[Word], photo_size: tuple[int, int]) -> list[Word]:
        """Words read on the flattened sheet, their boxes moved onto the photo."""
        coefficients = self._coefficients
        width, height = photo_size
        out = []
        for word in words:
            box = word.box
            xs = np.array([box.x, box.x + box.w, box.x, box.x + box.w], dtype=np.float64)
            ys = np.array([box.y, box.y, box.y + box.h, box.y + box.h], dtype=np.float64)
            px, py = _apply(coefficients, xs, ys)
            left = int(np.clip(np.floor(px.min()), 0, width))
            top = int(np.clip(np.floor(py.min()), 0, height))
            right = int(np.clip(np.ceil(px.max()), 0, width))
            bottom = int(np.clip(np.ceil(py.max()), 0, height))
            out.append(Word(word.text, Box(left, top, max(1, right - left),
                                           max(1, bottom - top)), word.conf))
        return out


def _paper_light(look: np.ndarray) -> np.ndarray:
    """How bright the paper is around each pixel of a small look (uint8): the brightest
    pixel nearby (paper shows between letters), smoothed."""
    from scipy import ndimage

    light: np.ndarray = ndimage.uniform_filter(
        ndimage.maximum_filter(look, size=_PAPER_WINDOW).astype(np.float32), size=5)
    return light


def _look(gray: Image.Image) -> tuple[np.ndarray, float]:
    """The image at _LOOK_SIDE (uint8) and the factor it was shrunk by."""
    width, height = gray.size
    factor = _LOOK_SIDE / max(width, height)
    return np.asarray(gray.resize((max(8, round(width * factor)), max(8, round(height * factor))),
                                  Image.Resampling.BOX), dtype=np.uint8), factor


def even_light(page: Image.Image) -> Image.Image:
    """The page with its paper brought to one brightness (greyscale) where the light
    falls off or a shadow lies on it; a page evenly lit comes back as it was.

    Tesseract binarises a page with one threshold, so text in a photo's darker corner
    or under a shadow is lost: FUNSD forms photographed under a shadow read 42 % of
    their words as they were, 61 % evened (docs/quality.md)."""
    if min(page.size) < 32:
        return page
    gray = page.convert("L")
    look, _ = _look(gray)
    light = _paper_light(look)
    level = float(np.percentile(light, 90))
    paper = light[light >= _SHADOW_FLOOR * level]  # a black band is no paper in shadow
    if level <= 0 or not paper.size or float(np.percentile(paper, 10)) >= _UNEVEN * level:
        return page
    gain = level / np.maximum(light, _SHADOW_FLOOR * level)
    # The gain map, smooth, brought up to the page's size as 8-bit steps of 1/64.
    steps = Image.fromarray(np.clip(np.rint(gain * 64), 0, 255).astype(np.uint8))
    scaled = np.asarray(steps.resize(gray.size, Image.Resampling.BILINEAR), dtype=np.uint16)
    pixels = np.asarray(gray, dtype=np.uint16)
    return Image.fromarray(np.minimum(pixels * scaled // 64, 255).astype(np.uint8))


def find_sheet(photo: Any) -> Sheet | None:
    """The photographed sheet, or None when the image is a scan (or no sheet is sure).

    The sheet is the brightest region at Otsu's threshold of the paper's light; a shadow
    cast across the photo makes the lit part of the sheet that region, so where the
    photo has a dark frame lower thresholds are tried too, down towards the desk's
    shade, and the largest region that still looks like a sheet wins."""
    gray = photo.convert("L")
    width, height = gray.size
    if min(width, height) < 32:
        return None
    look, factor = _look(gray)
    light = _paper_light(look).astype(np.uint8)
    if int(light.max()) - int(light.min()) < _MIN_CONTRAST:
        return None
    threshold = otsu_threshold(light)
    found = _sheet_region(light, threshold)
    frame = np.concatenate([light[0, :], light[-1, :], light[:, 0], light[:, -1]])
    desk = float(np.median(frame))
    if desk < threshold - _MIN_CONTRAST:  # a dark frame: a desk, perhaps a shadow on it
        for lower in np.linspace(threshold, desk, _SHADOW_STEPS + 2)[1:-1]:
            larger = _sheet_region(light, int(lower))
            # Larger, and no less a quadrilateral: paper in shadow joined the sheet (a
            # bright stretch of desk joined to it bends its outline).
            if larger is not None and (found is None or (
                    larger[0] > _SHADOW_GROWTH * found[0]
                    and larger[2] >= found[2] - _SHAPE_SLACK)):
                found = larger
    if found is None:
        return None
    corners = found[1]
    # Corners in photo pixels (a look pixel's centre), the sheet's size from its edges.
    photo_corners = tuple(((float(x) + 0.5) / factor, (float(y) + 0.5) / factor)
                          for x, y in corners)
    tl, tr, br, bl = (np.array(c) for c in photo_corners)
    sheet_width = (np.linalg.norm(tr - tl) + np.linalg.norm(br - bl)) / 2
    sheet_height = (np.linalg.norm(bl - tl) + np.linalg.norm(br - tr)) / 2
    if sheet_width < 16 or sheet_height < 16:
        return None
    photo_frame = [(0.0, 0.0), (float(width), 0.0), (float(width), float(height)),
                   (0.0, float(height))]
    if all(abs(cx - fx) <= _FRAME_TOLERANCE * width and abs(cy - fy) <= _FRAME_TOLERANCE * height
           for (cx, cy), (fx, fy) in zip(photo_corners, photo_frame, strict=True)):
        return None
    return Sheet(photo_corners, (round(sheet_width), round(sheet_height)))


def _sheet_region(light: np.ndarray, threshold: int
                  ) -> tuple[int, list[tuple[int, int]], float] | None:
    """(pixels, corners clockwise from top-left, how well it fills them, less what spills
    out) of the largest region of the look
    brighter than threshold, if it looks like a photographed sheet: clearly brighter
    than its surround, a convex quadrilateral, background along three photo edges."""
    from scipy import ndimage

    bright = light > threshold
    labels, count = ndimage.label(bright)
    if count == 0:
        return None
    sizes = ndimage.sum(bright, labels, range(1, count + 1))
    sheet = ndimage.binary_fill_holes(labels == int(np.argmax(sizes)) + 1)
    share = float(sheet.mean())
    if not _MIN_SHARE <= share <= _MAX_SHARE:
        return None
    surround = ~sheet
    if float(np.median(light[sheet])) - float(np.median(light[surround])) < _MIN_CONTRAST:
        return None
    edges = [surround[0, :].mean(), surround[-1, :].mean(), surround[:, 0].mean(),
             surround[:, -1].mean()]
    if sum(edge > 0.5 for edge in edges) < _MIN_BACKGROUND_EDGES:
        return None
    ys, xs = np.nonzero(sheet)
    along, across = xs + ys, xs - ys
    corners = [(int(xs[along.argmin()]), int(ys[along.argmin()])),
               (int(xs[across.argmax()]), int(ys[across.argmax()])),
               (int(xs[along.argmax()]), int(ys[along.argmax()])),
               (int(xs[across.argmin()]), int(ys[across.argmin()]))]
    outline = Image.new("L", (light.shape[1], light.shape[0]), 0)
    ImageDraw.Draw(outline).polygon([(float(x), float(y)) for x, y in corners], fill=1)
    quad = np.asarray(outline, dtype=bool)
    fill = float((sheet & quad).sum()) / max(1.0, float(quad.sum()))
    spill = float((sheet & ~quad).sum()) / max(1.0, float(sheet.sum()))
    if fill < _MIN_FILL or spill > _MAX_SPILL:
        return None
    return int(sheet.sum()), corners, fill - spill
