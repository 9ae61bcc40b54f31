"""What the HTTP endpoints share: the library folder, the model (loaded in the
background), one read-only Library per request thread, and the job runner that is the
server's only writer."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from engine.backends.factory import make_embedder
from engine.errors import ScandexError
from engine.library import Library
from engine.protocols import Embedder
from engine.service.jobs import JobRunner
from engine.service.watch import FolderWatcher, WatchBatch

MAX_UPLOAD_BYTES = 200 * 1024 * 1024
TOKEN_ENV = "SCANDEX_API_TOKEN"


class ServerState:
    """What the endpoints share: the library folder, the model, the job runner."""

    def __init__(self, library_dir: Path, *, embedder: Embedder | None = None,
                 ocr: Any = None, executor: Any = None, lang: str = "eng",
                 sync: Any = None, max_upload_bytes: int = MAX_UPLOAD_BYTES,
                 watch: list[Path] | None = None, watch_poll_s: float | None = None) -> None:
        self.library_dir = library_dir
        self.max_upload_bytes = max_upload_bytes
        self.embedder = embedder or make_embedder()
        self.ocr = ocr
        self.executor = executor
        self.lang = lang
        self.model_ready = threading.Event()
        self.model_error: str | None = None
        self._local = threading.local()
        self._tesseract: str | None = None
        self.vectors = Library.new_vector_cache()
        with self.open() as library:  # create the index before read-only opens
            library.warm_page_cache()  # the first searches need not wait for the disk
        on_start = after_batch = None
        if sync is not None:
            # Pull the shared library at start; push after each batch of uploads.
            def on_start(library: Library) -> object:
                return library.pull(sync)

            def after_batch(library: Library) -> object:
                return library.push(sync)

        self.jobs = JobRunner(self.open, lang=lang, on_start=on_start, after_batch=after_batch)
        threading.Thread(target=self._load_model, name="scandex-model", daemon=True).start()
        self.watching = WatchedFolders(self, watch or [], watch_poll_s)

    def open(self, *, read_only: bool = False) -> Library:
        """A new Library on this folder."""
        return Library.open(self.library_dir, embedder=self.embedder, ocr=self.ocr,
                            executor=self.executor, read_only=read_only,
                            vector_cache=self.vectors if read_only else None)

    def reader(self) -> Library:
        """This request thread's read-only Library."""
        library = getattr(self._local, "library", None)
        if library is None:
            # One vector matrix for all request threads, not one per thread.
            library = self.open(read_only=True)
            self._local.library = library
        return library

    def tesseract(self) -> str:
        """Tesseract's version (checked once), or why it is unusable."""
        if self._tesseract is None:
            from engine.backends.tesseract import available_languages, tesseract_version

            try:
                available_languages()
                self._tesseract = tesseract_version()
            except ScandexError as e:
                return str(e)
        return self._tesseract

    @property
    def tesseract_ready(self) -> bool:
        """True once Tesseract answered (see tesseract())."""
        return self._tesseract is not None

    def _load_model(self) -> None:
        try:
            load = getattr(self.embedder, "load", None)
            if load is not None:
                load()
            self.model_ready.set()
        except Exception as e:  # noqa: BLE001 - reported by /health
            self.model_error = str(e)

    def close(self) -> None:
        """Stop watching, then the job runner (after the job in hand)."""
        self.watching.stop()
        self.jobs.stop()


class WatchedFolders:
    """`serve --watch`: folders followed like `scandex watch`, each batch indexed by the
    job runner (the server's one writer), so uploads and watched files queue together
    and a sync bucket is pushed after them alike."""

    def __init__(self, state: ServerState, roots: list[Path], poll_s: float | None) -> None:
        self.roots = [Path(r).absolute() for r in roots]
        self.last: dict[str, Any] = {}
        self._watcher: FolderWatcher | None = None
        if not self.roots:
            return
        self._library = state.open(read_only=True)  # names the folder to leave out
        self._watcher = FolderWatcher(
            self._library, self.roots, poll_s=poll_s, lang=state.lang,
            on_batch=self._remember,
            index=lambda present: state.jobs.call(
                lambda library: library.add(present, lang=state.lang), timeout=None))
        threading.Thread(target=self._watcher.run, name="scandex-watch", daemon=True).start()

    def _remember(self, batch: WatchBatch) -> None:
        report = batch.report
        self.last = {"offline": batch.offline, "note": batch.note, "report": None if report
                     is None else {"indexed": report.indexed, "reused": report.reused,
                                   "removed": report.removed, "failed": len(report.failed)}}

    def status(self) -> dict[str, Any] | None:
        """What /health says of the watched folders (None when nothing is watched)."""
        if self._watcher is None:
            return None
        how = (f"every {self._watcher.interval_s:g} s" if self._watcher.polling
               else "file-system events")
        return {"folders": [str(r) for r in self.roots], "mode": how, **self.last}

    def stop(self) -> None:
        """End the loop (a batch in hand finishes in the job runner)."""
        if self._watcher is not None:
            self._watcher.stop()
            self._library.close()


