"""Words compared as pictures, where a read is too poor to say them (a fax, a copy of a
copy): each word box of one page is carried by the pages' alignment (page_likeness) onto
the other page and its pixels correlated with what lies there. The same paper has the
same word in that place however badly it reads; another filling of one printed form has
another name or number in its fields, and a filled copy has writing where the blank one
has paper (measured in docs/intelligence.md).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.search.page_likeness import (
    InkPrint,
    PageLikeness,
    best_window_correlation,
    page_gray,
)

# A word's picture is compared with the other page within this many pixels of where the
# alignment puts it (what is left of a tilt or a crop over a word's length).
_PICTURE_REACH = 3
# The word's picture is blurred this much (pixels) before it is compared: two scans never
# sample the strokes alike.
_PICTURE_BLUR = 0.8
def _gray_units(ink: InkPrint, gx: np.ndarray, gy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where pixels of the page's gray (page_gray) lie on its print."""
    cos, sin = np.cos(ink.angle), np.sin(ink.angle)
    x, y = gx / ink.long_side, gy / ink.long_side
    return x * cos + y * sin, -x * sin + y * cos


def _units_gray(ink: InkPrint, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where points of the print lie on the page's gray (page_gray's pixels)."""
    cos, sin = np.cos(ink.angle), np.sin(ink.angle)
    return (u * cos - v * sin) * ink.long_side, (u * sin + v * cos) * ink.long_side


def _pictures_on(src_gray: np.ndarray, src: InkPrint,
                 words: list[tuple[str, float, float, float, float]], dst_gray: np.ndarray,
                 dst: InkPrint, forward: bool, scale: float, offset: tuple[float, float],
                 shapes: bool) -> np.ndarray:
    """Each word of src (boxes in pixels of the image given to ink_print), its picture
    carried onto dst by the alignment (forward: first onto second) and compared there."""
    from scipy import ndimage

    def onto_dst(u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if forward:
            return (u - offset[0]) / scale, (v - offset[1]) / scale
        return u * scale + offset[0], v * scale + offset[1]

    def onto_src(u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if forward:
            return u * scale + offset[0], v * scale + offset[1]
        return (u - offset[0]) / scale, (v - offset[1]) / scale

    if not words:
        return np.zeros(0)
    centres = src.place(np.array([w[1] for w in words]), np.array([w[2] for w in words]))
    dx, dy = _units_gray(dst, *onto_dst(*centres))
    # src pixels -> dst gray pixels: through print units, and the scale between prints
    size = src.units(1.0) * (1 / scale if forward else scale) * dst.long_side
    src_pixels = np.asarray(src_gray, dtype=np.float32)
    dst_pixels = np.asarray(dst_gray, dtype=np.float32)
    out = []
    for (_, _, _, half_w, half_h), cx, cy in zip(words, dx, dy, strict=True):
        across, down = int(half_w * size) + 2, int(half_h * size) + 2
        column, row = int(round(cx)), int(round(cy))
        top, left = row - down - _PICTURE_REACH, column - across - _PICTURE_REACH
        bottom, right = row + down + _PICTURE_REACH + 1, column + across + _PICTURE_REACH + 1
        if top < 0 or left < 0 or bottom > dst_pixels.shape[0] or right > dst_pixels.shape[1]:
            continue  # off the other page (a crop took it): says nothing
        if 2 * across > dst_pixels.shape[1] // 3 or 2 * down > dst_pixels.shape[0] // 10:
            continue  # a box that big is a picture or a misread block, not a word
        gy, gx = np.mgrid[row - down : row + down + 1, column - across : column + across + 1]
        su, sv = onto_src(*_gray_units(dst, gx.ravel().astype(np.float64),
                                       gy.ravel().astype(np.float64)))
        sx, sy = _units_gray(src, su, sv)
        picture = ndimage.map_coordinates(src_pixels, [sy, sx], order=1, mode="nearest")
        picture = ndimage.gaussian_filter(picture.reshape(gy.shape), _PICTURE_BLUR)
        out.append(best_window_correlation(picture, dst_pixels[top:bottom, left:right],
                                           shapes))
    return np.array(out)


def word_pictures(first_image: Any, first: InkPrint,
                  first_words: list[tuple[str, float, float, float, float]],
                  second_image: Any, second: InkPrint,
                  second_words: list[tuple[str, float, float, float, float]],
                  likeness: PageLikeness, shapes: tuple[bool, bool] = (True, True),
                  ) -> tuple[np.ndarray, np.ndarray]:
    """How each word of either page looks where the alignment puts it on the other page
    (correlation of the pixels, best within _PICTURE_REACH): what a read too poor to
    say the words still shows. A copy of the same paper has the same word there, however
    badly it reads; another filling of one form has another name or number in that field,
    and a filled copy has writing where the blank one has paper. shapes (first's words,
    second's): compare the letters' shapes along the line (for words read surely, whose
    boxes are tight) or the ink as it lies (for any box a poor read found: is the same
    ink there at all). Returns first's words on second, second's on first; words falling
    off the other page are left out."""
    first_gray, second_gray = page_gray(first_image)[0], page_gray(second_image)[0]
    return (_pictures_on(first_gray, first, first_words, second_gray, second, True,
                         likeness.scale, likeness.offset, shapes[0]),
            _pictures_on(second_gray, second, second_words, first_gray, first, False,
                         likeness.scale, likeness.offset, shapes[1]))
