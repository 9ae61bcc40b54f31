"""From ranked documents to the hits a face shows: the passage of the page, the marked
words and their boxes, the snippet, tags and the paper's date. Pages are read and decoded
in batches, and may be read ahead while meaning still ranks (see Searcher._search)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from engine.models import Box, SearchHit, Word
from engine.search.highlight import line_boxes, matching_texts, snippet_html
from engine.search.query import ParsedQuery
from engine.store.db import Store

# Cosine below this is no match at all (unrelated texts score ~0 with MiniLM).
MIN_SIMILARITY = 0.05
# Found by meaning alone within this much of the floor: "related", not a real match.
RELATED_MARGIN = 0.10
# A hit's page: (word start, word end, width, height, its raw [text, x, y, w, h, conf]).
DecodedPassage = tuple[int, int, int, int, list[Any]]


@dataclass(frozen=True)
class ChunkHit:
    """A ranked chunk from one of the rankers."""

    chunk_id: int
    sha256: str
    page_no: int
    score: float


@dataclass
class DocRank:
    """One candidate document and what each ranker said of it."""

    doc_id: int
    path: str
    kind: str
    sha256: str
    keyword: ChunkHit | None = None
    semantic: ChunkHit | None = None
    score: float = 0.0
    matched_by: list[str] = field(default_factory=list)

    @property
    def best(self) -> ChunkHit | None:
        """The chunk shown: the words ranker's, else meaning's."""
        return self.keyword or self.semantic


def read_passages(store: Store, chunk_ids: list[int]) -> dict[int, DecodedPassage]:
    """The pages behind chunks, read in one query and decoded (raw rows, not Word
    objects: building those for a whole page would cost more than the query)."""
    return {chunk_id: (start, end, width, height, orjson.loads(words))
            for chunk_id, (start, end, width, height, words)
            in store.reads.passages(chunk_ids).items()}


def describe(store: Store, shown: list[DocRank], parsed: ParsedQuery, floor: float,
             ready: dict[int, DecodedPassage] | None = None) -> list[SearchHit]:
    """The hits as shown; pages already read (ready) are not read again."""
    ready = dict(ready or {})
    chunk_of = {d.doc_id: c.chunk_id for d in shown if (c := d.best)}
    missing = [c for c in chunk_of.values() if c not in ready]
    ready.update(read_passages(store, missing) if missing else {})
    tags = store.tags.of_many(d.sha256 for d in shown)
    days = store.dates.days_of([d.sha256 for d in shown])
    return [_hit(d, parsed, ready.get(chunk_of.get(d.doc_id, -1)), tags[d.sha256],
                 days.get(d.sha256), _related(d, floor)) for d in shown]


def _related(doc: DocRank, floor: float) -> bool:
    """Found by meaning alone, just over the floor: shown as "related"."""
    return (doc.keyword is None and doc.semantic is not None
            and doc.semantic.score < floor + RELATED_MARGIN)


def _hit(doc: DocRank, parsed: ParsedQuery, passage: DecodedPassage | None,
         tags: list[str], day: str | None, related: bool) -> SearchHit:
    best = doc.best
    assert best is not None
    start, end, width, height, raw = passage if passage else (0, 0, 0, 0, [])
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
        id=doc.doc_id, path=doc.path, kind=doc.kind, page=best.page_no, score=doc.score,
        snippet=snippet, boxes=boxes, page_width=width, page_height=height,
        matched_by=tuple(doc.matched_by), related=related, tags=tuple(tags),
        document_date=day)
