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

from engine.search.query import STOPWORDS, ParsedQuery, index_words
from engine.store.db import Store
from engine.store.vocabulary import read_kept_words

MIN_LENGTH = 4  # shorter words have too many neighbours to mean anything
MAX_VARIANTS = 4
KNOWN_MIN_LENGTH = 5  # known words shorter than this are not widened at all
RARER_BY = 5  # a known word's variant must be this many times rarer than the word
# While only additions happened, the words of at most this many new chunks are read from
# them (0.1 s for 1,000, 0.9 s for 20,000) rather than counting every word again (2.4 s
# at 1M chunks warm, 5 s cold; 0.7 s at 100k): a library being indexed commits every few
# seconds, and each commit is a new state.
CATCH_UP_CHUNKS = 20_000


def max_distance(word: str) -> int:
    """Edits allowed: one for short words, two from eight letters."""
    return 1 if len(word) < 8 else 2


class Vocabulary:
    """The index's words (from FTS5's vocabulary table), grouped by length, kept up with
    the index as it changes."""

    def __init__(self) -> None:
        self._by_length: dict[int, list[str]] = {}
        self._known: dict[str, int] = {}
        self._generation: tuple[int, int] = (-1, -1)
        self._top_chunk: int | None = None  # the highest chunk id whose words are held
        self._lock = threading.Lock()

    def refresh(self, store: Store) -> None:
        """Follow the index since the last query: the words of new chunks added while
        only additions happened, else the writer's list (and the chunks added after
        it), else every word counted again."""
        generation = store.generation()
        with self._lock:
            if generation == self._generation:
                return
            if (self._top_chunk is not None and generation[1] == self._generation[1]
                    and self._catch_up(store)):
                self._generation = generation
                return
            kept = read_kept_words(store)
            if kept is not None and kept.generation[1] == generation[1] \
                    and kept.generation[0] <= generation[0]:
                self._hold(kept.words, kept.top_chunk)
                if self._catch_up(store):
                    self._generation = generation
                    return
            with store.reads.unbounded():
                top_chunk = store.reads.chunk_id_range()[1]  # before: a commit between
                self._hold(store.reads.vocabulary(), top_chunk)  # counts words twice
            self._generation = generation

    def _hold(self, words: list[tuple[str, int]], top_chunk: int) -> None:
        by_length: dict[int, list[str]] = defaultdict(list)
        known: dict[str, int] = {}
        for word, doc_count in words:
            known[word] = doc_count
            by_length[len(word)].append(word)
        self._by_length, self._known, self._top_chunk = dict(by_length), known, top_chunk

    def _catch_up(self, store: Store) -> bool:
        """Add the words of the chunks after the highest one held; False when there are
        too many of them (counting them all is then cheaper)."""
        assert self._top_chunk is not None
        with store.reads.unbounded():
            rows = store.reads.chunk_texts_after(self._top_chunk, CATCH_UP_CHUNKS + 1)
        if len(rows) > CATCH_UP_CHUNKS:
            return False
        for chunk_id, text in rows:
            for word in index_words(text):
                count = self._known.get(word, 0)
                if not count:
                    self._by_length.setdefault(len(word), []).append(word)
                self._known[word] = count + 1
            self._top_chunk = chunk_id
        return True

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



