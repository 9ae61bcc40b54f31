"""Tag suggestions learnt from the user's own tags.

Each document is its mean chunk vector (MiniLM already places forms, receipts, letters
and papers far apart, so a few examples per tag are enough). With two or more tags a
one-vs-rest logistic regression (scikit-learn) learns each tag against the other tagged
documents; its probabilities are the scores. With a single tag there are no negatives,
so the score is the cosine to that tag's examples' centroid. The model is refitted only
when the tags or the index changed (fitting a few hundred documents takes milliseconds).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.store.db import Store

# Regularisation, tuned on the bench's two sets (docs/intelligence.md): at C = 4 tags
# that cut across kinds (tax on a letter, a form and a receipt) scored 0.79 top-1, since a
# weak fit leans on what the examples' kinds share; C = 100 scores 0.92 there and keeps
# the kinds at 0.97 (C = 50: 0.875; 1000: 0.92).
_C = 100.0


@dataclass(frozen=True)
class Suggestion:
    """A tag proposed for a document and how sure the model is (0-1)."""

    tag: str
    score: float


def content_vector(store: Store, sha256: str, model_id: str) -> np.ndarray | None:
    """The normalised mean of one content's chunk vectors (None: it has none)."""
    blobs = store.reads.content_vectors(sha256, model_id)
    if not blobs:
        return None
    mean = np.frombuffer(b"".join(blobs), dtype="<f4").reshape(len(blobs), -1).mean(0)
    norm = float(np.linalg.norm(mean))
    return (mean / norm).astype(np.float32) if norm > 0 else None


class TagModel:
    """Fitted on the tagged documents; refitted when its key changes."""

    def __init__(self) -> None:
        self._key: object = None
        self._tags: list[str] = []
        self._classifier: Any = None
        self._centroid: np.ndarray | None = None

    def fit(self, store: Store, model_id: str, key: object) -> None:
        """Learn from every tagged, indexed content (no-op when key is unchanged)."""
        if key == self._key:
            return
        tagged = store.tags.tagged()
        rows, labels = [], []
        for sha, tags in tagged.items():
            vector = content_vector(store, sha, model_id)
            if vector is not None:
                rows.append(vector)
                labels.append({t.casefold(): t for t in tags})
        names: dict[str, str] = {}
        for label in labels:
            names.update(label)
        self._tags = sorted(names.values(), key=str.casefold)
        self._classifier, self._centroid = None, None
        if len(self._tags) == 1 and rows:
            centroid = np.mean(rows, axis=0)
            self._centroid = centroid / max(float(np.linalg.norm(centroid)), 1e-9)
        elif len(self._tags) > 1:
            from sklearn.linear_model import LogisticRegression
            from sklearn.multiclass import OneVsRestClassifier

            keys = [t.casefold() for t in self._tags]
            target = np.array([[k in label for k in keys] for label in labels], dtype=int)
            # A tag on every tagged document has no negatives: it is always suggested.
            self._classifier = OneVsRestClassifier(
                LogisticRegression(C=_C, class_weight="balanced", max_iter=1000))
            with warnings.catch_warnings():
                # "Label present in all training examples": expected while few are tagged.
                warnings.simplefilter("ignore", UserWarning)
                self._classifier.fit(np.vstack(rows), target)
        self._key = key

    def suggest_for(self, store: Store, model_id: str, sha256: str,
                    limit: int) -> list[Suggestion]:
        """Tags for one content, refitting first if tags or index changed since."""
        vector = content_vector(store, sha256, model_id)
        if vector is None:
            return []
        tagged = store.tags.tagged()
        self.fit(store, model_id, (store.generation(), model_id,
                                   tuple(sorted((s, tuple(t)) for s, t in tagged.items()))))
        return self.suggest(vector, {t.casefold() for t in tagged.get(sha256, [])}, limit)

    def suggest(self, vector: np.ndarray, exclude: set[str], limit: int) -> list[Suggestion]:
        """Tags for one document vector, best first, without those it has."""
        if self._centroid is not None:
            scores = [max(0.0, float(vector @ self._centroid))]
        elif self._classifier is not None:
            scores = [float(s) for s in self._classifier.predict_proba(vector[None, :])[0]]
        else:
            return []
        found = [Suggestion(tag, round(score, 4)) for tag, score in
                 zip(self._tags, scores, strict=True) if tag.casefold() not in exclude]
        return sorted(found, key=lambda s: (-s.score, s.tag.casefold()))[:limit]
