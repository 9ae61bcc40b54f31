"""The vector side: every vector of one model as one matrix, scanned exactly."""

from __future__ import annotations

import functools
import sys
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from engine.search.hits import MIN_SIMILARITY, ChunkHit
from engine.store.db import Store

__all__ = ["MIN_SIMILARITY", "ChunkHit", "VectorCache"]


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


@functools.lru_cache(maxsize=1)
def _numkong_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("numkong") is not None


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
        self._half_np: np.ndarray | None = None

    def _scores(self, query: np.ndarray) -> tuple[np.ndarray, bool]:
        """matrix @ query, and whether it is approximate.

        Big matrices are scanned as float16 (half the memory traffic, and the product is
        bound by memory): by torch when the process has it loaded, else by numkong's SIMD
        kernels (installed with usearch): 7 ms instead of 12 for 100k x 384 on one core
        here. The caller then scores its best candidates again exactly. BLAS stays
        single-threaded: OpenBLAS's own threads spin after a call and starve the query
        embedding.
        """
        matrix = self.matrix
        if len(matrix) >= _SPLIT_FROM_ROWS:
            half = self._float16()
            if half is not None:
                import torch

                with torch.inference_mode():
                    approx = half @ torch.from_numpy(query).to(torch.float16)
                return approx.float().numpy(), True
            half_np = self._float16_numpy()
            if half_np is not None:
                import numkong

                product = numkong.cdist(query.astype(np.float16)[None, :], half_np,
                                        metric="dot", threads=1)
                return np.asarray(product, dtype=np.float32).ravel(), True
        with _single_threaded_blas():
            scores: np.ndarray = matrix @ query
        return scores, False

    def _float16(self) -> Any:
        """The matrix as a float16 torch tensor, made once per refresh (None: torch is
        not loaded in this process; importing it would cost seconds, more than the scan
        saves in a one-shot search: the default embedder runs without it)."""
        if self._half is None:
            torch = sys.modules.get("torch")
            if torch is None:
                return None
            self._half = torch.from_numpy(self.matrix).to(torch.float16)
        return self._half

    def _float16_numpy(self) -> np.ndarray | None:
        """The matrix as float16 for numkong, made once per refresh (None: numkong is not
        installed, and the float32 product is used)."""
        if self._half_np is None and _numkong_available():
            self._half_np = self.matrix.astype(np.float16)
        return self._half_np

    def refresh(self, store: Store, model_id: str, dim: int) -> None:
        """Load new rows only, or everything after deletions or a model change."""
        with self._lock:
            generation = store.generation()
            if generation == self.generation and model_id == self.model_id:
                return
            full = model_id != self.model_id or generation[1] != self.generation[1]
            after = -1 if full or not len(self.ids) else int(self.ids[-1])
            self.load(store.reads.vectors_after(model_id, after), dim, append=not full)
            self.model_id, self.generation = model_id, generation

    def load(self, rows: Sequence[tuple[int, str, int, bytes]], dim: int, *,
             append: bool = False) -> None:
        """Hold these (id, sha256, page, float32 blob) rows, ascending by id (append:
        after the rows held, whose ids are all lower)."""
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        pages = np.fromiter((r[2] for r in rows), dtype=np.int32, count=len(rows))
        matrix = (
            np.frombuffer(b"".join(r[3] for r in rows), dtype="<f4").reshape(len(rows), dim)
            if rows
            else np.zeros((0, dim), dtype=np.float32)
        ).astype(np.float32)
        shas = [str(r[1]) for r in rows]
        if not append:
            self.ids, self.pages, self.shas, self.matrix = ids, pages, shas, matrix
        elif rows:
            self.ids = np.concatenate([self.ids, ids])
            self.pages = np.concatenate([self.pages, pages])
            self.shas = self.shas + shas
            self.matrix = np.vstack([self.matrix, matrix]) if len(self.matrix) else matrix
        self._half = None
        self._half_np = None

    def clear(self) -> None:
        """Hold nothing (frees the matrix)."""
        with self._lock:
            self.load([], 0)
            self.model_id, self.generation = None, (-1, -1)

    def top(self, query: np.ndarray, k: int, allowed: set[str] | None,
            floor: float = MIN_SIMILARITY) -> list[ChunkHit]:
        """The k chunks closest to query (cosine: vectors are normalised), none below
        floor."""
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
                if np.isfinite(score) and score >= floor
            ]
