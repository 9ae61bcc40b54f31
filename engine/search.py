"""Keyword (FTS5 bm25), semantic (exact cosine) and hybrid (reciprocal-rank fusion) search."""

from __future__ import annotations

import functools
import html
import json
import math
import re
import sqlite3
import threading
import unicodedata
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from engine.embedding import Embedder
from engine.errors import UsageError
from engine.models import Box, SearchHit, Word
from engine.store import Store

MODES = ("hybrid", "keyword", "semantic")
MODE_ALIASES = {"words": "keyword", "meaning": "semantic", "exact": "keyword"}
RRF_K = 60
_CANDIDATES = 400  # chunks each ranker hands to fusion
_SNIPPET_WORDS = 32
# Below this many chunks, all query words are kept (the pruning is only for speed).
_PRUNE_FROM_CHUNKS = 5000
# In hybrid mode the words ranker only proposes candidates, so it scores postings for at
# most this share of all chunks: the rarest words first (they carry nearly all of bm25's
# weight), common words only while they fit. The cost of a bm25 query grows with the
# postings it scores; this keeps it flat per query as a library grows.
_HYBRID_POSTINGS_SHARE = 0.10
# ... on libraries this big. Below it a full any-word query is fast enough, and the budget
# would cost a little quality (SciFact, 6k chunks: 0.764 -> 0.755 nDCG@10 when forced).
_BUDGET_FROM_CHUNKS = 50_000
# Cosine below this is no match at all (unrelated texts score ~0 with MiniLM).
MIN_SIMILARITY = 0.05
_TOKEN = re.compile(r"\w+", re.UNICODE)
# Dropped from the any-word (OR) query only: there they match every page and drown
# the real terms. Exact (AND) queries and phrases keep them.
STOPWORDS = frozenset(
    "a an and are as at be but by for from has have he her his i if in into is it its of on "
    "or our she so than that the their them then there these they this to was we were what "
    "when where which who will with you your".split()
)


def fold(text: str) -> str:
    """Lower case without diacritics, as the FTS5 tokenizer sees it."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@dataclass(frozen=True)
class Term:
    """A query word; `prefix` when the user wrote word*."""

    text: str
    prefix: bool = False


@dataclass(frozen=True)
class ParsedQuery:
    """A user query split into phrases and words, safe to hand to FTS5."""

    groups: tuple[tuple[Term, ...], ...]  # a phrase is a group of several terms

    @property
    def terms(self) -> list[Term]:
        """Every term of every group."""
        return [t for g in self.groups for t in g]

    def fts(self, operator: str) -> str:
        """The FTS5 MATCH expression joining the groups with AND or OR."""
        groups = self.groups
        if operator == "OR":
            content = tuple(g for g in groups if len(g) > 1 or g[0].text not in STOPWORDS)
            groups = content or groups
        parts = []
        for group in groups:
            quoted = " ".join(f'"{t.text}"' for t in group)
            if len(group) > 1:
                parts.append(f'"{" ".join(t.text for t in group)}"')
            else:
                parts.append(quoted + ("*" if group[0].prefix else ""))
        return f" {operator} ".join(parts)


def parse_query(query: str) -> ParsedQuery:
    """Words, "quoted phrases" and prefix* terms; every other character is ignored."""
    groups: list[tuple[Term, ...]] = []
    for match in re.finditer(r'"([^"]*)"|(\S+)', query):
        phrase, word = match.group(1), match.group(2)
        if phrase is not None:
            tokens = [fold(t) for t in _TOKEN.findall(phrase)]
            if tokens:
                groups.append(tuple(Term(t) for t in tokens))
            continue
        prefix = word.endswith("*")
        tokens = [fold(t) for t in _TOKEN.findall(word)]
        for i, token in enumerate(tokens):
            groups.append((Term(token, prefix=prefix and i == len(tokens) - 1),))
    return ParsedQuery(tuple(groups))


@dataclass(frozen=True)
class SearchFilters:
    """Narrow results by file type, folder and the file's modification date."""

    kinds: tuple[str, ...] = ()
    path_prefix: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def sql(self) -> tuple[str, list[Any]]:
        """A WHERE fragment over documents `d` and its parameters."""
        clauses = ["d.state = 'indexed'"]
        params: list[Any] = []
        if self.kinds:
            clauses.append(f"d.kind IN ({','.join('?' * len(self.kinds))})")
            params.extend(k.lower() for k in self.kinds)
        if self.path_prefix:
            clauses.append("substr(d.path, 1, ?) = ?")
            params.extend([len(self.path_prefix), self.path_prefix])
        if self.since:
            clauses.append("d.mtime_ns >= ?")
            params.append(int(self.since.timestamp() * 1e9))
        if self.until:
            clauses.append("d.mtime_ns <= ?")
            params.append(int(self.until.timestamp() * 1e9))
        return " AND ".join(clauses), params

    @property
    def active(self) -> bool:
        """True when any filter narrows the results."""
        return bool(self.kinds or self.path_prefix or self.since or self.until)


@dataclass(frozen=True)
class ChunkHit:
    """A ranked chunk from one of the rankers."""

    chunk_id: int
    sha256: str
    page_no: int
    score: float


@functools.lru_cache(maxsize=1)
def _blas_controller() -> Any:
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def _single_threaded_blas() -> Any:
    """One BLAS thread for the similarity product.

    OpenBLAS's idle threads spin for a while after a product and starve the next
    query embedding on torch's threads (measured: 11 ms alone, 39-120 ms after a
    2-thread product; 25 ms in all with one BLAS thread).
    """
    return _blas_controller().limit(limits=1, user_api="blas")


# From this many vectors the scan runs in float16 (see VectorCache._scores): it is bound
# by memory bandwidth (a 100k x 384 float32 matrix is 150 MB).
_SPLIT_FROM_ROWS = 20_000


class VectorCache:
    """All vectors of one model as one matrix, refreshed when the index changes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.model_id: str | None = None
        self.generation: tuple[int, int] = (-1, -1)
        self.ids = np.zeros(0, dtype=np.int64)
        self.pages = np.zeros(0, dtype=np.int32)
        self.shas: list[str] = []
        self.matrix = np.zeros((0, 0), dtype=np.float32)
        self._half: Any = None

    def _scores(self, query: np.ndarray) -> tuple[np.ndarray, bool]:
        """matrix @ query, and whether it is approximate.

        Big matrices are scanned as float16 by torch (half the memory traffic, and the
        product is bound by memory: 3 ms instead of 9 for 100k x 384); the caller then
        scores its best candidates again exactly. BLAS stays single-threaded: OpenBLAS's
        own threads spin after a call and starve the query embedding.
        """
        matrix = self.matrix
        if len(matrix) >= _SPLIT_FROM_ROWS:
            half = self._float16()
            if half is not None:
                import torch

                with torch.inference_mode():
                    approx = half @ torch.from_numpy(query).to(torch.float16)
                return approx.float().numpy(), True
        with _single_threaded_blas():
            scores: np.ndarray = matrix @ query
        return scores, False

    def _float16(self) -> Any:
        """The matrix as a float16 torch tensor, made once per refresh (None: no torch)."""
        if self._half is None:
            try:
                import torch
            except ImportError:
                return None
            self._half = torch.from_numpy(self.matrix).to(torch.float16)
        return self._half

    def refresh(self, store: Store, model_id: str, dim: int) -> None:
        """Load new rows only, or everything after deletions or a model change."""
        with self._lock:
            generation = store.generation()
            if generation == self.generation and model_id == self.model_id:
                return
            full = model_id != self.model_id or generation[1] != self.generation[1]
            after = -1 if full or not len(self.ids) else int(self.ids[-1])
            rows = store.db.execute(
                "SELECT id, sha256, page_no, vector FROM chunks "
                "WHERE model_id = ? AND vector IS NOT NULL AND id > ? ORDER BY id",
                (model_id, after),
            ).fetchall()
            ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            pages = np.fromiter((r[2] for r in rows), dtype=np.int32, count=len(rows))
            matrix = (
                np.frombuffer(b"".join(r[3] for r in rows), dtype="<f4").reshape(len(rows), dim)
                if rows
                else np.zeros((0, dim), dtype=np.float32)
            ).astype(np.float32)
            shas = [str(r[1]) for r in rows]
            if full:
                self.ids, self.pages, self.shas, self.matrix = ids, pages, shas, matrix
            else:
                self.ids = np.concatenate([self.ids, ids])
                self.pages = np.concatenate([self.pages, pages])
                self.shas = self.shas + shas
                self.matrix = np.vstack([self.matrix, matrix]) if len(rows) else self.matrix
            self.model_id, self.generation = model_id, generation
            self._half = None

    def top(self, query: np.ndarray, k: int, allowed: set[str] | None) -> list[ChunkHit]:
        """The k chunks closest to query (cosine: vectors are normalised)."""
        with self._lock:
            if not len(self.ids):
                return []
            query = query.astype(np.float32)
            scores, approximate = self._scores(query)
            if allowed is not None:
                mask = np.fromiter((s in allowed for s in self.shas), dtype=bool)
                scores = np.where(mask, scores, -np.inf)
            wanted = min(k, len(scores))
            # An approximate scan only shortlists: twice as many, then exact float32.
            shortlist = min(len(scores), wanted * 2 if approximate else wanted)
            best = np.argpartition(-scores, shortlist - 1)[:shortlist]
            chosen = scores[best]
            if approximate:
                chosen = np.where(np.isfinite(chosen), self.matrix[best] @ query, -np.inf)
            order = np.argsort(-chosen)[:wanted]
            return [
                ChunkHit(int(self.ids[i]), self.shas[i], int(self.pages[i]), float(score))
                for i, score in zip(best[order], chosen[order], strict=True)
                if np.isfinite(score) and score >= MIN_SIMILARITY
            ]


@dataclass
class _DocRank:
    doc_id: int
    path: str
    kind: str
    sha256: str
    keyword: ChunkHit | None = None
    semantic: ChunkHit | None = None
    score: float = 0.0
    matched_by: list[str] = field(default_factory=list)


class Searcher:
    """Runs queries against a store; keeps the vector matrix between queries."""

    def __init__(self, store: Store, embedder: Embedder) -> None:
        self.store = store
        self.embedder = embedder
        self.vectors = VectorCache()
        self._recent: dict[str, np.ndarray] = {}
        self._df: dict[str, int] = {}
        self._df_generation: tuple[int, int] = (-1, -1)
        self._chunk_count = 0
        self._embedder_pool: ThreadPoolExecutor | None = None
        self._docs_by_sha: dict[str, list[tuple[int, str, str]]] = {}
        self._docs_generation: tuple[int, int] = (-1, -1)

    def search(
        self,
        query: str,
        *,
        mode: str = "hybrid",
        limit: int = 10,
        filters: SearchFilters | None = None,
    ) -> list[SearchHit]:
        """One hit per document, best first."""
        mode = MODE_ALIASES.get(mode, mode)
        if mode not in MODES:
            raise UsageError(f"unknown search mode '{mode}'; use one of {', '.join(MODES)}")
        if limit < 1:
            raise UsageError("limit must be at least 1")
        filters = filters or SearchFilters()
        parsed = parse_query(query)
        if not query.strip() or (mode == "keyword" and not parsed.groups):
            return []
        docs: dict[int, _DocRank] = {}
        rescore: list[Term] = []
        keyword_order: list[int] = []
        semantic_order: list[int] = []
        semantic: Future[list[ChunkHit]] | None = None
        if mode in ("semantic", "hybrid"):
            # Embed the query and rank the vectors on another core while SQLite ranks
            # the words; what needs the database is read here first.
            self.vectors.refresh(self.store, self.embedder.model_id, self.embedder.dim)
            semantic = self._embedding_thread().submit(
                self._semantic, query, self._allowed(filters))
        if mode in ("keyword", "hybrid") and parsed.groups:
            # Words mode wants every word (AND), falling back to any word; for fusion
            # the any-word ranking alone is enough: bm25 already favours pages with all.
            hits = self._keyword(parsed, filters, "AND") if mode == "keyword" else []
            if not hits:
                informative = self._informative(parsed, hybrid=mode == "hybrid")
                if informative.groups:
                    hits = self._keyword(informative, filters, "OR")
                elif mode == "keyword":
                    hits = self._keyword(parsed, filters, "OR")
                else:
                    # Every word is too common to rank the whole index in time: the
                    # words re-rank meaning's candidates instead (below).
                    rescore = [g[0] for g in parsed.groups if len(g) == 1]
            keyword_order = self._assign(hits, docs, filters, "keyword")
        if semantic is not None:
            candidates = semantic.result()
            if rescore:
                keyword_order = self._assign(self._rescore(candidates, rescore), docs,
                                             filters, "keyword")
            semantic_order = self._assign(candidates, docs, filters, "semantic")
        for order in (keyword_order, semantic_order):
            for rank, doc_id in enumerate(order):
                docs[doc_id].score += 1.0 / (RRF_K + rank + 1)
        if mode == "keyword":
            ranked = [docs[i] for i in keyword_order]
        elif mode == "semantic":
            ranked = [docs[i] for i in semantic_order]
            for d in ranked:
                d.score = d.semantic.score if d.semantic else 0.0
        else:
            ranked = sorted(docs.values(), key=lambda d: -d.score)
        if mode == "keyword":
            for d in ranked:
                d.score = -d.keyword.score if d.keyword else 0.0
        return [self._describe(d, parsed) for d in ranked[:limit]]

    def _informative(self, parsed: ParsedQuery, hybrid: bool = False) -> ParsedQuery:
        """The groups without words found in over half of all chunks.

        FTS5's bm25 gives such a word an idf of ~0, so dropping it from an any-word
        query leaves the ranking as it was, while sparing the scoring of nearly every
        row (the cost of a bm25 query grows with the rows it matches). For hybrid
        search, single words are also kept only while their postings fit in
        _HYBRID_POSTINGS_SHARE of the chunks, rarest first (the rarest always stays).
        """
        generation = self.store.generation()
        if generation != self._df_generation:
            self._df.clear()
            self._df_generation = generation
            self._chunk_count = int(
                self.store.db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
            )
        if self._chunk_count < _PRUNE_FROM_CHUNKS:
            return parsed  # small libraries: every query is cheap, keep every word
        keep = []
        for group in parsed.groups:
            if len(group) > 1 or group[0].prefix:
                keep.append(group)
                continue
            term = group[0].text
            if term not in self._df:
                row = self.store.db.execute(
                    "SELECT doc FROM chunks_vocab WHERE term = ?", (term,)
                ).fetchone()
                self._df[term] = int(row[0]) if row else 0
            if self._df[term] * 2 <= self._chunk_count:
                keep.append(group)
        if hybrid and self._chunk_count >= _BUDGET_FROM_CHUNKS:
            budget = _HYBRID_POSTINGS_SHARE * self._chunk_count
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
        """BM25 of common words over meaning's candidate chunks, best first.

        Used in hybrid search when every word is too common to rank the whole index in
        time: the words still reorder what meaning found, without a scan of every row.
        """
        terms = [t for t in terms if t.text not in STOPWORDS] or terms
        if not candidates or not terms:
            return []
        ids = [h.chunk_id for h in candidates]
        texts = dict(self.store.db.execute(
            f"SELECT id, text FROM chunks WHERE id IN ({','.join('?' * len(ids))})", ids))
        total = max(1, self._chunk_count)
        idf = {t.text: math.log(1 + (total - self._df.get(t.text, 0) + 0.5)
                                / (self._df.get(t.text, 0) + 0.5)) for t in terms}
        tokenized = {i: _TOKEN.findall(fold(text)) for i, text in texts.items()}
        # The candidates' mean length stands in for the index's (a full scan to get it).
        average = max(1.0, sum(map(len, tokenized.values())) / max(1, len(tokenized)))
        scored = []
        for hit in candidates:
            tokens = tokenized.get(hit.chunk_id, [])
            norm = 1.2 * (0.25 + 0.75 * len(tokens) / average)
            score = 0.0
            for term in terms:
                tf = sum(1 for tok in tokens
                         if tok == term.text or (term.prefix and tok.startswith(term.text)))
                if tf:
                    score += idf[term.text] * tf * 2.2 / (tf + norm)
            if score > 0:
                # FTS5's convention: lower is better.
                scored.append(ChunkHit(hit.chunk_id, hit.sha256, hit.page_no, -score))
        return sorted(scored, key=lambda h: h.score)

    def _keyword(self, parsed: ParsedQuery, filters: SearchFilters, op: str) -> list[ChunkHit]:
        where, params = filters.sql()
        args: list[Any] = [parsed.fts(op)]
        if filters.active:
            sql = (
                "SELECT c.id, c.sha256, c.page_no, bm25(chunks_fts) AS rank "
                "FROM chunks_fts JOIN chunks c ON c.id = chunks_fts.rowid "
                "WHERE chunks_fts MATCH ? "
                f"AND c.sha256 IN (SELECT d.sha256 FROM documents d WHERE {where}) "
                "ORDER BY rank LIMIT ?"
            )
            args.extend(params)
        else:
            # Rank inside FTS5 first, then join only the candidates to their chunks.
            sql = (
                "SELECT c.id, c.sha256, c.page_no, f.rank FROM ("
                "SELECT rowid, rank FROM chunks_fts WHERE chunks_fts MATCH ? "
                "ORDER BY rank LIMIT ?) f JOIN chunks c ON c.id = f.rowid ORDER BY f.rank"
            )
        args.append(_CANDIDATES)
        try:
            rows = self.store.db.execute(sql, args).fetchall()
        except sqlite3.OperationalError as e:
            raise UsageError(f"cannot search for that: {e}") from e
        return [ChunkHit(int(i), str(s), int(p), float(r)) for i, s, p, r in rows]

    def _embedding_thread(self) -> ThreadPoolExecutor:
        if self._embedder_pool is None:
            self._embedder_pool = ThreadPoolExecutor(1, thread_name_prefix="scandex-query")
        return self._embedder_pool

    def _allowed(self, filters: SearchFilters) -> set[str] | None:
        """The contents a filtered search may return (None: no filter)."""
        if not filters.active:
            return None
        where, params = filters.sql()
        return {
            str(r[0])
            for r in self.store.db.execute(
                f"SELECT DISTINCT d.sha256 FROM documents d WHERE {where}", params
            )
        }

    def _semantic(self, query: str, allowed: set[str] | None) -> list[ChunkHit]:
        """Runs on the query thread: no database access here."""
        if not len(self.vectors.ids):
            return []
        return self.vectors.top(self._query_vector(query), _CANDIDATES, allowed)

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
        self, hits: list[ChunkHit], docs: dict[int, _DocRank], filters: SearchFilters, ranker: str
    ) -> list[int]:
        """Map chunk hits to documents (first hit per document wins) in rank order."""
        if not hits:
            return []
        where, params = filters.sql()
        shas = sorted({h.sha256 for h in hits})
        by_sha: dict[str, list[tuple[int, str, str]]] = (
            self._indexed_documents() if not filters.active else {})
        for start in range(0, len(shas) if filters.active else 0, 500):
            batch = shas[start : start + 500]
            for doc_id, path, kind, sha in self.store.db.execute(
                f"SELECT d.id, d.path, d.kind, d.sha256 FROM documents d WHERE {where} "
                f"AND d.sha256 IN ({','.join('?' * len(batch))}) ORDER BY d.id",
                [*params, *batch],
            ):
                by_sha.setdefault(sha, []).append((doc_id, path, kind))
        order: list[int] = []
        for hit in hits:
            for doc_id, path, kind in by_sha.get(hit.sha256, []):
                rank = docs.setdefault(doc_id, _DocRank(doc_id, path, kind, hit.sha256))
                if getattr(rank, ranker) is None:
                    setattr(rank, ranker, hit)
                    rank.matched_by.append(ranker)
                    order.append(doc_id)
        return order

    def _indexed_documents(self) -> dict[str, list[tuple[int, str, str]]]:
        """content hash -> indexed documents (id, path, kind), kept until the index
        changes: unfiltered searches map their candidates without a query."""
        generation = self.store.generation()
        if generation != self._docs_generation:
            by_sha: dict[str, list[tuple[int, str, str]]] = {}
            for doc_id, path, kind, sha in self.store.db.execute(
                "SELECT id, path, kind, sha256 FROM documents WHERE state = 'indexed' "
                "AND sha256 IS NOT NULL ORDER BY id"
            ):
                by_sha.setdefault(sha, []).append((doc_id, path, kind))
            self._docs_by_sha, self._docs_generation = by_sha, generation
        return self._docs_by_sha

    def _describe(self, doc: _DocRank, parsed: ParsedQuery) -> SearchHit:
        best = doc.keyword or doc.semantic
        assert best is not None
        row = self.store.db.execute(
            "SELECT c.word_start, c.word_end, p.width, p.height, p.words FROM chunks c "
            "JOIN pages p ON p.sha256 = c.sha256 AND p.page_no = c.page_no WHERE c.id = ?",
            (best.chunk_id,),
        ).fetchone()
        start, end, width, height = (int(v) for v in row[:4]) if row else (0, 0, 0, 0)
        # Raw [text, x, y, w, h, conf] rows: building Word objects for a whole page
        # would cost more than the rest of the query.
        raw = json.loads(row[4]) if row else []
        texts = [r[0] for r in raw]
        if doc.keyword is not None:
            matched = matching_texts(texts, parsed)  # every match on the page gets a box
        else:
            # Found by meaning: only the passage is shown, so only it is searched for marks.
            matched = [start + i for i in matching_texts(texts[start:end], parsed)]
        in_chunk = [i for i in matched if start <= i < end]
        snippet = snippet_html(texts, start, end, set(matched), in_chunk[0] if in_chunk else None)
        if matched and doc.keyword is not None:
            boxes = [list(raw[i][1:5]) for i in matched]
        else:
            # A match by meaning: the passage is the evidence, drawn line by line.
            boxes = line_boxes([Word(r[0], Box(*r[1:5])) for r in raw[start:end]])
        return SearchHit(
            id=doc.doc_id,
            path=doc.path,
            kind=doc.kind,
            page=best.page_no,
            score=doc.score,
            snippet=snippet,
            boxes=boxes,
            page_width=width,
            page_height=height,
            matched_by=tuple(doc.matched_by),
        )


def matching_words(words: list[Word], parsed: ParsedQuery) -> list[int]:
    """Indexes of the page's words that match a query term (folded, prefix-aware)."""
    return matching_texts([w.text for w in words], parsed)


def matching_texts(texts: list[str], parsed: ParsedQuery) -> list[int]:
    """Indexes of the texts that match a query term; stopwords only if nothing else."""
    terms = [t for t in parsed.terms if t.text not in STOPWORDS] or parsed.terms
    if not terms:
        return []
    exact = {t.text for t in terms if not t.prefix}
    prefixes = tuple(t.text for t in terms if t.prefix)
    out = []
    for i, text in enumerate(texts):
        for token in _TOKEN.findall(fold(text)):
            if token in exact or (prefixes and token.startswith(prefixes)):
                out.append(i)
                break
    return out


def snippet_html(
    texts: list[str], start: int, end: int, marked: set[int], focus: int | None
) -> str:
    """About 32 words of the chunk around the first match; matches in <mark>."""
    if end <= start:
        return ""
    lo = start if focus is None else max(start, focus - _SNIPPET_WORDS // 3)
    hi = min(end, lo + _SNIPPET_WORDS)
    lo = max(start, min(lo, hi - _SNIPPET_WORDS))
    parts = []
    for i in range(lo, hi):
        text = html.escape(texts[i])
        parts.append(f"<mark>{text}</mark>" if i in marked else text)
    return ("… " if lo > 0 else "") + " ".join(parts) + (" …" if hi < len(texts) else "")


def line_boxes(words: list[Word]) -> list[list[int]]:
    """Merge the boxes of consecutive words on one text line into one box per line."""
    lines: list[list[int]] = []
    for w in words:
        b = w.box
        if lines:
            x, y, width, height = lines[-1]
            mid = b.y + b.h / 2
            if y <= mid <= y + height and b.x >= x:
                right = max(x + width, b.x + b.w)
                bottom = max(y + height, b.y + b.h)
                top = min(y, b.y)
                lines[-1] = [x, top, right - x, bottom - top]
                continue
        lines.append(b.as_list())
    return lines
