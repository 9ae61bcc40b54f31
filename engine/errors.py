"""The one error hierarchy of Scandex.

Every error carries the exit code the CLI uses for it and a message that tells
the user what to do next. Foreign exceptions are converted where they enter the
engine (``raise CorruptFile(...) from e``); only the CLI/GUI edges catch all.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Exit codes of the ``scandex`` command, documented in ``--help`` and the README."""

    OK = 0
    SOME_FILES_FAILED = 1
    USAGE = 2
    MISSING_DEPENDENCY = 3
    REMOTE = 4
    INTERRUPTED = 130

    @property
    def meaning(self) -> str:
        """What the code tells a script (the source of `--help`; the README's table
        says the same at length, and a test holds them to the same codes)."""
        return _MEANINGS[self]


_MEANINGS = {
    ExitCode.OK: "everything indexed (or the command succeeded)",
    ExitCode.SOME_FILES_FAILED: "finished, but some files failed (each is listed with its reason)",
    ExitCode.USAGE: "usage error (bad option, unknown document, unusable library)",
    ExitCode.MISSING_DEPENDENCY: "a missing dependency (Tesseract, a language pack, the model)",
    ExitCode.REMOTE: "the S3 bucket or the Dask scheduler failed (unreachable, credentials "
                     "refused, unsafe content, scheduler lost mid-run: rerun to resume)",
    ExitCode.INTERRUPTED: "interrupted (Ctrl-C); finished documents are kept",
}


class ScandexError(Exception):
    """Base of every error Scandex raises on purpose."""

    exit_code: ExitCode = ExitCode.USAGE

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(ScandexError):
    """The user asked for something that cannot work (bad option, bad path...)."""

    exit_code = ExitCode.USAGE


class LibraryError(ScandexError):
    """The library folder or its index cannot be used."""

    exit_code = ExitCode.USAGE


class QueryTooSlow(UsageError):
    """A search ran past its time limit and was stopped."""


class LibraryBusy(LibraryError):
    """Another process is indexing into the library (it holds the writer lock)."""


class ReadOnlyLibrary(LibraryError):
    """The library's folder or disk cannot be written: it can be searched, not changed."""


class IndexDamaged(LibraryError):
    """index.sqlite is corrupt (found by an integrity check or by a failing read)."""


class OriginalUnavailable(LibraryError):
    """A document's original is gone, or its bytes are no longer the ones indexed."""

    def __init__(self, message: str, *, gone: bool) -> None:
        super().__init__(message)
        self.gone = gone


class MissingDependency(ScandexError):
    """Something outside Python that Scandex needs is not installed."""

    exit_code = ExitCode.MISSING_DEPENDENCY


class TesseractMissing(MissingDependency):
    """The tesseract binary cannot be found."""

    def __init__(self) -> None:
        super().__init__(
            "Tesseract OCR is not installed or not on PATH. Install it with "
            "'apt-get install tesseract-ocr tesseract-ocr-eng' (Debian/Ubuntu), "
            "'brew install tesseract' (macOS) or the UB Mannheim installer (Windows)."
        )


class MissingLanguage(MissingDependency):
    """An OCR language was asked for whose Tesseract data is not installed."""

    def __init__(self, language: str, installed: list[str]) -> None:
        self.language = language
        self.package = f"tesseract-ocr-{language.lower().replace('_', '-')}"
        self.installed = installed
        super().__init__(
            f"Tesseract has no data for the language '{language}'. Install it with "
            f"'apt-get install {self.package}' (installed: {', '.join(installed) or 'none'})."
        )


class ModelUnavailable(MissingDependency):
    """The embedding model cannot be loaded."""


class SyncError(ScandexError):
    """The bucket could not be reached, read or written, or held something unsafe."""

    exit_code = ExitCode.REMOTE


class SyncAuthError(SyncError):
    """The bucket refused our credentials."""


class UnsafeRemote(SyncError):
    """The bucket holds a key or manifest entry that could escape the library."""


class ClusterLost(ScandexError):
    """The Dask scheduler went away during a run; finished documents are kept."""

    exit_code = ExitCode.REMOTE

    def __init__(self, address: str) -> None:
        super().__init__(
            f"lost the Dask scheduler at {address}; documents finished so far are kept. "
            "Start the scheduler again and run the same command: it resumes where it stopped."
        )


class WorkersWontStart(UsageError):
    """The local OCR processes die before they are ready, every time."""

    def __init__(self) -> None:
        super().__init__(
            "the OCR worker processes stop as they start, before reading any page. A Python "
            "script that calls Library.add must do so under 'if __name__ == \"__main__\":' "
            "(each worker imports the script); otherwise their own error is printed above. "
            "Nothing was recorded as failed: fix it and run the same command again.")


class ClusterUnreachable(ScandexError):
    """The Dask scheduler cannot be reached at the start of a run."""

    exit_code = ExitCode.REMOTE

    def __init__(self, address: str, reason: str) -> None:
        super().__init__(
            f"cannot reach the Dask scheduler at {address} ({reason}); start it (or check "
            "the address and the network) and run the same command again")


class Interrupted(ScandexError):
    """The user cancelled; finished documents are kept."""

    exit_code = ExitCode.INTERRUPTED

    def __init__(self, message: str = "Interrupted; finished documents are kept.") -> None:
        super().__init__(message)


class ScanError(ScandexError):
    """One file could not be indexed. Recorded on its document; the batch goes on."""

    exit_code = ExitCode.SOME_FILES_FAILED


class UnsupportedFile(ScanError):
    """The content is not an image or PDF Scandex can read."""


class CorruptFile(ScanError):
    """The file claims a known format but cannot be decoded (truncated, damaged)."""


class EncryptedPdf(ScanError):
    """The PDF needs a password."""


class EmptyDocument(ScanError):
    """The file holds no pages."""


class ImageTooLarge(ScanError):
    """The image has more pixels than the configured limit (or is a decompression bomb)."""


class OcrFailed(ScanError):
    """Tesseract failed or ran over its time limit on a page."""


class FileVanished(ScanError):
    """The file disappeared or became unreadable while being indexed."""
