"""Scandex engine: scans in, hybrid search out. The public API lives here.

Everything a face (CLI, desktop, server, a user's script) may use is re-exported here;
`Library` is the one front door. Modules inside the engine never import this package.
"""

from engine.backends.factory import make_embedder, make_ocr
from engine.backends.s3 import RemoteConfig
from engine.backends.tesseract import available_languages, tesseract_version
from engine.content import SCAN_EXTENSIONS
from engine.errors import (
    ClusterLost,
    ClusterUnreachable,
    CorruptFile,
    EmptyDocument,
    EncryptedPdf,
    ExitCode,
    FileVanished,
    ImageTooLarge,
    IndexDamaged,
    Interrupted,
    LibraryBusy,
    LibraryError,
    MissingDependency,
    MissingLanguage,
    ModelUnavailable,
    OcrFailed,
    OriginalUnavailable,
    QueryTooSlow,
    ReadOnlyLibrary,
    ScandexError,
    ScanError,
    SyncAuthError,
    SyncError,
    TesseractMissing,
    UnsafeRemote,
    UnsupportedFile,
    UsageError,
)
from engine.layout import default_library_dir
from engine.library import DocumentDetail, Library
from engine.models import (
    Box,
    DocumentInfo,
    DocumentState,
    DuplicateGroup,
    FailedFile,
    FileKind,
    IndexReport,
    LibraryStatus,
    LowConfidencePage,
    PageText,
    SearchFilters,
    SearchHit,
    SearchMode,
    Word,
)
from engine.progress import CancelToken, IndexProgress, NullProgress, ProgressSink
from engine.protocols import Embedder, OcrEngine, OcrOptions, OcrResult, TaskExecutor
from engine.search.highlight import matching_word_indexes
from engine.search.library_map import MapPoint
from engine.search.suggest import Suggestion
from engine.sync.transfer import SyncReport, SyncStatus
from engine.version import __version__

__all__ = [
    "Box",
    "CancelToken",
    "ClusterLost",
    "ClusterUnreachable",
    "CorruptFile",
    "DocumentDetail",
    "DocumentInfo",
    "DocumentState",
    "DuplicateGroup",
    "Embedder",
    "EmptyDocument",
    "EncryptedPdf",
    "ExitCode",
    "FailedFile",
    "FileKind",
    "FileVanished",
    "ImageTooLarge",
    "IndexDamaged",
    "IndexProgress",
    "IndexReport",
    "Interrupted",
    "Library",
    "LibraryBusy",
    "LibraryError",
    "LibraryStatus",
    "LowConfidencePage",
    "MapPoint",
    "MissingDependency",
    "MissingLanguage",
    "ModelUnavailable",
    "NullProgress",
    "OcrEngine",
    "OcrFailed",
    "OcrOptions",
    "OcrResult",
    "OriginalUnavailable",
    "PageText",
    "ProgressSink",
    "QueryTooSlow",
    "ReadOnlyLibrary",
    "RemoteConfig",
    "SCAN_EXTENSIONS",
    "ScanError",
    "SearchFilters",
    "ScandexError",
    "SearchHit",
    "SearchMode",
    "Suggestion",
    "SyncAuthError",
    "SyncError",
    "SyncReport",
    "SyncStatus",
    "TaskExecutor",
    "TesseractMissing",
    "UnsafeRemote",
    "UnsupportedFile",
    "UsageError",
    "Word",
    "__version__",
    "available_languages",
    "default_library_dir",
    "make_embedder",
    "make_ocr",
    "matching_word_indexes",
    "tesseract_version",
]
