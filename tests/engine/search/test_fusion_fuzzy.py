"""Hybrid fusion and OCR-tolerant words."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import Library
from engine.search.fusion import FusionWeights, fuse, keyword_weight
from engine.search.fuzzy import Vocabulary, widen
from engine.search.query import parse_query
from engine.testing import write_fake_scan

W = FusionWeights()


@pytest.mark.parametrize("query", ["S.H.H. MOTOR (SUNGAI RENGIT) SDN. BHD.",
                                   "MR D.I.Y. (JOHOR) SDN BHD", "INV-2024-0173",
                                   "Riverside Dental Clinic", '"monthly rent"'])
def test_names_codes_and_phrases_lean_on_words(query: str) -> None:
    assert keyword_weight(query, W) == W.names


@pytest.mark.parametrize("query", ["how much is the monthly rent?",
                                   "what did the landlord say about repairs",
                                   "0-dimensional biomaterials show inductive properties in "
                                   "the bone"])
def test_questions_and_sentences_lean_on_meaning(query: str) -> None:
    assert keyword_weight(query, W) == W.questions


def test_plain_words_weigh_both_sides_equally() -> None:
    assert keyword_weight("rent increase", W) == W.default


def test_a_strong_word_match_is_not_dragged_down_by_a_weak_meaning_rank() -> None:
    # Receipt 1 is the only one with the printed name (bm25 far ahead); by meaning every
    # receipt looks alike and it ranks low. RRF put it 5th-10th; the fusion keeps it 1st.
    keyword = {1: 12.0, 2: 3.0, 3: 2.5}
    semantic = {i: 0.60 - i * 0.001 for i in range(2, 20)} | {1: 0.55}
    fused = fuse(keyword, semantic, weight=W.names, all_terms={1}, bonus=W.all_terms_bonus)
    assert max(fused, key=fused.__getitem__) == 1


def test_meaning_wins_a_question_when_words_are_weak() -> None:
    keyword = {1: 2.0, 2: 1.9}
    semantic = {1: 0.20, 2: 0.21, 3: 0.72}
    fused = fuse(keyword, semantic, weight=W.questions, all_terms=set(), bonus=0.1)
    assert max(fused, key=fused.__getitem__) == 3


def test_one_sided_results_keep_their_order() -> None:
    only_words = fuse({1: 5.0, 2: 4.0}, {}, weight=0.5, all_terms=set(), bonus=0.0)
    assert sorted(only_words, key=lambda d: -only_words[d]) == [1, 2]
    only_meaning = fuse({}, {1: 0.3, 2: 0.6}, weight=0.5, all_terms=set(), bonus=0.0)
    assert sorted(only_meaning, key=lambda d: -only_meaning[d]) == [2, 1]


@pytest.fixture
def receipts(fake_library: Library, tmp_path: Path) -> Library:
    for i in range(6):
        write_fake_scan(tmp_path / f"r{i}.png", "optical store receipt total thank you")
    write_fake_scan(tmp_path / "mangled.png", "rengjt 0ptical supplies receipt total")
    fake_library.add(sorted(tmp_path.glob("*.png")))
    return fake_library


def test_unknown_word_finds_its_ocr_mangled_spelling(receipts: Library) -> None:
    hits = receipts.search("rengit", mode="keyword")
    assert [Path(h.path).name for h in hits] == ["mangled.png"]
    assert "<mark>rengjt</mark>" in hits[0].snippet and hits[0].boxes


def test_known_word_also_finds_rare_misspellings_ranked_below_exact(receipts: Library
                                                                    ) -> None:
    hits = receipts.search("optical", mode="keyword", limit=10)
    names = [Path(h.path).name for h in hits]
    assert "mangled.png" in names and names[-1] == "mangled.png"


def test_vocabulary_rules(receipts: Library) -> None:
    vocabulary = Vocabulary()
    vocabulary.refresh(receipts.store)
    assert vocabulary.variants("rengit") == ("rengjt",)
    assert vocabulary.variants("optical") == ("0ptical",)  # 6 documents vs 1
    assert vocabulary.variants("store") == ()  # no rarer near spelling
    assert vocabulary.variants("tot") == ()  # too short to widen
    widened = widen(parse_query('rengit "thank you"'), vocabulary)
    assert widened.groups[0][0].variants == ("rengjt",) and len(widened.groups[1]) == 2
    assert widened.without_variants() == parse_query('rengit "thank you"')


def test_phrase_similarity_reads_through_ocr_errors() -> None:
    from engine.search.fusion import phrase_bonus, phrase_similarity

    query = "SYARIKAT AUTO PARTS (M) SDN. BHD."
    misread = phrase_similarity(query, "SYARIKAt 4UT0 PARS (M) SDN. BHD. CO. REG: 237115-U")
    other = phrase_similarity(query, "SYARIKAT ENTERPRISE (M) SDN. BHD. CO. REG: 696093-A")
    assert misread > 0.85 > other
    assert phrase_similarity(query, f"TAX INVOICE {query} TOTAL") == 1.0
    assert phrase_bonus(1.0, 0.2) == pytest.approx(0.2) and phrase_bonus(0.75, 0.2) == 0.0
    assert phrase_similarity("ab", "ab ab") == 0.0  # too short to mean anything


def test_a_name_whose_distinctive_word_ocr_misread_still_comes_first(fake_library: Library,
                                                                     tmp_path: Path) -> None:
    # The right receipt's distinctive words are misread ("4UT0 PARS"); the others print
    # those words exactly but are other shops. Words alone rank them first; the phrase,
    # read through the misreadings, puts the right one on top.
    write_fake_scan(tmp_path / "right.png",
                    "SYARIKAt 4UT0 PARS (M) SDN. BHD. CO. REG: 237115-U TAX INVOICE")
    for i, name in enumerate(["MR AUTO PARTS (IPOH) TRADING", "K.L. AUTO PARTS ENTERPRISE",
                              "SYARIKAT AUTO SERVICE (M) SDN. BHD.",
                              "U.N.I. AUTO PARTS (M) SDN. BHD.", "A.K. AUTO PARTS TRADING"]):
        write_fake_scan(tmp_path / f"other{i}.png", f"{name} CO. REG: 10000{i}-A TAX INVOICE")
    for i in range(40):  # a library of other receipts, so the shared words weigh little
        write_fake_scan(tmp_path / f"filler{i}.png",
                        f"SHOP NUMBER{i} SDN. BHD. (M) CO. REG: 2000{i}-B TAX INVOICE THANK YOU")
    fake_library.add([tmp_path])
    query = "SYARIKAT AUTO PARTS (M) SDN. BHD."
    words = fake_library.search(query, mode="keyword", limit=3)
    assert Path(words[0].path).name != "right.png"  # the case the phrase is for
    hits = fake_library.search(query, mode="hybrid", limit=3)
    assert Path(hits[0].path).name == "right.png"
