"""Scandex engine: scans in, hybrid search out. The public API lives here.

Everything a face (CLI, desktop, server, a user's script) may use is re-exported here;
`Library` is the one front door. Modules inside the engine never import this package.

The names load on first use (PEP 562): `scandex search` and `scandex --help` import
`engine.cli` through this package, and a one-shot keyword search must not pay for the
OCR, sync and S3 modules it never touches.
"""

import importlib as _importlib
import typing as _typing

if _typing.TYPE_CHECKING:
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
        WorkersWontStart,
    )
    from engine.layout import default_library_dir
    from engine.library import Library
    from engine.models import (
        Box,
        DocumentDetail,
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

_HOMES: dict[str, str] = {
    "Box": "engine.models",
    "CancelToken": "engine.progress",
    "ClusterLost": "engine.errors",
    "ClusterUnreachable": "engine.errors",
    "CorruptFile": "engine.errors",
    "DocumentDetail": "engine.models",
    "DocumentInfo": "engine.models",
    "DocumentState": "engine.models",
    "DuplicateGroup": "engine.models",
    "Embedder": "engine.protocols",
    "EmptyDocument": "engine.errors",
    "EncryptedPdf": "engine.errors",
    "ExitCode": "engine.errors",
    "FailedFile": "engine.models",
    "FileKind": "engine.models",
    "FileVanished": "engine.errors",
    "ImageTooLarge": "engine.errors",
    "IndexDamaged": "engine.errors",
    "IndexProgress": "engine.progress",
    "IndexReport": "engine.models",
    "Interrupted": "engine.errors",
    "Library": "engine.library",
    "LibraryBusy": "engine.errors",
    "LibraryError": "engine.errors",
    "LibraryStatus": "engine.models",
    "LowConfidencePage": "engine.models",
    "MapPoint": "engine.search.library_map",
    "MissingDependency": "engine.errors",
    "MissingLanguage": "engine.errors",
    "ModelUnavailable": "engine.errors",
    "NullProgress": "engine.progress",
    "OcrEngine": "engine.protocols",
    "OcrFailed": "engine.errors",
    "OcrOptions": "engine.protocols",
    "OcrResult": "engine.protocols",
    "OriginalUnavailable": "engine.errors",
    "PageText": "engine.models",
    "ProgressSink": "engine.progress",
    "QueryTooSlow": "engine.errors",
    "ReadOnlyLibrary": "engine.errors",
    "RemoteConfig": "engine.backends.s3",
    "SCAN_EXTENSIONS": "engine.content",
    "ScanError": "engine.errors",
    "ScandexError": "engine.errors",
    "SearchFilters": "engine.models",
    "SearchHit": "engine.models",
    "SearchMode": "engine.models",
    "Suggestion": "engine.search.suggest",
    "SyncAuthError": "engine.errors",
    "SyncError": "engine.errors",
    "SyncReport": "engine.sync.transfer",
    "SyncStatus": "engine.sync.transfer",
    "TaskExecutor": "engine.protocols",
    "TesseractMissing": "engine.errors",
    "UnsafeRemote": "engine.errors",
    "UnsupportedFile": "engine.errors",
    "UsageError": "engine.errors",
    "WorkersWontStart": "engine.errors",
    "Word": "engine.models",
    "__version__": "engine.version",
    "available_languages": "engine.backends.tesseract",
    "default_library_dir": "engine.layout",
    "make_embedder": "engine.backends.factory",
    "make_ocr": "engine.backends.factory",
    "matching_word_indexes": "engine.search.highlight",
    "tesseract_version": "engine.backends.tesseract",
}


def __getattr__(name: str) -> _typing.Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'engine' has no attribute {name!r}")
    value = getattr(_importlib.import_module(home), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOMES))


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
    "WorkersWontStart",
    "Word",
    "__version__",
    "available_languages",
    "default_library_dir",
    "make_embedder",
    "make_ocr",
    "matching_word_indexes",
    "tesseract_version",
]
