"""Run a benchmark: python -m bench ocr|embed|search|incremental|all."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from bench import engine_bench


def main() -> int:
    """Dispatch to the chosen benchmark."""
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("which", choices=["ocr", "embed", "search", "incremental", "gui", "all"])
    parser.add_argument("--pages", type=int, default=8, help="pages for the OCR benchmark")
    parser.add_argument("--sizes", default="10000,100000", help="chunk counts for search")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with tempfile.TemporaryDirectory(prefix="scandex-bench-") as tmp:
        work = Path(tmp)
        todo = ["ocr", "embed", "search", "incremental"] if args.which == "all" else [args.which]
        for name in todo:
            print(f"\n== {name} ==", flush=True)
            if name == "ocr":
                engine_bench.bench_ocr(work / "ocr", args.pages)
            elif name == "embed":
                engine_bench.bench_embed()
            elif name == "gui":
                from bench.gui_bench import bench_gui

                bench_gui(work / "gui")
            elif name == "search":
                engine_bench.bench_search(work / "search", [int(s) for s in args.sizes.split(",")])
            else:
                engine_bench.bench_incremental(work / "incremental")
    return 0


if __name__ == "__main__":
    sys.exit(main())
