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
