"""A form's date field read again on its own: on ~100-dpi forms the page's read garbles
the digits of the date typed next to a "Date:" label ("“42/28/84" for 11/28/84), while a
larger single-line read of just that field gets them (FUNSD: given each field's box, such a
re-read is right on 6 of the 16 dates the page's read misses)."""

from __future__ import annotations

import re
from collections.abc import Callable

from engine.models import Box, Word

_LABEL = re.compile(r"^(date|dated|date\(s\))[\W_]*$", re.IGNORECASE)
# A label OCR ran into its field: "DATE___-3./4/90".
_GLUED_LABEL = re.compile(r"^(date|dated)[\W_]+\w", re.IGNORECASE)
_MONTH = (r"(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?")
_NUMERIC = re.compile(r"(\d{1,4})\s?[/.-]\s?(\d{1,2})\s?[/.-]\s?(\d{2,4})")
_NAMED = re.compile(rf"\b{_MONTH}\s*(\d{{1,2}})\b|\b(\d{{1,2}})[\s.\-]*{_MONTH}",
                    re.IGNORECASE)
# A page with more date labels than this is a table of dates, not a form's field.
MAX_FIELDS = 3
# How far right of its label a field may reach, as a share of the page's width.
FIELD_WIDTH = 0.45


def looks_like_date(text: str) -> bool:
    """A plausible written date: numbers in day/month ranges, or a month name and a day."""
    for match in _NUMERIC.finditer(text):
        a, b, c = (int(g) for g in match.groups())
        if len(match.group(1)) == 4:
            a, c = c, a  # ISO order: year first
        if 1 <= b <= 31 and 1 <= a <= 31 and (a <= 12 or b <= 12) and c >= 0:
            return True
    for match in _NAMED.finditer(text):
        day = match.group(2) or match.group(3)
        if day and 1 <= int(day) <= 31:
            return True
    return False


def date_fields(words: list[Word], width: int) -> list[tuple[Word, Box]]:
    """Where a date is written next to a "Date"/"Dated" label: the label, and the box
    right of it on its line."""
    labels = [w for w in words if _LABEL.match(w.text) or _GLUED_LABEL.match(w.text)]
    if not labels or len(labels) > MAX_FIELDS:
        return []
    fields = []
    for label in labels:
        # A glued label is read again with its field.
        glued = _GLUED_LABEL.match(label.text) is not None
        left = label.box.x if glued else label.box.x + label.box.w + 1
        right = min(width, left + round(width * FIELD_WIDTH))
        top = max(0, label.box.y - label.box.h // 2)
        height = label.box.h * 2
        if right - left > label.box.h:
            fields.append((label, Box(left, top, right - left, height)))
    return fields


def _inside(word: Word, box: Box) -> bool:
    cx, cy = word.box.x + word.box.w / 2, word.box.y + word.box.h / 2
    return box.x <= cx <= box.x + box.w and box.y <= cy <= box.y + box.h


def reread_date_fields(words: list[Word], width: int,
                       read_field: Callable[[Box, int], list[Word]]) -> list[Word]:
    """words with each date field whose read is no date replaced by its re-read, when
    that re-read is one (read_field(box, text height) reads the box alone)."""
    for label, box in date_fields(words, width):
        if not any(w is label for w in words):
            continue  # replaced by the re-read of a field before it on its line
        inside = [i for i, w in enumerate(words) if _inside(w, box)
                  and (w is not label or _GLUED_LABEL.match(w.text))]
        if looks_like_date(" ".join(words[i].text for i in inside)):
            continue
        fresh = read_field(box, label.box.h)
        if fresh and looks_like_date(" ".join(w.text for w in fresh)):
            # The field's words where its old read stood, so reading order holds.
            at = inside[0] if inside else next(
                i for i, w in enumerate(words) if w is label) + 1
            gone = set(inside)
            words = [w for i, w in enumerate(words[:at]) if i not in gone] + fresh + \
                [w for i, w in enumerate(words[at:], start=at) if i not in gone]
    return words
