"""Real Tesseract and the real MiniLM model, on generated scans and on real ones."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from PIL import Image

from engine import Library
from tests.scans import image_pdf, save_text_page, text_layer_pdf, text_page

pytestmark = pytest.mark.slow
CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus not present")


@pytest.fixture(scope="module")
def real_library(tmp_path_factory: pytest.TempPathFactory, real_embedder: object) -> Library:
    root = tmp_path_factory.mktemp("real")
    docs = root / "docs"
    docs.mkdir()
    save_text_page(docs / "lease.png", [
        "Apartment lease renewal", "The monthly rent rises to 1120 dollars",
        "The landlord keeps the security deposit"])
    pages = [text_page(["Chapter one: the garden", "Tomatoes need full sun and water"]),
             text_page(["Chapter two: the orchard", "Apple trees are pruned in winter"])]
    pages[0].save(docs / "garden.tif", save_all=True, append_images=pages[1:], dpi=(150, 150))
    image_pdf(docs / "scanned-invoice.pdf", [text_page(["Invoice 4711 from Nordic Timber",
                                                        "Total due 980 euros within 14 days"])])
    text_layer_pdf(docs / "born-digital.pdf", ["Vaccination certificate for the family dog",
                                               "Rabies shot given by the veterinarian"])
    save_text_page(docs / "upside-down.png", ["Electricity bill for the winter quarter",
                                              "Meter reading and kilowatt hours used"], rotate=180)
    save_text_page(docs / "sideways.png", ["Train ticket from Berlin to Hamburg",
                                           "Seat reservation in coach seven"], rotate=90)
    photo = text_page(["Pharmacy receipt for cough syrup", "Paid with cash at the counter"])
    exif = Image.Exif()
    exif[0x0112] = 8  # viewer must turn it 90 degrees counter-clockwise
    photo.rotate(-90, expand=True).save(docs / "phone-photo.jpg", exif=exif, dpi=(150, 150))
    library = Library.open(root / "lib", embedder=real_embedder)  # type: ignore[arg-type]
    report = library.add([docs])
    assert not report.failed, report.failed
    assert report.indexed == 7
    yield library
    library.close()


def top(library: Library, query: str, mode: str = "hybrid") -> str:
    hits = library.search(query, mode=mode, limit=3)
    assert hits, f"nothing found for {query!r}"
    return Path(hits[0].path).name


def test_words_find_every_kind_of_page(real_library: Library) -> None:
    assert top(real_library, "security deposit", "keyword") == "lease.png"
    assert top(real_library, "orchard apple", "keyword") == "garden.tif"
    assert top(real_library, "Nordic Timber", "keyword") == "scanned-invoice.pdf"
    assert top(real_library, "rabies veterinarian", "keyword") == "born-digital.pdf"
    assert top(real_library, "kilowatt", "keyword") == "upside-down.png"
    assert top(real_library, "Hamburg reservation", "keyword") == "sideways.png"
    assert top(real_library, "cough syrup", "keyword") == "phone-photo.jpg"


def test_meaning_finds_paraphrases(real_library: Library) -> None:
    assert top(real_library, "how much does my flat cost", "semantic") == "lease.png"
    assert top(real_library, "power consumption invoice", "semantic") == "upside-down.png"
    assert top(real_library, "medicine purchase", "hybrid") == "phone-photo.jpg"
    assert top(real_library, "growing vegetables", "hybrid") == "garden.tif"


def test_hits_carry_page_snippet_and_boxes(real_library: Library) -> None:
    hit = real_library.search("apple trees", mode="keyword")[0]
    assert hit.page == 2 and "<mark>Apple</mark>" in hit.snippet
    assert len(hit.boxes) == 2
    detail = real_library.document(hit.id)
    words = [w for w in detail.pages[1].words if w.text.lower() in ("apple", "trees")]
    assert sorted(hit.boxes) == sorted(w.box.as_list() for w in words)
    image = real_library.page_image(hit.id, 2)
    assert image.size == (detail.pages[1].width, detail.pages[1].height)


def test_turned_pages_are_read_upright(real_library: Library) -> None:
    for name, rotation in (("upside-down.png", 180), ("sideways.png", 90)):
        doc = real_library.resolve(str(Path(real_library.documents()[0].path).parent / name))
        page = real_library.document(doc.id).pages[0]
        assert page.rotation == rotation, name
        image = real_library.page_image(doc.id, 1)
        assert image.size == (page.width, page.height)
    born = [d for d in real_library.documents() if d.path.endswith("born-digital.pdf")][0]
    assert real_library.document(born.id).pages[0].source == "text-layer"


def test_vectors_are_stored_with_model_id(real_library: Library) -> None:
    rows = real_library.store.db.execute(
        "SELECT DISTINCT model_id, length(vector) FROM chunks").fetchall()
    assert rows == [("sentence-transformers/all-MiniLM-L6-v2", 384 * 4)]


@needs_corpus
def test_funsd_form_is_found_by_its_words(tmp_path: Path, real_embedder: object) -> None:
    annotations = sorted((CORPUS / "funsd" / "training_data" / "annotations").glob("*.json"))[:4]
    images = CORPUS / "funsd" / "training_data" / "images"
    library = Library.open(tmp_path / "lib", embedder=real_embedder)  # type: ignore[arg-type]
    library.add([images / f"{a.stem}.png" for a in annotations])
    found = 0
    for annotation in annotations:
        words = [w["text"] for block in json.loads(annotation.read_text())["form"]
                 for w in block["words"]]
        distinctive = [w for w in words if re.fullmatch(r"[A-Za-z]{6,}", w)][:6]
        hits = library.search(" ".join(distinctive), mode="hybrid", limit=1)
        found += bool(hits) and Path(hits[0].path).stem == annotation.stem
    assert found >= 3, f"only {found}/4 forms found by their own words"


@needs_corpus
def test_rotated_skewed_pdf_is_read(tmp_path: Path, real_embedder: object) -> None:
    library = Library.open(tmp_path / "lib", embedder=real_embedder)  # type: ignore[arg-type]
    source = CORPUS / "ocrmypdf-resources"
    report = library.add([source / "rotated_skew.pdf", source / "cardinal.pdf"])
    assert not report.failed
    truth = set(re.findall(r"[a-z]{5,}", (source / "linn.txt").read_text().lower()))
    for doc in library.documents():
        for page in library.document(doc.id).pages:
            seen = set(re.findall(r"[a-z]{5,}", page.text.lower()))
            recall = len(truth & seen) / len(truth)
            assert recall > 0.6, (doc.path, page.page_no, page.rotation, recall)


def test_a_searchable_pdf_of_real_reads(real_library: Library, tmp_path: Path) -> None:
    """Exported with Tesseract's words: a PDF reader finds them on the page where the
    scan prints them, turned pages and phone photos included."""
    import pypdfium2 as pdfium

    for name, words in (("lease.png", "security deposit"), ("garden.tif", "Apple trees"),
                        ("sideways.png", "Train ticket"), ("phone-photo.jpg", "cough syrup")):
        doc = next(d for d in real_library.store.documents() if d.path.endswith(name))
        target = tmp_path / f"{name}.pdf"
        pages = real_library.export_pdf(doc.id, target)
        document = pdfium.PdfDocument(str(target))
        assert len(document) == pages == doc.pages
        found = []
        for index in range(len(document)):
            text = document[index].get_textpage()
            search = text.search(words)
            hit = search.get_next()
            if hit is None:
                continue
            # Where the read put the first word, in the page image's pixels.
            page = real_library.document(doc.id).pages[index]
            first = next(w for w in page.words if w.text == words.split()[0])
            width_pt, height_pt = document[index].get_size()
            left, _, _, top = text.get_charbox(hit[0])
            assert left == pytest.approx(first.box.x * width_pt / page.width,
                                         abs=width_pt / 100)
            assert top == pytest.approx(height_pt - first.box.y * height_pt / page.height,
                                        abs=height_pt / 50)
            found.append(index)
        document.close()
        assert found, f"{words!r} not found in the PDF of {name}"
