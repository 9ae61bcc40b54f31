"""PDFs through pypdfium2: text-layer pages keep their text; image-only pages are rendered."""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Any

from PIL import Image

from engine.errors import CorruptFile, EmptyDocument, EncryptedPdf, FileVanished, ImageTooLarge
from engine.ingest.readers.base import MAX_PAGE_PIXELS, PagePlan
from engine.models import Box, PageText, Word

RENDER_DPI = 300
_MIN_TEXT_CHARS = 20


def _open_pdf(path: Path) -> Any:
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    try:
        return pdfium.PdfDocument(str(path))
    except FileNotFoundError as e:
        raise FileVanished("file disappeared while indexing") from e
    except PermissionError as e:
        raise FileVanished("permission denied; make the file readable and index again") from e
    except pdfium.PdfiumError as e:
        # PDFium's last-error code is sticky across documents: confirm with the file.
        if e.err_code in (
            pdfium_c.FPDF_ERR_PASSWORD, pdfium_c.FPDF_ERR_SECURITY
        ) and _declares_encryption(path):
            raise EncryptedPdf(
                "PDF is password-protected; save an unprotected copy and index that"
            ) from e
        raise CorruptFile(
            f"cannot open PDF ({e}); it may be truncated, damaged or have no pages"
        ) from e


def _declares_encryption(path: Path) -> bool:
    with path.open("rb") as f:
        size = f.seek(0, 2)
        f.seek(max(0, size - (8 << 20)))
        return b"/Encrypt" in f.read()


def _usable(text: str) -> bool:
    """A text layer is usable when it holds enough real letters and digits."""
    letters = sum(1 for ch in text if ch.isalnum())
    junk = text.count("\ufffd")
    return letters >= _MIN_TEXT_CHARS and junk * 10 < letters


def _page_words(page: Any, textpage: Any, scale: float) -> list[Word]:
    count = textpage.count_chars()
    text = textpage.get_text_range(0, count)
    if len(text) != count:
        text = "".join(textpage.get_text_range(i, 1) or " " for i in range(count))
    height_pt = page.get_height()
    words: list[Word] = []
    current: list[str] = []
    box: list[float] | None = None

    def flush() -> None:
        nonlocal current, box
        if current and box:
            left, bottom, right, top = box
            words.append(
                Word(
                    text=unicodedata.normalize("NFC", "".join(current)),
                    box=Box(
                        int(left * scale),
                        int((height_pt - top) * scale),
                        max(1, int((right - left) * scale)),
                        max(1, int((top - bottom) * scale)),
                    ),
                )
            )
        current, box = [], None

    for i, ch in enumerate(text):
        if ch.isspace() or ch == "\x00":
            flush()
            continue
        left, bottom, right, top = textpage.get_charbox(i)
        current.append(ch)
        if box is None:
            box = [left, bottom, right, top]
        else:
            box = [min(box[0], left), min(box[1], bottom), max(box[2], right), max(box[3], top)]
    flush()
    return words


def plan_pdf(path: Path, *, max_pixels: int = MAX_PAGE_PIXELS) -> list[PagePlan]:
    """Pages with a usable text layer come back with their words; the rest need OCR."""
    import pypdfium2 as pdfium

    pdf = _open_pdf(path)
    try:
        n = len(pdf)
        if n == 0:
            raise EmptyDocument("PDF has no pages")
        scale = RENDER_DPI / 72
        plans: list[PagePlan] = []
        for index in range(n):
            try:
                page = pdf[index]
                textpage = page.get_textpage()
                raw = textpage.get_text_range()
                if _usable(raw):
                    width, height = page.get_size()
                    words = _page_words(page, textpage, scale)
                    plans.append(
                        PagePlan(
                            index + 1,
                            PageText(
                                page_no=index + 1,
                                width=int(width * scale),
                                height=int(height * scale),
                                words=words,
                                source="text-layer",
                            ),
                        )
                    )
                else:
                    width, height = page.get_size()
                    if width * height * scale * scale > max_pixels:
                        raise ImageTooLarge(
                            f"page {index + 1} is {width / 72:.0f}x{height / 72:.0f} inches; "
                            f"too large to render at {RENDER_DPI} dpi")
                    plans.append(PagePlan(index + 1, None))
            except pdfium.PdfiumError as e:
                raise CorruptFile(f"page {index + 1} cannot be read ({e})") from e
        return plans
    finally:
        pdf.close()


def render_pdf_page(
    path: Path, index: int, *, dpi: int = RENDER_DPI, max_pixels: int = MAX_PAGE_PIXELS,
    color: bool = False,
) -> Image.Image:
    """Render one page to 8-bit grayscale (with color, RGB) at dpi; a page that would
    pass max_pixels is refused (ImageTooLarge) before anything is rendered."""
    import pypdfium2 as pdfium

    pdf = _open_pdf(path)
    try:
        page = pdf[index]
        width_pt, height_pt = page.get_size()
        scale = dpi / 72
        if width_pt * height_pt * scale * scale > max_pixels:
            raise ImageTooLarge(
                f"page {index + 1} is {width_pt / 72:.0f}x{height_pt / 72:.0f} inches; "
                "too large to render at 300 dpi"
            )
        bitmap = page.render(scale=scale, grayscale=not color)
        image: Image.Image = bitmap.to_pil().convert("RGB" if color else "L")
        image.info["dpi"] = (dpi, dpi)
        return image
    except pdfium.PdfiumError as e:
        raise CorruptFile(f"page {index + 1} cannot be rendered ({e})") from e
    finally:
        pdf.close()
