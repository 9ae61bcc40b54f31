"""Hybrid fusion: one score per document from the words ranker and the meaning ranker.

A convex combination of normalised scores (Bruch et al. 2023, "An Analysis of Fusion
Functions for Hybrid Retrieval": it beats reciprocal-rank fusion, which throws away how
strong each side's evidence is). The weight of the words side depends on the query: a
name, number or code as printed leans on words; a question or a sentence leans on
meaning. A document whose page holds every query word gets a bonus on top.

Normalisation is "theoretical min-max": bm25 and cosine both have a floor of 0, the top
of each list is its observed maximum.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_QUESTION_WORDS = frozenset(
    "what which who whom whose when where why how is are was were do does did can could "
    "should would will has have had".split())
_FUNCTION_WORDS = frozenset(
    "a an and are as at be but by for from has have in into is it its of on or that the "
    "their this to was were with".split())
_CODE_LIKE = re.compile(r"\d|[A-Z]{2,}|[.&/()#@:-]\w|\w[.&/()#@-]")


@dataclass(frozen=True)
class FusionWeights:
    """How much the words side counts, by kind of query (tuned in bench: see
    docs/quality.md, 'Fusion')."""

    names: float = 0.75  # "MR D.I.Y. (JOHOR) SDN BHD", "INV-2024-0173", "Riverside Dental"
    default: float = 0.5
    questions: float = 0.2  # "how much is the monthly rent?", claims written as sentences
    all_terms_bonus: float = 0.15
    # A page that spells the query as one phrase, give or take OCR errors (a shop's
    # name with a letter misread), over the best candidates of a name-like query.
    phrase_bonus: float = 0.2
    phrase_candidates: int = 20


def keyword_weight(query: str, weights: FusionWeights) -> float:
    """The words side's weight for this query."""
    tokens = query.split()
    if not tokens:
        return weights.default
    lowered = [t.strip("?,.!;:\"'").lower() for t in tokens]
    function_share = sum(t in _FUNCTION_WORDS for t in lowered) / len(tokens)
    if query.rstrip().endswith("?") or lowered[0] in _QUESTION_WORDS:
        return weights.questions
    if '"' in query:
        return weights.names
    if len(tokens) >= 5 and function_share >= 0.15:
        # A sentence (a claim, a description): meaning reads it better than its words,
        # even when it names a gene or a product.
        return weights.questions
    capitalised = sum(t[:1].isupper() for t in tokens) / len(tokens)
    if any(_CODE_LIKE.search(t) for t in tokens) or capitalised >= 0.6:
        return weights.names
    return weights.default


def fuse(keyword: dict[int, float], semantic: dict[int, float], *, weight: float,
         all_terms: set[int], bonus: float) -> dict[int, float]:
    """Documents -> fused score (higher is better).

    keyword: document -> bm25 relevance (positive, higher is better);
    semantic: document -> cosine similarity.
    """
    top_k = max(keyword.values(), default=0.0)
    top_s = max(semantic.values(), default=0.0)
    fused: dict[int, float] = {}
    for doc in keyword.keys() | semantic.keys():
        k = keyword.get(doc, 0.0) / top_k if top_k > 0 else 0.0
        s = max(0.0, semantic.get(doc, 0.0)) / top_s if top_s > 0 else 0.0
        fused[doc] = weight * k + (1 - weight) * s + (bonus if doc in all_terms else 0.0)
    return fused


_NOT_ALNUM = re.compile(r"[^0-9a-z]+")


def phrase_text(text: str) -> str:
    """Text as the phrase match compares it: lower case, punctuation as spaces."""
    return _NOT_ALNUM.sub(" ", text.lower()).strip()


def phrase_similarity(query: str, passage: str) -> float:
    """0..1: how well the best-aligned stretch of the passage spells the query, character
    by character (an OCR'd "SYARIKAt 4UT0 PARS (M) SDN. BHD." still spells "SYARIKAT
    AUTO PARTS (M) SDN. BHD." closely; "SYARIKAT ENTERPRISE (M) SDN. BHD." does not)."""
    from rapidfuzz import fuzz

    wanted, text = phrase_text(query), phrase_text(passage)
    if len(wanted) < 4 or not text:
        return 0.0
    return float(fuzz.partial_ratio(wanted, text)) / 100.0


def phrase_bonus(similarity: float, bonus: float) -> float:
    """The bonus for a similarity: nothing up to 0.75 (another shop that shares most of
    the name's words spells it about 0.8 alike), all of it for an exact spelling."""
    return bonus * min(1.0, max(0.0, (similarity - 0.75) / 0.25))
