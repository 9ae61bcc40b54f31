"""Run a benchmark: python -m bench ocr|embed|search|incremental|e2e|startup|...|all."""

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
    parser.add_argument("which", choices=["ocr", "embed", "search", "incremental", "gui",
                                          "quality", "ocr-quality", "named", "startup", "scale",
                                          "e2e", "watch", "intelligence", "all"])
    parser.add_argument("--quick", action="store_true", help="a few minutes' check")
    parser.add_argument("--docs", type=int, default=2000, help="documents for quality")
    parser.add_argument("--pages", type=int, default=8, help="pages for the OCR benchmark")
    parser.add_argument("--sizes", default="10000,100000", help="chunk counts for search")
    parser.add_argument("--json", action="store_true",
                        help="search: print the figures as one JSON object, last")
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
            elif name in ("quality", "ocr-quality", "named"):
                _quality(name, args, work)
            elif name == "startup":
                from bench.startup_bench import bench_startup

                (work / "startup").mkdir()
                bench_startup(work / "startup")
            elif name == "intelligence":
                from bench.intelligence_bench import bench_intelligence

                bench_intelligence()
            elif name == "watch":
                from bench.watch_bench import bench_watch

                bench_watch(work / "watch")
            elif name == "e2e":
                from bench.e2e_bench import bench_e2e

                bench_e2e(work / "e2e", args.pages)
            elif name == "scale":
                from bench.scale_bench import bench_scale

                bench_scale(work / "scale")
            elif name == "gui":
                from bench.gui_bench import bench_gui

                bench_gui(work / "gui")
            elif name == "search":
                from bench.search_bench import bench_search

                bench_search([int(s) for s in args.sizes.split(",")], as_json=args.json)
            else:
                engine_bench.bench_incremental(work / "incremental")
    return 0


def _quality(name: str, args: argparse.Namespace, work: Path) -> None:
    import platform
    from datetime import date

    if name == "quality":
        from bench.quality import bench_quality

        table = bench_quality(200 if args.quick else args.docs, quick=args.quick)
        section = "Retrieval: SciFact as scans (`python -m bench quality`)"
    elif name == "named":
        from bench.named_lookup import bench_named

        table = bench_named(Path(__file__).resolve().parents[1] / ".cache" / "bench-named")
        section = "Named lookups: a scan by the name printed on it (`python -m bench named`)"
    else:
        from bench.ocr_quality import bench_ocr_quality

        table = bench_ocr_quality(work / "ocr-quality", quick=args.quick)
        section = "OCR word recall on real scans (`python -m bench ocr-quality`)"
    if args.quick:
        return  # quick runs are checks, not the recorded figures
    docs = Path(__file__).resolve().parents[1] / "docs" / "quality.md"
    text = docs.read_text() if docs.exists() else "# Search and OCR quality\n"
    block = (f"## {section}\n\nMeasured {date.today()} on {platform.node()} "
             f"({os.cpu_count()} cores, {platform.machine()}).\n\n{table}\n")
    marker = f"## {section}"
    if marker in text:
        head, _, rest = text.partition(marker)
        # Only the section's own figures are replaced: its ### notes (what each session
        # measured and why) stay, as does the next section.
        ends = [i for i in (rest.find("\n## "), rest.find("\n### ")) if i >= 0]
        text = head + block + (rest[min(ends):] if ends else "")
    else:
        text = text.rstrip() + "\n\n" + block
    docs.write_text(text)


if __name__ == "__main__":
    sys.exit(main())
