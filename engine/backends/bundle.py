"""Running from the PyInstaller bundle: use the Tesseract and data shipped inside it.

The bundle (packaging/scandex.spec) puts the tesseract executable, its shared libraries
and its traineddata under `<bundle>/_internal/tesseract/`. A frozen process points the
engine at them before anything runs, so a Tesseract on PATH (or none) makes no difference.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

TESSERACT_DIR = "tesseract"


@dataclass(frozen=True)
class BundledTesseract:
    """Where the bundle's Tesseract lives."""

    binary: Path
    tessdata: Path
    libraries: Path


def bundle_root() -> Path | None:
    """The folder PyInstaller unpacked the app into, or None when not frozen."""
    if not getattr(sys, "frozen", False):
        return None
    return Path(getattr(sys, "_MEIPASS", Path(sys.executable).parent))


def find_bundled_tesseract(root: Path) -> BundledTesseract | None:
    """The Tesseract laid out under root by the spec file, if it is complete."""
    home = root / TESSERACT_DIR
    binary = home / ("tesseract.exe" if os.name == "nt" else "tesseract")
    tessdata = home / "tessdata"
    if not binary.is_file() or not (tessdata / "eng.traineddata").is_file():
        return None
    return BundledTesseract(binary, tessdata, home / "lib")


def configure_environment(root: Path | None = None) -> BundledTesseract | None:
    """Point this process (and the OCR workers it spawns) at the bundled Tesseract.

    An explicit SCANDEX_TESSERACT from the user still wins: that is how someone swaps in
    a Tesseract with more languages. Returns what was configured, or None.
    """
    root = root if root is not None else bundle_root()
    if root is None or os.environ.get("SCANDEX_TESSERACT"):
        return None
    bundled = find_bundled_tesseract(root)
    if bundled is None:
        return None
    os.environ["SCANDEX_TESSERACT"] = str(bundled.binary)
    # The data next to the binary, never a system folder compiled into it.
    os.environ["TESSDATA_PREFIX"] = str(bundled.tessdata)
    # No LD_LIBRARY_PATH for Tesseract: the staged binary finds lib/ through its RPATH
    # ($ORIGIN/lib). See restore_library_path for the one the bootloader set.
    # Model weights ship inside the bundle; never look for them online.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    return bundled


def restore_library_path() -> None:
    """Give child processes the LD_LIBRARY_PATH the user started the app with.

    PyInstaller's bootloader points LD_LIBRARY_PATH at the bundle's _internal for this
    process, whose loader has read it already; programs started from here (a file manager
    from "Show in folder", xdg-open) would load our libraries instead of their own. Call
    once, at start, in a frozen process.
    """
    if not sys.platform.startswith("linux"):
        return
    original = os.environ.pop("LD_LIBRARY_PATH_ORIG", None)
    if original is not None:
        os.environ["LD_LIBRARY_PATH"] = original
    else:
        os.environ.pop("LD_LIBRARY_PATH", None)
