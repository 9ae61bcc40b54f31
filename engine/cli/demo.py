"""The headless demo that `make run` shows when there is no display.

The demo indexes the sample scans shipped in resources/samples/ into ./demo-library
and prints the hits of a few searches, one per mode.
"""

from __future__ import annotations

import os
import sys
from importlib.resources import as_file, files
from pathlib import Path

DEMO_QUERIES = [
    ("hybrid", "medicine for an infection"),
    ("keyword", "invoice total"),
    ("semantic", "how much does the flat cost per month"),
    ("keyword", "bicycle*"),
]


def has_display() -> bool:
    """True when a GUI can open a window here."""
    if sys.platform in ("win32", "darwin"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def run_demo(library_dir: Path) -> int:
    """Index the samples and print a few searches' hits."""
    from engine.cli.main import main as cli

    with as_file(files("resources") / "samples") as samples:
        print(f"Indexing the sample scans in {samples} into {library_dir} ...", flush=True)
        code = cli(["--library", str(library_dir), "index", str(samples)])
        if code not in (0, 1):
            return code
    for mode, query in DEMO_QUERIES:
        print(f"\n$ scandex search {query!r} --mode {mode}", flush=True)
        cli(["--library", str(library_dir), "search", query, "--mode", mode, "--limit", "3"])
    print(f"\nTry your own: .venv/bin/scandex --library {library_dir} search 'your words'")
    return 0


def main() -> int:
    """Run the headless demo."""
    return run_demo(demo_library_dir())


def demo_library_dir() -> Path:
    """./demo-library, or $SCANDEX_DEMO_LIBRARY."""
    return Path(os.environ.get("SCANDEX_DEMO_LIBRARY", "demo-library")).resolve()


if __name__ == "__main__":
    sys.exit(main())
