"""Rescans: the same paper scanned twice (another scanner, a tilt, a crop, other
exposure, recompression) grouped, while two receipts from one shop or two filled copies
of one blank form stay apart. Nothing is ever removed here: the user decides.

Evidence that survives OCR noise, cheapest first:
- meaning: the documents' mean chunk vectors are neighbours (scikit-learn's
  NearestNeighbors proposes the candidate pairs, so the cost grows with the library,
  not with its square);
- the same number of pages;
- the text: Jaccard similarity of character 5-grams of the letters and digits only (an
  OCR slip changes a few 5-grams, a split or merged word none);
- the numbers: amounts, dates, totals and form entries are what differ between two
  receipts of one shop or two filled copies of a form, so their digit runs must agree too.
The thresholds were tuned on generated rescans and look-alikes (docs/intelligence.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from engine.models import DocumentInfo, DocumentState, DuplicateGroup
from engine.store.db import Store

# Mean chunk vectors closer than this (cosine) are compared at all (noisy 100-dpi
# rescans of one form measured as low as 0.50: the vectors only propose pairs).
CANDIDATE_COSINE = 0.45
# Shared character 5-grams (Jaccard) below which two texts are never the same paper.
TEXT_MIN = 0.30
# Text and numbers agreement together (Jaccard + Jaccard) for the same paper. Generated
# look-alikes measured up to 0.53, two real FUNSD forms of one template up to 0.73; most
# rescans from 0.76 (bench intelligence, docs/intelligence.md).
EVIDENCE_MIN = 0.75
# With fewer numbers than this on both sides the numbers cannot tell: the text alone
# must then clear EVIDENCE_MIN / 2 plus a margin.
_FEW_NUMBERS = 3
_TEXT_ALONE_MIN = 0.45
_NEIGHBOURS = 10
_DIGITS = re.compile(r"\d{2,}")
_NOT_ALNUM = re.compile(r"[\W_]+")


@dataclass
class ContentProfile:
    """What the comparison needs of one content."""

    sha256: str
    pages: int
    vector: np.ndarray | None
    grams: set[int] = field(default_factory=set)
    numbers: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class DuplicatePair:
    """Two contents judged the same paper, and how alike they are (0-1)."""

    first: str
    second: str
    similarity: float


def profile(sha256: str, pages: int, texts: list[str],
            vectors: list[np.ndarray]) -> ContentProfile:
    """The comparable form of one content's text and vectors."""
    joined = " ".join(texts).lower()
    letters = _NOT_ALNUM.sub("", joined)
    grams = {hash(letters[i : i + 5]) for i in range(max(0, len(letters) - 4))}
    numbers = set(_DIGITS.findall(joined))
    vector = None
    if vectors:
        mean = np.mean(vectors, axis=0)
        norm = float(np.linalg.norm(mean))
        vector = (mean / norm).astype(np.float32) if norm > 0 else None
    return ContentProfile(sha256, pages, vector, grams, numbers)


def profiles(store: Store, model_id: str) -> list[ContentProfile]:
    """Every indexed content's profile."""
    out: list[ContentProfile] = []
    current: str | None = None
    pages = 0
    texts: list[str] = []
    vectors: list[np.ndarray] = []
    for sha, page_count, text, blob in store.reads.content_chunks(model_id):
        if sha != current:
            if current is not None:
                out.append(profile(current, pages, texts, vectors))
            current, pages, texts, vectors = sha, page_count, [], []
        texts.append(text)
        if blob is not None:
            vectors.append(np.frombuffer(blob, dtype="<f4"))
    if current is not None:
        out.append(profile(current, pages, texts, vectors))
    return out


def _jaccard(a: set[object], b: set[object]) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def same_paper(a: ContentProfile, b: ContentProfile) -> float | None:
    """How alike two contents are (0-1) if they are the same paper, else None."""
    if a.pages != b.pages or not a.grams or not b.grams:
        return None
    text = _jaccard(a.grams, b.grams)  # type: ignore[arg-type]
    if text < TEXT_MIN:
        return None
    if len(a.numbers) >= _FEW_NUMBERS or len(b.numbers) >= _FEW_NUMBERS:
        numbers = _jaccard(a.numbers, b.numbers)  # type: ignore[arg-type]
        if text + numbers < EVIDENCE_MIN:
            return None
        return round((text + numbers) / 2, 3)
    return round(text, 3) if text >= _TEXT_ALONE_MIN else None


def candidate_pairs(found: list[ContentProfile]) -> set[tuple[int, int]]:
    """Index pairs whose vectors are neighbours (contents without vectors: by text
    only, each against the others, which only happens in libraries without a model)."""
    with_vectors = [i for i, p in enumerate(found) if p.vector is not None]
    pairs: set[tuple[int, int]] = set()
    if len(with_vectors) > 1:
        from sklearn.neighbors import NearestNeighbors

        matrix = np.vstack([found[i].vector for i in with_vectors])  # type: ignore[misc]
        k = min(_NEIGHBOURS + 1, len(with_vectors))
        distances, neighbours = NearestNeighbors(n_neighbors=k, metric="cosine").fit(
            matrix).kneighbors(matrix)
        for row, (dist, idx) in enumerate(zip(distances, neighbours, strict=True)):
            for d, j in zip(dist, idx, strict=True):
                if j != row and 1 - d >= CANDIDATE_COSINE:
                    a, b = with_vectors[row], with_vectors[int(j)]
                    pairs.add((min(a, b), max(a, b)))
    without = [i for i, p in enumerate(found) if p.vector is None]
    for position, i in enumerate(without):
        for j in without[position + 1 :]:
            pairs.add((i, j))
    return pairs


def duplicate_pairs(found: list[ContentProfile]) -> list[DuplicatePair]:
    """Every pair judged the same paper, most alike first."""
    judged = []
    for i, j in candidate_pairs(found):
        similarity = same_paper(found[i], found[j])
        if similarity is not None:
            judged.append(DuplicatePair(found[i].sha256, found[j].sha256, similarity))
    return sorted(judged, key=lambda p: (-p.similarity, p.first, p.second))


def groups(pairs: list[DuplicatePair]) -> list[tuple[list[str], float]]:
    """Pairs joined into groups (contents, lowest similarity inside), biggest first."""
    parent: dict[str, str] = {}

    def root(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for pair in pairs:
        parent[root(pair.first)] = root(pair.second)
    members: dict[str, list[str]] = {}
    for sha in list(parent):
        members.setdefault(root(sha), []).append(sha)
    weakest: dict[str, float] = {}
    for pair in pairs:
        top = root(pair.first)
        weakest[top] = min(weakest.get(top, 1.0), pair.similarity)
    out = [(sorted(shas), weakest[top]) for top, shas in members.items()]
    return sorted(out, key=lambda g: (-len(g[0]), -g[1], g[0]))


def duplicate_groups(store: Store, model_id: str) -> list[DuplicateGroup]:
    """The library's groups of documents holding the same paper: rescans judged as
    above, and byte-identical copies (one content under several names)."""
    by_sha: dict[str, list[DocumentInfo]] = {}
    for info in store.documents(state=DocumentState.INDEXED):
        if info.sha256:
            by_sha.setdefault(info.sha256, []).append(info)
    found = [p for p in profiles(store, model_id) if p.sha256 in by_sha]
    out, grouped = [], set()
    for shas, similarity in groups(duplicate_pairs(found)):
        grouped.update(shas)
        out.append(DuplicateGroup([d for sha in shas for d in by_sha[sha]], similarity))
    out += [DuplicateGroup(docs, 1.0) for sha, docs in by_sha.items()
            if len(docs) > 1 and sha not in grouped]
    return sorted(out, key=lambda g: (-len(g.documents), -g.similarity, g.documents[0].path))
