"""What two aligned pages say differently, where their look and most of their words agree:
two copies of one printed form, one filled in where the other is blank, or filled with
another name in the same field (docs/intelligence.md, "what the pages say"). The pages
are aligned by page_likeness; the words are those OCR was sure of (sure_words).
"""

from __future__ import annotations

from difflib import SequenceMatcher
from typing import NamedTuple

import numpy as np

from engine.search.page_likeness import InkPrint, PageLikeness, grid_cell

# A word lies "on blank" when the other page, aligned, holds less than this share of its
# ink in a box of the word's size anywhere within _BLANK_REACH cells (~1 % of the page:
# what a phone's perspective leaves after alignment) ...
_BLANK_INK = 0.5
_BLANK_REACH = 4
# ... and the word lies this many cells (~3.6 % of the page) inside both pages' ink: a
# crop or a scanner's border takes a footer off one page, which says nothing.
_BLANK_MARGIN = 12
# Words of at least this many letters (and nothing else) can clash as two names.
_CLASH_LETTERS = 5


class ContentDifference(NamedTuple):
    """What one page holds that the other, aligned, does not: sure words where the other
    page has blank paper (first's, second's), and the places where both reads are sure of
    two unrelated words, neither of which the other page holds anywhere."""

    on_blank: tuple[int, int]
    clashes: int


def _inked_extent(grid: np.ndarray) -> tuple[int, int, int, int]:
    rows = np.flatnonzero(grid.sum(axis=1) > 0)
    columns = np.flatnonzero(grid.sum(axis=0) > 0)
    if not len(rows):
        return 0, 0, 0, 0
    return int(rows[0]), int(rows[-1]), int(columns[0]), int(columns[-1])


def _on_blank(own: np.ndarray, other: np.ndarray, x: np.ndarray, y: np.ndarray,
              half_w: np.ndarray, half_h: np.ndarray) -> int:
    """How many word boxes (centres x, y and half sizes in the grids' page units) hold ink
    on own but next to none on other, however other is moved within _BLANK_REACH."""
    from numpy.lib.stride_tricks import sliding_window_view

    mine, theirs = _inked_extent(own), _inked_extent(other)
    top, bottom = max(mine[0], theirs[0]) + _BLANK_MARGIN, min(mine[1], theirs[1]) - _BLANK_MARGIN
    left, right = max(mine[2], theirs[2]) + _BLANK_MARGIN, min(mine[3], theirs[3]) - _BLANK_MARGIN
    count = 0
    for cx, cy, w, h in zip(x, y, half_w, half_h, strict=True):
        c0, c1 = int(grid_cell(cx - w)), int(np.ceil(grid_cell(cx + w)))
        r0, r1 = int(grid_cell(cy - h)), int(np.ceil(grid_cell(cy + h)))
        if c0 < left or r0 < top or c1 > right or r1 > bottom or r1 <= r0 or c1 <= c0:
            continue
        ink = float(own[r0:r1, c0:c1].sum())
        area = other[r0 - _BLANK_REACH : r1 + _BLANK_REACH, c0 - _BLANK_REACH : c1 + _BLANK_REACH]
        nearest = float(sliding_window_view(area, (r1 - r0, c1 - c0)).sum(axis=(2, 3)).max())
        if ink > 0 and nearest < _BLANK_INK * ink:
            count += 1
    return count


def _unrelated(a: str, b: str, a_page: set[str], b_page: set[str]) -> bool:
    """Two sure words that are two names, not one misread: both long words of letters,
    neither a slip, a part or a merge of the other, and neither anywhere on the other
    page (a rescan's read holds the word somewhere, if only misplaced)."""
    if not (a.isalpha() and b.isalpha()) or min(len(a), len(b)) < _CLASH_LETTERS:
        return False
    if a in b or b in a or SequenceMatcher(None, a, b).ratio() >= 0.6:
        return False
    return not any(a in word for word in b_page) and not any(b in word for word in a_page)


def content_difference(a: InkPrint, a_words: list[tuple[str, float, float, float, float]],
                       a_page: set[str], b: InkPrint,
                       b_words: list[tuple[str, float, float, float, float]],
                       b_page: set[str], likeness: PageLikeness) -> ContentDifference:
    """Where two aligned pages of one layout say different things: one copy of a form
    filled in where the other is blank, or two names in the same field. a_page and
    b_page: the letters of every word each read holds, sure or not."""
    if likeness.grids is None or not a_words or not b_words:
        return ContentDifference((0, 0), 0)
    first, second = likeness.grids
    ax, ay = a.place(np.array([w[1] for w in a_words]), np.array([w[2] for w in a_words]))
    bx, by = b.place(np.array([w[1] for w in b_words]), np.array([w[2] for w in b_words]))
    bx, by = bx * likeness.scale + likeness.offset[0], by * likeness.scale + likeness.offset[1]
    a_half = (a.units(np.array([w[3] for w in a_words])),
              a.units(np.array([w[4] for w in a_words])))
    b_half = (b.units(np.array([w[3] for w in b_words])) * likeness.scale,
              b.units(np.array([w[4] for w in b_words])) * likeness.scale)
    on_blank = (_on_blank(first, second, ax, ay, *a_half),
                _on_blank(second, first, bx, by, *b_half))
    clashes = 0
    for i, (text, *_rest) in enumerate(a_words):
        close = (np.abs(bx - ax[i]) <= np.maximum(a_half[0][i], b_half[0])) \
            & (np.abs(by - ay[i]) <= a_half[1][i])
        if close.any():
            nearest = int(np.argmin(np.where(close, np.abs(bx - ax[i]) + np.abs(by - ay[i]),
                                             np.inf)))
            clashes += _unrelated(text, b_words[nearest][0], a_page, b_page)
    return ContentDifference(on_blank, clashes)
