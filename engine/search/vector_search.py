"""Meaning search over one library: an exact scan of every vector, or, from
ANN_FROM_CHUNKS vectors on, the ANN file plus an exact scan of what it does not hold.

A query runs in two steps so that the database is only touched on the caller's thread:
`shortlist` (no database: the query thread) and `resolve` (the database confirms the ANN
candidates, gives their documents and their exact float32 scores).
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import engine.search.ann as ann
from engine.models import SearchFilters
from engine.search.vectors import MIN_SIMILARITY, ChunkHit, VectorCache
from engine.store.db import Store
from engine.store.reads import IndexReads

log = logging.getLogger(__name__)

# A filter leaving at most this many of the file's chunks is scanned exactly (their f16
# vectors read from the file): oversampling the graph for a narrow filter would cost more.
EXACT_SCOPE_ROWS = 50_000
# Filtered or with removed entries, the graph is asked for this many times the share
# that survives, and again with four times more until enough survive.
_OVERSAMPLE = 1.5
# The sketch's candidates rescored exactly from SQLite (the rest keep its scores): the
# ten best of 1M chunks were always among its best 100 (docs/benchmarks.md).
EXACT_RESCORE = 100
# How far a sketch score may be from the exact one: 0.0007 on average, 0.016 at worst
# over 48,000 candidates of 120 queries at 1M chunks.
_SKETCH_ERROR = 0.03


@dataclass(frozen=True)
class Scope:
    """Where a filtered meaning search may look: content hashes (exact scan) and, on the
    ANN path, the chunk ids (both None: everywhere)."""

    shas: set[str] | None = None
    ids: np.ndarray | None = None


@dataclass
class Shortlist:
    """Meaning's candidates before the database has confirmed them."""

    query: np.ndarray
    k: int
    floor: float
    hits: list[ChunkHit] = field(default_factory=list)  # final (exact scan, tail)
    keys: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    # The sketch's approximate scores of keys (best first), when it proposed them.
    approx: np.ndarray | None = None


class VectorSearch:
    """The vectors of one library, held as fits its size; share one between the
    Library objects on one folder (server threads) via Library.new_vector_cache()."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.exact = VectorCache()
        self._tail = VectorCache()
        self._ann: ann.OpenedAnn | None = None
        self._dead = np.zeros(0, dtype=np.int64)
        self._seen: tuple[str, tuple[int, int], tuple[int, int, int] | None,
                          tuple[int, int, int] | None] | None = None
        self._last_id = -1
        self._model_id: str | None = None
        self._building: threading.Thread | None = None

    @property
    def approximate(self) -> bool:
        """Whether queries go through the ANN file."""
        return self._ann is not None

    @property
    def empty(self) -> bool:
        """No vectors at all."""
        return self._ann is None and not len(self.exact.ids)

    def refresh(self, store: Store, model_id: str, dim: int) -> None:
        """Follow the index: new rows, removals, a model change, a new ANN file."""
        file = ann.AnnFile(store.path.parent, model_id, dim)
        generation = store.generation()
        seen = (model_id, generation, file.stamp(), file.stamp(file.sketch_path))
        with self._lock:
            if seen == self._seen:
                return
            previous = self._seen
            commits_only = (previous is not None and self._ann is not None
                            and seen[0] == previous[0] and seen[2:] == previous[2:]
                            and generation[1] == previous[1][1])
            if commits_only:
                rows = store.reads.vectors_after(model_id, self._last_id)
                self._tail.load(rows, dim, append=True)
                self._last_id = max(self._last_id, *(r[0] for r in rows)) if rows else self._last_id
                self._seen = seen
                return
            if self._open_quickly(store, file, model_id, dim, generation[1]):
                self._seen = seen
                return
            live = store.reads.vector_ids(model_id)
            opened = file.open() if len(live) >= ann.ANN_FROM_CHUNKS else None
            if opened is None:
                self._ann = None
                self._tail.clear()
                self.exact.refresh(store, model_id, dim)
                if len(live) >= ann.ANN_FROM_CHUNKS and not store.read_only:
                    self._build_in_background(file, store.path.parent)
            else:
                tail = np.setdiff1d(live, opened.keys, assume_unique=True)
                self._take(store, file, opened, store.reads.vectors_by_id(model_id, tail.tolist()),
                           np.setdiff1d(opened.keys, live, assume_unique=True), dim)
            self._last_id = int(live[-1]) if len(live) else -1
            self._model_id = model_id
            self._seen = seen

    def _open_quickly(self, store: Store, file: ann.AnnFile, model_id: str, dim: int,
                      changes: int) -> bool:
        """Take up the file without reading every chunk id (1.5-2.5 s at 1M chunks from
        a cold disk) when nothing but additions happened since it was written: the tail
        is then the chunks after its highest key. False: the caller compares all ids."""
        opened = file.open()
        if opened is None or opened.changes != changes or not len(opened.keys):
            return False
        rows = store.reads.vectors_after(model_id, int(opened.keys[-1]))
        if len(opened.keys) + len(rows) < ann.ANN_FROM_CHUNKS:
            return False
        self._take(store, file, opened, rows, np.zeros(0, dtype=np.int64), dim)
        self._last_id = int(rows[-1][0]) if rows else int(opened.keys[-1])
        self._model_id = model_id
        return True

    def _take(self, store: Store, file: ann.AnnFile, opened: ann.OpenedAnn,
              tail: list[tuple[int, str, int, bytes]], dead: np.ndarray, dim: int) -> None:
        """Search through the file, its tail scanned exactly and its dead keys skipped."""
        self.exact.clear()
        self._tail.load(tail, dim)
        self._dead = dead
        self._ann = opened
        if opened.sketch is None and not store.read_only:
            # A file from before sketches, or a kill before its sketch was written: the
            # graph serves meanwhile.
            self._build_in_background(file, store.path.parent)

    def _build_in_background(self, file: ann.AnnFile, directory: Path) -> None:
        """A big library without a usable file: search exactly now, build it meanwhile
        (on its own read connection; another process building it wins the lock)."""
        if self._building is not None and self._building.is_alive():
            return

        def build() -> None:
            try:
                reader = Store(directory, read_only=True)
                try:
                    file.update(reader, wait=False)
                finally:
                    reader.close()
            except Exception:  # a cache that cannot be built only leaves search exact
                log.exception("could not build the vector index %s", file.path)

        self._building = threading.Thread(target=build, name="scandex-ann-build", daemon=True)
        self._building.start()

    def scope(self, store: Store, filters: SearchFilters) -> Scope:
        """What a filtered search may return (computed on the caller's thread)."""
        if not filters.active:
            return Scope()
        shas = store.reads.allowed_contents(filters)
        if self._ann is None or self._model_id is None:
            return Scope(shas=shas)
        return Scope(shas=shas, ids=store.reads.chunk_ids_within(filters, self._model_id))

    def shortlist(self, query: np.ndarray, k: int, scope: Scope,
                  floor: float = MIN_SIMILARITY) -> Shortlist:
        """The best candidates (no database access: runs on the query thread)."""
        query = query.astype(np.float32)
        found = Shortlist(query, k, floor)
        opened = self._ann
        if opened is None:
            found.hits = self.exact.top(query, k, scope.shas, floor)
            return found
        if len(self._tail.ids):
            found.hits = self._tail.top(query, k, scope.shas, floor)
        found.keys, found.approx = self._ann_keys(opened, query, k, scope.ids)
        return found

    def _ann_keys(self, opened: ann.OpenedAnn, query: np.ndarray, k: int,
                  scope: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
        """The best k keys among the live (and allowed) ones, and their approximate
        scores when the sketch proposed them."""
        keys = opened.keys
        if scope is not None:
            inside = np.intersect1d(scope, keys, assume_unique=True)
            if len(self._dead):
                inside = np.setdiff1d(inside, self._dead, assume_unique=True)
            if not len(inside):
                return inside, None
            if len(inside) <= EXACT_SCOPE_ROWS:
                return self._exact_keys(opened, query, k, inside), None
            share = len(inside) / max(1, len(keys))
        else:
            share = 1 - len(self._dead) / max(1, len(keys))
        count = min(len(keys), math.ceil(k / max(share, 1e-6) * (_OVERSAMPLE if share < 1 else 1)))
        # Unfiltered, the sketch's full scan proposes: the graph walk misses half the
        # ten best of a query far from every chunk at 1M (docs/benchmarks.md).
        sketch = opened.sketch if scope is None else None
        while True:
            approx: np.ndarray | None = None
            if sketch is not None:
                found, approx = sketch.candidates(query, count)
            else:
                found = opened.index.search(query, count, threads=1).keys.astype(np.int64)
            keep = np.ones(len(found), dtype=bool)
            if len(self._dead):
                keep &= ~np.isin(found, self._dead)
            if scope is not None:
                keep &= np.isin(found, scope)
            if keep.sum() >= k:
                return found[keep][:k], None if approx is None else approx[keep][:k]
            if count >= len(keys) or (count >= EXACT_SCOPE_ROWS and scope is not None):
                # The graph keeps proposing what the filter rejects, or asked for every
                # key it did not reach them all (a graph search may return fewer than
                # asked): scan the allowed, so no search returns fewer than exist.
                allowed = keys if scope is None else np.intersect1d(scope, keys,
                                                                    assume_unique=True)
                return self._exact_keys(opened, query, k, np.setdiff1d(allowed, self._dead)), None
            count = min(len(keys), count * 4)

    @staticmethod
    def _exact_keys(opened: ann.OpenedAnn, query: np.ndarray, k: int,
                    keys: np.ndarray) -> np.ndarray:
        scores = np.empty(len(keys), dtype=np.float32)
        for start in range(0, len(keys), 8192):
            part = keys[start : start + 8192]
            vectors = np.vstack(opened.index.get(part.astype(np.uint64))).astype(np.float32)
            scores[start : start + len(part)] = vectors @ query
        best = np.argsort(-scores)[:k] if len(keys) <= k else np.argpartition(-scores, k - 1)[:k]
        chosen: np.ndarray = keys[best]
        return chosen

    def resolve(self, reads: IndexReads, found: Shortlist, enough: int | None = None
                ) -> list[ChunkHit]:
        """The shortlist confirmed by the database, scored, best first: an ANN key whose
        chunk is gone is dropped here, so no removed chunk is ever returned. Scores are
        the exact float32 ones, except past the sketch's best EXACT_RESCORE, which keep
        the sketch's (within ~0.01; they only place candidates far below the top).

        enough: the caller shows only the best `enough` contents. Those past the exact
        ones are then looked up only when they could still be among them (their places,
        300 random reads at 1M chunks, were a tenth of a meaning search)."""
        if not len(found.keys) or self._model_id is None:
            return found.hits
        exact_keys, rest = found.keys, found.keys[:0]
        if found.approx is not None and len(found.keys) > EXACT_RESCORE:
            exact_keys, rest = found.keys[:EXACT_RESCORE], found.keys[EXACT_RESCORE:]
        rows = reads.vectors_by_id(self._model_id, np.sort(exact_keys).tolist())
        hits: list[ChunkHit] = []
        if rows:
            matrix = np.frombuffer(b"".join(r[3] for r in rows), dtype="<f4")
            scores = matrix.reshape(len(rows), -1) @ found.query
            hits = [ChunkHit(r[0], r[1], r[2], float(s)) for r, s in zip(rows, scores, strict=True)
                    if s >= found.floor]
        if (len(rest) and found.approx is not None
                and not _settled([*hits, *found.hits], float(found.approx[EXACT_RESCORE]),
                                 enough)):
            approx = dict(zip(rest.tolist(), found.approx[EXACT_RESCORE:].tolist(), strict=True))
            hits += [ChunkHit(i, sha, page, approx[i])
                     for i, sha, page in reads.chunk_places(self._model_id, rest.tolist())
                     if approx[i] >= found.floor]
        merged = {h.chunk_id: h for h in [*hits, *found.hits]}
        return sorted(merged.values(), key=lambda h: -h.score)[: found.k]


def _settled(known: list[ChunkHit], best_rest: float, enough: int | None) -> bool:
    """Whether `enough` distinct contents among the known hits score above anything the
    rest could, given the sketch's error."""
    if enough is None:
        return False
    contents: set[str] = set()
    for hit in sorted(known, key=lambda h: -h.score):
        contents.add(hit.sha256)
        if len(contents) >= enough:
            return hit.score > best_rest + _SKETCH_ERROR
    return False
