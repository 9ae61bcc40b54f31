"""Whether two page images show the same paper, when their OCR reads cannot tell.

A degraded rescan (blur, recompression, low resolution) can read so differently that the
two texts share only 20-40 % of their 5-grams, while the pages still look the same. Here
each page becomes its ink: the dark pixels (Otsu's threshold, so exposure does not
matter), turned upright (the angle that makes text rows sharpest) and measured in units
of the page's long side (so scanner resolution does not matter). Two prints are aligned
by scale and shift (a search over scales, each shift by FFT cross-correlation, coarse
then fine), then compared tile by tile (each tile may move a little on its own, which
absorbs some of a phone's perspective; solid black areas are left out): the same paper
agrees in every inked tile, while two copies of one form filled by different hands
disagree where the hands wrote.

Typed pages of one layout that differ only in a few characters look alike at this
scale (docs/intelligence.md), so the caller uses this only where the reads were poor;
clean reads are judged by their text.
"""

from __future__ import annotations

import functools
import importlib
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
from PIL import Image

from engine.backends.paper import Sheet, even_light, find_sheet, otsu_threshold
from engine.models import Word

# Pages are looked at no bigger than this (pixels, long side): FUNSD's 100-dpi forms are
# 1,000, a 300-dpi A4 page 3,508.
_MAX_SIDE = 1400
# Ink points kept per page: enough for a stable density, few enough to align quickly.
_MAX_POINTS = 40_000
_SKEW_DEGREES = np.arange(-4.0, 4.001, 0.2)
# The density grids span -0.1 .. 1.1 page units (room for a shift either way).
_SPAN = (-0.1, 1.1)
_COARSE = 160
_FINE = 400
_TILE = 40  # fine cells per tile side: 10 x 10 tiles
_REACH = 4  # how far (fine cells, ~1 % of the page) a tile may move to find its match
_SCALES = np.arange(0.80, 1.2501, 0.01)
_ROUGH = 48
_ROUGH_SCALES = np.arange(0.80, 1.2501, 0.03)
# How far the true scale may lie from the rough look's: in bench intelligence's
# held-out pairing, every alignment that passed (191) lay within 0.03 of it; searching
# 0.06 either side cost 30 % more and changed no pair there or in the tuning set.
_NEAR_SCALE = 0.04
# A tile counts when both pages have at least this share of their ink there: a crop or
# a scanner's border leaves one side's margin empty, which says nothing of the paper.
_TILE_INK = 0.004


def import_in_background() -> None:
    """Import SciPy's image and FFT modules on a side thread: pages are compared after an
    index run, and importing them there (0.15-0.2 s) would sit alone at the run's end,
    while during the run it shares cores that OCR mostly fills anyway."""

    def load() -> None:
        for name in ("scipy.ndimage", "scipy.fft"):
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001 - the comparison imports it again and reports
                return

    threading.Thread(target=load, name="scandex-preload", daemon=True).start()


@dataclass(frozen=True)
class InkPrint:
    """A page's dark pixels, upright (turned by angle, radians), in units of its long
    side (x, y per row). A phone photo's print is of its sheet, flattened (sheet); the
    page was looked at factor times the size it was given (image_side: that image's long
    side)."""

    points: np.ndarray
    angle: float = 0.0
    long_side: float = 1.0
    factor: float = 1.0
    image_side: float = 1.0
    sheet: Sheet | None = None

    def place(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Where pixels (x, y) of the image given to ink_print lie on this print."""
        if self.sheet is not None:
            x, y = self.sheet.onto_sheet(x, y)
        cos, sin = np.cos(self.angle), np.sin(self.angle)
        x, y = x * self.factor / self.long_side, y * self.factor / self.long_side
        return x * cos + y * sin, -x * sin + y * cos

    def units(self, pixels: Any) -> Any:
        """A length in pixels of the image given, in print units (a flattened sheet keeps
        the size it had on the photo, near enough for a word's width)."""
        return pixels * self.factor / self.long_side


@dataclass(frozen=True)
class PageLikeness:
    """How two aligned pages agree: overall, in their typical tile (10th percentile of
    the inked tiles' correlations) and in their worst tile."""

    overall: float
    typical_tile: float
    worst_tile: float
    # How the second print lies on the first: first = second * scale + offset.
    scale: float = 1.0
    offset: tuple[float, float] = (0.0, 0.0)
    # The aligned fine density grids (first's, second's moved onto it), for a closer look.
    grids: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False,
                                                        compare=False)


def _sharpness(x: np.ndarray, y: np.ndarray, degrees: float) -> float:
    """How sharp the rows of ink are when the page is turned by degrees (text lines
    upright give the peakiest row profile)."""
    angle = np.radians(degrees)
    rows = -x * np.sin(angle) + y * np.cos(angle)
    profile = np.bincount(((rows - rows.min()) * 1000).astype(np.int64)).astype(np.float64)
    return float((profile * profile).sum())


def page_gray(image: Any) -> tuple[np.ndarray, Sheet | None, float]:
    """The page as its print is taken of it: gray, a photographed sheet flattened and its
    light evened, at most _MAX_SIDE pixels long (the sheet, and the factor it was resized
    by)."""
    page = image.convert("L")
    sheet = find_sheet(page)
    if sheet is not None:
        # Evened as OCR reads it: under a shadow, Otsu's threshold takes the shadowed
        # paper for ink, and the pages no longer align (typical tile 0.06 against 0.80).
        page = even_light(sheet.flatten(page))
    factor = 1.0
    if max(page.size) > _MAX_SIDE:  # a 300-dpi PDF page: the same ink, a tenth the work
        factor = _MAX_SIDE / max(page.size)
        page = page.resize((max(1, round(page.width * factor)),
                            max(1, round(page.height * factor))), Image.Resampling.BILINEAR)
    return np.asarray(page), sheet, factor


def ink_print(image: Any) -> InkPrint | None:
    """The page's ink (None for a blank page); of a photographed sheet, the sheet's alone,
    flattened: the desk around it would be ink, and its perspective is more than the
    tiles' reach absorbs."""
    gray, sheet, factor = page_gray(image)
    image_side = float(max(image.size))
    if gray.size == 0:
        return None
    ys, xs = np.nonzero(gray < otsu_threshold(gray))
    if len(xs) < 100:
        return None
    if len(xs) > _MAX_POINTS:
        keep = np.random.default_rng(0).choice(len(xs), _MAX_POINTS, replace=False)
        ys, xs = ys[keep], xs[keep]
    long_side = float(max(gray.shape))
    x, y = xs / long_side, ys / long_side
    coarse = max(_SKEW_DEGREES, key=lambda degrees: _sharpness(x, y, degrees))
    best = max(np.arange(coarse - 0.2, coarse + 0.201, 0.05),
               key=lambda degrees: _sharpness(x, y, degrees))
    cos, sin = np.cos(np.radians(best)), np.sin(np.radians(best))
    upright = np.stack([x * cos + y * sin, -x * sin + y * cos], axis=1)
    return InkPrint(upright.astype(np.float32), float(np.radians(best)), long_side, factor,
                    image_side, sheet)


def _sigma(cells: int) -> float:
    """The blur of a density grid, in cells."""
    return 1.0 if cells == _FINE else 0.8


@functools.lru_cache(maxsize=8)
def _blur_spectrum(cells: int, size: tuple[int, int]) -> np.ndarray:
    """What blurring a grid by _sigma(cells) does to its rfft2 at size: the transform of
    the same sampled, truncated kernel ndimage uses, so a blur costs a product in a
    spectrum the search computes anyway (identical to ndimage's up to the grid's edges,
    which hold no ink: the span leaves a margin)."""
    sigma = _sigma(cells)
    radius = int(4.0 * sigma + 0.5)
    offsets = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 * (offsets / sigma) ** 2)
    kernel /= kernel.sum()

    def transfer(length: int, real_half: bool) -> np.ndarray:
        circular = np.zeros(length)
        circular[offsets % length] = kernel
        spectrum = np.fft.rfft(circular) if real_half else np.fft.fft(circular)
        return np.asarray(spectrum.real)

    return np.outer(transfer(size[0], False), transfer(size[1], True)).astype(np.float32)


def _histogram(points: np.ndarray, cells: int, scale: float = 1.0,
               shift: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """The points counted on a cells x cells grid over _SPAN (float32)."""
    per_unit = cells / (_SPAN[1] - _SPAN[0])
    # A histogram by bincount: numpy's histogram2d searches bin edges, 10x slower here.
    columns = np.floor((points[:, 0] * scale + shift[0] - _SPAN[0]) * per_unit).astype(np.int64)
    rows = np.floor((points[:, 1] * scale + shift[1] - _SPAN[0]) * per_unit).astype(np.int64)
    inside = (columns >= 0) & (columns < cells) & (rows >= 0) & (rows < cells)
    return np.bincount(rows[inside] * cells + columns[inside], minlength=cells * cells
                       ).reshape(cells, cells).astype(np.float32)


def _density(points: np.ndarray, cells: int, scale: float = 1.0,
             shift: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """The points' histogram, blurred."""
    from scipy import ndimage

    smooth: np.ndarray = ndimage.gaussian_filter(_histogram(points, cells, scale, shift),
                                                 _sigma(cells))
    return smooth


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    norm = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / norm) if norm > 0 else 0.0


def _best_shift(fixed_spectrum: np.ndarray, moving: np.ndarray,
                size: tuple[int, int]) -> tuple[float, int, int]:
    """(peak, rows, columns) of the circular cross-correlation: moving shifted back by
    (rows, columns) lies best on the fixed grid."""
    from scipy import fft

    product = fixed_spectrum * fft.rfft2(moving - moving.mean(), s=size)
    correlation = fft.irfft2(product, s=size)
    row, column = np.unravel_index(int(np.argmax(correlation)), correlation.shape)
    row = row if row < size[0] // 2 else row - size[0]
    column = column if column < size[1] // 2 else column - size[1]
    return float(correlation.max()), int(row), int(column)


def _align(a: InkPrint, b: InkPrint, scales: np.ndarray = _SCALES,
           ) -> tuple[np.ndarray, np.ndarray, float, tuple[float, float]]:
    """a's and b's fine density grids with b scaled and shifted onto a, and that scale
    and shift (a = b * scale + shift)."""
    from scipy import fft

    # The moving grids are blurred in the spectrum (a product) rather than each by
    # ndimage: the fixed side's spectrum carries the moving side's blur.
    width = _SPAN[1] - _SPAN[0]
    coarse = _density(a.points, _COARSE)
    padded = (2 * _COARSE, 2 * _COARSE)  # no wrap-around for shifts up to the grid
    spectrum = np.conj(fft.rfft2(coarse - coarse.mean(), s=padded)) \
        * _blur_spectrum(_COARSE, padded)
    peak, scale, rows, columns = -np.inf, 1.0, 0, 0
    for candidate in scales:
        found = _best_shift(spectrum, _histogram(b.points, _COARSE, float(candidate)), padded)
        if found[0] > peak:
            peak, scale, rows, columns = found[0], float(candidate), found[1], found[2]
    shift = (-columns * width / _COARSE, -rows * width / _COARSE)
    fine = _density(a.points, _FINE)
    square = (_FINE, _FINE)
    spectrum = np.conj(fft.rfft2(fine - fine.mean())) * _blur_spectrum(_FINE, square)
    peak, best = -np.inf, (scale, 0, 0)
    for candidate in np.arange(scale - 0.006, scale + 0.0061, 0.003):  # coarse steps 0.01
        found = _best_shift(spectrum, _histogram(b.points, _FINE, float(candidate), shift),
                            square)
        if found[0] > peak:
            peak, best = found[0], (float(candidate), found[1], found[2])
    best_density = _density(b.points, _FINE, best[0], shift)
    moved = np.roll(best_density, (-best[1], -best[2]), axis=(0, 1))
    offset = (shift[0] - best[2] * width / _FINE, shift[1] - best[1] * width / _FINE)
    return (fine / max(fine.sum(), 1e-12), moved / max(moved.sum(), 1e-12), best[0],
            offset)


def _solid(tile: np.ndarray) -> bool:
    """A tile of nearly even ink (a black band, a shaded box): its detail is noise, so it
    tells nothing either way."""
    mean = float(tile.mean())
    return mean > 0 and float(tile.std()) < 0.35 * mean


def _tile_agreement(second: np.ndarray, here: np.ndarray, row: int, column: int) -> float:
    """The best correlation of a tile of the first page with the second page's tile
    moved by up to _REACH cells each way: what a similarity transform leaves locally (a
    phone's perspective, a lens, a slightly different skew) is not a difference of
    content, while other words or other handwriting in that place match nowhere near."""
    top, left = max(row - _REACH, 0), max(column - _REACH, 0)
    return best_window_correlation(here, second[top : row + _TILE + _REACH,
                                                left : column + _TILE + _REACH])


def best_window_correlation(patch: np.ndarray, area: np.ndarray, shapes: bool = False) -> float:
    """The best correlation of patch with any same-sized window of area; with shapes, of
    the rows less their means (letters along a line, not a word's band or an underline)."""
    from numpy.lib.stride_tricks import sliding_window_view

    views = sliding_window_view(area, patch.shape)
    if shapes:
        windows = (views - views.mean(axis=-1, keepdims=True)).reshape(-1, patch.size)
        centred = (patch - patch.mean(axis=1, keepdims=True)).ravel()
    else:
        windows = views.reshape(-1, patch.size)
        windows = windows - windows.mean(axis=1, keepdims=True)
        centred = (patch - patch.mean()).ravel()
    norms = np.sqrt((windows * windows).sum(axis=1) * float(centred @ centred))
    with np.errstate(divide="ignore", invalid="ignore"):
        scores = np.where(norms > 0, windows @ centred / norms, 0.0)
    return float(scores.max())


class RoughLook(NamedTuple):
    """The best correlation on a coarse grid, and the scale it was found at."""

    score: float
    scale: float


def rough_likeness(a: InkPrint, b: InkPrint) -> RoughLook:
    """The two pages' best correlation on a coarse grid over a few scales and every
    shift: a small part of page_likeness's cost, enough to see that two forms are not
    the same page at all (most candidate pairs) before aligning them properly, and
    where among the scales to look when aligning them."""
    from scipy import fft

    few_a = a.points[:: max(1, len(a.points) // 4000)]
    few_b = b.points[:: max(1, len(b.points) // 4000)]
    fixed = _density(few_a, _ROUGH)
    fixed = fixed - fixed.mean()
    padded = (2 * _ROUGH, 2 * _ROUGH)
    spectrum = np.conj(fft.rfft2(fixed, s=padded))
    best, best_scale = 0.0, 1.0
    for scale in _ROUGH_SCALES:
        moving = _density(few_b, _ROUGH, float(scale))
        moving = moving - moving.mean()
        norm = float(np.sqrt((fixed * fixed).sum() * (moving * moving).sum()))
        if norm > 0:
            peak = float(fft.irfft2(spectrum * fft.rfft2(moving, s=padded), s=padded).max())
            if peak / norm > best:
                best, best_scale = peak / norm, float(scale)
    return RoughLook(round(best, 3), best_scale)


def page_likeness(a: InkPrint, b: InkPrint, near_scale: float | None = None) -> PageLikeness:
    """How alike two pages look once aligned (1.0: the same ink everywhere). With
    near_scale (a rough look's), the scales searched are those within _NEAR_SCALE of it."""
    scales = _SCALES if near_scale is None else \
        _SCALES[np.abs(_SCALES - near_scale) <= _NEAR_SCALE + 1e-9]
    first, second, scale, offset = _align(a, b, scales)
    tiles = []
    for row in range(0, _FINE, _TILE):
        for column in range(0, _FINE, _TILE):
            here = first[row : row + _TILE, column : column + _TILE]
            there = second[row : row + _TILE, column : column + _TILE]
            if min(here.sum(), there.sum()) < _TILE_INK or (_solid(here) and _solid(there)):
                continue
            tiles.append(_tile_agreement(second, here, row, column))
    if not tiles:
        return PageLikeness(0.0, 0.0, 0.0, scale, offset, (first, second))
    scores = np.array(tiles)
    return PageLikeness(round(_correlation(first, second), 3),
                        round(float(np.percentile(scores, 10)), 3),
                        round(float(scores.min()), 3), scale, offset, (first, second))


def _letters(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())


def _near_enough(a: str, b: str) -> bool:
    """The same word, or one OCR slip apart (a letter changed, dropped or added)."""
    if a == b:
        return True
    if abs(len(a) - len(b)) > 1 or min(len(a), len(b)) < 5:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b, strict=True)) == 1
    short, long_ = sorted((a, b), key=len)
    return any(long_[:i] + long_[i + 1 :] == short for i in range(len(long_)))


def sure_words(words: Sequence[Word], scale: float, min_conf: float = 85.0,
               ) -> list[tuple[str, float, float, float, float]]:
    """(letters, centre x, centre y, half width, half height) in image pixels of the words
    OCR was sure of (3+ letters or digits), scale turning OCR boxes into pixels of the
    image given to ink_print."""
    out = []
    for word in words:
        letters = _letters(word.text)
        if word.conf >= min_conf and len(letters) >= 3:
            box = word.box
            out.append((letters, (box.x + box.w / 2) * scale, (box.y + box.h / 2) * scale,
                        box.w * scale / 2, box.h * scale / 2))
    return out


def word_agreement(a: InkPrint, a_words: list[tuple[str, float, float, float, float]],
                   b: InkPrint, b_words: list[tuple[str, float, float, float, float]],
                   likeness: PageLikeness) -> tuple[int, int]:
    """(agree, disagree): of the places where both reads were sure of a word, how many
    say the same word. A degraded rescan misreads where OCR is unsure; two filled copies
    of one typed form say other names and numbers in the same places, surely."""
    if not a_words or not b_words:
        return 0, 0
    ax, ay = a.place(np.array([w[1] for w in a_words]), np.array([w[2] for w in a_words]))
    bx, by = b.place(np.array([w[1] for w in b_words]), np.array([w[2] for w in b_words]))
    bx = bx * likeness.scale + likeness.offset[0]
    by = by * likeness.scale + likeness.offset[1]
    b_half_widths = b.units(np.array([w[3] for w in b_words])) * likeness.scale
    agree = disagree = 0
    for i, (text, _, _, half_w, half_h) in enumerate(a_words):
        dx = np.abs(bx - ax[i])
        dy = np.abs(by - ay[i])
        reach_x = np.maximum(a.units(half_w), b_half_widths)
        close = (dx <= reach_x) & (dy <= a.units(half_h))
        if not close.any():
            continue
        nearest = int(np.argmin(np.where(close, dx + dy, np.inf)))
        if _near_enough(text, b_words[nearest][0]):
            agree += 1
        else:
            disagree += 1
    return agree, disagree


def grid_cell(units: Any) -> Any:
    """Where a length in print units lies on the fine density grids (cells)."""
    return (units - _SPAN[0]) * _FINE / (_SPAN[1] - _SPAN[0])


class RecentPrints:
    """The last few page prints made, by content (a print depends on the page's bytes
    alone): rescan pairing runs between an index run's commits, and each would otherwise make
    again the prints of the recent pages it meets (+2.2 s of CPU on 200 pages)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._prints: OrderedDict[str, InkPrint] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, sha256: str) -> InkPrint | None:
        with self._lock:
            found = self._prints.get(sha256)
            if found is not None:
                self._prints.move_to_end(sha256)
            return found

    def clear(self) -> None:
        with self._lock:
            self._prints.clear()

    def put(self, sha256: str, ink: InkPrint) -> None:
        with self._lock:
            self._prints[sha256] = ink
            self._prints.move_to_end(sha256)
            while len(self._prints) > self.size:
                self._prints.popitem(last=False)


# ~0.35 MB a print: 64 keep what a run's next pairings meet for ~22 MB.
RECENT_PRINTS = RecentPrints(64)
