"""Scans made by code for the tests: rendered text pages and broken files."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont


def text_page(lines: list[str], *, size: tuple[int, int] = (1275, 1650), font_px: int = 34,
              rotate: int = 0, paper: int = 255, ink: int = 0,
              line_px: int | None = None) -> Image.Image:
    """A clean page (150 dpi letter) with lines of text, optionally turned."""
    page = Image.new("L", size, paper)
    draw = ImageDraw.Draw(page)
    font = ImageFont.load_default(size=font_px)
    for i, line in enumerate(lines):
        draw.text((100, 120 + i * (line_px or int(font_px * 1.8))), line, font=font, fill=ink)
    if rotate:
        page = page.rotate(rotate, expand=True, fillcolor=255)
    page.info["dpi"] = (150, 150)
    return page


def save_text_page(path: Path, lines: list[str], **kwargs: object) -> Path:
    """Write a text page in the format the suffix names."""
    page = text_page(lines, **kwargs)  # type: ignore[arg-type]
    page.save(path, dpi=(150, 150))
    return path


def image_pdf(path: Path, pages: list[Image.Image]) -> Path:
    """An image-only PDF (no text layer), like a scanner writes."""
    pages[0].save(path, save_all=True, append_images=pages[1:], resolution=150)
    return path


def text_layer_pdf(path: Path, lines: list[str]) -> Path:
    """A PDF with a real text layer (Helvetica), written by hand."""
    content = "BT /F1 14 Tf 72 720 Td 18 TL " + " ".join(
        f"({line}) Tj T*" for line in lines
    ) + " ET"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        "/Resources << /Font << /F1 5 0 R >> >> >>",
        f"<< /Length {len(content)} >>\nstream\n{content}\nendstream",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    return _write_pdf(path, objects)


def _write_pdf(path: Path, objects: list[str], trailer_extra: str = "") -> Path:
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1"))
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R {trailer_extra}>>\n"
        f"startxref\n{xref}\n%%EOF\n".encode()
    )
    path.write_bytes(out.getvalue())
    return path


def encrypted_pdf(path: Path) -> Path:
    """A PDF protected by a user password (standard security handler, RC4 40-bit)."""
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>",
        "<< /Filter /Standard /V 1 /R 2 /O <" + "11" * 32 + "> /U <" + "22" * 32
        + "> /P -4 >>",
    ]
    return _write_pdf(path, objects, "/Encrypt 4 0 R /ID [<0123456789abcdef0123456789abcdef> "
                      "<0123456789abcdef0123456789abcdef>] ")


def empty_pdf(path: Path) -> Path:
    """A well-formed PDF with no pages."""
    return _write_pdf(
        path, ["<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [] /Count 0 >>"]
    )


def huge_page_pdf(path: Path) -> Path:
    """A PDF whose one page is 200 inches square (too large to render at 300 dpi)."""
    return _write_pdf(
        path,
        [
            "<< /Type /Catalog /Pages 2 0 R >>",
            "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 14400 14400] >>",
        ],
    )


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(
        ">I", zlib.crc32(kind + data) & 0xFFFFFFFF
    )


def png_header_only(path: Path, width: int, height: int) -> Path:
    """A PNG that claims a size (e.g. 30000x30000) with almost no data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    data = (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr)
            + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + _png_chunk(b"IEND", b""))
    path.write_bytes(data)
    return path


def decompression_bomb(path: Path, side: int = 14000) -> Path:
    """A valid, tiny PNG that inflates to side*side pixels of zeros."""
    compressor = zlib.compressobj(9)
    row = b"\x00" * (side + 1)
    body = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", body)
                     + _png_chunk(b"IEND", b""))
    return path


def truncate(source: Path, target: Path, keep: float = 0.5) -> Path:
    """A copy of source cut to a fraction of its bytes."""
    data = source.read_bytes()
    target.write_bytes(data[: max(16, int(len(data) * keep))])
    return target
