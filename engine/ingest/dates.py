"""The date a paper carries (a letter's, an invoice's, a receipt's), read from its OCR text:
every date-looking span is a candidate, ranked by what surrounds it.

Recognised: 2024-03-11, 11/03/2024, 11.03.24, 11 March 2024, 11th Mar. 2024,
March 11, 2024, Mar-11-24 (and 2-digit years: 00-49 -> 20xx, 50-99 -> 19xx). Numeric
day/month order: a date in the same text whose first or second number is over 12 settles
it; otherwise the order comes from SCANDEX_DATE_ORDER (dmy or mdy), else the locale
(United States, Canada, the Philippines: mdy; elsewhere dmy).

Ranking: a label just before it ("date", "dated", "invoice date", "issued") raises it; a
label that names another date ("birth", "expiry", "due", "valid until") lowers it; nearer
the top of the page and repeated are better; dates in the future or before 1900 are dropped.
"""

from __future__ import annotations

import locale
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from engine.models import Box, PageText
from engine.store.db import Store

DATE_ORDER_ENV = "SCANDEX_DATE_ORDER"
# Fixed tables, not calendar.month_name: that follows LC_TIME, which a GUI toolkit may
# set to the user's locale after import, and a German desktop still files English letters.
_ENGLISH = ("january", "february", "march", "april", "may", "june", "july", "august",
            "september", "october", "november", "december")
# Full names of the languages Tesseract is most often given beside English (German,
# French, Spanish, Italian, Dutch, Portuguese), with and without their accents.
_FOREIGN = (
    ("januar jänner janvier enero gennaio januari janeiro", 1),
    ("februar février fevrier febrero febbraio februari fevereiro", 2),
    ("märz maerz mars marzo maart março marco", 3),
    ("avril abril aprile", 4),
    ("mai mayo maggio mei maio", 5),
    ("juni juin junio giugno junho", 6),
    ("juli juillet julio luglio julho", 7),
    ("août aout agosto augustus", 8),
    ("septembre septiembre setiembre settembre setembro", 9),
    ("oktober octobre octubre ottobre outubro", 10),
    ("novembre noviembre novembro", 11),
    ("dezember décembre decembre diciembre dicembre dezembro", 12),
)
_MONTHS = {name: i + 1 for i, name in enumerate(_ENGLISH)}
_MONTHS.update({name: month for names, month in _FOREIGN for name in names.split()})
_MONTHS.update({name[:3]: i + 1 for i, name in enumerate(_ENGLISH)})
_MONTHS.update({"sept": 9, "okt": 10, "dez": 12, "mär": 3, "mrz": 3, "ene": 1, "abr": 4,
                "ago": 8, "dic": 12, "gen": 1, "giu": 6, "lug": 7, "ott": 10, "fév": 2,
                "févr": 2, "avr": 4, "juil": 7, "déc": 12, "janv": 1, "mei": 5})
# Any word may be a month: _month() takes the names and their abbreviations, a full name
# OCR misspelled by one letter ("Ocotber", "Febuary") or cut short ("Apri 27, 1981").
# Its last letter may be an "l" OCR read as "]" or "|" ("Apri] 27, 1982").
_MONTH = r"(?P<month_name>[^\W\d_]{3,10}|[^\W\d_]{2,9}[\]|])\.?"
# Two digits before a comma and a four-digit number are a day, not a year: a range
# "March 15-19, 1999" read "March 15 19, 1099" is no 15 March 2019.
_YEAR = r"(?P<year>(?:1[89]|20)\d{2}|'?\d{2}(?!,\s?\d{4}))"
_DAY = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th|er)?"
# A year ends at a non-digit, or where OCR glued the next word on and read its capital
# D or O as a zero ("June 21, 19930EPARTMENT").
_YEAR_END = r"(?:(?!\d)|(?<=\d{4})(?=0[A-Za-z]{3}))"
_PATTERNS = [
    # "03DEC23", "03DEC2023": tickets and bank slips; English abbreviations only.
    ("compact", re.compile(r"(?<![\w])(?P<day>[0-3]?\d)(?P<month_name>jan|feb|mar|apr|may|jun|"
                           r"jul|aug|sep|oct|nov|dec)(?P<year>(?:1[89]|20)\d{2}|\d{2})(?!\w)",
                           re.I)),
    ("iso", re.compile(r"(?<!\d)(?P<year>(?:1[89]|20)\d{2})[-/.](?P<a>[01]?\d)[-/.](?P<b>[0-3]?\d)"
                       r"(?!\d)")),
    ("numeric", re.compile(r"(?<![\d/.-])(?P<a>[0-3]?\d)\s?[/.-]\s?(?P<b>[0-3]?\d)\s?[/.-]\s?"
                           r"(?P<year>(?:1[89]|20)\d{2}|\d{2})(?![\d/])")),
    # "the 5th day of June, 2019", "3rd of May 2023": an ordinal, so that "4 of May 10"
    # (a count of items) stays a count.
    ("day-of-month", re.compile(rf"(?<!\w)(?P<day>[0-3]?\d)(?:st|nd|rd|th)(?:\s+day)?\s+of\s+"
                                rf"{_MONTH}[\s,.-]+{_YEAR}{_YEAR_END}", re.I)),
    # "11. März 2024", "1er janvier 2024", "11 de marzo de 2024".
    ("day-month", re.compile(rf"(?<!\w){_DAY}[\s.-]+(?:de\s+)?{_MONTH}[\s,.-]+(?:de\s+)?"
                             rf"{_YEAR}{_YEAR_END}", re.I)),
    # "April 1,1957": OCR often drops the space after the comma; a line recogniser, the
    # one after the month ("Aprii27, 1981").
    # A range "March 15-19, 1999" is its first day.
    ("month-day", re.compile(rf"(?<!\w){_MONTH}[\s.-]*{_DAY}(?:\s?[-–]\s?[0-3]?\d)?"
                             rf"(?:,[\s.-]*|[\s.-]+){_YEAR}"
                             rf"{_YEAR_END}", re.I)),
    # A month glued to a label in capitals before it ("DATEMay 27, 1982": a form's small
    # "DATE" printed in the corner of its box, read as one word with the date).
    ("glued-month-day", re.compile(rf"(?<=[A-Z]{{2}})(?P<month_name>[A-Z][a-z]{{2,9}})\.?"
                                   rf"[\s.-]+{_DAY}(?:,[\s.-]*|[\s.-]+){_YEAR}{_YEAR_END}")),
]
# A numeric date whose digits OCR read partly as letters ("1O/12/2023", "l2/03/2023"):
# O for 0, l, I or | for 1, one for one so that offsets still match the words' boxes.
_LETTERED = re.compile(r"(?<![\w/.-])[\dOoIl|]{1,4}(?:\s?[/.-]\s?[\dOoIl|]{1,4}){2}(?![\w/])")
_AS_DIGITS = str.maketrans("OoIl|", "00111")
_GOOD = re.compile(r"(\b(date[ds]?|dated|issued|invoice|receipt|on|fecha)|datum)\b"
                   r"[^\n]{0,12}$", re.I)
# "Date required" is a request's deadline, not its date. The same, other languages: born
# (geboren, né, nacimiento, nascita), due (fällig, échéance, vencimiento, scadenza), valid
# until (gültig bis, valable jusqu'au).
_BAD = re.compile(r"\b(birth|born|dob|expir\w*|exp|due|valid|until|deadline|since|required|"
                  r"geb|geboren|geburt\w*|f[äa]llig\w*|g[üu]ltig|née|né|naissance|[ée]ch[ée]ance|valable|"
                  r"vencimiento|nacimiento|scadenza|nascita)\b[^\n]{0,14}$", re.I)
_LABEL = re.compile(r"(\w*datum)|dat(e[ds]?|ed|o)|issued|fecha", re.I)
# The long English words of _BAD, which OCR misspells by a letter ("EXFiRATION DATE").
_BAD_WORDS = ("expiration", "expiry", "expires", "deadline", "birthday")
# The label as OCR reads it on poor copies: D as O or 0, T as I ("OATE", "DAIE"), or glued
# to the next word of a two-word label ("OATEISSUED", "DATERECEIVED"). Only in capitals:
# a form's labels are, and "Dare" or "Oates" in running text are words.
_READ_LABEL = re.compile(r"[DO0]A[TI]E(D|S|ISSUED|RECEIVED|SENT|SHIPPED|SIGNED|FILED)?")
# Where the layout puts a date beside it, a word a letter from "Date" the way OCR misreads
# it is the label too ("Dare", "Daie", "Oate"): alone in running text these are words.
_LAID_OUT_LABEL = re.compile(r"[DO0](?:a[rti]e|ARE)[.:]*")
_MDY_COUNTRIES = ("US", "CA", "PH", "FM", "PW", "MH")
MAX_CANDIDATES = 5


@dataclass(frozen=True)
class DateCandidate:
    """A date found on the paper, the text it was read from, and its rank score."""

    day: date
    text: str
    score: float


def default_order() -> str:
    """'dmy' or 'mdy' for numeric dates without evidence in their own text."""
    chosen = os.environ.get(DATE_ORDER_ENV, "").strip().lower()
    if chosen in ("dmy", "mdy"):
        return chosen
    name = locale.getlocale(locale.LC_TIME)[0] or os.environ.get("LANG", "")
    country = name.split(".")[0].split("_")[-1].upper() if "_" in name else ""
    return "mdy" if country in _MDY_COUNTRIES else "dmy"


def _year(text: str) -> int:
    value = int(text.lstrip("'"))
    if len(text.lstrip("'")) == 2:
        value += 2000 if value < 50 else 1900
    return value


def _make(year: int, month: int, day: int, today: date) -> date | None:
    try:
        found = date(year, month, day)
    except ValueError:
        return None
    return found if date(1900, 1, 1) <= found <= today + timedelta(days=1) else None


def _month(word: str) -> int | None:
    word = word.lower().replace("]", "l").replace("|", "l")
    if word in _MONTHS:
        return _MONTHS[word]
    # Cut short or misspelled: English names only (the other languages' names sit a
    # letter from English words: "mars"/"Marks", "janeiro"/"Jane").
    if len(word) >= 4:
        for i, name in enumerate(_ENGLISH):
            if name.startswith(word):
                return i + 1
    if len(word) < 5:
        return None
    from rapidfuzz.distance import DamerauLevenshtein

    for i, name in enumerate(_ENGLISH):
        if len(name) >= 5 and DamerauLevenshtein.distance(word, name) <= 1:
            return i + 1
    return None


def _digits_if_mostly(match: re.Match[str]) -> str:
    """The match with its look-alike letters as digits, if most of it is digits."""
    found = match.group(0)
    digits = sum(ch.isdigit() for ch in found)
    return found.translate(_AS_DIGITS) if digits >= 4 and digits > len(found) // 2 else found


def _dotted(numeric: str) -> bool:
    return "." in numeric and not any(mark in numeric for mark in "/-")


def _order(text: str, fallback: str, dotted: bool = False) -> str:
    """The numeric order a text's own unambiguous dates show (else fallback); with
    dotted, the order its dotted dates show."""
    votes = {"dmy": 0, "mdy": 0}
    for match in dict(_PATTERNS)["numeric"].finditer(text):
        if dotted and not _dotted(match.group(0)):
            continue
        a, b = int(match["a"]), int(match["b"])
        if a > 12 >= b:
            votes["dmy"] += 1
        elif b > 12 >= a:
            votes["mdy"] += 1
    if votes["dmy"] != votes["mdy"]:
        return max(votes, key=lambda k: votes[k])
    return fallback


def _names_other_event(text: str) -> bool:
    """Whether text ends naming another date than the paper's own (_BAD), one of its long
    words misspelled by a letter included."""
    if _BAD.search(text):
        return True
    from rapidfuzz.distance import DamerauLevenshtein

    tail = re.findall(r"[^\W\d_]{6,}", text)[-3:]
    return any(DamerauLevenshtein.distance(word.lower(), bad) <= 1
               for word in tail for bad in _BAD_WORDS)


def _is_label(text: str) -> bool:
    """A word that labels a date field; a label OCR glued to the words before it by their
    dots counts too ("Ext.Autho.Date")."""
    parts = [p for p in re.split(r"[.:;,_ -]+", text) if p]
    if len(parts) > 1 and _BAD.search(" ".join(parts[:-1])):
        return False  # "Due.Date"
    return bool(parts) and (_LABEL.fullmatch(parts[-1]) is not None
                            or _READ_LABEL.fullmatch(parts[-1]) is not None)


def _label_words(page: PageText) -> list[Box]:
    """The boxes of the words that label a date field ("Date:", "DATED", "Issued"), unless
    the words after name another date ("Date of birth", "Due date" reads the other way)."""
    boxes = []
    for i, word in enumerate(page.words):
        if _is_label(word.text) or _LAID_OUT_LABEL.fullmatch(word.text):
            after = " ".join(w.text for w in page.words[i + 1 : i + 3])
            before = " ".join(w.text for w in page.words[max(0, i - 2) : i])
            if not _names_other_event(before) and not _BAD.match(after.replace("of ", "", 1)):
                boxes.append(word.box)
    return boxes


def _beside_label(box: Box, labels: list[Box], page_width: int) -> bool:
    """Is the date written where a label's value goes: on its line to its right, or just
    under it? Forms put "DATE:" and its value far apart in reading order, so only the
    boxes can tell."""
    for label in labels:
        centre = label.y + label.h / 2
        if box.y - box.h / 2 <= centre <= box.y + box.h * 1.5 and \
                -label.h <= box.x - (label.x + label.w) <= max(12 * box.h, page_width / 5):
            return True
        if 0 <= box.y - (label.y + label.h) <= 2.5 * max(box.h, label.h) and \
                box.x < label.x + label.w + label.h and label.x < box.x + box.w:
            return True
    return False


def find_dates_on_pages(pages: list[PageText], *, order: str | None = None,
                        today: date | None = None) -> list[DateCandidate]:
    """find_dates over a document's pages, with the words' boxes: a date placed beside a
    "Date" label ranks as if the label were written just before it."""
    spans: list[tuple[int, int, int, Box]] = []  # every word: start, end, page index, box
    parts: list[str] = []
    at = 0
    for index, page in enumerate(pages):
        for word in page.words:
            spans.append((at, at + len(word.text), index, word.box))
            parts.append(word.text)
            at += len(word.text) + 1
    text = " ".join(parts)
    labels = [_label_words(page) for page in pages]

    def labelled(start: int, end: int) -> bool:
        covered = [span for span in spans if span[0] < end and start < span[1]]
        if not covered:
            return False
        page = covered[0][2]
        boxes = [span[3] for span in covered if span[2] == page]
        union = Box(min(b.x for b in boxes), min(b.y for b in boxes),
                    max(b.x + b.w for b in boxes) - min(b.x for b in boxes),
                    max(b.y + b.h for b in boxes) - min(b.y for b in boxes))
        return _beside_label(union, labels[page], pages[page].width)

    return find_dates(text, order=order, today=today, labelled=labelled)


def find_dates(text: str, *, order: str | None = None, today: date | None = None,
               labelled: Callable[[int, int], bool] | None = None) -> list[DateCandidate]:
    """Every date on the page, best first (at most MAX_CANDIDATES, one per day).
    labelled(start, end) says whether the layout puts a date label beside that span."""
    today = today or date.today()
    # Forms write "Date_March_18, 1968" on the blank's underline.
    text = _LETTERED.sub(_digits_if_mostly, text.replace("_", " "))
    numeric_order = _order(text, order or default_order())
    # Dots are the day-first countries' separator ("11.03.24", "12.3.2024"): an American
    # paper writes 3/12/2024. Day first, unless the text's own dotted dates say otherwise.
    dotted_order = _order(text, "dmy", dotted=True)
    found: dict[date, DateCandidate] = {}
    seen: dict[date, int] = {}
    taken: list[tuple[int, int]] = []
    length = max(1, len(text))
    for kind, pattern in _PATTERNS:
        for match in pattern.finditer(text):
            if any(s < match.end() and match.start() < e for s, e in taken):
                continue  # already read by a more specific pattern
            year = _year(match["year"])
            if kind == "iso":
                day = _make(year, int(match["a"]), int(match["b"]), today)
            elif kind == "numeric":
                a, b = int(match["a"]), int(match["b"])
                here = dotted_order if _dotted(match.group(0)) else numeric_order
                day = _make(year, b, a, today) if here == "dmy" else _make(year, a, b, today)
                day = day or _make(year, a, b, today) or _make(year, b, a, today)
            else:
                month = _month(match["month_name"])
                day = _make(year, month, int(match["day"]), today) if month else None
            if day is None:
                continue
            taken.append((match.start(), match.end()))
            before = text[max(0, match.start() - 30) : match.start()]
            score = 1.0 + 0.5 * (1 - match.start() / length)
            label = _GOOD.search(before) or (labelled and labelled(match.start(), match.end()))
            score += 1.0 if label else 0.0
            score -= 1.5 if _names_other_event(before) else 0.0
            score += 0.2 if kind != "numeric" else 0.0
            seen[day] = seen.get(day, 0) + 1
            best = found.get(day)
            if best is None or score > best.score:
                found[day] = DateCandidate(day, match.group(0), score)
    ranked = [DateCandidate(c.day, c.text, round(c.score + 0.3 * (seen[c.day] - 1), 3))
              for c in found.values()]
    return sorted(ranked, key=lambda c: (-c.score, c.day))[:MAX_CANDIDATES]


# Raised whenever find_dates reads dates it did not before: contents an older finder
# dated are looked at again, a batch at a time, their old dates kept until then.
DATE_FINDER = "5"
_FINDER_KEY, _CURSOR_KEY = "date_finder", "date_finder_cursor"


def _looked_at(store: Store, shas: list[str]) -> list[tuple[str, str | None, list[Any]]]:
    rows: list[tuple[str, str | None, list[Any]]] = []
    for sha in shas:
        found = find_dates_on_pages(store.pages(sha))
        rows.append((sha, found[0].day.isoformat() if found else None,
                     [{"date": c.day.isoformat(), "text": c.text, "score": c.score}
                      for c in found]))
    return rows


def date_contents(store: Store, *, batch: int = 200, limit: int | None = None) -> int:
    """Look for the date on every indexed content not looked at yet, then on those an
    older finder looked at (at most limit in all); returns how many were looked at. Each
    batch is one transaction: a kill loses at most the batch, and the next call picks up
    the rest."""
    done = 0
    while (limit is None or done < limit) and (
            shas := store.dates.missing(batch if limit is None else min(batch, limit - done))):
        rows = _looked_at(store, shas)
        with store.transaction():
            store.dates.record(rows)
        done += len(rows)
    if store.get_meta(_FINDER_KEY) == DATE_FINDER:
        return done
    cursor = store.get_meta(_CURSOR_KEY) or ""
    while limit is None or done < limit:
        take = batch if limit is None else min(batch, limit - done)
        shas = store.dates.after(cursor, take)
        rows = _looked_at(store, shas)
        finished = len(shas) < take
        with store.transaction():
            store.dates.record(rows)
            store.set_meta(_CURSOR_KEY, "" if finished else shas[-1])
            if finished:
                store.set_meta(_FINDER_KEY, DATE_FINDER)
        done += len(shas)
        if finished:
            break
        cursor = shas[-1]
    return done
