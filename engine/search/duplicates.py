"""Rescans: the same paper scanned twice (another scanner, a tilt, a crop, other
exposure, recompression) grouped, while two receipts from one shop or two filled copies
of one blank form stay apart. Nothing is ever removed here: the user decides.

Evidence that survives OCR noise, cheapest first:
- meaning: the documents' mean chunk vectors are neighbours (they only propose the
  candidate pairs, so the cost grows with the library, not with its square);
- the same number of pages;
- the text: Jaccard similarity of character 5-grams of the letters and digits only (an
  OCR slip changes a few 5-grams, a split or merged word none);
- the numbers: amounts, dates, totals and form entries are what differ between two
  receipts of one shop or two filled copies of a form, so their digit runs must agree too;
- the pages themselves, only where the text cannot tell because a read was poor (a
  degraded rescan can share just 10-40 % of its 5-grams with the original): the first
  pages, read again from their files, must look the same in every inked tile once
  aligned, and where both reads were sure of a word they must say the same word
  (engine/search/page_likeness.py).
The thresholds were tuned on generated rescans and look-alikes (docs/intelligence.md).

Pairs are found as contents arrive (pair_contents, after each index run and pull): each
new content is compared with the ones compared before it, and its mean vector is kept
to propose the next ones' candidates; asking for the groups then only reads the pairs.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.models import DocumentInfo, DocumentState, DuplicateGroup
from engine.search.page_content import content_difference
from engine.search.page_likeness import (
    RECENT_PRINTS,
    InkPrint,
    PageLikeness,
    ink_print,
    page_likeness,
    rough_likeness,
    sure_words,
    word_agreement,
)
from engine.search.word_pictures import word_pictures
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
# A new content's candidates are its 2 x _NEIGHBOURS nearest. A poorly read rescan's
# mean vector can sit far from its original's (cosine 0.46 measured) while many forms
# of one kind crowd nearer (0.53-0.60): the held-out bench's one non-fax miss was its
# original's 32nd nearest. 40 cost +1 s of CPU per 200 new contents on a 10k library.
_NEIGHBOURS = 20
# Where one read was poor (lowest page confidence below POOR_READ: missed rescans
# measured 31-85, clean typed pages 88-96), a pair sharing at least IMAGE_TEXT_MIN of its
# text (missed rescans 0.12-0.41; unrelated pages below 0.05) is judged by its pages.
POOR_READ = 86.0
IMAGE_TEXT_MIN = 0.10
# Before aligning two pages properly, a coarse look: rescans measured >= 0.87, and three
# in four poorly read candidates (other forms of similar layout) fall below this.
ROUGH_MIN = 0.80
# Aligned pages: the 10th-percentile and the worst inked tile's correlation. Missed
# rescans measured >= 0.70 and >= 0.64; two real FUNSD forms of one template filled by
# different hands <= 0.68 and <= 0.44.
TYPICAL_TILE_MIN = 0.70
WORST_TILE_MIN = 0.60
# Typed pages of one layout look alike as images at any resolution their reads allow,
# so the words OCR was sure of must agree where both reads have one: at least
# SURE_AGREE_MIN places, at most SURE_DISAGREE_MAX of them saying another word. Missed
# rescans measured 0-12 % (8-84 places); two filled copies of one typed form 14-100 %.
SURE_AGREE_MIN = 8
SURE_DISAGREE_MAX = 0.125
# A pair the text accepts is turned down when over this share of at least SURE_AGREE_MIN
# sure places disagree: every pair the text accepted in both bench libraries measured
# at most 0.17 (188 rescans, photos among them), the typed look-alikes 0.38-0.40.
CONTRADICTION = 0.2
# Two copies of one printed form whose fills are few words among many printed ones pass
# every check above. What the pages still show: sure words of one copy where the other,
# aligned, has blank paper (a blank form against its filled copy: 8-11 words; rescans and
# photos of one paper at most 3, over 226 pairs in both bench libraries), or two sure
# long words in one place, neither anywhere on the other page (two names in one field;
# no rescan pair had one). Either turns a pair down.
FILLED_WHERE_BLANK = 8
NAME_CLASHES = 1
# A read so poor (a fax, a copy of a copy) that both reads are sure of a word in fewer
# than SURE_AGREE_MIN places cannot be checked word by word; its pages are then compared
# word by word as pictures (page_likeness.word_pictures): every word the other read is
# sure of must look alike on it, and every word box it found, however misread, must look
# alike on the other page. Measured on fax copies of real forms against their originals
# (docs/intelligence.md): the sure words' 10th-percentile correlation 0.81-0.90 and the
# boxes' 0.54-0.80; another filling of one typed form, both at any resolution down to a
# third, 0.30-0.64 and 0.25-0.46; a blank form against a fax of its filled copy, the
# boxes' 0.06. Such pairs share as little as 2 % of their 5-grams (unrelated forms
# against a fax: at most 6 %, which the pages then turn down).
PICTURE_TEXT_MIN = 0.02
# ... where one read is this poor (the fax copies that needed it read at 24-58 %
# confidence; reads at 60-86 % share 10 % of their 5-grams with their originals). Such a
# read's mean vector strays too (a fax against its original: cosine 0.25-0.45, ranked
# 1st-2nd among the library's for most), so its candidates are its nearest from
# UNREADABLE_COSINE up.
UNREADABLE = 60.0
UNREADABLE_COSINE = 0.30
# ... and where even that misses (a fax whose original was its 114th nearest, cosine
# 0.28), by its text: of its _WIDE_NEIGHBOURS nearest by meaning, whatever their cosine,
# the _TEXT_NEIGHBOURS sharing most 5-grams (that original shared the most, 3.3 %).
_WIDE_NEIGHBOURS = 200
_TEXT_NEIGHBOURS = 5
PICTURE_SURE_WORDS = 20
SURE_PICTURES_MIN = 0.55
BOX_PICTURES_MIN = 0.45
BOX_PICTURES_COUNT = 5
_DIGITS = re.compile(r"\d{2,}")
_NOT_ALNUM = re.compile(r"[\W_]+")


@dataclass
class ContentProfile:
    """What the comparison needs of one content."""

    sha256: str
    pages: int
    vector: np.ndarray | None
    grams: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.uint64))
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
    numbers = set(_DIGITS.findall(joined))
    vector = None
    if vectors:
        mean = np.mean(vectors, axis=0)
        norm = float(np.linalg.norm(mean))
        vector = (mean / norm).astype(np.float32) if norm > 0 else None
    return ContentProfile(sha256, pages, vector, _five_grams(letters), numbers)


def _five_grams(letters: str) -> np.ndarray:
    """The text's character 5-grams, each hashed to 64 bits, sorted and unique (numpy:
    a set of Python strings cost 2 ms a document, which made pairing a 10k library
    take minutes)."""
    codes = np.frombuffer(letters.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    if codes.size < 5:
        return np.zeros(0, dtype=np.uint64)
    key = np.zeros(codes.size - 4, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for offset in range(5):  # a polynomial hash; uint64 arithmetic wraps
            key = key * np.uint64(1_000_003) + codes[offset : codes.size - 4 + offset]
    return np.unique(key)


def profiles(store: Store, model_id: str,
             sha256s: list[str] | None = None) -> list[ContentProfile]:
    """Every indexed content's profile (or those of sha256s that have chunks)."""
    out: list[ContentProfile] = []
    current: str | None = None
    pages = 0
    texts: list[str] = []
    vectors: list[np.ndarray] = []
    for sha, page_count, text, blob in store.reads.content_chunks(model_id, sha256s):
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


def _jaccard(a: set[str], b: set[str]) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def _gram_jaccard(a: np.ndarray, b: np.ndarray) -> float:
    shared = np.intersect1d(a, b, assume_unique=True).size
    return shared / (a.size + b.size - shared)


def same_paper(a: ContentProfile, b: ContentProfile) -> float | None:
    """How alike two contents are (0-1) if they are the same paper, else None."""
    if a.pages != b.pages or not a.grams.size or not b.grams.size:
        return None
    text = _gram_jaccard(a.grams, b.grams)
    if text < TEXT_MIN:
        return None
    if len(a.numbers) >= _FEW_NUMBERS or len(b.numbers) >= _FEW_NUMBERS:
        numbers = _jaccard(a.numbers, b.numbers)
        if text + numbers < EVIDENCE_MIN:
            return None
        return round((text + numbers) / 2, 3)
    return round(text, 3) if text >= _TEXT_ALONE_MIN else None


class PageJudge:
    """The image evidence for poorly read pairs the text turned down: each content's
    first page is read once per pairing run (read_page: sha256 -> PIL image, or None when
    its file is not on this machine, in which case the text's verdict stands) and its
    print kept among the process's recent ones (page_likeness.RECENT_PRINTS)."""

    def __init__(self, store: Store, read_page: Callable[[str], Any | None]) -> None:
        self.store = store
        self.read_page = read_page
        self.prints: dict[str, InkPrint | None] = {}

    def _print(self, sha256: str) -> InkPrint | None:
        if sha256 not in self.prints:
            known = RECENT_PRINTS.get(sha256)
            if known is None:
                image = self.read_page(sha256)
                known = ink_print(image) if image is not None else None
                if known is not None:
                    RECENT_PRINTS.put(sha256, known)
            self.prints[sha256] = known
        return self.prints[sha256]

    def _sure_words(self, sha256: str, ink: InkPrint, min_conf: float = 85.0,
                    ) -> list[tuple[str, float, float, float, float]]:
        page = self.store.page(sha256, 1)
        if page is None or not page.words:
            return []
        return sure_words(page.words, ink.image_side / max(page.width, page.height, 1),
                          min_conf)

    def _pictures_agree(self, a: str, first: InkPrint, b: str, second: InkPrint,
                        likeness: PageLikeness) -> bool:
        """Whether every word of either page looks alike on the other (PICTURE_*): a
        page whose read is sure of PICTURE_SURE_WORDS words is looked at by those, a
        poorer one by every word box its read found."""
        first_image, second_image = self.read_page(a), self.read_page(b)
        if first_image is None or second_image is None:
            return False
        looked_at = []
        for sha, ink in ((a, first), (b, second)):
            sure = self._sure_words(sha, ink)
            looked_at.append((sure, SURE_PICTURES_MIN) if len(sure) >= PICTURE_SURE_WORDS
                             else (self._sure_words(sha, ink, min_conf=0.0), BOX_PICTURES_MIN))
        if all(bar == BOX_PICTURES_MIN for _, bar in looked_at):
            return False  # neither read is sure of enough to go by
        scores = word_pictures(first_image, first, looked_at[0][0], second_image, second,
                               looked_at[1][0], likeness,
                               (looked_at[0][1] == SURE_PICTURES_MIN,
                                looked_at[1][1] == SURE_PICTURES_MIN))
        return all(len(found) >= BOX_PICTURES_COUNT and
                   float(np.percentile(found, 10)) >= bar
                   for found, (_, bar) in zip(scores, looked_at, strict=True))

    def _page_words(self, sha256: str) -> set[str]:
        page = self.store.page(sha256, 1)
        return {w for w in (_NOT_ALNUM.sub("", x.text.lower()) for x in page.words) if w} \
            if page is not None else set()

    def _differ(self, a: str, first: InkPrint, b: str, second: InkPrint,
                likeness: PageLikeness) -> bool:
        """Whether the aligned pages say different things (see FILLED_WHERE_BLANK)."""
        if likeness.typical_tile < TYPICAL_TILE_MIN:
            # Aligning one page onto the other can fail where the other way round works
            # (a photo: 0.28 against 0.86): what lies on blank paper is only seen on
            # pages that lie on each other, so the better way is looked at.
            reverse = page_likeness(second, first,
                                    near_scale=rough_likeness(second, first).scale)
            if reverse.typical_tile > likeness.typical_tile:
                a, first, b, second, likeness = b, second, a, first, reverse
        a_words, b_words = self._sure_words(a, first), self._sure_words(b, second)
        difference = content_difference(first, a_words, self._page_words(a), second,
                                        b_words, self._page_words(b), likeness)
        return max(difference.on_blank) >= FILLED_WHERE_BLANK \
            or difference.clashes >= NAME_CLASHES

    def words_contradict(self, a: str, b: str) -> bool:
        """Whether two contents the text took for one paper say other things, surely, in
        the same places: two copies of one printed form filled in share their printed
        text (and, with few numbers, nothing else tells them apart), a rescan does not
        read other words where both reads are sure, nor words where the other page is
        blank. False when either page cannot be read (its file gone or changed): the
        text's verdict stands."""
        first, second = self._print(a), self._print(b)
        if first is None or second is None:
            return False
        rough = rough_likeness(first, second)
        likeness = page_likeness(first, second, near_scale=rough.scale)
        agree, disagree = word_agreement(first, self._sure_words(a, first), second,
                                         self._sure_words(b, second), likeness)
        if agree + disagree >= SURE_AGREE_MIN and disagree > CONTRADICTION * (agree + disagree):
            return True
        return self._differ(a, first, b, second, likeness)

    def same_paper(self, a: ContentProfile, b: ContentProfile) -> float | None:
        """The pages' likeness if they are the same paper by their look, else None."""
        if a.pages != b.pages or not a.grams.size or not b.grams.size:
            return None
        text = _gram_jaccard(a.grams, b.grams)
        weakest = min(self.store.pairs.weakest_reads([a.sha256, b.sha256]).values(),
                      default=100.0)
        if weakest >= POOR_READ or text < (PICTURE_TEXT_MIN if weakest < UNREADABLE
                                           else IMAGE_TEXT_MIN):
            return None
        first, second = self._print(a.sha256), self._print(b.sha256)
        if first is None or second is None:
            return None
        rough = rough_likeness(first, second)
        if rough.score < ROUGH_MIN:
            return None  # not the same page at all: most candidates end here, cheaply
        likeness = page_likeness(first, second, near_scale=rough.scale)
        if likeness.typical_tile < TYPICAL_TILE_MIN or likeness.worst_tile < WORST_TILE_MIN:
            return None
        agree, disagree = word_agreement(first, self._sure_words(a.sha256, first), second,
                                         self._sure_words(b.sha256, second), likeness)
        if agree + disagree >= SURE_AGREE_MIN:  # the sure words can tell
            if agree < SURE_AGREE_MIN or disagree > SURE_DISAGREE_MAX * (agree + disagree):
                return None
            # Below the usual text floor, a few sure words are not enough alone.
            if text < IMAGE_TEXT_MIN and not self._pictures_agree(a.sha256, first, b.sha256,
                                                                   second, likeness):
                return None
        elif not self._pictures_agree(a.sha256, first, b.sha256, second, likeness):
            return None
        if self._differ(a.sha256, first, b.sha256, second, likeness):
            return None
        return likeness.typical_tile


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


def _neighbours(vector: np.ndarray, shas: list[str], matrix: np.ndarray,
                unreadable: set[str], mine_unreadable: bool) -> list[str]:
    """The contents whose mean vectors are nearest vector (cosine >= CANDIDATE_COSINE,
    or UNREADABLE_COSINE where either read is that poor). Twice as many as a
    whole-library pass takes: a new content must find the old ones that would have
    counted it among their own nearest."""
    if not shas:
        return []
    similarity = matrix @ vector
    wanted = min(2 * _NEIGHBOURS, len(shas))
    nearest = np.argpartition(-similarity, wanted - 1)[:wanted]
    return [shas[i] for i in nearest if similarity[i] >= CANDIDATE_COSINE or (
        similarity[i] >= UNREADABLE_COSINE and (mine_unreadable or shas[i] in unreadable))]


def _nearest(vector: np.ndarray, shas: list[str], matrix: np.ndarray, count: int) -> list[str]:
    """The count contents whose mean vectors are nearest vector, whatever their cosine."""
    if not shas:
        return []
    count = min(count, len(shas))
    return [shas[i] for i in np.argpartition(-(matrix @ vector), count - 1)[:count]]


def _by_text(mine: ContentProfile, pool: list[ContentProfile]) -> list[str]:
    """Of pool, the _TEXT_NEIGHBOURS sharing most of mine's 5-grams (at least
    PICTURE_TEXT_MIN of them)."""
    shared = [(_gram_jaccard(mine.grams, other.grams), other.sha256) for other in pool
              if other.sha256 != mine.sha256 and other.grams.size and mine.grams.size]
    best = sorted((x for x in shared if x[0] >= PICTURE_TEXT_MIN), reverse=True)
    return [sha for _, sha in best[:_TEXT_NEIGHBOURS]]


def pair_contents(store: Store, model_id: str, *, batch: int = 200, record: bool = True,
                  read_page: Callable[[str], Any | None] | None = None,
                  limit: int | None = None,
                  stop: Callable[[], bool] = lambda: False) -> list[DuplicatePair]:
    """Compare the contents not compared yet (the first limit of them, in their stable
    order) with every content compared before them (and with each other); returns the
    pairs judged the same paper. With record, each batch and its pairs are one
    transaction: a kill (or stop() turning true, Ctrl-C) loses at most the batch, the next
    call goes on; without, nothing is written (a read-only library is paired in memory).
    With read_page (sha256 -> first page image or None), poorly read pairs the text
    turned down are judged by their pages too."""
    judge = PageJudge(store, read_page) if read_page is not None else None
    if record:
        with store.transaction():
            store.pairs.forget_gone()
    todo = store.pairs.missing(model_id)[:limit]
    if not todo:
        return []
    known, matrix, vectorless = store.pairs.checked(model_id)
    unreadable = store.pairs.poor_reads(UNREADABLE) if judge is not None else set()
    found: list[DuplicatePair] = []
    for start in range(0, len(todo), batch):
        shas = todo[start : start + batch]
        new = {p.sha256: p for p in profiles(store, model_id, shas)}
        fresh = [new[sha] for sha in shas if sha in new and new[sha].vector is not None]
        if fresh:
            stacked = np.vstack([p.vector for p in fresh])  # type: ignore[misc]
            matrix = np.vstack([matrix, stacked]) if len(known) else stacked
            known = known + [p.sha256 for p in fresh]
        asked: dict[str, set[str]] = {}
        for sha in shas:
            mine = new.get(sha)
            if mine is None:
                continue  # no text at all: nothing to compare
            others = _neighbours(mine.vector, known, matrix, unreadable, sha in unreadable) \
                if mine.vector is not None \
                else vectorless + [s for s in shas if s in new and new[s].vector is None]
            asked[sha] = {o for o in others if o != sha}
        # An unreadable read's candidates by its text, among a wider ring by meaning.
        wide: dict[str, list[str]] = {}
        for sha in asked:
            mine = new[sha]
            if judge is not None and mine.vector is not None:
                ring = _nearest(mine.vector, known, matrix, _WIDE_NEIGHBOURS)
                wide[sha] = ring if sha in unreadable else [o for o in ring if o in unreadable]
        wanted = sorted({o for ring in [*asked.values(), *wide.values()] for o in ring} - set(new))
        by_sha = {**{p.sha256: p for p in profiles(store, model_id, wanted)}, **new}
        for sha, ring in wide.items():
            asked[sha] |= set(_by_text(new[sha], [by_sha[o] for o in ring if o in by_sha]))
        judged: dict[tuple[str, str], float] = {}
        for sha, near in asked.items():
            if stop():
                return found
            for other in near:
                if other in by_sha and (min(sha, other), max(sha, other)) not in judged:
                    similarity = same_paper(by_sha[sha], by_sha[other])
                    if judge is not None:
                        if similarity is None:
                            similarity = judge.same_paper(by_sha[sha], by_sha[other])
                        elif judge.words_contradict(sha, other):
                            similarity = None  # one printed form, filled twice
                    if similarity is not None:
                        judged[(min(sha, other), max(sha, other))] = similarity
        vectorless += [sha for sha in shas if sha in new and new[sha].vector is None]
        pairs = [DuplicatePair(a, b, s) for (a, b), s in judged.items()]
        found += pairs
        if record:
            rows = [(sha, new[sha].vector.tobytes() if sha in new and  # type: ignore[union-attr]
                     new[sha].vector is not None else None) for sha in shas]
            with store.transaction():
                store.pairs.record(model_id, rows, [(p.first, p.second, p.similarity)
                                                    for p in pairs])
    return found


def duplicate_groups(store: Store, model_id: str) -> list[DuplicateGroup]:
    """The library's groups of documents holding the same paper: rescans judged as
    above (recorded as contents arrived; any not compared yet are compared now, in
    memory), and byte-identical copies (one content under several names)."""
    by_sha: dict[str, list[DocumentInfo]] = {}
    for info in store.documents(state=DocumentState.INDEXED):
        if info.sha256:
            by_sha.setdefault(info.sha256, []).append(info)
    recorded = [DuplicatePair(a, b, s) for a, b, s in store.pairs.pairs()]
    judged = recorded + pair_contents(store, model_id, record=False)
    live = [p for p in judged if p.first in by_sha and p.second in by_sha]
    out, grouped = [], set()
    for shas, similarity in groups(live):
        grouped.update(shas)
        out.append(DuplicateGroup([d for sha in shas for d in by_sha[sha]], similarity))
    out += [DuplicateGroup(docs, 1.0) for sha, docs in by_sha.items()
            if len(docs) > 1 and sha not in grouped]
    return sorted(out, key=lambda g: (-len(g.documents), -g.similarity, g.documents[0].path))
