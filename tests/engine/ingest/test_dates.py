"""The date a paper carries: formats, day/month order, labels that raise or lower a
candidate, and its use in search filters and JSON."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest

from engine import Library
from engine.backends.pool import InlineExecutor
from engine.ingest.dates import default_order, find_dates, find_dates_on_pages
from engine.models import Box, PageText, Word
from engine.testing import FakeOcr, HashingEmbedder, write_fake_scan

TODAY = date(2026, 11, 30)


def best(text: str, order: str = "dmy") -> str | None:
    found = find_dates(text, order=order, today=TODAY)
    return found[0].day.isoformat() if found else None


@pytest.mark.parametrize(("text", "expected"), [
    ("Invoice date: 2024-03-11 total 45.00", "2024-03-11"),
    ("Dear Ms Evans, 12th March 2024", "2024-03-12"),
    ("March 5, 1997 memorandum", "1997-03-05"),
    ("memo 5 Sept. 97 to all staff", "1997-09-05"),
    ("receipt 20240311 till 4 12-Mar-24 10:31", "2024-03-12"),
    ("DATE: 11.03.24 ref 4411", "2024-03-11"),
    ("no date here, tel 0712 345 678, ref 12.5.3", None),
    ("printed 31/02/2024", None),  # no such day
    ("valid until 01/01/2099, issued 02/01/2024", "2024-01-02"),  # future dropped
    ("Registration No. 33 Date_March_18, 1968 AUTHORS", "1968-03-18"),  # on the underline
    ("Date: Ocotber 9, 1968 Mr. Jones", "1968-10-09"),  # a month OCR misspelled
    ("Febuary 2, 2001", "2001-02-02"),
    ("DATE Apri 27, 1981 MARKETING", "1981-04-27"),  # a month OCR cut short
    ("(Date) 27 Apri] 1982 (location)", "1982-04-27"),  # its last l read as ]
    ("Signed Apri| 3, 1990", "1990-04-03"),
    ("Septem 3, 1990", "1990-09-03"),
    ("DATE: June 21, 19930EPARTMENT: R&D", "1993-06-21"),  # the next word glued on
    ("June 21, 199301 copies", None),  # digits run on: not a year
    ("Marks 2, 2001 and Jane 3, 2001", None),  # words a letter away from short months
    ("Jonas 4, 2001", None),
    ("EFFECTIVE APRIL 1,1957 BY ORDER", "1957-04-01"),  # OCR dropped the comma's space
    # Other languages Tesseract reads beside English.
    ("Rechnungsdatum: 11. März 2024 Kundennummer 4711", "2024-03-11"),
    ("Berlin, den 3. Okt. 2023", "2023-10-03"),
    ("Paris, le 1er janvier 2024", "2024-01-01"),
    ("Madrid, 11 de marzo de 2024", "2024-03-11"),
    ("Amsterdam, 5 maart 2021", "2021-03-05"),
    ("Milano, 2 dicembre 2022", "2022-12-02"),
    ("Lisboa, 9 de dezembro de 2020", "2020-12-09"),
    ("items 4 of May 1,000 units", None),  # a number, not a year
    ("items 4 of May 10,000 units", None),
    # Deeds and affidavits; letters.
    ("Dated this 5th day of June, 2019 at Leeds", "2019-06-05"),
    ("signed on the 3rd of May 2023 by", "2023-05-03"),
    ("the 21st of September, 1998", "1998-09-21"),
    # Tickets and bank slips.
    ("FLIGHT BA117 03DEC23 LHR-JFK", "2023-12-03"),
    ("value date 03DEC2023", "2023-12-03"),
    ("model 3dec23x", None),
    # Digits OCR read as look-alike letters.
    ("Date: 1O/12/2023", "2023-12-10"),
    ("DATE: l2/03/2023", "2023-03-12"),  # not 2/03/2023 with the l dropped
    ("Date 12/03/2O23", "2023-03-12"),
    ("2O23-12-03", "2023-12-03"),
    ("tel 1O-1O-1O ref I/O/I", None),  # too few digits to be a date misread
])
def test_formats(text: str, expected: str | None) -> None:
    assert best(text) == expected


def test_day_month_order_from_the_text_itself() -> None:
    # 25/10 can only be day-month: it settles 03/04 on the same page too.
    assert best("order 03/04/2024 shipped 25/10/2024", order="mdy") == "2024-04-03"
    assert best("order 03/04/2024 shipped 10/25/2024", order="dmy") == "2024-03-04"
    assert best("dated 03/04/2024", order="mdy") == "2024-03-04"
    assert best("dated 03/04/2024", order="dmy") == "2024-04-03"


def test_dotted_dates_are_day_first_unless_the_text_says_otherwise() -> None:
    # Dots are the day-first countries' separator, wherever the reader lives.
    assert best("Datum: 12.3.2024", order="mdy") == "2024-03-12"
    assert best("Datum: 11. 03. 24", order="mdy") == "2024-03-11"
    # The text's own dotted dates decide; its slashed dates keep the reader's order.
    assert best("shipped 3.25.2024 billed 4.3.2024", order="mdy") == "2024-03-25"
    assert [c.day.isoformat() for c in find_dates(
        "billed 4.3.2024 shipped 3.25.2024", order="mdy", today=TODAY)][:2] == \
        ["2024-04-03", "2024-03-25"]
    assert best("dated 03/04/2024", order="mdy") == "2024-03-04"


def test_labels_rank_the_candidates() -> None:
    text = "Name Alice Date of birth 02/05/1980 Signed 07/01/2024 Due 07/02/2024"
    found = find_dates(text, order="dmy", today=TODAY)
    assert found[0].day == date(2024, 1, 7)
    assert {c.day for c in found} == {date(1980, 5, 2), date(2024, 1, 7), date(2024, 2, 7)}
    assert found == sorted(found, key=lambda c: -c.score)


def test_labels_rank_the_candidates_in_german_and_french() -> None:
    german = "geb. 02.05.1980 Rechnung vom 07.01.2024 fällig am 07.02.2024"
    assert find_dates(german, order="dmy", today=TODAY)[0].day == date(2024, 1, 7)
    french = "née le 2 mai 1980, facture du 7 janvier 2024, échéance 7 février 2024"
    assert find_dates(french, order="dmy", today=TODAY)[0].day == date(2024, 1, 7)


def test_month_names_do_not_follow_the_locale(monkeypatch: pytest.MonkeyPatch) -> None:
    """A GUI toolkit may set LC_TIME to the user's locale: English still reads."""
    import calendar

    monkeypatch.setattr(calendar, "month_name", ["", *["Monat"] * 12])
    assert find_dates("March 5, 1997", today=TODAY)[0].day == date(1997, 3, 5)


def _page(*words: tuple[str, int, int]) -> PageText:
    return PageText(1, 800, 1000, [Word(text, Box(x, y, 9 * len(text), 10))
                                   for text, x, y in words], "ocr")


def test_a_date_beside_a_date_label_wins_though_reading_order_parts_them() -> None:
    # A form's columns: OCR reads the left column down, then the right, so "DATE:" and
    # its value are far apart in the text; only the boxes put them together.
    form = _page(("RECEIVED", 500, 40), ("APR", 500, 60), ("2", 540, 60), ("1984", 560, 60),
                 ("DATE:", 60, 200), ("REQUEST", 60, 240), ("NO.", 140, 240),
                 ("March", 195, 200), ("27,", 245, 200), ("1984", 280, 200))
    assert find_dates(form.text, order="mdy", today=TODAY)[0].day == date(1984, 4, 2)
    found = find_dates_on_pages([form], order="mdy", today=TODAY)
    assert found[0].day == date(1984, 3, 27)
    # Under its label counts too; a birth date's label does not.
    under = _page(("Issued", 60, 100), ("7/16/89", 60, 118), ("Posted", 400, 40),
                  ("6/27/89", 480, 40))
    assert find_dates_on_pages([under], order="mdy", today=TODAY)[0].day == date(1989, 7, 16)
    birth = _page(("Date", 60, 100), ("of", 110, 100), ("birth", 140, 100),
                  ("02/05/1980", 220, 100), ("Printed", 60, 300), ("07/01/2024", 140, 300))
    assert find_dates_on_pages([birth], order="dmy", today=TODAY)[0].day == date(2024, 1, 7)


@pytest.mark.parametrize(("label", "counts"), [
    ("OATEISSUED", True), ("0ATE", True), ("DAIE:", True), ("Ext.Autho.Date", True),
    ("Int.Init.Date:", True), ("Due.Date", False), ("Dare", True), ("Daie.", True),
    ("Dares", False), ("Oates", False)])
def test_a_date_label_as_ocr_reads_it_on_a_poor_copy(label: str, counts: bool) -> None:
    # FUNSD: "DATE ISSUED" read "OATEISSUED" beside its value, a body's "on December 6,
    # 1983" further down; "Ext. Autho. Date" read glued by its dots; FUNSD 0060136394's
    # typewritten "Date" read "Dare" by both recognisers, its date beside it.
    form = _page((label, 40, 130), ("December", 160, 130), ("13,", 240, 130),
                 ("1983", 275, 130), ("issued", 60, 560), ("on", 120, 560),
                 ("December", 160, 560), ("6,", 240, 560), ("1983", 265, 560))
    best = find_dates_on_pages([form], order="mdy", today=TODAY)[0].day
    assert (best == date(1983, 12, 13)) is counts


def test_a_word_a_letter_from_date_is_no_label_in_running_text() -> None:
    text = "I dare say December 13, 1983 was cold. Dare the board. Issued on December 6, 1983"
    assert find_dates(text, order="mdy", today=TODAY)[0].day == date(1983, 12, 6)


def test_a_date_required_is_a_deadline() -> None:
    # FUNSD 71108371: "Date Required:4/20/98" above "Date Submitted: 4/17/98".
    text = "Phone Number 7970 Date Required:4/20/98 Priority Date Submitted: 4/17/98"
    assert find_dates(text, order="mdy", today=TODAY)[0].day == date(1998, 4, 17)


def test_a_month_glued_to_the_label_before_it() -> None:
    # FUNSD 00851772_1780: a small "DATE" printed in the box's corner, read with the date
    # as "[DATEMay 27, 1982"; the lab's search dates further down.
    text = "SEARCH SUMMARY Bell [DATEMay 27, 1982 LITERATURE SURVEYED Jan. 1982 to Dec. 1981"
    found = find_dates(text, order="mdy", today=TODAY)
    assert found[0].day == date(1982, 5, 27)
    assert found[0].text == "May 27, 1982"
    assert find_dates("CALENDAR may 27, 1982", today=TODAY)[0].text == "may 27, 1982"


def test_a_range_read_without_its_dash_is_no_two_digit_year() -> None:
    # FUNSD 71341634: "Promo Dates: March 15- 19, 1999" read "March 15 19, 1099".
    assert find_dates("Promo Dates: March 15 19, 1099", today=TODAY) == []
    assert find_dates("Dated March 15 19", today=TODAY)[0].day == date(2019, 3, 15)
    assert find_dates("Promo Dates: March 15- 19, 1999", today=TODAY)[0].day == \
        date(1999, 3, 15)


def test_a_month_glued_to_its_day() -> None:
    # FUNSD 89867723: "DATE April 27, 1981" read by the line recogniser "Aprii27, 1981".
    assert find_dates("DATE Aprii27, 1981", today=TODAY)[0].day == date(1981, 4, 27)
    assert find_dates("Room27, 1981", today=TODAY) == []


def test_an_expiry_label_misspelled_by_ocr_still_names_another_date() -> None:
    # FUNSD 91391286: "COUPON EXFiRATION DATE 11/30/93" above "COUPON ISSUE DATE" beside
    # its 5/19/93, which reading order put later.
    form = _page(("COUPON", 109, 381), ("ISSUE", 169, 381), ("DATE", 211, 381),
                 ("COUPON", 109, 414), ("EXFiRATION", 169, 413), ("DATE", 250, 413),
                 ("11/30/93", 349, 411), ("TOTAL", 338, 509), ("5/19/93", 339, 383))
    assert find_dates_on_pages([form], order="mdy", today=TODAY)[0].day == date(1993, 5, 19)


def test_default_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCANDEX_DATE_ORDER", "mdy")
    assert default_order() == "mdy"
    monkeypatch.setenv("SCANDEX_DATE_ORDER", "")
    assert default_order() in ("dmy", "mdy")


def test_the_paper_date_is_shown_and_filtered_on(tmp_path: Path) -> None:
    folder = tmp_path / "scans"
    folder.mkdir()
    write_fake_scan(folder / "old-letter.png", "Dear Sir dated 12 March 1998 rent increase")
    write_fake_scan(folder / "undated.png", "rent increase notice without any date")
    lib = Library.open(tmp_path / "lib", embedder=HashingEmbedder(), ocr=FakeOcr(),
                       executor=InlineExecutor())
    lib.add([folder])
    hits = {Path(h.path).stem: h for h in lib.search("rent increase", mode="keyword")}
    assert hits["old-letter"].document_date == "1998-03-12"
    assert hits["undated"].document_date is None
    day, candidates = lib.document_dates(hits["old-letter"].id)
    assert day == "1998-03-12" and candidates[0]["text"] == "12 March 1998"
    # The letter is dated 1998, though its file was written today; the undated scan
    # falls back to its file's time.
    in_1998 = lib.search("rent", mode="keyword", since=datetime(1998, 1, 1),
                         until=datetime(1998, 12, 31))
    assert [Path(h.path).stem for h in in_1998] == ["old-letter"]
    recent = lib.search("rent", mode="keyword", since=datetime.fromtimestamp(
        (folder / "undated.png").stat().st_mtime - 3600))
    assert [Path(h.path).stem for h in recent] == ["undated"]


def test_a_library_dated_by_an_older_finder_is_dated_again(tmp_path: Path) -> None:
    """An upgrade that reads more dates ("11. März 2024") re-reads what an older finder
    left undated, a batch at a time, resuming where a kill stopped it."""
    from engine.ingest.dates import DATE_FINDER, date_contents

    folder = tmp_path / "scans"
    folder.mkdir()
    for i in range(3):
        write_fake_scan(folder / f"rechnung-{i}.png", f"Rechnung {i} vom {i + 1}. März 2024")
    lib = Library.open(tmp_path / "lib", embedder=HashingEmbedder(), ocr=FakeOcr(),
                       executor=InlineExecutor())
    lib.add([folder])
    store = lib.store
    assert store.get_meta("date_finder") == DATE_FINDER
    # What an older finder left: no dates at all, and no stamp.
    store.db.execute("UPDATE content_dates SET day = NULL, candidates = '[]'")
    store.db.execute("DELETE FROM meta WHERE key = 'date_finder'")
    assert date_contents(store, batch=1, limit=2) == 2  # a run stopped part way
    assert store.get_meta("date_finder") is None and store.get_meta("date_finder_cursor")
    date_contents(store, batch=1)
    assert store.get_meta("date_finder") == DATE_FINDER
    days = sorted(h.document_date or "" for h in lib.search("Rechnung", mode="keyword"))
    assert days == ["2024-03-01", "2024-03-02", "2024-03-03"]
    assert date_contents(store) == 0  # nothing left to look at
    lib.close()
