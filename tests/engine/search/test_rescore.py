"""Common words re-rank meaning's candidates with bm25 computed in Python (hybrid
search when every word is too common to rank the whole index): the scores are bm25's,
word for word and for prefixes, and chunks without the words drop out."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from engine import Library
from engine.backends.pool import InlineExecutor
from engine.search.hits import ChunkHit
from engine.search.query import Term
from engine.testing import FakeOcr, HashingEmbedder, write_fake_scan

TEXTS = {
    "a.png": "rent rent invoice for the flat in march",
    "b.png": "insurance invoice rental car",
    "c.png": "rent",
    "d.png": "nothing of the kind here at all",
}


def _bm25(tokens: list[str], terms: list[Term], idf: dict[str, float], average: float) -> float:
    norm = 1.2 * (0.25 + 0.75 * len(tokens) / average)
    score = 0.0
    for term in terms:
        tf = sum(1 for t in tokens if t == term.text or (term.prefix and t.startswith(term.text)))
        if tf:
            score += idf[term.text] * tf * 2.2 / (tf + norm)
    return score


@pytest.mark.parametrize("terms", [[Term("rent")], [Term("rent"), Term("invoice")],
                                   [Term("rent", prefix=True)]])
def test_rescored_chunks_get_bm25_of_the_common_words(tmp_path: Path, terms: list[Term]) -> None:
    for name, text in TEXTS.items():
        write_fake_scan(tmp_path / name, text)
    with Library.open(tmp_path / "lib", embedder=HashingEmbedder(), ocr=FakeOcr(),
                      executor=InlineExecutor()) as lib:
        lib.add([tmp_path / n for n in TEXTS])
        searcher = lib._searcher
        rows = lib.store.db.execute("SELECT id, sha256, page_no, text FROM chunks").fetchall()
        candidates = [ChunkHit(i, sha, page, 0.5) for i, sha, page, _ in rows]
        searcher._chunk_count = 1000
        searcher._df = {"rent": 300, "invoice": 200}
        scored = {h.chunk_id: -h.score for h in searcher._rescore(candidates, terms)}
    tokens = {i: text.lower().split() for i, _, _, text in rows}
    average = sum(map(len, tokens.values())) / len(tokens)
    idf = {t.text: math.log(1 + (1000 - searcher._df.get(t.text, 0) + 0.5)
                            / (searcher._df.get(t.text, 0) + 0.5)) for t in terms}
    expected = {i: s for i, toks in tokens.items() if (s := _bm25(toks, terms, idf, average)) > 0}
    assert scored.keys() == expected.keys() and expected
    for i, score in expected.items():
        assert scored[i] == pytest.approx(score)


def test_the_quick_tokenizer_splits_as_the_word_pattern() -> None:
    import random
    import string

    from engine.search.query import _TOKEN, tokens

    rng = random.Random(1)
    samples = ["", "rent_roll 2024-03-11 #12,50 €", "naïve café déjà", "a\tb\nc\x0bd\x1ce"]
    samples += ["".join(rng.choice(string.printable) for _ in range(rng.randint(0, 60)))
                for _ in range(3000)]
    for text in samples:
        assert tokens(text) == _TOKEN.findall(text), text
