"""Searchable PDFs: the page image with its words laid invisibly where they are printed,
read back with PDFium (a PDF reader's view: text, positions, size), written whole or not
at all; and the Library's and the CLI's export of a document."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from engine import Library, LibraryError, OriginalUnavailable, UsageError
from engine.backends.pool import InlineExecutor
from engine.backends.searchable_pdf import page_dpi, write_searchable_pdf
from engine.cli import main as cli
from engine.models import Box, PageText, Word
from engine.testing import FakeOcr, HashingEmbedder, write_fake_scan
from tests.scans import image_pdf, save_text_page, text_layer_pdf

pdfium = pytest.importorskip("pypdfium2")


def _page(words: list[tuple[str, Box]], size: tuple[int, int] = (2550, 3300)) -> PageText:
    return PageText(1, size[0], size[1], [Word(t, b, 95.0) for t, b in words], "ocr")


def _text_of(path: Path, index: int = 0) -> str:
    document = pdfium.PdfDocument(str(path))
    try:
        return str(document[index].get_textpage().get_text_range())
    finally:
        document.close()


def test_words_are_found_where_they_are_printed(tmp_path: Path) -> None:
    image = Image.new("L", (2550, 3300), 255)
    image.info["dpi"] = (300, 300)
    words = [("Invoice", Box(300, 300, 420, 90)), ("2024-0173", Box(780, 300, 510, 90)),
             ("Total:", Box(300, 3000, 300, 60)), ("658.49", Box(640, 3000, 330, 60))]
    target = tmp_path / "out.pdf"
    assert write_searchable_pdf([(image, _page(words))], target) == 1
    document = pdfium.PdfDocument(str(target))
    page = document[0]
    assert page.get_size() == pytest.approx((612.0, 792.0), abs=0.5)  # 300 dpi letter
    text = page.get_textpage()
    # The words apart, in their order: a reader copies "Invoice 2024-0173".
    assert text.get_text_range().split() == ["Invoice", "2024-0173", "Total:", "658.49"]
    found = text.search("2024-0173")
    first, count = found.get_next()
    left, bottom, _, _ = text.get_charbox(first)
    _, _, right, top = text.get_charbox(first + count - 1)
    to_pt = 72 / 300
    assert left == pytest.approx(780 * to_pt, abs=1.5)
    assert right == pytest.approx((780 + 510) * to_pt, abs=1.5)
    assert top == pytest.approx(792 - 300 * to_pt, abs=3)
    assert bottom == pytest.approx(792 - 390 * to_pt, abs=3)
    # Invisible: the page looks like the scan (all white here) with the text on it.
    rendered = page.render(scale=0.5).to_pil().convert("L")
    assert rendered.getextrema() == (255, 255)
    import pypdfium2.raw as pdfium_c

    kinds = [obj.type for obj in page.get_objects()]
    assert kinds.count(pdfium_c.FPDF_PAGEOBJ_IMAGE) == 1
    modes = {pdfium_c.FPDFTextObj_GetTextRenderMode(obj.raw) for obj in page.get_objects()
             if obj.type == pdfium_c.FPDF_PAGEOBJ_TEXT}
    assert modes == {pdfium_c.FPDF_TEXTRENDERMODE_INVISIBLE}
    document.close()


def test_pages_keep_their_picture_and_size(tmp_path: Path) -> None:
    photo = Image.new("RGB", (1200, 1600), (200, 30, 30))  # no resolution tag
    fax = Image.new("1", (1728, 2200), 1)
    fax.info["dpi"] = (204, 196)
    target = tmp_path / "two.pdf"
    pages = [(photo, _page([("red", Box(10, 10, 100, 40))], photo.size)),
             (fax, _page([], fax.size))]
    assert write_searchable_pdf(pages, target) == 2
    document = pdfium.PdfDocument(str(target))
    # Untagged: sized as an A4 page's long side; tagged: its own resolution.
    assert document[0].get_size()[1] == pytest.approx(11.69 * 72, abs=0.5)
    assert document[1].get_size()[0] == pytest.approx(1728 / 204 * 72, abs=0.5)
    red = document[0].render(scale=0.25).to_pil().convert("RGB").getpixel((60, 120))
    assert red[0] > 150 and red[1] < 80
    document.close()
    assert page_dpi(Image.new("L", (100, 100))) == pytest.approx(100 / 11.69)


def test_unicode_and_odd_words_do_not_break_the_page(tmp_path: Path) -> None:
    image = Image.new("L", (850, 1100), 255)
    words = [("Müller", Box(50, 50, 120, 30)), ("café", Box(180, 50, 80, 30)),
             ("", Box(300, 50, 10, 10)), ("—", Box(320, 50, 30, 30)),
             ("x", Box(400, 50, 0, 0))]  # a zero-sized box
    target = tmp_path / "odd.pdf"
    write_searchable_pdf([(image, _page(words, image.size))], target)
    assert "Müller café" in _text_of(target)


def test_words_outside_the_standard_font_keep_their_latin_letters(tmp_path: Path) -> None:
    from engine.backends.searchable_pdf import in_standard_font

    assert in_standard_font("Łódź") == "Lódz"
    assert in_standard_font("Straße €12,50 naïve") == "Straße €12,50 naïve"
    assert in_standard_font("Привет") == "" and in_standard_font("ﬁle") == "file"
    image = Image.new("L", (1200, 400), 255)
    words = [("Łódź", Box(50, 50, 120, 30)), ("Привет", Box(200, 50, 120, 30)),
             ("Kraków", Box(350, 50, 120, 30))]
    target = tmp_path / "pl.pdf"
    write_searchable_pdf([(image, _page(words, image.size))], target)
    assert _text_of(target).split() == ["Lódz", "Kraków"]  # never "ÿódÿ"


def test_a_failed_write_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                      ) -> None:
    image = Image.new("L", (850, 1100), 255)
    page = _page([("word", Box(50, 50, 120, 30))], image.size)
    with pytest.raises(LibraryError, match="cannot write"):
        write_searchable_pdf([(image, page)], tmp_path / "missing" / "out.pdf")
    target = tmp_path / "out.pdf"
    target.write_bytes(b"an older export")

    def broken_pages():  # type: ignore[no-untyped-def]
        yield image, page
        raise OSError("disk gone")

    with pytest.raises(OSError):
        write_searchable_pdf(broken_pages(), target)
    assert target.read_bytes() == b"an older export"
    assert [p.name for p in tmp_path.iterdir()] == ["out.pdf"]  # no partial file left


def _library(tmp_path: Path) -> Library:
    return Library.open(tmp_path / "lib", ocr=FakeOcr(), embedder=HashingEmbedder(),
                        executor=InlineExecutor())


def test_the_library_exports_a_scan_and_copies_a_pdf_that_has_its_text(
        tmp_path: Path) -> None:
    scans = tmp_path / "scans"
    scans.mkdir()
    write_fake_scan(scans / "receipt.png", "GREENLEAF PHARMACY receipt 88213 ibuprofen")
    text_layer_pdf(scans / "born-digital.pdf", ["Quarterly budget review", "travel costs"])
    image_pdf(scans / "scanned.pdf", [Image.new("L", (850, 1100), 255)] * 2)
    (scans / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really" * 10)
    with _library(tmp_path) as library:
        library.add([scans])
        receipt = library.resolve(str(scans / "receipt.png")).id
        progress: list[tuple[int, int]] = []
        target = tmp_path / "out" / "receipt.pdf"
        target.parent.mkdir()
        assert library.export_pdf(receipt, target, progress=lambda *p: progress.append(p)) == 1
        assert _text_of(target).split() == \
            "GREENLEAF PHARMACY receipt 88213 ibuprofen".split()
        assert progress == [(1, 1)]
        copied = tmp_path / "out" / "born-digital.pdf"
        assert library.export_pdf(str(scans / "born-digital.pdf"), copied) == 1
        assert copied.read_bytes() == (scans / "born-digital.pdf").read_bytes()
        # Blank pages are pages: their pictures, no text.
        blank = tmp_path / "out" / "s.pdf"
        assert library.export_pdf(str(scans / "scanned.pdf"), blank) == 2
        assert _text_of(blank, 1).strip() == ""
        # A file that failed has nothing to export, and says why.
        with pytest.raises(UsageError, match="no recognised pages .*"):
            library.export_pdf(str(scans / "broken.png"), tmp_path / "out" / "b.pdf")
        with pytest.raises(UsageError, match="is a folder"):
            library.export_pdf(receipt, tmp_path / "out")
        # An original changed since it was indexed: its words would sit in the wrong
        # places; one deleted: nothing to show.
        write_fake_scan(scans / "receipt.png", "another receipt altogether")
        with pytest.raises(OriginalUnavailable, match="changed since it was indexed"):
            library.export_pdf(receipt, tmp_path / "out" / "changed.pdf")
        (scans / "born-digital.pdf").unlink()
        with pytest.raises(OriginalUnavailable, match="no longer"):
            library.export_pdf(str(scans / "born-digital.pdf"), tmp_path / "out" / "g.pdf")
        assert sorted(p.name for p in (tmp_path / "out").iterdir()) == \
            ["born-digital.pdf", "receipt.pdf", "s.pdf"]


def test_colour_scans_stay_in_colour(tmp_path: Path) -> None:
    from PIL import PngImagePlugin

    from engine.testing import FAKE_TEXT_KEY

    info = PngImagePlugin.PngInfo()
    info.add_text(FAKE_TEXT_KEY, "red letterhead invoice")
    Image.new("RGB", (850, 1100), (200, 30, 30)).save(tmp_path / "red.png", pnginfo=info)
    image_pdf(tmp_path / "blue.pdf", [Image.new("RGB", (850, 1100), (30, 30, 200))])
    with _library(tmp_path) as library:
        library.add([tmp_path / "red.png", tmp_path / "blue.pdf"])
        for name, channel in (("red.png", 0), ("blue.pdf", 2)):
            target = tmp_path / f"{name}.pdf"
            library.export_pdf(str(tmp_path / name), target)
            document = pdfium.PdfDocument(str(target))
            pixel = document[0].render(scale=0.2).to_pil().convert("RGB").getpixel((40, 40))
            document.close()
            assert pixel[channel] > 150 and min(pixel) < 80, (name, pixel)
        # The preview and OCR still see grey.
        assert library.page_image(str(tmp_path / "red.png"), 1).mode == "L"


def test_export_from_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                      ) -> None:
    save_text_page(tmp_path / "letter.png", ["Dear Ms Okafor", "the monthly rent"])
    with _library(tmp_path) as library:
        library.add([write_fake_scan(tmp_path / "lease.png", "lease renewal rent 1,120")])
    out = tmp_path / "lease.pdf"
    base = ["--library", str(tmp_path / "lib"), "export"]
    assert cli.main([*base, str(tmp_path / "lease.png"), str(out)]) == 0
    assert "1 page, searchable" in capsys.readouterr().out
    assert "lease renewal rent 1,120" in _text_of(out)
    assert cli.main([*base, "1", str(out)]) == 2  # never over a file unasked
    assert "--force" in capsys.readouterr().err
    assert cli.main([*base, "1", str(out), "--force"]) == 0
    assert cli.main([*base, "1", str(tmp_path / "lease.txt")]) == 2
    assert cli.main([*base, "9", str(tmp_path / "x.pdf")]) == 2
    assert not (tmp_path / "x.pdf").exists()


def test_the_utf16_buffer_is_terminated() -> None:
    from engine.backends.searchable_pdf import _utf16

    buffer = _utf16("ab")
    assert [buffer[i] for i in range(3)] == [ord("a"), ord("b"), 0]


def test_a_folder_exports_mirrored_and_goes_on_past_a_failure(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    scans = tmp_path / "scans"
    (scans / "2024" / "march").mkdir(parents=True)
    write_fake_scan(scans / "2024" / "lease.png", "lease renewal")
    write_fake_scan(scans / "2024" / "march" / "receipt.png", "pharmacy receipt")
    text_layer_pdf(scans / "2024" / "march" / "receipt.pdf",
                   ["another receipt from the hardware store", "paid in cash"])
    write_fake_scan(scans / "2024" / "gone.png", "a scan deleted since")
    write_fake_scan(tmp_path / "elsewhere.png", "not under the folder")
    with _library(tmp_path) as library:
        library.add([scans, tmp_path / "elsewhere.png"])
    (scans / "2024" / "gone.png").unlink()
    out = tmp_path / "searchable"
    (out / "2024").mkdir(parents=True)
    (out / "2024" / "lease.pdf").write_bytes(b"made before")
    base = ["--library", str(tmp_path / "lib"), "export"]
    assert cli.main([*base, str(scans), str(out), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    written = sorted(Path(w["pdf"]).relative_to(out).as_posix() for w in report["written"])
    assert written == ["2024/march/receipt.pdf", "2024/march/receipt.png.pdf"]
    assert [Path(k["pdf"]).name for k in report["kept"]] == ["lease.pdf"]
    assert [Path(f["document"]).name for f in report["failed"]] == ["gone.png"]
    assert "no longer" in report["failed"][0]["error"]
    assert (out / "2024" / "lease.pdf").read_bytes() == b"made before"
    assert "another receipt" in _text_of(out / "2024" / "march" / "receipt.pdf")
    assert "pharmacy receipt" in _text_of(out / "2024" / "march" / "receipt.png.pdf")
    assert not list(out.rglob("elsewhere*")) and not list(out.rglob("gone*"))
    # --force replaces what was there; a .pdf name for a folder's documents is refused.
    assert cli.main([*base, str(scans / "2024"), str(out / "2024"), "--force"]) == 1
    assert "lease renewal" in _text_of(out / "2024" / "lease.pdf")
    assert "wrote 3 searchable PDF(s)" in capsys.readouterr().out
    assert cli.main([*base, str(scans), str(tmp_path / "all.pdf")]) == 2
    # One document into a folder: named after it.
    assert cli.main([*base, str(tmp_path / "elsewhere.png"), str(out)]) == 0
    assert (out / "elsewhere.pdf").is_file()


def test_export_targets_mirror_folders_and_bucket_prefixes(tmp_path: Path) -> None:
    from engine.models import DocumentInfo
    from engine.service.exporting import documents_under, export_targets

    def doc(number: int, path: str, state: str = "indexed") -> DocumentInfo:
        return DocumentInfo(number, path, "png", "0" * 64, 1, 0, state, None, 1, "")

    docs = [doc(1, "s3://records/1998/a.png"), doc(2, "s3://records/1998/sub/b.tif"),
            doc(3, "s3://records/19980/c.png"), doc(4, "s3://records/1998/d.png", "failed"),
            doc(5, "s3://records/1998/a.tif"), doc(6, "s3://records/1998/a.png.pdf")]
    under = documents_under(docs, "s3://records/1998/")
    assert [d.id for d in under] == [1, 2, 5, 6]  # not 19980/, not the failed one
    out = tmp_path / "out"
    assert export_targets(under, "s3://records/1998", out) == {
        1: out / "a.pdf", 5: out / "a.tif.pdf", 6: out / "a.png.pdf",
        2: out / "sub" / "b.pdf"}
    local = [doc(7, str(tmp_path / "scans" / "x.png")), doc(8, str(tmp_path / "scansx.png"))]
    assert export_targets(documents_under(local, str(tmp_path / "scans")),
                          str(tmp_path / "scans"), out) == {7: out / "x.pdf"}


def test_print_is_stored_losslessly_and_photos_as_jpeg(tmp_path: Path) -> None:
    import random

    import pypdfium2.raw as pdfium_c

    from engine.backends.searchable_pdf import _lossless_is_smaller

    typed = Image.new("L", (1700, 2200), 255)
    from PIL import ImageDraw

    draw = ImageDraw.Draw(typed)
    for row in range(60, 2100, 40):
        draw.text((100, row), "The monthly rent rises to 1,120 dollars from June " * 3,
                  fill=0)
    rng = random.Random(3)
    photo = Image.frombytes("L", (1200, 1600), bytes(rng.randrange(90, 170)
                                                    for _ in range(1200 * 1600)))
    assert _lossless_is_smaller(typed) and not _lossless_is_smaller(photo)
    target = tmp_path / "both.pdf"
    write_searchable_pdf([(typed, _page([], typed.size)), (photo, _page([], photo.size))],
                         target)
    document = pdfium.PdfDocument(str(target))
    filters = []
    for index in range(2):
        image = next(o for o in document[index].get_objects()
                     if o.type == pdfium_c.FPDF_PAGEOBJ_IMAGE)
        filters.append(image.get_filters())
    document.close()
    assert filters == [["FlateDecode"], ["DCTDecode"]]


def test_a_long_document_is_joined_from_parts_in_order(tmp_path: Path) -> None:
    """Pages go to disk a few at a time (PDFium holds unsaved pages' pixels whole) and
    are joined at the end: every page, in order, its words on it."""
    from engine.backends import searchable_pdf

    count = searchable_pdf._PAGES_PER_PART * 2 + 3
    pages = [(Image.new("L", (850, 1100), 255),
              PageText(n, 850, 1100, [Word(f"page{n}", Box(100, 100, 200, 40), 95.0)],
                       "ocr")) for n in range(1, count + 1)]
    target = tmp_path / "long.pdf"
    assert write_searchable_pdf(iter(pages), target) == count
    document = pdfium.PdfDocument(str(target))
    assert len(document) == count
    assert [document[i].get_textpage().get_text_range().strip() for i in range(count)] == \
        [f"page{n}" for n in range(1, count + 1)]
    document.close()
    assert [p.name for p in tmp_path.iterdir()] == ["long.pdf"]  # the parts are gone
