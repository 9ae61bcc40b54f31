"""A compact sketch of every vector in the ANN file, scanned in full for the queries a
graph serves badly.

An HNSW graph finds a query's neighbours by walking towards them. A query far from every
chunk (a few words that match nothing well) has ten best answers that are near-ties
scattered over the library, and the walk finds about half of them at a million chunks
(docs/benchmarks.md). For such queries meaning search also scans this sketch: each
vector centred, rotated onto its principal axes (PCA, so the first axes carry most of
the differences between chunks) and stored as int8 per axis. A scan of the first
HEAD_DIMS axes of all vectors (SIMD int8 dot products) picks a wide shortlist, all 384
axes of the sketch rank it, and the caller rescores the best exactly from SQLite, as it
does the graph's. Rotation keeps dot products, and centring shifts every score of one
query by the same amount, so rankings are unchanged.

The file is derived like the graph: written beside it by the writer, checked against
the description the graph's metadata holds, and never the truth (a key it proposes is
looked up in SQLite again).
"""

from __future__ import annotations

import json
import os
import struct
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

# The axes the full scan reads first; the rest only for its shortlist. 128 of 384 axes
# kept the exact top 10 within the best 2 % at 100k chunks (docs/benchmarks.md).
HEAD_DIMS = 128
# Rows of the head scan kept for the full sketch ranking.
SHORTLIST_SHARE = 0.01
SHORTLIST_MIN = 4_000
# Vectors the rotation is learned from (a strided sample of the library).
SAMPLE_ROWS = 50_000
_MAGIC = b"SCXSKT1\n"


def _quantile_scale(rotated: np.ndarray) -> np.ndarray:
    """Per-axis int8 step: the 99.99th percentile of |value| maps to 127 (the rare
    larger values are clipped; a max-abs step would waste resolution on them)."""
    top = np.quantile(np.abs(rotated), 0.9999, axis=0).astype(np.float32)
    scale: np.ndarray = np.maximum(top, 1e-6) / 127
    return scale


@dataclass
class Basis:
    """Where sketch coordinates come from: centre, rotation and int8 step per axis."""

    mean: np.ndarray  # (dim,) float32
    rotation: np.ndarray  # (dim, dim) float32, columns = axes, most variance first
    scale: np.ndarray  # (dim,) float32

    @classmethod
    def learn(cls, sample: np.ndarray) -> Basis:
        """PCA of a sample of the library's vectors."""
        if len(sample) < 2:  # nothing to learn from: the identity, coarse steps
            dim = sample.shape[1]
            return cls(np.zeros(dim, np.float32), np.eye(dim, dtype=np.float32),
                       np.full(dim, 1 / 127, np.float32))
        sample = sample.astype(np.float64)
        mean = sample.mean(axis=0)
        _, axes = np.linalg.eigh(np.cov((sample - mean).T))
        rotation = axes[:, ::-1].astype(np.float32)
        rotated = (sample - mean).astype(np.float32) @ rotation
        return cls(mean.astype(np.float32), rotation, _quantile_scale(rotated))

    def codes(self, vectors: np.ndarray) -> np.ndarray:
        """int8 sketches of float vectors (rows)."""
        rotated = (vectors.astype(np.float32) - self.mean) @ self.rotation
        codes: np.ndarray = np.clip(np.rint(rotated / self.scale), -127, 127).astype(np.int8)
        return codes


@dataclass
class Sketch:
    """The int8 sketches of the graph's vectors, rows in the order of `keys` (sorted)."""

    basis: Basis
    keys: np.ndarray  # int64, sorted
    head: np.ndarray  # (n, HEAD_DIMS) int8
    rest: np.ndarray  # (n, dim - HEAD_DIMS) int8
    made_for: dict[str, Any] | None = None  # the graph file's description it belongs to
    _packed: Any = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _head_packed(self) -> Any:
        """The head packed for numkong's int8 kernels, once (0.1 s at 1M rows). One
        thread scans it: split over two, it measured no faster inside a search."""
        with self._lock:
            if self._packed is None:
                import numkong

                self._packed = numkong.dots_pack(np.ascontiguousarray(self.head))
            return self._packed

    def _head_scores(self, head_query: np.ndarray) -> np.ndarray:
        """The int8 query's dot with every row's head."""
        try:
            import numkong
        except ImportError:  # numkong comes with usearch; without it, plain numpy
            scores: np.ndarray = self.head.astype(np.float32) @ head_query.astype(np.float32)
            return scores
        product = numkong.dots_packed(head_query[None, :], self._head_packed())
        return np.asarray(product).reshape(-1)

    def candidates(self, query: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
        """The `count` keys whose sketches score best for the query, with those scores
        (approximate cosines, best first)."""
        rows = len(self.keys)
        if not rows:
            return self.keys[:0], np.zeros(0, dtype=np.float32)
        weighted = ((query.astype(np.float32) @ self.basis.rotation) * self.basis.scale)
        width = self.head.shape[1]
        head = weighted[:width]
        step = max(float(np.abs(head).max()), 1e-12) / 127
        head_scores = self._head_scores(np.rint(head / step).astype(np.int8))
        wide = min(rows, max(SHORTLIST_MIN, int(rows * SHORTLIST_SHARE), count))
        if wide < rows:
            # The wide-th best from a strided sample: one pass instead of a partition
            # of every row (1M rows: 1-3 ms against 7-40 ms).
            sample = head_scores[:: max(1, rows // 20_000)]
            position = max(0, len(sample) - 1 - int(len(sample) * wide / rows))
            threshold = np.partition(sample, position)[position]
            shortlist = np.flatnonzero(head_scores >= threshold)
        else:
            shortlist = np.arange(rows)
        # The head's part is the scan's own (its query rounded to int8: an error far
        # below what separates a shortlist from the rest); the rest is read only here.
        scores = head_scores[shortlist].astype(np.float32) * np.float32(step)
        if self.rest.shape[1]:
            scores += self.rest[shortlist].astype(np.float32) @ weighted[width:]
        scores += float(query.astype(np.float32) @ self.basis.mean)
        best = np.argsort(-scores)[:count] if len(scores) <= count else \
            np.argpartition(-scores, count - 1)[:count]
        best = best[np.argsort(-scores[best])]
        return self.keys[shortlist[best]], scores[best]


def build(basis: Basis, keys: np.ndarray, codes: np.ndarray) -> Sketch:
    """A sketch from full-width codes (rows in the order of the sorted keys)."""
    return Sketch(basis, keys, np.ascontiguousarray(codes[:, :HEAD_DIMS]),
                  np.ascontiguousarray(codes[:, HEAD_DIMS:]))


def merged(old: Sketch, dead: np.ndarray, new_keys: np.ndarray, new_codes: np.ndarray) -> Sketch:
    """The old sketch without the dead keys, plus new rows (keys not in it yet)."""
    keep = ~np.isin(old.keys, dead) if len(dead) else np.ones(len(old.keys), dtype=bool)
    keys = np.concatenate([old.keys[keep], new_keys.astype(np.int64)])
    head = np.concatenate([old.head[keep], new_codes[:, :HEAD_DIMS]])
    rest = np.concatenate([old.rest[keep], new_codes[:, HEAD_DIMS:]])
    if np.all(keys[1:] > keys[:-1]):  # chunk ids only grow: new rows come last
        return Sketch(old.basis, keys, head, rest)
    order = np.argsort(keys, kind="stable")
    return Sketch(old.basis, keys[order], head[order], rest[order])


def save(sketch: Sketch, path: Path, made_for: dict[str, Any]) -> None:
    """One file: a header, the basis, the keys, then the head and rest blocks (each
    contiguous, so a reader maps them without copying)."""
    dim = len(sketch.basis.mean)
    header = json.dumps({"rows": len(sketch.keys), "dim": dim, "head": sketch.head.shape[1],
                         "made_for": made_for}).encode()
    with path.open("wb") as handle:
        handle.write(_MAGIC + struct.pack("<I", len(header)) + header)
        for part in (sketch.basis.mean, sketch.basis.rotation, sketch.basis.scale):
            handle.write(np.ascontiguousarray(part, dtype="<f4").tobytes())
        handle.write(np.ascontiguousarray(sketch.keys, dtype="<i8").tobytes())
        handle.write(np.ascontiguousarray(sketch.head).tobytes())
        handle.write(np.ascontiguousarray(sketch.rest).tobytes())
        handle.flush()
        os.fsync(handle.fileno())


def load(path: Path, dim: int) -> Sketch | None:
    """The sketch in a file, memory-mapped; None when it is unreadable or of another
    shape (the caller then searches the graph alone)."""
    try:
        with path.open("rb") as handle:
            if handle.read(len(_MAGIC)) != _MAGIC:
                return None
            (length,) = struct.unpack("<I", handle.read(4))
            header = json.loads(handle.read(length))
        rows, head_dims = int(header["rows"]), int(header["head"])
        if header["dim"] != dim or head_dims != min(HEAD_DIMS, dim):
            return None
        offset = len(_MAGIC) + 4 + length
        floats = np.fromfile(path, dtype="<f4", count=dim + dim * dim + dim, offset=offset)
        offset += floats.nbytes
        keys = np.fromfile(path, dtype="<i8", count=rows, offset=offset)
        offset += keys.nbytes
        expected = offset + rows * dim
        if path.stat().st_size != expected or len(keys) != rows or not rows:
            return None
        head = np.memmap(path, dtype=np.int8, mode="r", offset=offset, shape=(rows, head_dims))
        rest = np.memmap(path, dtype=np.int8, mode="r", offset=offset + rows * head_dims,
                         shape=(rows, dim - head_dims))
    except (OSError, ValueError, KeyError, struct.error):
        return None
    basis = Basis(floats[:dim], floats[dim : dim + dim * dim].reshape(dim, dim),
                  floats[dim + dim * dim :])
    return Sketch(basis, keys.astype(np.int64), head, rest, header.get("made_for"))
