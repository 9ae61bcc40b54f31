"""OCR-error-tolerant words: a query word is widened to the index's words within a small
edit distance that look like OCR errors of it ("rengit" also finds "rengjt", "optical"
also finds "0ptical"), so a name that OCR mangled still finds its page.

An unknown word takes any near spelling. A known word takes only near spellings much
rarer than itself: OCR errors are rare forms of common words, while two real words a
letter apart ("form" and "from") are both common. Variants count less than the word
itself (see Searcher._keyword)."""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import replace

from engine.search.query import STOPWORDS, ParsedQuery
from engine.store.db import Store
from engine.store.vocabulary import read_vocabulary

MIN_LENGTH = 4  # shorter words have too many neighbours to mean anything
MAX_VARIANTS = 4
KNOWN_MIN_LENGTH = 5  # known words shorter than this are not widened at all
RARER_BY = 5  # a known word's variant must be this many times rarer than the word


def max_distance(word: str) -> int:
    """Edits allowed: one for short words, two from eight letters."""
    return 1 if len(word) < 8 else 2


class Vocabulary:
    """The index's words (from FTS5's vocabulary table), grouped by length, reloaded
    when the index changes."""

    def __init__(self) -> None:
        self._by_length: dict[int, list[str]] = {}
        self._known: dict[str, int] = {}
        self._generation: tuple[int, int] = (-1, -1)
        self._lock = threading.Lock()

    def refresh(self, store: Store) -> None:
        """Reload the words if the index changed since the last query."""
        generation = store.generation()
        with self._lock:
            if generation == self._generation:
                return
            by_length: dict[int, list[str]] = defaultdict(list)
            known: dict[str, int] = {}
            words = read_vocabulary(store, generation) or store.reads.vocabulary()
            for word, doc_count in words:
                known[word] = doc_count
                by_length[len(word)].append(word)
            self._by_length, self._known, self._generation = dict(by_length), known, generation

    def variants(self, word: str) -> tuple[str, ...]:
        """Indexed near spellings of word that may be OCR errors of it, nearest first."""
        if len(word) < MIN_LENGTH or word.isdigit():
            return ()
        frequency = self._known.get(word, 0)
        if frequency and len(word) < KNOWN_MIN_LENGTH:
            return ()
        from rapidfuzz import process
        from rapidfuzz.distance import Levenshtein

        limit = max_distance(word)
        candidates = [w for n in range(len(word) - limit, len(word) + limit + 1)
                      for w in self._by_length.get(n, [])]
        found = process.extract(word, candidates, scorer=Levenshtein.distance,
                                score_cutoff=limit, limit=MAX_VARIANTS * 4)
        rare = max(1, frequency // RARER_BY) if frequency else None
        kept = [(distance, match) for match, distance, _index in found
                if match != word and (rare is None or self._known.get(match, 0) <= rare)]
        return tuple(match for _distance, match in sorted(kept)[:MAX_VARIANTS])


def widen(parsed: ParsedQuery, vocabulary: Vocabulary) -> ParsedQuery:
    """The query with each unknown single word widened to its indexed neighbours."""
    groups = []
    for group in parsed.groups:
        term = group[0]
        if len(group) == 1 and not term.prefix and term.text not in STOPWORDS:
            variants = vocabulary.variants(term.text)
            if variants:
                group = (replace(term, variants=variants),)
        groups.append(group)
    return ParsedQuery(tuple(groups))



