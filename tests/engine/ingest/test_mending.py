"""OCR-broken words are mended in what the rankers read, never on the page, and only where
the word list or the document itself says what the word was."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import Library
from engine.ingest.chunking import chunk_document
from engine.ingest.mending import known_words, mend_words
from engine.models import Box, PageText, Word
from engine.testing import write_fake_scan


@pytest.mark.parametrize(("broken", "mended"), [
    ("pro.tein", "protein"),      # a piece that is no word
    ("protei'n", "protein"),
    ("t,here", "there"),          # words on both sides, but no word holds a comma
    ("f'rom", "from"),
    ("h.as", "has"),
    ("(pro.tein),", "(protein),"),  # marks around the word stay
])
def test_a_stray_mark_inside_a_word_is_removed(broken: str, mended: str) -> None:
    assert mend_words([broken]) == [mended]


@pytest.mark.parametrize("word", [
    "patient's", "don't", "U.S.", "i.e.,", "well-known", "e-mail", "1,000", "3.14",
    "SYARIKAT", "rengjt", "qu.ux",
])
def test_real_words_abbreviations_and_unknown_names_stay_as_written(word: str) -> None:
    assert mend_words([word]) == [word]


def test_a_misread_word_takes_the_spelling_the_document_uses_elsewhere() -> None:
    words = ("The protein binds methionine. Each protin was assayed; the methionine level "
             "and methionne").split()
    mended = mend_words(words)
    assert mended[5] == "protein"        # a known word the document spells right
    assert mended[12] == "methionine"    # unknown to the list, but spelled so twice here
    assert mended[3] == "methionine." and mended[9] == "methionine"
    assert len(mended) == len(words)


def test_a_word_is_not_respelled_without_evidence_or_with_two_candidates() -> None:
    assert mend_words(["protin"]) == ["protin"]  # nothing on the paper spells it
    # seen twice itself: a real word of this paper, not an error
    assert mend_words(["acetin", "acetin", "acetic"])[:2] == ["acetin", "acetin"]
    # two words of the document are one edit away: which one was meant is a guess
    assert mend_words(["zorbe", "zorbs", "zorbs", "zorba", "zorba"])[0] == "zorbe"
    # a singular and its plural are both real
    assert mend_words(["kinases", "kinase", "kinase"]) == ["kinases", "kinase", "kinase"]


def test_the_word_list_ships_with_the_package() -> None:
    words = known_words()
    assert {"protein", "receipt", "there"} <= words
    assert len(words) > 20_000
    assert all(w == w.lower() and len(w) > 1 for w in list(words)[:500])


def test_chunk_text_is_mended_but_the_page_keeps_what_ocr_read() -> None:
    first = PageText(1, 100, 100, [Word(t, Box(0, 0, 1, 1)) for t in
                                   "the pro.tein was found".split()], "ocr")
    second = PageText(2, 100, 100, [Word(t, Box(0, 0, 1, 1)) for t in
                                    "a protin and protein again".split()], "ocr")
    chunks = chunk_document([first, second])
    assert [c.text for c in chunks] == ["the protein was found", "a protein and protein again"]
    assert [(c.page_no, c.word_start, c.word_end) for c in chunks] == [(1, 0, 4), (2, 0, 5)]
    assert first.words[1].text == "pro.tein" and second.words[1].text == "protin"


def test_a_broken_word_is_found_by_its_real_spelling(tmp_path: Path,
                                                     fake_library: Library) -> None:
    for name, text in {"broken.png": "memo about the pro.tein assay results",
                       "other.png": "memo about the harbour pilot boats"}.items():
        write_fake_scan(tmp_path / name, text)
    fake_library.add([tmp_path / "broken.png", tmp_path / "other.png"])
    hits = fake_library.search("protein", mode="keyword")
    assert [Path(h.path).name for h in hits] == ["broken.png"]
    assert "pro.tein" in hits[0].snippet  # the snippet shows the page as read


def test_an_install_without_the_word_list_still_indexes(monkeypatch: pytest.MonkeyPatch,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    import engine.ingest.mending as mending

    monkeypatch.setattr(mending, "_WORDS_FILE", "no-such-list.txt")
    mending.known_words.cache_clear()
    try:
        assert mend_words(["pro.tein", "methionne", "methionine", "methionine"]) == [
            "pro.tein", "methionine", "methionine", "methionine"]
        assert "word list" in caplog.text
    finally:
        monkeypatch.undo()
        mending.known_words.cache_clear()
