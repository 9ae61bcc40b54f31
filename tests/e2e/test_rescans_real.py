"""Rescans on the real stack (Tesseract, MiniLM): real FUNSD forms whose degraded rescans
read too poorly for their text to tell are grouped by their pages, while two real forms
of one template filled in by different people stay apart."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from bench.intelligence_bench import rescan
from engine import Library

pytestmark = pytest.mark.slow
FUNSD = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "funsd" / \
    "training_data" / "images"
needs_corpus = pytest.mark.skipif(not FUNSD.is_dir(), reason="../shared/corpus not present")


@needs_corpus
def test_poorly_read_rescans_are_grouped_by_their_pages(tmp_path: Path,
                                                        real_embedder: object) -> None:
    forms = sorted(FUNSD.glob("*.png"))
    scans = tmp_path / "scans"
    scans.mkdir()
    # 78 and 46: the text alone missed these rescans (bench intelligence); 57 and 60: two
    # filled copies of one printed form.
    for i in (46, 57, 60, 78):
        original = Image.open(forms[i])
        original.save(scans / f"form-{i}.png")
        if i in (46, 78):
            rescan(original, 1000 + i).save(scans / f"form-{i}-rescan.png")
    library = Library.open(tmp_path / "lib", embedder=real_embedder)  # type: ignore[arg-type]
    report = library.add([scans])
    assert report.indexed == 6 and not report.failed
    groups = sorted(sorted(Path(d.path).stem for d in g.documents)
                    for g in library.duplicates())
    assert groups == [["form-46", "form-46-rescan"], ["form-78", "form-78-rescan"]]
    library.close()
