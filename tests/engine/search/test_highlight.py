"""Which words of a page a query marks: the one-pass regex path for ASCII pages marks
exactly what the word-by-word reference marks."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.search.highlight import matching_texts
from engine.search.query import _TOKEN, STOPWORDS, ParsedQuery, fold, parse_query

WORDS = ["The", "Quick", "brown-fox", "rent?", "rental", "Rent.", "(rent)", "_rent", "rent_",
         "INV-17", "2024", "café", "Straße", "a_b", "x\x1fy", "1.5", "tax", "invoice"]
QUERIES = ["rent", "rent*", "quick fox", "inv 17", "the", "re*", "cafe", "a_b", "straße",
           '"tax invoice"', "zzz", "r* 2024"]


def reference(texts: list[str], parsed: ParsedQuery) -> list[int]:
    terms = [t for t in parsed.terms if t.text not in STOPWORDS] or parsed.terms
    exact = {s for t in terms if not t.prefix for s in t.spellings}
    prefixes = tuple(t.text for t in terms if t.prefix)
    return [i for i, text in enumerate(texts) if terms and any(
        token in exact or (prefixes and token.startswith(prefixes))
        for token in _TOKEN.findall(fold(text)))]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(WORDS), max_size=30), st.sampled_from(QUERIES))
def test_one_pass_marks_what_the_reference_marks(texts: list[str], query: str) -> None:
    parsed = parse_query(query)
    assert matching_texts(texts, parsed) == reference(texts, parsed)


def test_a_page_without_the_words_is_answered_at_once() -> None:
    assert matching_texts(["tax", "invoice"] * 200, parse_query("zebra")) == []
    assert matching_texts(["Rent", "due", "rent."], parse_query("rent")) == [0, 2]
