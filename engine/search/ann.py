"""An approximate nearest-neighbour index (usearch HNSW) over one model's chunk vectors.

It is a derived cache beside index.sqlite and never the truth: its entries are keyed by
chunk id, every candidate it proposes is looked up in SQLite again (a removed chunk is
simply not found, and the score is recomputed from the stored float32 vector), and the
live chunks it does not hold yet (the "tail") are scanned exactly. So a stale, missing or
damaged file costs speed, never a result. The writer brings it up to date after indexing
(`AnnFile.update`); readers memory-map it (instant cold start, one copy in the page cache
for every process on the library). Beside it the writer keeps the int8 sketch of the same
vectors (engine/search/sketch.py), which proposes the candidates of unfiltered searches;
the graph serves filtered ones, and all of them while the sketch is missing.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import engine.search.sketch as sketches
from engine.store.db import Store

log = logging.getLogger(__name__)

# From this many vectors meaning search goes through the ANN index. At 100k chunks it
# measured semantic p50/p95 49/80 ms (exact: 36/46), hybrid 33/61 (exact: 44/65), 333 MB
# (exact: 539), recall@10 0.971: not a clear win, so exact search stays there (it loses
# nothing); at 1M exact takes 166/199 ms and 3.5 GB (docs/benchmarks.md).
ANN_FROM_CHUNKS = 200_000
# The writer merges the tail into the file once it holds this many rows (below, the
# readers' exact scan of the tail costs less than rewriting the file), or once this share
# of the file's entries belongs to removed chunks.
MERGE_TAIL_ROWS = 20_000
MERGE_DEAD_SHARE = 0.10
# HNSW settings (filtered searches, and any while the sketch is missing). Search asks the
# graph for 400 candidates and rescores them exactly; a
# wider search beam (ef) is cheap next to that (1M chunks: ef 96 -> 800 -> 3200 took
# 3.8 -> 5.6 -> 19.7 ms p50 and raised recall@10 on queries far from every chunk from
# 0.30 to 0.44 to 0.78; on queries near them it is 0.95-0.975 either way).
CONNECTIVITY = 16
EXPANSION_ADD = 64
EXPANSION_SEARCH = 1024
_FORMAT = 1
_PROBE_BYTES = 1 << 20


def usearch_index() -> Any:
    """usearch's Index class, loaded after onnxruntime when that is installed: the
    other order crashes the process (SIGSEGV in onnxruntime's import, usearch 2.26 with
    onnxruntime 1.32; tests/engine/search/test_ann.py checks it)."""
    import importlib.util

    if importlib.util.find_spec("onnxruntime") is not None:
        import onnxruntime  # noqa: F401

    from usearch.index import Index

    return Index


def ann_path(directory: Path, model_id: str) -> Path:
    """The index file of one model's vectors in a library folder."""
    digest = hashlib.sha1(model_id.encode()).hexdigest()[:12]
    return directory / f"vectors-{digest}.usearch"


def _fingerprint(path: Path) -> dict[str, Any]:
    """Size, mtime and a hash of the file's ends: enough to notice a file that was cut
    short, replaced or half-written (a full hash would cost seconds at 1M vectors)."""
    stat = path.stat()
    digest = hashlib.blake2b(digest_size=16)
    with path.open("rb") as handle:
        digest.update(handle.read(_PROBE_BYTES))
        handle.seek(max(0, stat.st_size - _PROBE_BYTES))
        digest.update(handle.read(_PROBE_BYTES))
    return {"bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns, "ends": digest.hexdigest()}


@dataclass
class OpenedAnn:
    """A memory-mapped index and its keys (sorted chunk ids)."""

    index: Any
    keys: np.ndarray
    stamp: tuple[int, int, int]  # (device, inode, mtime): a replaced file is noticed
    sketch: sketches.Sketch | None = None  # for queries far from every chunk
    # The store's count of changes other than additions (Store.generation()[1]) at which
    # the file held every live chunk up to its highest key: while the count is the same,
    # what the file lacks is exactly the chunks after that key (None: not known).
    changes: int | None = None


class AnnFile:
    """The file of one model's ANN index: open it for reading, or bring it up to date."""

    def __init__(self, directory: Path, model_id: str, dim: int) -> None:
        self.model_id = model_id
        self.dim = dim
        self.path = ann_path(directory, model_id)
        self.meta_path = self.path.with_suffix(".json")
        self.lock_path = self.path.with_suffix(".lock")
        self.sketch_path = self.path.with_suffix(".sketch")

    def stamp(self, path: Path | None = None) -> tuple[int, int, int] | None:
        """What identifies the current file, or the one at path (None: there is none)."""
        try:
            stat = (path or self.path).stat()
        except OSError:
            return None
        return stat.st_dev, stat.st_ino, stat.st_mtime_ns

    def open(self, *, view: bool = True) -> OpenedAnn | None:
        """The index as the last complete update left it, or None when it is missing,
        damaged, half-written or of another model (callers then scan exactly)."""
        stamp = self.stamp()
        if stamp is None:
            return None
        try:
            meta = json.loads(self.meta_path.read_text())
            if (meta.get("format") != _FORMAT or meta.get("model_id") != self.model_id
                    or meta.get("dim") != self.dim or meta.get("file") != _fingerprint(self.path)):
                log.info("ignoring %s: it does not match its description", self.path)
                return None
            index = usearch_index().restore(str(self.path), view=view)
            if index is None or index.ndim != self.dim or len(index) != meta.get("count"):
                return None
            index.expansion_search = EXPANSION_SEARCH  # type: ignore[misc]  # restore drops it
            if view and hasattr(os, "posix_fadvise"):
                # Read the mapped file ahead in the background: the first queries after a
                # start otherwise wait on page faults (semantic p50 60 ms instead of 26
                # at 100k chunks right after the file was opened cold).
                with self.path.open("rb") as handle:
                    os.posix_fadvise(handle.fileno(), 0, 0, os.POSIX_FADV_WILLNEED)
            keys = np.sort(np.asarray(index.keys, dtype=np.int64))
        except Exception as e:  # any failure here only means "no usable file"
            log.info("cannot use %s (%s); searching exactly", self.path, e)
            return None
        changes = meta.get("changes")
        return OpenedAnn(index, keys, stamp, self._open_sketch(meta["file"]),
                         changes if isinstance(changes, int) else None)

    def _open_sketch(self, described: dict[str, Any]) -> sketches.Sketch | None:
        """The sketch written for exactly this file (else None: the graph alone)."""
        found = sketches.load(self.sketch_path, self.dim)
        if found is None or found.made_for != described:
            return None
        return found

    @contextmanager
    def _locked(self, wait: bool) -> Iterator[bool]:
        """The update lock between processes; yields False if busy and not waiting."""
        with self.lock_path.open("a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def update(self, store: Store, *, wait: bool = True, force: bool = False) -> bool:
        """Bring the file in line with the store: build it when missing or damaged, add
        the tail and drop removed chunks once there are enough of them (force: any).
        Below ANN_FROM_CHUNKS the file is removed. Returns whether the file changed.

        Written to a temporary file and renamed, then described: a kill at any point
        leaves either the old file or one the readers reject, never a wrong answer.
        """
        changes = store.generation()[1]  # before the ids: a removal after them shows
        with self._locked(wait) as mine:
            if not mine:
                return False
            opened = self.open()  # mapped: most calls change nothing, and loading costs
            live = self._live_ids(store, opened, changes)
            if len(live) < ANN_FROM_CHUNKS:
                return self._remove()
            keys = opened.keys if opened is not None else np.zeros(0, dtype=np.int64)
            tail = np.setdiff1d(live, keys, assume_unique=True)
            dead = np.setdiff1d(keys, live, assume_unique=True)
            worth = len(tail) >= MERGE_TAIL_ROWS or len(dead) > MERGE_DEAD_SHARE * max(1, len(keys))
            if opened is not None and not (worth or (force and (len(tail) or len(dead)))):
                if (opened.changes != changes and not len(dead)
                        and (not len(tail) or not len(keys) or tail[0] > keys[-1])):
                    self._describe(len(opened.index), changes)  # readers skip reading ids
                if opened.sketch is None:  # a file from before sketches, or a kill
                    self._write_sketch(self._full_sketch(store, np.setdiff1d(keys, dead)))
                return opened.sketch is None
            if opened is not None:
                loaded = self.open(view=False)  # into memory, to be changed
                opened = loaded if loaded is not None and loaded.stamp == opened.stamp else None
            index = opened.index if opened is not None else self._new_index()
            if opened is None:
                tail, dead = live, np.zeros(0, dtype=np.int64)
            if len(dead):
                index.remove(dead.astype(np.uint64))
            old = opened.sketch if opened is not None else None
            basis = old.basis if old is not None else self._basis(store, live)
            new_keys, new_codes = [], []
            for ids, matrix in self._vectors(store, tail):
                index.add(ids.astype(np.uint64), matrix, threads=os.cpu_count() or 1)
                new_keys.append(ids)
                new_codes.append(basis.codes(matrix))
            self._write(index, changes)
            if old is not None:
                added = np.concatenate([np.zeros(0, dtype=np.int64), *new_keys])
                codes = np.concatenate([np.zeros((0, self.dim), dtype=np.int8), *new_codes])
                self._write_sketch(sketches.merged(old, dead, added, codes))
            elif opened is None:
                self._write_sketch(self._sketch_of(basis, new_keys, new_codes))
            else:
                self._write_sketch(self._full_sketch(store, np.setdiff1d(live, dead)))
            return True

    def _live_ids(self, store: Store, opened: OpenedAnn | None, changes: int) -> np.ndarray:
        """Every chunk id holding a vector of the model; while only additions happened
        since the file was described, its keys and the ids after them (reading every id
        costs 0.3 s at 1M chunks, 2.5 s from a cold disk, on each index run)."""
        if opened is not None and opened.changes == changes and len(opened.keys):
            after = store.reads.vector_ids(self.model_id, after=int(opened.keys[-1]))
            return np.concatenate([opened.keys, after])
        return store.reads.vector_ids(self.model_id)

    def _vectors(self, store: Store, ids: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """The live float32 vectors of some chunk ids, in blocks (ids, matrix)."""
        for start in range(0, len(ids), 20_000):
            rows = store.reads.vectors_by_id(self.model_id, ids[start : start + 20_000].tolist())
            if rows:
                found = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
                matrix = np.frombuffer(b"".join(r[3] for r in rows), dtype="<f4")
                yield found, matrix.reshape(len(rows), self.dim)

    def _basis(self, store: Store, live: np.ndarray) -> sketches.Basis:
        """The sketch axes, learned from a strided sample of the live vectors."""
        step = max(1, len(live) // sketches.SAMPLE_ROWS)
        sample = [matrix for _, matrix in self._vectors(store, live[::step])]
        return sketches.Basis.learn(np.concatenate(sample))

    def _sketch_of(self, basis: sketches.Basis, keys: list[np.ndarray],
                   codes: list[np.ndarray]) -> sketches.Sketch:
        all_keys = np.concatenate([np.zeros(0, dtype=np.int64), *keys])
        all_codes = np.concatenate([np.zeros((0, self.dim), dtype=np.int8), *codes])
        order = np.argsort(all_keys, kind="stable")
        return sketches.build(basis, all_keys[order], all_codes[order])

    def _full_sketch(self, store: Store, ids: np.ndarray) -> sketches.Sketch:
        basis = self._basis(store, ids)
        keys, codes = [], []
        for found, matrix in self._vectors(store, ids):
            keys.append(found)
            codes.append(basis.codes(matrix))
        return self._sketch_of(basis, keys, codes)

    def _write_sketch(self, sketch: sketches.Sketch) -> None:
        """Written aside and renamed; it names the graph file it was made for, so a
        sketch left from an older file is never used with a newer one."""
        meta = json.loads(self.meta_path.read_text())
        partial = self.sketch_path.with_suffix(".sketch.partial")
        sketches.save(sketch, partial, made_for=meta["file"])
        partial.replace(self.sketch_path)

    def _new_index(self) -> Any:
        Index = usearch_index()  # noqa: N806
        # f16 halves the file and the memory (the caller rescores exactly from SQLite).
        return Index(ndim=self.dim, metric="ip", dtype="f16", connectivity=CONNECTIVITY,
                     expansion_add=EXPANSION_ADD, expansion_search=EXPANSION_SEARCH)

    def _write(self, index: Any, changes: int) -> None:
        partial = self.path.with_suffix(".usearch.partial")
        self.meta_path.unlink(missing_ok=True)  # from here on readers reject the file
        index.save(str(partial))
        with partial.open("rb") as handle:
            os.fsync(handle.fileno())
        partial.replace(self.path)
        self._describe(len(index), changes)

    def _describe(self, count: int, changes: int) -> None:
        """The description readers check the file against, written aside and renamed."""
        meta = {"format": _FORMAT, "model_id": self.model_id, "dim": self.dim,
                "count": count, "file": _fingerprint(self.path), "changes": changes}
        described = self.meta_path.with_suffix(".json.partial")
        described.write_text(json.dumps(meta))
        described.replace(self.meta_path)

    def _remove(self) -> bool:
        existed = self.path.exists()
        for path in (self.meta_path, self.path, self.sketch_path):
            path.unlink(missing_ok=True)
        return existed
