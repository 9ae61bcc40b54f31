"""What a file is and who it is: sniffing by content, SHA-256 of content, safe names.

The one place that knows the supported scan types (by magic bytes and by extension)
and the one SHA-256 of a file that ingest, sync and the library all use.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from engine.errors import OriginalUnavailable
from engine.models import DocumentInfo, FileKind

_SAFE_NAME = re.compile(r"[^\w.\- ]+")

# Extensions that announce a scan: a file with one of these whose content is not
# a scan is reported as failed; other unknown files in a folder are skipped quietly.
SCAN_EXTENSIONS = frozenset(
    {".png", ".jpg", ".jpeg", ".jpe", ".tif", ".tiff", ".bmp", ".gif", ".webp", ".pdf",
     ".heic", ".heif", ".hif", ".avif", ".jp2", ".j2k", ".j2c", ".jpf", ".jpx",
     ".pnm", ".pbm", ".pgm", ".ppm"}
)
# ISO base media files say what they hold in their first box ('ftyp'): its major brand
# and its compatible brands.
_HEIF_BRANDS = frozenset({b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm",
                          b"hevs", b"mif1", b"msf1"})
_AVIF_BRANDS = frozenset({b"avif", b"avis"})
_JP2_SIGNATURE = b"\x00\x00\x00\x0cjP  \r\n\x87\n"
_J2K_CODESTREAM = b"\xff\x4f\xff\x51"


def _media_brand(head: bytes) -> FileKind | None:
    """HEIF or AVIF from an 'ftyp' box: AVIF when any brand says so (an AVIF file may
    carry the generic 'mif1' first), HEIF for the HEVC and generic image brands."""
    if head[4:8] != b"ftyp" or len(head) < 16:
        return None
    size = int.from_bytes(head[:4], "big")
    end = min(len(head), size) if size >= 16 else 16
    brands = {head[8:12]} | {head[i : i + 4] for i in range(16, end - 3, 4)}
    if brands & _AVIF_BRANDS:
        return FileKind.AVIF
    if brands & _HEIF_BRANDS:
        return FileKind.HEIF
    return None


def sniff(head: bytes) -> FileKind | None:
    """The kind of a file from its first bytes, or None when it is no scan we read."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return FileKind.PNG
    if head.startswith(b"\xff\xd8\xff"):
        return FileKind.JPEG
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return FileKind.TIFF
    if head.startswith(b"BM") and len(head) >= 26:
        return FileKind.BMP
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return FileKind.GIF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return FileKind.WEBP
    if (brand := _media_brand(head)) is not None:
        return brand
    if head.startswith((_JP2_SIGNATURE, _J2K_CODESTREAM)):
        return FileKind.JPEG2000
    # netpbm: P1-P6 then whitespace (P7, PAM, has no grey/colour scan convention).
    if head[:1] == b"P" and head[1:2] in (b"1", b"2", b"3", b"4", b"5", b"6") and \
            head[2:3] in (b" ", b"\t", b"\n", b"\r"):
        return FileKind.PNM
    # PDF allows junk before the header within the first 1024 bytes.
    if b"%PDF-" in head[:1024]:
        return FileKind.PDF
    return None


def sniff_path(path: Path) -> FileKind | None:
    """Sniff the file at path (reads at most 1 KiB)."""
    with path.open("rb") as f:
        return sniff(f.read(1024))


def sha256_file(path: Path, chunk_size: int = 1 << 20) -> str:
    """SHA-256 of a file's content, streamed."""
    with path.open("rb") as f:
        return sha256_of_handle(f, chunk_size)


def sha256_of_handle(handle: BinaryIO, chunk_size: int = 1 << 20) -> str:
    """SHA-256 of the rest of an open binary file, streamed."""
    digest = hashlib.sha256()
    while block := handle.read(chunk_size):
        digest.update(block)
    return digest.hexdigest()




def safe_filename(name: str | None, fallback: str) -> str:
    """A basename (from an upload or a bucket) with no separators, control characters or
    leading dots, safe to use on disk."""
    base = (name or "").replace("\\", "/").split("/")[-1]
    base = unicodedata.normalize("NFC", base).replace("\x00", "")
    base = _SAFE_NAME.sub("_", base).strip(" .")[:120]
    return base or fallback


def open_verified(locate: Callable[[], Path], info: DocumentInfo) -> BinaryIO:
    """info's original (at locate()), opened and checked against its indexed SHA-256.

    The check reads the same open file that the caller then reads, so a file swapped
    for another (or for a symlink to one) after indexing is never handed out.
    """
    try:
        handle = locate().open("rb")
    except (FileNotFoundError, NotADirectoryError) as e:
        raise OriginalUnavailable(
            f"the original of document {info.id} is no longer at {info.path}", gone=True
        ) from e
    except OSError as e:
        raise OriginalUnavailable(f"cannot read the original of document {info.id}: "
                                  f"{e.strerror or e}", gone=True) from e
    try:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise OriginalUnavailable(f"{info.path} is no longer a regular file", gone=True)
        if sha256_of_handle(handle) != info.sha256:
            raise OriginalUnavailable(
                f"{info.path} changed since it was indexed; index it again to serve it",
                gone=False)
        handle.seek(0)
    except BaseException:
        handle.close()
        raise
    return handle
