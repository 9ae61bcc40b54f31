"""Coverage-guided fuzzing of the readers (atheris): whatever the bytes, reading a file
either works or raises a ScanError; never another exception, a hang or a memory blow-up.

    python -m tests.fuzz.fuzz_readers [-atheris_runs=N | -max_total_time=S] [CORPUS...]

`make fuzz` runs it for ten minutes; the test suite runs it briefly.
"""

from __future__ import annotations

import io
import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["engine"]):
    from engine.content import sniff
    from engine.errors import ScanError
    from engine.ingest.readers.dispatch import load_page, plan_pages

# Small enough that a fuzzed header cannot make a run allocate gigabytes.
FUZZ_MAX_PIXELS = 4_000_000
SUFFIX = {"png": ".png", "jpeg": ".jpg", "tiff": ".tif", "bmp": ".bmp", "gif": ".gif",
          "webp": ".webp", "pdf": ".pdf"}


def read_bytes(data: bytes) -> None:
    """Plan and load up to three pages of data as the file type its bytes announce."""
    kind = sniff(data[:1024])
    if kind is None:
        return
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"fuzz{SUFFIX[kind.value]}"
        path.write_bytes(data)
        try:
            plans = plan_pages(path, kind, max_pixels=FUZZ_MAX_PIXELS)
            for plan in plans[:3]:
                if plan.text is None:
                    load_page(path, kind, plan.page_no)
        except ScanError:
            pass


def write_seed_corpus(folder: Path) -> Path:
    """A few tiny valid files of every kind, so fuzzing starts inside each format."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    page = Image.new("L", (64, 48), 255)
    for fmt, suffix in (("PNG", "png"), ("JPEG", "jpg"), ("BMP", "bmp"), ("GIF", "gif"),
                        ("WEBP", "webp")):
        page.save(folder / f"seed.{suffix}", format=fmt)
    page.save(folder / "seed.tif", format="TIFF", save_all=True,
              append_images=[Image.new("L", (32, 32), 0)])
    out = io.BytesIO()
    page.save(out, format="PDF")
    (folder / "seed.pdf").write_bytes(out.getvalue())
    return folder


def main() -> None:
    """atheris entry point: argv as libFuzzer reads it."""
    args = sys.argv
    if not any(not a.startswith("-") for a in args[1:]):
        args = [*args, str(write_seed_corpus(Path(tempfile.mkdtemp(prefix="fuzz-seed-"))))]
    atheris.Setup(args, read_bytes)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
