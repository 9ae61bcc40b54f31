"""Keyword (FTS5 bm25), semantic (exact cosine) and hybrid (reciprocal-rank fusion) search:
the rankers and their fusion into one hit per document."""

from __future__ import annotations

import gc
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING

from engine.errors import UsageError
from engine.models import SearchFilters, SearchHit, SearchMode
from engine.protocols import Embedder
from engine.search.documents_map import DocumentsMap, by_content
from engine.search.fusion import (
    FusionWeights,
    fuse,
    keyword_weight,
    phrase_bonus,
    phrase_similarity,
)
from engine.search.fuzzy import MIN_LENGTH, Vocabulary, widen
from engine.search.hits import (
    MIN_SIMILARITY,
    ChunkHit,
    DecodedPassage,
    DocRank,
    describe,
    read_passages,
)
from engine.search.query import (
    STOPWORDS,
    ParsedQuery,
    Term,
    parse_query,
)
from engine.search.rescore import rescore
from engine.store import vocabulary as kept_words
from engine.store.db import Store

if TYPE_CHECKING:
    import numpy as np

    from engine.search.vector_search import Scope, Shortlist, VectorSearch

_CANDIDATES = 400  # chunks each ranker hands to fusion
QUERY_TIME_LIMIT_S = 10.0
# Below this many chunks, all query words are kept (the pruning is only for speed).
_PRUNE_FROM_CHUNKS = 5000
# In hybrid mode the words ranker only proposes candidates, so it scores postings for at
# most this share of all chunks: the rarest words first (they carry nearly all of bm25's
# weight), common words only while they fit. The cost of a bm25 query grows with the
# postings it scores; this keeps it flat per query as a library grows.
_HYBRID_POSTINGS_SHARE = 0.10
# ... and never more than this many postings, so that the cost stays flat past 100k chunks
# (bm25 over 100k postings took ~150 ms at a million chunks). No more than the words
# budget: with 20k, _fts cut such queries again and re-scored their hits in Python (26-35
# ms); at 10k hybrid p95 at 1M fell 85 -> 76 ms, for 0.0016 nDCG@10 (docs/benchmarks.md).
_HYBRID_POSTINGS_MAX = 10_000
# ... on libraries this big. Below it a full any-word query is fast enough, and the budget
# would cost a little quality (SciFact, 6k chunks: 0.764 -> 0.755 nDCG@10 when forced).
_BUDGET_FROM_CHUNKS = 50_000
# Words mode ranks at most about this many postings per query (see _within_budget).
_WORDS_POSTINGS_BUDGET = 10_000
# ... and ranks everything after all when the window held fewer hits than this.
_WINDOW_ENOUGH = 50
# How much a near spelling of a query word counts next to the word itself.
VARIANT_WEIGHT = 0.5


class Searcher:
    """Runs queries against a store; keeps the vector matrix between queries."""

    def __init__(self, store: Store, embedder: Embedder) -> None:
        self.store = store
        self.embedder = embedder
        self._vectors: VectorSearch | None = None
        self.fusion = FusionWeights()
        self.vocabulary = Vocabulary()
        # A query that runs longer is stopped (QueryTooSlow): it would hold the library.
        self.time_limit_s: float | None = QUERY_TIME_LIMIT_S
        self._recent: dict[str, np.ndarray] = {}
        self._df: dict[str, int] = {}
        self._df_generation: tuple[int, int] = (-1, -1)
        self._common: dict[str, int] | None = None  # the writer's counts, if current
        self._chunk_count = 0
        self._embedder_pool: ThreadPoolExecutor | None = None
        self._documents = DocumentsMap()
        self._settled_generation: tuple[int, int] = (-1, -1)

    @property
    def vectors(self) -> VectorSearch:
        """The vector side, made on first use: numpy and the vector modules stay unloaded
        while a process only searches words (a one-shot `scandex search --mode keyword`)."""
        if self._vectors is None:
            from engine.search.vector_search import VectorSearch

            self._vectors = VectorSearch()
        return self._vectors

    @vectors.setter
    def vectors(self, shared: VectorSearch) -> None:
        self._vectors = shared

    def search(
        self,
        query: str,
        *,
        mode: str | SearchMode = SearchMode.HYBRID,
        limit: int = 10,
        filters: SearchFilters | None = None,
    ) -> list[SearchHit]:
        """One hit per document, best first."""
        parsed_mode = SearchMode.parse(mode)
        if parsed_mode is None:
            raise UsageError(f"unknown search mode '{mode}'; use one of "
                             f"{', '.join(m.value for m in SearchMode)}")
        mode = parsed_mode
        if limit < 1:
            raise UsageError("limit must be at least 1")
        filters = filters or SearchFilters()
        parsed = parse_query(query)
        if not query.strip() or (mode is SearchMode.KEYWORD and not parsed.groups):
            return []
        if mode is not SearchMode.KEYWORD:
            # Loading the vectors (once per change of the index) is not the query's cost.
            self.vectors.refresh(self.store, self.embedder.model_id, self.embedder.dim)
        with self.store.reads.time_limit(self.time_limit_s):
            hits = self._search(query, parsed, mode, limit, filters)
        generation = self.store.generation()
        if generation != self._settled_generation:
            self._settled_generation = generation
            settle_heap()
        return hits

    def _search(self, query: str, parsed: ParsedQuery, mode: SearchMode, limit: int,
                filters: SearchFilters) -> list[SearchHit]:
        if mode is not SearchMode.SEMANTIC:
            parsed = self._widen_unknown_words(parsed)
        # Meaning alone shows its best `limit` documents: the rest of the shortlist is
        # looked up only when those could be among them (fusion needs it all).
        enough = limit if mode is SearchMode.SEMANTIC else None
        semantic: Future[tuple[Shortlist, list[ChunkHit]]] | None = None
        if mode is not SearchMode.KEYWORD:
            # Embed the query, rank the vectors and confirm them on another core while
            # SQLite ranks the words; what needs this connection is read here first.
            semantic = self._embedding_thread().submit(
                self._meaning, query, self.vectors.scope(self.store, filters), enough)
        try:
            return self._ranked(query, parsed, mode, limit, filters, semantic, enough)
        finally:
            if semantic is not None:
                wait([semantic])  # never left running on the store after an error here

    def _ranked(self, query: str, parsed: ParsedQuery, mode: SearchMode, limit: int,
                filters: SearchFilters,
                semantic: Future[tuple[Shortlist, list[ChunkHit]]] | None,
                enough: int | None) -> list[SearchHit]:
        docs: dict[int, DocRank] = {}
        rescore: list[Term] = []
        keyword_order: list[int] = []
        semantic_order: list[int] = []
        if mode is not SearchMode.SEMANTIC and parsed.groups:
            # Words mode wants every word (AND), falling back to any word; for fusion
            # the any-word ranking alone is enough: bm25 already favours pages with all.
            hits = self._keyword(parsed, filters, "AND") if mode is SearchMode.KEYWORD else []
            if not hits:
                informative = self._informative(parsed, hybrid=mode is SearchMode.HYBRID)
                if informative.groups:
                    hits = self._keyword(informative, filters, "OR")
                elif mode is SearchMode.KEYWORD:
                    hits = self._keyword(parsed, filters, "OR")
                else:
                    # Every word is too common to rank the whole index in time: the
                    # words re-rank meaning's candidates instead (below).
                    rescore = [g[0] for g in parsed.groups if len(g) == 1]
            keyword_order = self._assign(hits, docs, filters, "keyword")
        every_word: set[str] | None = set()
        if mode is SearchMode.HYBRID and keyword_order:
            # Which contents hold every word is fusion's to know, but it needs only the
            # query: asked now, it runs while meaning still ranks on the other core.
            every_word = self._with_every_word(parsed, filters)
        ready: dict[int, DecodedPassage] = {}
        if semantic is not None and keyword_order and not semantic.done():
            # Meaning still ranks on the other core (ONNX and BLAS let go of the GIL):
            # read the pages of the best word matches now, most of them will be shown.
            ready = read_passages(self.store, [c.chunk_id for i in keyword_order[:limit]
                                               if (c := docs[i].keyword)])
        if semantic is not None:
            found, candidates = semantic.result()
            if rescore:
                keyword_order = self._assign(self._rescore(candidates, rescore), docs,
                                             filters, "keyword")
            semantic_order = self._assign(candidates, docs, filters, "semantic")
            if enough and len(semantic_order) < enough:  # contents without live documents
                docs.clear()
                semantic_order = self._assign(self.vectors.resolve(self.store.reads, found),
                                              docs, filters, "semantic")
        if mode is SearchMode.HYBRID:
            self._fuse(query, docs, every_word)
        if mode is SearchMode.KEYWORD:
            ranked = [docs[i] for i in keyword_order]
        elif mode is SearchMode.SEMANTIC:
            ranked = [docs[i] for i in semantic_order]
            for d in ranked:
                d.score = d.semantic.score if d.semantic else 0.0
        else:
            ranked = sorted(docs.values(), key=lambda d: -d.score)
        if mode is SearchMode.KEYWORD:
            for d in ranked:
                d.score = -d.keyword.score if d.keyword else 0.0
        return describe(self.store, ranked[:limit], parsed, self._floor(), ready)

    def similar(self, sha256: str, *, limit: int = 10,
                filters: SearchFilters | None = None) -> list[SearchHit]:
        """Documents closest in meaning to one content (the mean of its chunk vectors),
        itself and its other copies left out; the same hits as a meaning search."""
        if limit < 1:
            raise UsageError("limit must be at least 1")
        filters = filters or SearchFilters()
        model = self.embedder.model_id
        blobs = self.store.reads.content_vectors(sha256, model)
        if not blobs:
            return []
        import numpy as np

        centroid = np.frombuffer(b"".join(blobs), dtype="<f4").reshape(len(blobs), -1).mean(0)
        norm = float(np.linalg.norm(centroid))
        if norm == 0:
            return []
        self.vectors.refresh(self.store, model, self.embedder.dim)
        with self.store.reads.time_limit(self.time_limit_s):
            scope = self.vectors.scope(self.store, filters)
            found = self.vectors.shortlist((centroid / norm).astype(np.float32), _CANDIDATES,
                                           scope, self._floor())
            candidates = [h for h in self.vectors.resolve(self.store.reads, found)
                          if h.sha256 != sha256]
            docs: dict[int, DocRank] = {}
            ranked = [docs[i] for i in self._assign(candidates, docs, filters, "semantic")]
            for d in ranked:
                d.score = d.semantic.score if d.semantic else 0.0
            return describe(self.store, ranked[:limit], ParsedQuery(()), self._floor())

    def _widen_unknown_words(self, parsed: ParsedQuery) -> ParsedQuery:
        """Query words get their near spellings in the index (OCR errors). On large
        libraries only words the index has never seen are widened (the scan of the
        vocabulary would cost more than the query), so the vocabulary is loaded only
        when a query has such a word."""
        words = [g[0].text for g in parsed.groups
                 if len(g) == 1 and not g[0].prefix and len(g[0].text) >= MIN_LENGTH
                 and g[0].text not in STOPWORDS]
        if not words:
            return parsed
        if self._chunks() >= _BUDGET_FROM_CHUNKS and all(self._df_of(w) > 0 for w in words):
            return parsed
        self.vocabulary.refresh(self.store)
        return widen(parsed, self.vocabulary)

    def _chunks(self) -> int:
        """How many chunks the index holds (cached until it changes)."""
        generation = self.store.generation()
        if generation != self._df_generation:
            self._df.clear()
            self._df_generation = generation
            with self.store.reads.unbounded():
                self._chunk_count = self.store.reads.chunk_count()
            self._common = kept_words.read_common_words(self.store, generation) \
                if self._chunk_count >= kept_words.CACHE_FROM_CHUNKS else None
        return self._chunk_count

    def _with_every_word(self, parsed: ParsedQuery, filters: SearchFilters) -> set[str] | None:
        """The contents whose best all-words matches hold every informative word of the
        query (None: there is one such word, so every word match has them all)."""
        informative = self._informative(parsed, hybrid=True)
        if not informative.groups:
            return set()  # every word too common: no bonus for having them all
        if len(informative.groups) == 1:
            return None
        return {h.sha256 for h in self._keyword(informative, filters, "AND")}

    def _fuse(self, query: str, docs: dict[int, DocRank], every_word: set[str] | None) -> None:
        """Score every candidate document by the query-weighted convex combination."""
        keyword = {i: -d.keyword.score for i, d in docs.items() if d.keyword is not None}
        semantic = {i: d.semantic.score for i, d in docs.items() if d.semantic is not None}
        all_terms: set[int] = set()
        if keyword:
            if every_word is not None:
                all_terms = {i for i, d in docs.items() if d.sha256 in every_word}
            else:
                all_terms = set(keyword)
        weights = self.fusion
        weight = keyword_weight(query, weights)
        fused = fuse(keyword, semantic, weight=weight, all_terms=all_terms,
                     bonus=weights.all_terms_bonus)
        if weight >= weights.default and weights.phrase_bonus > 0:
            self._phrase_bonus(query, docs, fused)
        for doc_id, value in fused.items():
            docs[doc_id].score = value

    def _phrase_bonus(self, query: str, docs: dict[int, DocRank],
                      fused: dict[int, float]) -> None:
        """Names and codes (not questions): the best candidates whose passage spells the
        query closely move up, so a name whose distinctive word OCR misread still beats
        pages that merely share its common words."""
        weights = self.fusion
        best = sorted(fused, key=lambda d: -fused[d])[:weights.phrase_candidates]
        chunk_of = {d: (docs[d].keyword or docs[d].semantic) for d in best}
        texts = self.store.reads.chunk_texts([c.chunk_id for c in chunk_of.values() if c])
        for doc_id, chunk in chunk_of.items():
            if chunk is not None and chunk.chunk_id in texts:
                similarity = phrase_similarity(query, texts[chunk.chunk_id])
                fused[doc_id] += phrase_bonus(similarity, weights.phrase_bonus)

    def _informative(self, parsed: ParsedQuery, hybrid: bool = False) -> ParsedQuery:
        """The groups without words found in over half of all chunks.

        FTS5's bm25 gives such a word an idf of ~0, so dropping it from an any-word
        query leaves the ranking as it was, while sparing the scoring of nearly every
        row (the cost of a bm25 query grows with the rows it matches). For hybrid
        search, single words are also kept only while their postings fit in
        _HYBRID_POSTINGS_SHARE of the chunks, rarest first (the rarest always stays).
        """
        if self._chunks() < _PRUNE_FROM_CHUNKS:
            return parsed  # small libraries: every query is cheap, keep every word
        keep = []
        for group in parsed.groups:
            if len(group) > 1 or group[0].prefix:
                keep.append(group)
                continue
            term = group[0].text
            if self._df_of(term) * 2 <= self._chunk_count:
                keep.append(group)
        if hybrid and self._chunk_count >= _BUDGET_FROM_CHUNKS:
            budget = min(_HYBRID_POSTINGS_SHARE * self._chunk_count, _HYBRID_POSTINGS_MAX)
            singles = sorted((self._df[g[0].text], i) for i, g in enumerate(keep)
                             if len(g) == 1 and not g[0].prefix and g[0].text in self._df)
            spent, dropped = 0, set()
            for df, i in singles:
                # Over budget even alone: the caller re-scores meaning's candidates instead.
                if spent + df > budget:
                    dropped.add(i)
                else:
                    spent += df
            keep = [g for i, g in enumerate(keep) if i not in dropped]
        return ParsedQuery(tuple(keep))

    def _rescore(self, candidates: list[ChunkHit], terms: list[Term]) -> list[ChunkHit]:
        """BM25 of common words over meaning's candidate chunks, best first (see
        engine/search/rescore.py)."""
        return rescore(self.store.reads, candidates, terms, self._chunk_count, self._df)

    def _keyword(self, parsed: ParsedQuery, filters: SearchFilters, op: str) -> list[ChunkHit]:
        """bm25 over the words; near spellings (OCR errors) count half as much as the word.

        bm25 sums over a query's terms, so the score of the widened query less that of the
        exact one is what the variants add; half of it is kept.
        """
        wide = self._fts(parsed, filters, op)
        exact_query = parsed.without_variants()
        if exact_query == parsed:
            return wide
        exact = {h.chunk_id: h.score for h in self._fts(exact_query, filters, op)}
        combined = [ChunkHit(h.chunk_id, h.sha256, h.page_no,
                             h.score - VARIANT_WEIGHT * (h.score - exact.get(h.chunk_id, 0.0)))
                    for h in wide]
        return sorted(combined, key=lambda h: h.score)

    def _fts(self, parsed: ParsedQuery, filters: SearchFilters, op: str) -> list[ChunkHit]:
        within, window = self._within_budget(parsed, op)
        rows = self.store.reads.ranked_chunks(within.fts(op), filters, _CANDIDATES, window)
        if window is not None and len(rows) < _WINDOW_ENOUGH:
            # The window held too few: the estimate was loose (AND, phrases) or the
            # filter narrow; the whole index then is not costly either.
            rows = self.store.reads.ranked_chunks(within.fts(op), filters, _CANDIDATES)
        hits = [ChunkHit(*row) for row in rows]
        if within != parsed:
            # The common words left out still order what the rare ones found.
            hits = self._rescore(hits, [t for g in parsed.groups for t in g]) or hits
        return hits

    def _within_budget(self, parsed: ParsedQuery, op: str) -> tuple[ParsedQuery, int | None]:
        """The query cut to about _WORDS_POSTINGS_BUDGET postings, and the lowest chunk
        id to rank from (None: everything).

        bm25 scores every row a MATCH yields, so a common word costs seconds at a million
        chunks. An any-word query keeps its words rarest first while their postings fit
        (the rarest carry nearly all of bm25's weight). When even the rarest word (or, for
        all-words queries, the rarest group) is over the budget, only the newest chunks
        that fit are ranked: FTS5 seeks to the window's first rowid. The quality cost is
        measured in docs/benchmarks.md.
        """
        if self._chunks() < _BUDGET_FROM_CHUNKS or not parsed.groups:
            return parsed, None
        sizes = []
        for group in parsed.groups:
            if any(t.prefix for t in group):
                return parsed, None  # no cheap estimate; the query time limit still holds
            sizes.append(min(sum(self._df_of(w) for w in (t.text, *t.variants))
                             for t in group))
        if op == "OR" and sum(sizes) > _WORDS_POSTINGS_BUDGET:
            order = sorted(range(len(sizes)), key=lambda i: sizes[i])
            keep, spent = [order[0]], sizes[order[0]]
            for i in order[1:]:
                if spent + sizes[i] <= _WORDS_POSTINGS_BUDGET:
                    keep.append(i)
                    spent += sizes[i]
            parsed = ParsedQuery(tuple(g for i, g in enumerate(parsed.groups) if i in keep))
            sizes = [sizes[i] for i in sorted(keep)]
        postings = min(sizes) if op == "AND" else sum(sizes)
        if postings <= _WORDS_POSTINGS_BUDGET:
            return parsed, None
        low, high = self.store.reads.chunk_id_range()
        return parsed, high - int((high - low) * _WORDS_POSTINGS_BUDGET / postings)

    def _df_of(self, word: str) -> int:
        """How many chunks hold word (cached until the index changes: FTS5 counts them
        by reading the word's whole posting list, 40-55 ms for a common word at 1M, so a
        big library's common words come from the writer's file when it is current)."""
        if word not in self._df:
            self._chunks()  # the cache and the common words follow the index
            known = self._common.get(word) if self._common is not None else None
            self._df[word] = known if known is not None else \
                self.store.reads.chunks_with_word(word)
        return self._df[word]

    def _embedding_thread(self) -> ThreadPoolExecutor:
        if self._embedder_pool is None:
            self._embedder_pool = ThreadPoolExecutor(1, thread_name_prefix="scandex-query")
        return self._embedder_pool

    def _meaning(self, query: str, scope: Scope, enough: int | None
                 ) -> tuple[Shortlist, list[ChunkHit]]:
        """Runs on the query thread: the shortlist, confirmed through the store's second
        connection while the words rank on the first (at 1M chunks its ~5 ms of random
        reads came after the words' 20-50 ms; now they run beside them)."""
        found = self._semantic(query, scope)
        if not len(found.keys):
            return found, found.hits  # an exact scan's hits: nothing to confirm
        return found, self.vectors.resolve(self.store.side_reads(), found, enough)

    def _semantic(self, query: str, scope: Scope) -> Shortlist:
        """The vectors' best candidates (no database access)."""
        if self.vectors.empty:
            import numpy as np

            from engine.search.vector_search import Shortlist

            return Shortlist(np.zeros(0, dtype=np.float32), _CANDIDATES, self._floor())
        return self.vectors.shortlist(self._query_vector(query), _CANDIDATES, scope,
                                      self._floor())

    def _floor(self) -> float:
        """The cosine under which a passage is no match by meaning (per model)."""
        return float(getattr(self.embedder, "relevance_floor", MIN_SIMILARITY))

    def _query_vector(self, query: str) -> np.ndarray:
        """Search-as-you-type repeats queries: keep the last few vectors."""
        vector = self._recent.get(query)
        if vector is None:
            vector = self.embedder.embed([query])[0]
            if len(self._recent) >= 256:
                self._recent.pop(next(iter(self._recent)))
            self._recent[query] = vector
        return vector

    def _assign(
        self, hits: list[ChunkHit], docs: dict[int, DocRank], filters: SearchFilters, ranker: str
    ) -> list[int]:
        """Map chunk hits to documents (first hit per document wins) in rank order."""
        if not hits:
            return []
        if filters.active:
            shas = sorted({h.sha256 for h in hits})
            by_sha = by_content(self.store.reads.documents_with(shas, filters))
        else:
            by_sha = self._documents.current(self.store)
        order: list[int] = []
        for hit in hits:
            for doc_id, path, kind in by_sha.get(hit.sha256, ()):
                rank = docs.setdefault(doc_id, DocRank(doc_id, path, kind, hit.sha256))
                if getattr(rank, ranker) is None:
                    setattr(rank, ranker, hit)
                    rank.matched_by.append(ranker)
                    order.append(doc_id)
        return order


def settle_heap() -> None:
    """Take what is alive now (the caches a search just built, the modules) out of the
    garbage collector's full collections. Each of those walked every object the process
    holds, 10-30 ms here, and one fell in every ~15 queries: that was the p95 of meaning
    search at 1M chunks (49 -> 40 ms). Unfrozen and collected first, so what died
    since the last settling is still freed; it runs once per change of the index."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()
