"""Scandex engine: scans in, hybrid search out. The public API lives here."""

from engine.errors import (
    CorruptFile,
    EmptyDocument,
    EncryptedPdf,
    ExitCode,
    ImageTooLarge,
    Interrupted,
    LibraryError,
    MissingDependency,
    MissingLanguage,
    ModelUnavailable,
    OcrFailed,
    ScandexError,
    ScanError,
    TesseractMissing,
    UnsupportedFile,
    UsageError,
)
from engine.library import DocumentDetail, Library
from engine.models import (
    DocumentInfo,
    FailedFile,
    FileKind,
    IndexReport,
    LibraryStatus,
    PageText,
    SearchHit,
    Word,
)
from engine.progress import CancelToken, IndexProgress, NullProgress, ProgressSink

__version__ = "0.1.0"

__all__ = [
    "CancelToken",
    "CorruptFile",
    "DocumentDetail",
    "DocumentInfo",
    "EmptyDocument",
    "EncryptedPdf",
    "ExitCode",
    "FailedFile",
    "FileKind",
    "ImageTooLarge",
    "IndexProgress",
    "IndexReport",
    "Interrupted",
    "Library",
    "LibraryError",
    "LibraryStatus",
    "MissingDependency",
    "MissingLanguage",
    "ModelUnavailable",
    "NullProgress",
    "OcrFailed",
    "PageText",
    "ProgressSink",
    "ScanError",
    "ScandexError",
    "SearchHit",
    "TesseractMissing",
    "UnsupportedFile",
    "UsageError",
    "Word",
    "__version__",
]
