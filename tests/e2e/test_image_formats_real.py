"""Phone photos (HEIC), AVIF, JPEG 2000 and a scanner's netpbm files, read by real
Tesseract and found by their words."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PIL import Image

from engine import Library
from engine.ingest.readers import dispatch
from engine.testing import HashingEmbedder
from tests.scans import text_page

pytestmark = pytest.mark.slow
DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="module")
def formats_library(tmp_path_factory: pytest.TempPathFactory,
                    real_embedder: object) -> Library:
    root = tmp_path_factory.mktemp("formats")
    docs = root / "docs"
    docs.mkdir()
    # An iPhone-style HEIC: stored turned, with the orientation the viewer applies
    # (made once with pillow-heif's encoder; Scandex only decodes).
    shutil.copy(DATA / "garage-invoice-photo.heic", docs / "IMG_0412.HEIC")

    def page(lines: list[str]) -> Image.Image:
        return text_page(lines, size=(1100, 400))

    page(["Dentist appointment card", "Cleaning booked for the spring"]).save(
        docs / "dentist.avif", quality=90)
    page(["Archive deed of the mill", "Signed before the county notary"]).save(
        docs / "deed.jp2")
    page(["Boiler service report", "Pressure valve replaced today"]).save(docs / "boiler.pgm")
    page(["School trip permission slip", "Parents sign and return"]).convert("1").save(
        docs / "scan-0001.pbm")
    page(["Allotment rent reminder", "Plot seven pays in April"]).convert("RGB").save(
        docs / "allotment.ppm")
    library = Library.open(root / "lib", embedder=real_embedder)  # type: ignore[arg-type]
    report = library.add([docs])
    assert not report.failed, report.failed
    assert report.indexed == 6
    yield library
    library.close()


@pytest.mark.parametrize(("query", "name", "kind"), [
    ("brake pads workshop", "IMG_0412.HEIC", "heif"),
    ("dentist appointment", "dentist.avif", "avif"),
    ("county notary mill", "deed.jp2", "jp2"),
    ("pressure valve boiler", "boiler.pgm", "pnm"),
    ("permission slip parents", "scan-0001.pbm", "pnm"),
    ("allotment plot rent", "allotment.ppm", "pnm"),
])
def test_every_image_format_is_read_and_found(formats_library: Library, query: str,
                                              name: str, kind: str) -> None:
    hits = formats_library.search(query, mode="keyword", limit=3)
    assert hits and Path(hits[0].path).name == name
    assert hits[0].kind == kind


def test_the_heic_photo_is_read_upright_and_filtered_by_its_type(
        formats_library: Library) -> None:
    # Asked for as people name it: the extension, in capitals.
    hits = formats_library.search("invoice", mode="keyword", kinds=["HEIC"])
    assert [Path(h.path).name for h in hits] == ["IMG_0412.HEIC"]
    text = formats_library.document(hits[0].id).pages[0].text.lower()
    assert "brake pads" in text and "labour two hours" in text


def test_a_heic_photo_without_a_decoder_fails_alone_with_what_to_install(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    shutil.copy(DATA / "garage-invoice-photo.heic", docs / "photo.heic")
    text_page(["Library card renewal"], size=(900, 300)).save(docs / "card.png")
    monkeypatch.setattr(dispatch, "heif_readable", lambda: False)
    with Library.open(tmp_path / "lib", embedder=HashingEmbedder()) as library:
        report = library.add([docs])
    assert report.indexed == 1
    assert [Path(f.path).name for f in report.failed] == ["photo.heic"]
    assert "pi-heif" in report.failed[0].error
