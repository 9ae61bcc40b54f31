"""Plain data passed between the pipeline's stages and returned by the public API."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class FileKind(StrEnum):
    """File types Scandex reads, sniffed from content."""

    PNG = "png"
    JPEG = "jpeg"
    TIFF = "tiff"
    BMP = "bmp"
    GIF = "gif"
    WEBP = "webp"
    # Phone photos (an iPhone's default), AVIF, archives' JPEG 2000, and the netpbm
    # files a scanner writes on Linux (scanimage's default output).
    HEIF = "heif"
    AVIF = "avif"
    JPEG2000 = "jp2"
    PNM = "pnm"
    PDF = "pdf"

    @classmethod
    def named(cls, name: str) -> FileKind | None:
        """The kind a user means by a type or an extension ("PNG", "jpg", "heic", ".tif",
        "pgm"), or None."""
        key = name.strip().lower().lstrip(".")
        key = _ALIASES.get(key, key)
        return cls(key) if key in cls._value2member_map_ else None

    @property
    def is_image(self) -> bool:
        """True for every kind but PDF."""
        return self is not FileKind.PDF

    @property
    def label(self) -> str:
        """The name people know the type by ("PDF", "WebP")."""
        return _LABELS.get(self.value, self.value.upper())


_ALIASES = {"jpg": "jpeg", "jpe": "jpeg", "tif": "tiff", "heic": "heif", "hif": "heif",
            "jpeg2000": "jp2", "j2k": "jp2", "j2c": "jp2", "jpf": "jp2", "jpx": "jp2",
            "pbm": "pnm", "pgm": "pnm", "ppm": "pnm"}
_LABELS = {"webp": "WebP", "heif": "HEIC/HEIF", "jp2": "JPEG 2000", "pnm": "PNM/PGM/PBM"}


def readable_types() -> str:
    """The types Scandex reads, for messages: "PNG, JPEG, ... or PDF"."""
    labels = [kind.label for kind in FileKind]
    return f"{', '.join(labels[:-1])} or {labels[-1]}"


class SearchMode(StrEnum):
    """How a query is answered: by words, by meaning, or both fused (the default)."""

    HYBRID = "hybrid"
    KEYWORD = "keyword"
    SEMANTIC = "semantic"

    @classmethod
    def parse(cls, text: str | SearchMode) -> SearchMode | None:
        """The mode a user means ('words', 'meaning' and 'exact' too), or None."""
        aliases = {"words": "keyword", "meaning": "semantic", "exact": "keyword"}
        value = str(text).strip().lower()
        try:
            return cls(aliases.get(value, value))
        except ValueError:
            return None


@dataclass(frozen=True)
class SearchFilters:
    """Narrow results by file type, folder, the file's modification date and tags."""

    kinds: tuple[str, ...] = ()
    path_prefix: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    tags: tuple[str, ...] = ()  # every one of them (case-insensitive)

    @property
    def active(self) -> bool:
        """True when any filter narrows the results."""
        return bool(self.kinds or self.path_prefix or self.since or self.until or self.tags)


class DocumentState(StrEnum):
    """Where a document stands in the index."""

    INDEXED = "indexed"
    FAILED = "failed"


@dataclass(frozen=True)
class Box:
    """A rectangle in page pixels (origin top-left)."""

    x: int
    y: int
    w: int
    h: int

    def as_list(self) -> list[int]:
        """The box as [x, y, w, h] for JSON."""
        return [self.x, self.y, self.w, self.h]


@dataclass(frozen=True)
class Word:
    """One recognised word, its box on the page and Tesseract's confidence (0-100)."""

    text: str
    box: Box
    conf: float = 100.0


@dataclass
class PageText:
    """The words of one page and the size of the image their boxes refer to."""

    page_no: int  # 1-based
    width: int
    height: int
    words: list[Word]
    source: str  # "ocr" or "text-layer"
    rotation: int = 0  # degrees the page was turned to read it upright

    @property
    def text(self) -> str:
        """The page's words joined by spaces."""
        return " ".join(w.text for w in self.words)

    @property
    def confidence(self) -> float | None:
        """OCR's mean confidence, weighted by word length (None: not OCR'd, or no words)."""
        letters = sum(len(w.text) for w in self.words)
        if self.source != "ocr" or not letters:
            return None
        return sum(w.conf * len(w.text) for w in self.words) / letters


@dataclass(frozen=True)
class LowConfidencePage:
    """A page OCR read with low confidence: worth a look (or a better scan)."""

    path: str
    page: int
    confidence: float


@dataclass(frozen=True)
class Chunk:
    """A run of words on one page, embedded and searched as a unit."""

    page_no: int
    ordinal: int
    word_start: int  # index of the first word on the page
    word_end: int  # one past the last word
    text: str


@dataclass(frozen=True)
class DocumentInfo:
    """A document as the library knows it."""

    id: int
    path: str
    kind: str
    sha256: str | None
    size: int
    mtime_ns: int
    state: str  # a DocumentState value
    error: str | None
    pages: int
    indexed_at: str


@dataclass(frozen=True)
class DocumentDetail:
    """A document with its pages (for `show` and previews)."""

    info: DocumentInfo
    pages: list[PageText]


@dataclass(frozen=True)
class SearchHit:
    """One document that matches a query, with its best page."""

    id: int
    path: str
    kind: str
    page: int
    score: float
    snippet: str  # HTML-escaped text; matched terms wrapped in <mark></mark>
    boxes: list[list[int]] = field(default_factory=list)  # [x, y, w, h] on that page
    page_width: int = 0
    page_height: int = 0
    matched_by: tuple[str, ...] = ()
    # Found by meaning alone, just over the relevance floor: shown as "related", below
    # the real matches' confidence.
    related: bool = False
    tags: tuple[str, ...] = ()
    # The date the paper carries (ISO yyyy-mm-dd), when one was found on it.
    document_date: str | None = None


@dataclass(frozen=True)
class DuplicateGroup:
    """Documents that hold the same paper: copies of one file, or rescans of it."""

    documents: list[DocumentInfo]
    similarity: float  # the least alike pair inside, 0-1 (1: byte-identical copies)


@dataclass(frozen=True)
class FailedFile:
    """A file that could not be indexed and why."""

    path: str
    error: str


@dataclass
class IndexReport:
    """The outcome of one `Library.add` run."""

    indexed: int = 0
    reused: int = 0
    skipped_unchanged: int = 0
    # Of those unchanged, how many had failed before (left failed: retry_failed retries them).
    skipped_failed_before: int = 0
    # Files in a folder that are not scans (notes, spreadsheets...): left alone, counted.
    skipped_not_scans: int = 0
    removed: int = 0
    pages: int = 0
    failed: list[FailedFile] = field(default_factory=list)
    cancelled: bool = False
    seconds: float = 0.0


@dataclass(frozen=True)
class LibraryStatus:
    """Counts and failures of a library."""

    path: str
    documents: int
    indexed: int
    failed: int
    pages: int
    chunks: int
    model_id: str | None
    schema_version: int
    failures: list[FailedFile]
    review: list[LowConfidencePage] = field(default_factory=list)
