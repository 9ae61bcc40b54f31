"""One-shot CLI start-up: a whole `scandex search` process per query, as a user runs it."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path


def bench_startup(work: Path, runs: int = 3) -> str:
    """Median wall time of `scandex search` per mode and embedder, on a small library."""
    from engine import Library
    from engine.backends.pool import InlineExecutor
    from engine.testing import FakeOcr, write_fake_scan

    library = work / "library"
    with Library.open(library, ocr=FakeOcr(), executor=InlineExecutor()) as lib:
        lib.add([write_fake_scan(work / f"doc{i}.png", f"monthly rent invoice number {i}")
                 for i in range(20)])
    rows = ["| command | embedder | median of 3 (s) |", "|---|---|---|"]
    for embedder in ("onnx", "torch"):
        for mode in ("keyword", "hybrid"):
            times = []
            for _ in range(runs):
                started = time.perf_counter()
                subprocess.run([sys.executable, "-m", "engine", "--embedder", embedder,
                                "--library", str(library), "search", "rent invoice",
                                "--mode", mode, "--json"], check=True, capture_output=True)
                times.append(time.perf_counter() - started)
            rows.append(f"| scandex search --mode {mode} | {embedder} | "
                        f"{statistics.median(times):.2f} |")
            print(rows[-1], flush=True)
    return "\n".join(rows)
