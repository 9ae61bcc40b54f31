"""The window's state without Qt: what is searched, which hit and page are shown, and the
progress and summary texts. MainWindow only lays out widgets and wires signals to this;
tests drive it directly."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from engine import SCAN_EXTENSIONS, FileKind, IndexProgress, IndexReport, SearchHit, SearchMode

RESULT_LIMIT = 50
# The choices the window offers, as (label, value).
MODES = [("Hybrid", SearchMode.HYBRID.value), ("Words", SearchMode.KEYWORD.value),
         ("Meaning", SearchMode.SEMANTIC.value)]
TYPES = [("Any type", ""), *((kind.label, kind.value) for kind in FileKind)]
# The file dialog's filter: the extensions the engine takes for scans.
# Both cases: a native dialog may match patterns case-sensitively, and cameras and
# phones write IMG_0412.JPG and IMG_0412.HEIC.
SCAN_FILTER = "Scans ({});;All files (*)".format(" ".join(
    f"*{e} *{e.upper()}" for e in sorted(SCAN_EXTENSIONS)))
DATES = [("Any time", 0), ("Past week", 7), ("Past month", 31), ("Past year", 366)]


@dataclass(frozen=True)
class SearchRequest:
    """One search as the user asked for it; `number` tells late answers from current ones."""

    number: int
    query: str
    mode: SearchMode
    kinds: tuple[str, ...] = ()
    folder: str | None = None
    since: datetime | None = None
    tags: tuple[str, ...] = ()

    def options(self) -> dict[str, Any]:
        """Keyword arguments for Library.search."""
        return {"mode": self.mode, "limit": RESULT_LIMIT, "kinds": list(self.kinds),
                "path_prefix": self.folder, "since": self.since, "tags": list(self.tags)}


@dataclass
class WindowViewModel:
    """What the main window shows, as plain data."""

    request_number: int = 0
    hits: list[SearchHit] = field(default_factory=list)
    current_hit: SearchHit | None = None
    current_page: int = 0
    last_progress: IndexProgress | None = None
    status_text: str = ""
    last_request: SearchRequest | None = None

    def new_search(self, query: str, mode: str | SearchMode, *, kind: str = "",
                   folder: str = "", days: int = 0, tag: str = "",
                   now: datetime | None = None) -> SearchRequest | None:
        """Start a search; None when there is nothing to search (the results clear)."""
        self.request_number += 1
        query = query.strip()
        if not query:
            self.hits = []
            return None
        since = (now or datetime.now()) - timedelta(days=days) if days else None
        self.last_request = SearchRequest(self.request_number, query, SearchMode(mode),
                                          (kind,) if kind else (), folder.strip() or None,
                                          since, (tag.strip(),) if tag.strip() else ())
        return self.last_request

    def accept_results(self, number: int, hits: list[SearchHit]) -> bool:
        """Take the hits of search `number`; False when a newer search superseded it."""
        if number != self.request_number:
            return False
        self.hits = hits
        if not hits:
            self.current_hit, self.current_page = None, 0
        return True

    def results_text(self) -> str:
        """The line above the results; after no matches, what to try next."""
        if self.hits:
            return f"{len(self.hits)} document(s) match."
        request = self.last_request
        if request is None:
            return "No matches."
        tips = []
        if request.kinds or request.folder or request.since or request.tags:
            tips.append("clear the type, folder, date or tag filters")
        if request.mode is SearchMode.KEYWORD:
            tips.append("try Meaning or Hybrid")
        words = request.query.split()
        if words and not words[-1].endswith("*") and request.mode is not SearchMode.SEMANTIC:
            tips.append(f"try a prefix ({words[-1].strip(chr(34))}*)")
        return "No matches. " + ("Tips: " + "; ".join(tips) + "." if tips else "")

    def new_listing(self) -> int:
        """Start a listing that is not a typed search (more like this): answers to earlier
        searches are dropped from now on."""
        self.request_number += 1
        self.last_request = None
        return self.request_number

    def is_current(self, number: int) -> bool:
        """Whether search `number` is the latest one."""
        return number == self.request_number

    def show_hit(self, hit: SearchHit, page_no: int | None = None) -> int:
        """Make hit (at page_no, else its best page) the one previewed; returns the page."""
        self.current_hit = hit
        self.current_page = page_no or hit.page
        return self.current_page

    def page_in_range(self, page_no: int, pages: int) -> bool:
        """Whether the preview can move to page_no of the current hit."""
        return self.current_hit is not None and 1 <= page_no <= pages

    def progress(self, progress: IndexProgress) -> str:
        """Remember progress and say it in one line."""
        self.last_progress = progress
        expected = progress.pages_expected
        pages = (f"{progress.pages_done}/{progress.pages_total} pages"
                 + (f" (about {expected} in all)" if expected > progress.pages_total else ""))
        parts = [f"{progress.files_done}/{progress.files_total} files", pages,
                 f"{progress.pages_per_s:.2f} pages/s"]
        eta = progress.eta_s
        if eta is not None:
            parts.append(f"ETA {int(eta) // 60}:{int(eta) % 60:02d}")
        if progress.files_failed:
            parts.append(f"{progress.files_failed} failed")
        if progress.current:
            parts.append(Path(progress.current).name)
        self.status_text = " · ".join(parts)
        return self.status_text

    def finished(self, report: IndexReport) -> str:
        """The summary of a finished (or cancelled) indexing run."""
        state = "Cancelled" if report.cancelled else "Done"
        text = (f"{state}: {report.indexed} indexed, {report.reused} reused, "
                f"{report.skipped_unchanged} unchanged, {report.pages} pages in "
                f"{report.seconds:.1f} s")
        if report.failed:
            text += f" — {len(report.failed)} failed (see Library)"
        if report.skipped_failed_before:
            text += (f" — {report.skipped_failed_before} unchanged file(s) failed before: "
                     "Library › Retry failed reads them again")
        if report.skipped_not_scans:
            text += f" — {report.skipped_not_scans} other file(s) skipped: not scans"
        self.status_text = text
        return text


def library_problem(folder: Path, error: Exception) -> str:
    """What the dialog says about a library folder that cannot be opened."""
    return (f"Scandex cannot use the library in {folder}:\n\n{error}\n\n"
            "Choose another folder for the library; nothing in this one was changed.")
