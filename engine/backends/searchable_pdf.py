"""A searchable PDF of scanned pages: each page's image, with its OCR words laid over it
as invisible text, each word stretched to its box, so a PDF reader finds, selects and
copies the words where they are printed (what OCRmyPDF makes of a scan).

Written with PDFium (pypdfium2, already the PDF reader here): the page image as a JPEG
or losslessly, whichever is smaller, the words in the standard Helvetica font (nothing
embedded), text render mode 3 (invisible). Each word is measured after it is set and
then scaled to its box, so selection lines up whatever the font's widths.

`python -m engine.cli.main export` of the 200 pages of `bench e2e` (FUNSD forms, UNLV
pages, 300-dpi letters): 6.8 s, 22 MB of PDFs for 24 MB of originals (JPEG alone: 52 MB).
"""

from __future__ import annotations

import ctypes
import io
import os
import shutil
import tempfile
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

from PIL import Image

from engine.backends.tesseract import tagged_dpi
from engine.errors import LibraryError, UsageError
from engine.models import Box, DocumentInfo, FileKind, PageText

# A page image without a usable resolution tag is taken to be this tall (an A4 page's
# long side, in inches), so the PDF page has a paper's size rather than 72 dpi's.
_ASSUMED_LONG_SIDE_IN = 11.69
_JPEG_QUALITY = 85


def page_dpi(image: Image.Image) -> float:
    """The image's resolution: its tag when plausible, else as if it were an A4 page."""
    x_dpi = tagged_dpi(image)
    if 50 <= x_dpi <= 2400:
        return x_dpi
    return max(image.size) / _ASSUMED_LONG_SIDE_IN


def _stored_mode(image: Image.Image) -> Image.Image:
    """Grey stays grey (a third of the bytes of colour), anything else becomes RGB."""
    if image.mode in ("L", "RGB"):
        return image
    return image.convert("L" if image.mode in ("1", "L", "LA", "I", "I;16", "F") else "RGB")


def _lossless_is_smaller(image: Image.Image) -> bool:
    """Whether a page compresses smaller losslessly than as a JPEG: clean print on white
    does (a typed 300-dpi letter: 221 KB against 807 KB), a photo or a grey scan with
    texture does not. Judged on a band across the page's middle, where its text is."""
    band = image.crop((0, max(0, image.height // 2 - 128), image.width,
                       min(image.height, image.height // 2 + 128)))
    lossless, lossy = io.BytesIO(), io.BytesIO()
    band.save(lossless, "PNG", compress_level=6)
    band.save(lossy, "JPEG", quality=_JPEG_QUALITY)
    return lossless.tell() <= lossy.tell()


def _jpeg(image: Image.Image) -> io.BytesIO:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=_JPEG_QUALITY, optimize=True)
    buffer.seek(0)
    return buffer


# Letters NFKD does not take apart, to the Latin letter a reader would search for.
_PLAIN = str.maketrans({"Ł": "L", "ł": "l", "Đ": "D", "đ": "d", "ı": "i", "Ħ": "H",
                        "ħ": "h", "ŀ": "l", "Ŀ": "L"})


def _encodable(char: str) -> bool:
    try:
        char.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return True


def in_standard_font(text: str) -> str:
    """text as the standard Helvetica can carry it (WinAnsi): letters outside it by
    their Latin base ("Łódź" -> "Lódz"), what has none (Cyrillic, CJK) left out; PDFium
    would write those as "ÿ"."""
    kept = []
    for char in text.translate(_PLAIN):
        if _encodable(char):
            kept.append(char)
            continue
        kept.extend(part for part in unicodedata.normalize("NFKD", char)
                    if _encodable(part) and not unicodedata.combining(part))
    return "".join(kept)


def _utf16(text: str) -> Any:
    data = (text + "\0").encode("utf-16-le")
    return ctypes.cast(ctypes.create_string_buffer(data, len(data)),
                       ctypes.POINTER(ctypes.c_ushort))


def _lay_word(raw_page: Any, raw_pdf: Any, font: Any, text: str,
              box: tuple[float, float, float, float], spaced: bool) -> None:
    """One invisible word filling box (left, bottom, width, height, in points); spaced,
    with a space after it, so that text taken out of the PDF keeps its words apart."""
    import pypdfium2.raw as pdfium_c

    left, bottom, width, height = box
    obj = pdfium_c.FPDFPageObj_CreateTextObj(raw_pdf, font, ctypes.c_float(max(height, 1.0)))
    if not obj:
        return
    if not pdfium_c.FPDFText_SetText(obj, _utf16(text)):
        pdfium_c.FPDFPageObj_Destroy(obj)
        return
    pdfium_c.FPDFTextObj_SetTextRenderMode(obj, pdfium_c.FPDF_TEXTRENDERMODE_INVISIBLE)
    edges = [ctypes.c_float() for _ in range(4)]
    measured = pdfium_c.FPDFPageObj_GetBounds(obj, *(ctypes.byref(e) for e in edges))
    x0, y0, x1, y1 = (e.value for e in edges)
    if not measured or x1 - x0 <= 0 or y1 - y0 <= 0:
        pdfium_c.FPDFPageObj_Destroy(obj)
        return
    across, up = width / (x1 - x0), height / (y1 - y0)
    if spaced:  # measured without it: the space falls in the gap to the next word
        pdfium_c.FPDFText_SetText(obj, _utf16(text + " "))
    pdfium_c.FPDFPageObj_Transform(obj, across, 0, 0, up, left - x0 * across,
                                   bottom - y0 * up)
    pdfium_c.FPDFPage_InsertObject(raw_page, obj)


def _same_line(first: Box, then: Box) -> bool:
    """Whether then follows first on its line (to its right, their heights overlapping)."""
    overlap = min(first.y + first.h, then.y + then.h) - max(first.y, then.y)
    return then.x >= first.x + first.w and overlap > 0.5 * min(first.h, then.h)


def _add_page(pdf: Any, font: Any, image: Image.Image, page: PageText,
              keep: list[io.BytesIO]) -> None:
    import pypdfium2 as pdfium

    to_points = 72.0 / page_dpi(image)
    width_pt, height_pt = image.width * to_points, image.height * to_points
    pdf_page = pdf.new_page(width_pt, height_pt)
    try:
        picture = pdfium.PdfImage.new(pdf)
        stored = _stored_mode(image)
        if _lossless_is_smaller(stored):
            picture.set_bitmap(pdfium.PdfBitmap.from_pil(stored))  # Flate
        else:
            jpeg = _jpeg(stored)
            keep.append(jpeg)  # PDFium reads it when the document is saved
            picture.load_jpeg(jpeg, inline=False, autoclose=False)
        picture.set_matrix(pdfium.PdfMatrix().scale(width_pt, height_pt))
        pdf_page.insert_obj(picture)
        # The words' boxes are in the page's own pixels as it was read.
        across = width_pt / max(1, page.width)
        down = height_pt / max(1, page.height)
        words = [(w, in_standard_font(w.text.strip())) for w in page.words]
        words = [(w, text) for w, text in words if text]
        for index, (word, text) in enumerate(words):
            after = words[index + 1][0] if index + 1 < len(words) else None
            box = word.box
            _lay_word(pdf_page.raw, pdf.raw, font, text,
                      (box.x * across, height_pt - (box.y + box.h) * down,
                       max(box.w * across, 0.5), max(box.h * down, 0.5)),
                      after is not None and _same_line(box, after.box))
        pdf_page.gen_content()
    finally:
        pdf_page.close()


@contextmanager
def partial_file(target: Path) -> Iterator[Path]:
    """A file beside target that becomes target only when whole."""
    partial = target.with_name(f".{target.name}.{os.getpid()}.part")
    try:
        yield partial
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)


# Pages are written this many to a part file, and the parts joined at the end: PDFium
# holds a page's pixels uncompressed until it saves (8.3 MB a 300-dpi page: 4 GB for 500
# pages), while pages imported from a saved part stay compressed (a 120-page document:
# 155 MB at most, against 404 MB for 40 pages in one go).
_PAGES_PER_PART = 8


@contextmanager
def _writing(target: Path) -> Iterator[None]:
    try:
        yield
    except OSError as e:
        raise LibraryError(f"cannot write {target}: {e.strerror or e}; choose another "
                           "place to save it") from e


def _write_part(pages: list[tuple[Image.Image, PageText]], path: Path, target: Path) -> None:
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    pdf = pdfium.PdfDocument.new()
    keep: list[io.BytesIO] = []
    font = pdfium_c.FPDFText_LoadStandardFont(pdf.raw, b"Helvetica")
    try:
        for image, page in pages:
            _add_page(pdf, font, image, page, keep)
        with _writing(target):
            pdf.save(path)
    finally:
        pdfium_c.FPDFFont_Close(font)
        pdf.close()
        for buffer in keep:
            buffer.close()


def _join(parts: list[Path], path: Path) -> None:
    import pypdfium2 as pdfium

    whole = pdfium.PdfDocument.new()
    opened = []
    try:
        for part in parts:
            opened.append(pdfium.PdfDocument(str(part)))
            whole.import_pages(opened[-1])
        whole.save(path)
    finally:
        whole.close()
        for document in opened:
            document.close()


def write_searchable_pdf(pages: Iterable[tuple[Image.Image, PageText]], target: Path) -> int:
    """Write the pages (each image with the OCR text read from it) to target as one
    searchable PDF, whole or not at all; returns the page count."""
    with _writing(target):
        folder = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    try:
        parts: list[Path] = []
        batch: list[tuple[Image.Image, PageText]] = []
        count = 0
        for item in pages:
            batch.append(item)
            count += 1
            if len(batch) == _PAGES_PER_PART:
                parts.append(folder / f"{len(parts):06}.pdf")
                _write_part(batch, parts[-1], target)
                batch = []
        if batch or not parts:
            parts.append(folder / f"{len(parts):06}.pdf")
            _write_part(batch, parts[-1], target)
        with _writing(target), partial_file(target) as partial:
            if len(parts) == 1:
                parts[0].replace(partial)
            else:
                _join(parts, partial)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return count


def export_document(info: DocumentInfo, pages: list[PageText], target: Path, *,
                    open_original: Callable[[], BinaryIO],
                    page_image: Callable[[int], Image.Image],
                    progress: Callable[[int, int], None] | None = None) -> int:
    """A library document as a searchable PDF at target (see Library.export_pdf):
    open_original() gives its bytes checked against the index, page_image(n) its page
    n turned as it was read."""
    if not pages:
        raise UsageError(f"document {info.id} has no recognised pages to export"
                         + (f" ({info.error})" if info.error else ""))
    if target.is_dir():
        raise UsageError(f"{target} is a folder; give the PDF's file name")
    # The words fit the pages as they were indexed: a changed original would put them
    # in the wrong places.
    with open_original() as original:
        if info.kind == FileKind.PDF.value and all(p.source == "text-layer" for p in pages):
            try:
                with partial_file(target) as partial, partial.open("wb") as out:
                    shutil.copyfileobj(original, out)
            except OSError as e:
                raise LibraryError(f"cannot write {target}: {e.strerror or e}; choose "
                                   "another place to save it") from e
            return len(pages)

    def images() -> Iterator[tuple[Image.Image, PageText]]:
        for done, page in enumerate(pages, start=1):
            yield page_image(page.page_no), page
            if progress is not None:
                progress(done, len(pages))

    return write_searchable_pdf(images(), target)
