"""A map of the library: every document placed in 2-D so that documents alike in
meaning sit together (scikit-learn: PCA to 50 dimensions, then t-SNE; above
TSNE_UP_TO documents PCA alone: t-SNE measured 21 s for 2,000 documents here, PCA
0.08 s for 10,000; drawing 10,000 points takes 0.33 s)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.models import DocumentState
from engine.store.db import Store

TSNE_UP_TO = 1500


@dataclass(frozen=True)
class MapPoint:
    """One document on the map (x, y in 0-1)."""

    id: int
    path: str
    x: float
    y: float
    tags: tuple[str, ...]
    opening: str  # its first words


def _layout(vectors: np.ndarray) -> np.ndarray:
    n = len(vectors)
    if n < 3:
        return np.array([[0.5, 0.5], [0.0, 0.0], [1.0, 1.0]][: n], dtype=float)
    from sklearn.decomposition import PCA

    reduced = PCA(n_components=min(50, n - 1, vectors.shape[1]),
                  random_state=0).fit_transform(vectors)
    if 5 <= n <= TSNE_UP_TO:
        from sklearn.manifold import TSNE

        placed = TSNE(n_components=2, perplexity=min(30.0, (n - 1) / 3), init="pca",
                      max_iter=500, random_state=0).fit_transform(reduced)
    else:
        placed = reduced[:, :2] if reduced.shape[1] >= 2 else np.hstack(
            [reduced, np.zeros((n, 1))])
    low, high = placed.min(0), placed.max(0)
    return np.asarray((placed - low) / np.where(high > low, high - low, 1.0), dtype=float)


def library_map(store: Store, model_id: str) -> list[MapPoint]:
    """Every indexed document with vectors, placed; copies of one content share a spot."""
    docs = [d for d in store.documents(state=DocumentState.INDEXED) if d.sha256]
    shas = sorted({d.sha256 for d in docs if d.sha256})
    vectors, kept = [], []
    for sha in shas:
        blobs = store.reads.content_vectors(sha, model_id)
        if blobs:
            mean = np.frombuffer(b"".join(blobs), dtype="<f4").reshape(len(blobs), -1).mean(0)
            vectors.append(mean / max(float(np.linalg.norm(mean)), 1e-9))
            kept.append(sha)
    if not kept:
        return []
    places = dict(zip(kept, _layout(np.vstack(vectors)), strict=True))
    tags = store.tags.of_many(kept)
    openings = store.reads.opening_texts()
    return [MapPoint(d.id, d.path, float(places[d.sha256][0]), float(places[d.sha256][1]),
                     tuple(tags.get(d.sha256, [])),
                     " ".join(openings.get(d.sha256, "").split()[:12]))
            for d in docs if d.sha256 in places]
