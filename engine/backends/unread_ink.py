"""Printed text the page's read left out, found as ink no read word covers.

On forms Tesseract's layout analysis drops whole ruled cells: FUNSD's "12-4-80" in a
bordered DATE box, a "Date Received" label, small capitals in a cell's corner. Here the
page's ink (Otsu's threshold) loses its ruling lines (straight runs longer than a word)
and every read word's box; what is left and letter-sized is joined into line-shaped
regions, and each region is read alone as one line: by the PP-OCR line recogniser
(engine.backends.line_reader) where it reads the page's script, else by Tesseract, larger.
Its confident words not already read join the page's words at their place in the reading
order; a scrap the page's read made of a region's text gives way to the whole. Where they
are few, the words the page's read was unsure of are read again the same way and give way
to a surer read.

Measured (docs/quality.md, `python -m bench ocr-quality`): FUNSD word recall 79.7 ->
82.3 %, the photographed forms 68.8 -> 70.1 % and 62.1 -> 64.4 %; it replaced a second,
sparse Tesseract read of poorly read pages, so indexing costs what it did.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

import numpy as np
from PIL import Image

from engine.backends.paper import otsu_threshold
from engine.models import Box, Word

# Regions are looked for on the page shrunk by a whole factor until it is at most this
# large (pixels, long side; FUNSD's forms are 1,000) and its words' median height at most
# _WORD_PX (a 300-dpi letter's ~35-px words: a third): the work grows with the pixels.
_MAX_SIDE = 1000
_WORD_PX = 12
# A straight run of ink at least this share of the page's width (or this many pixels) is
# a ruling line, not a letter.
_LINE_SHARE = 1 / 30
_LINE_MIN_PX = 25
# A letter-sized ink blob (pixels, on the page at most _MAX_SIDE large).
_LETTER_HEIGHT = (4, 40)
_LETTER_MAX_WIDTH = 60
# Letters closer than this (across, down) are one region.
_JOIN = (15, 3)
# A region is line-shaped: at least this many times wider than tall, this tall and this
# wide (on the page it is looked for on). On 30 FUNSD forms the 133 regions narrower than
# 30 px read 12 right words, the 104 over 60 px 130.
_REGION_ASPECT = 2.0
_REGION_HEIGHT = (6, 60)
_REGION_MIN_WIDTH = 30
MAX_REGIONS = 24  # the largest first; a page of handwriting has many
READ_TEXT_PX = 30.0  # a region is read scaled so that its ink is about this tall
MIN_CONF = 80.0
# A word the page's read is this unsure of is no read at all: its ink is looked at again
# (FUNSD: "DATE May" read "Tr" at 23). So is a number read with letters no number has
# (a year "i¢é5" at 65).
UNSURE_CONF = 50.0
_GARBLED_NUMBER = re.compile(r"(?=.*\d)(?=.*[^\x00-\x7f])")
SLIP_SHARE = 0.25  # see _spelled_alike: of the longer word's letters
# Only where they are the exceptions: on a page whose read is mostly unsure (a fax copy)
# the recogniser's reads of them differ from copy to copy as much as Tesseract's, and
# held-out fax rescans were grouped less (0.90 -> 0.70, `python -m bench intelligence`).
UNSURE_SHARE = 0.25
# Of those, only the ones in a date or beside one ("Tr 27, 1982", "2/3/80"): the date is
# what the index reads from a page's words, and no word list helps Tesseract read it.
# Each is a line for the recogniser (~30 ms); every unsure word of 40 e2e pages took
# their lines from 122 to 377 and the OCR's CPU up 16 %, every one with a digit or beside
# one 13 %.
_DATE_PART = re.compile(r"\d{1,2}\s?[/.-]\s?\d{1,2}\s?[/.-]\s?\d{2,4}|(?:1[89]|20)\d\d|\d{1,2},")
_PAD = 2  # pixels kept around each read word and region


def unread_words(found: list[Word], read: list[Word], min_conf: float = MIN_CONF
                 ) -> list[Word]:
    """Confident words of found where read has no word (none overlapping by more than
    30 % of the smaller box)."""
    kept = [w for w in found if w.conf >= min_conf]
    if not kept or not read:
        return kept
    a = np.array([[w.box.x, w.box.y, w.box.w, w.box.h] for w in kept], dtype=np.float64)
    b = np.array([[w.box.x, w.box.y, w.box.w, w.box.h] for w in read], dtype=np.float64)
    across = np.minimum((a[:, 0] + a[:, 2])[:, None], b[:, 0] + b[:, 2]) - \
        np.maximum(a[:, 0][:, None], b[:, 0])
    down = np.minimum((a[:, 1] + a[:, 3])[:, None], b[:, 1] + b[:, 3]) - \
        np.maximum(a[:, 1][:, None], b[:, 1])
    shared = np.clip(across, 0, None) * np.clip(down, 0, None)
    smaller = np.minimum((a[:, 2] * a[:, 3])[:, None], b[:, 2] * b[:, 3])
    covered = (shared > 0.3 * smaller).any(axis=1)
    return [w for w, hidden in zip(kept, covered, strict=True) if not hidden]


def _ruling_lines(ink: np.ndarray) -> np.ndarray:
    """The pixels of straight horizontal or vertical runs of ink longer than a word
    (a morphological opening by a long line, each direction)."""
    from scipy import ndimage

    length = max(_LINE_MIN_PX, round(ink.shape[1] * _LINE_SHARE))
    pixels = ink.view(np.uint8)
    lines = np.zeros(ink.shape, dtype=bool)
    for axis in (0, 1):
        if ink.shape[axis] >= length:
            eroded = ndimage.minimum_filter1d(pixels, length, axis=axis)
            run = ndimage.maximum_filter1d(eroded, length, axis=axis).astype(bool)
            # A pixel wider across the line: its anti-aliased edges.
            grown = run.copy()
            if axis == 1:
                grown[1:] |= run[:-1]
                grown[:-1] |= run[1:]
            else:
                grown[:, 1:] |= run[:, :-1]
                grown[:, :-1] |= run[:, 1:]
            lines |= grown
    return lines


def unread_regions(image: Image.Image, words: list[Word], reread: frozenset[int] = frozenset()
                   ) -> list[tuple[Box, int]]:
    """Line-shaped regions of letter-sized ink that no word of words covers (but the words
    whose indexes are in reread: read again), in page pixels, each with its text's height;
    the largest first, at most MAX_REGIONS."""
    from scipy import ndimage

    heights = sorted(w.box.h for w in words)
    word_px = heights[len(heights) // 2] if heights else 0
    shrink = max(1, math.ceil(max(image.size) / _MAX_SIDE), word_px // _WORD_PX)
    small = image if image.mode == "L" else image.convert("L")
    if shrink > 1:
        small = small.reduce(shrink)
    factor = small.width / image.width
    grey = np.asarray(small)
    if grey.size == 0 or int(grey.min()) == int(grey.max()):
        return []
    ink = grey <= otsu_threshold(grey[::2, ::2])  # a quarter of the pixels tells as well
    ink &= ~_ruling_lines(ink)
    for index, word in enumerate(words):
        if index in reread:
            continue
        box = word.box
        ink[max(0, round(box.y * factor) - _PAD): round((box.y + box.h) * factor) + _PAD,
            max(0, round(box.x * factor) - _PAD): round((box.x + box.w) * factor) + _PAD] = False
    blobs, count = ndimage.label(ink)
    letters = np.zeros(count + 1, dtype=bool)
    for index, found in enumerate(ndimage.find_objects(blobs), start=1):
        height = found[0].stop - found[0].start
        width = found[1].stop - found[1].start
        letters[index] = _LETTER_HEIGHT[0] <= height <= _LETTER_HEIGHT[1] and \
            width <= _LETTER_MAX_WIDTH and height * width >= 6
    text = letters[blobs]
    joined = ndimage.maximum_filter1d(ndimage.maximum_filter1d(text, _JOIN[0], axis=1),
                                      _JOIN[1], axis=0)
    groups, _ = ndimage.label(joined)
    regions = []
    for found in ndimage.find_objects(groups):
        top, bottom = found[0].start, found[0].stop
        left, right = found[1].start, found[1].stop
        height, width = bottom - top, right - left
        if width >= max(_REGION_MIN_WIDTH, _REGION_ASPECT * height) and \
                _REGION_HEIGHT[0] <= height <= _REGION_HEIGHT[1]:
            box = Box(round(left / factor), max(0, round((top - _PAD) / factor)),
                      round(width / factor), round((height + 2 * _PAD) / factor))
            regions.append((width * height, box, max(1, round(height / factor))))
    regions.sort(key=lambda r: -r[0])
    return [(box, text_height) for _, box, text_height in regions[:MAX_REGIONS]]


def _place(words: list[Word], box: Box) -> int:
    """Where words read in box go in the reading order: after the nearest word left of it
    on its line, else after the line of the lowest word above it that shares its columns,
    else after the line of the lowest word above it, else first. After the whole line:
    a label read below a date must not land between "27," and "1991"."""
    middle = box.y + box.h / 2
    best, best_key = 0, None
    for index, word in enumerate(words):
        b = word.box
        if b.y <= middle <= b.y + b.h and b.x + b.w <= box.x + _PAD:
            key = (2, b.x + b.w, index)
        elif b.y + b.h <= middle:
            key = (int(b.x < box.x + box.w and box.x < b.x + b.w), b.y + b.h, index)
        else:
            continue
        if best_key is None or key > best_key:
            best, best_key = index + 1, key
    if best_key is not None and best_key[0] < 2:
        line = words[best - 1].box
        while best < len(words):
            after = words[best].box
            if not (line.y <= after.y + after.h / 2 <= line.y + line.h and after.x >= line.x):
                break
            line = after
            best += 1
    return best


def _fragment_of(word: Word, longer: Word) -> bool:
    """Whether word is a scrap of longer: shorter, and mostly inside its box (the page's
    read of a ruled cell can be a lone "1" of its "11-16-87": the region is read because
    the rest of its ink was not, and the scrap gives way to the whole)."""
    a, b = word.box, longer.box
    across = min(a.x + a.w, b.x + b.w) - max(a.x, b.x)
    down = min(a.y + a.h, b.y + b.h) - max(a.y, b.y)
    return len(word.text) < len(longer.text) and across > 0 and down > 0 and \
        across * down >= 0.6 * a.w * a.h


def _unsure(word: Word) -> bool:
    return word.conf < UNSURE_CONF or (word.conf < MIN_CONF
                                       and _GARBLED_NUMBER.match(word.text) is not None)


def _rereads(words: list[Word]) -> frozenset[int]:
    """The indexes of the unsure words read again (UNSURE_SHARE)."""
    unsure = [i for i, w in enumerate(words) if _unsure(w)]
    if len(unsure) > UNSURE_SHARE * len(words):
        return frozenset()
    dated = [_DATE_PART.search(w.text) is not None for w in words]

    def in_date(i: int) -> bool:
        return dated[i] or (i > 0 and dated[i - 1]) or (i + 1 < len(words) and dated[i + 1])

    return frozenset(i for i in unsure if in_date(i))


def _spelled_alike(word: Word, fresh: Word) -> bool:
    """Whether two reads of a word with letters differ by a slip or so (letters and digits
    only): then Tesseract's, which its word lists shape, is kept ("existing" at 0 % against
    the recogniser's "-existig"). Not for a number: no word list helps there, and the
    recogniser reads digits better ("2/3/80" at 31 % against its "9/3/80")."""
    from rapidfuzz.distance import DamerauLevenshtein

    a, b = (re.sub(r"[\W_]+", "", w.text).lower() for w in (word, fresh))
    return any(ch.isalpha() for ch in a) and \
        DamerauLevenshtein.normalized_distance(a, b) <= SLIP_SHARE


def _replaced_by(word: Word, fresh: Word, reread: bool) -> bool:
    """Whether the page's read word gives way to fresh, a word read in a region: a scrap
    of it, or (reread: an unsure word read again) one less sure than fresh, the two
    sharing half of the smaller's box (an unsure read's box often takes in a ruling line
    or a neighbour)."""
    if _fragment_of(word, fresh):
        return True
    if not reread or word.conf >= fresh.conf or _spelled_alike(word, fresh):
        return False
    a, b = word.box, fresh.box
    across = min(a.x + a.w, b.x + b.w) - max(a.x, b.x)
    down = min(a.y + a.h, b.y + b.h) - max(a.y, b.y)
    return across > 0 and down > 0 and across * down >= 0.5 * min(a.w * a.h, b.w * b.h)


def with_unread_ink(image: Image.Image, words: list[Word],
                    read_lines: Callable[[list[tuple[Box, int]]], list[list[Word]]],
                    min_conf: float = MIN_CONF) -> list[Word]:
    """words with what the unread regions read (read_lines(regions) reads each region,
    a box and its text's height, alone as one line, its words in page pixels), each
    region's new words of at least min_conf placed in the reading order."""
    reread = _rereads(words)
    regions = unread_regions(image, words, reread)
    again = {id(words[i]) for i in reread}
    if not regions:
        return list(words)
    out = list(words)
    for (box, _), found in zip(regions, read_lines(regions), strict=True):
        sure = [w for w in found if w.conf >= min_conf]
        out = [w for w in out
               if not any(_replaced_by(w, longer, id(w) in again) for longer in sure)]
        fresh = unread_words(sure, out, min_conf)
        if fresh:
            at = _place(out, box)
            out[at:at] = fresh
    return out
