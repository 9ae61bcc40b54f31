"""Image files (PNG, JPEG, TIFF with every frame, BMP, GIF, WebP, HEIC/HEIF, AVIF,
JPEG 2000, netpbm) through Pillow; HEIC through the pi-heif plugin (libheif's decoder)."""

from __future__ import annotations

import contextlib
import functools
import warnings
from collections.abc import Iterator
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from engine.errors import (
    CorruptFile,
    EmptyDocument,
    FileVanished,
    ImageTooLarge,
    ScanError,
    UnsupportedFile,
)
from engine.ingest.readers.base import MAX_PAGE_PIXELS, PagePlan

# Pillow's own bomb guard stays armed as a second line behind ours.
Image.MAX_IMAGE_PIXELS = MAX_PAGE_PIXELS


@functools.cache
def heif_readable() -> bool:
    """Whether this install reads HEIC/HEIF (pi-heif registers its opener with Pillow).
    Imported on first use: most libraries hold no phone photos."""
    try:
        from pi_heif import register_heif_opener
    except ImportError:
        return False
    register_heif_opener()
    return True


def _open(path: Path) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(path)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise ImageTooLarge(f"image too large to read safely ({e})") from e
    except UnidentifiedImageError as e:
        # HEIC's opener joins Pillow when Pillow alone first fails to identify a file.
        if "HEIF" not in Image.OPEN and heif_readable():
            return _open(path)
        raise UnsupportedFile("not an image Scandex can read") from e
    except FileNotFoundError as e:
        raise FileVanished("file disappeared while indexing") from e
    except PermissionError as e:
        raise FileVanished("permission denied; make the file readable and index again") from e
    except OSError as e:
        raise CorruptFile(f"cannot decode image: {e}") from e
    except Exception as e:  # noqa: BLE001 - hostile headers raise anything; see _decoding
        raise CorruptFile(f"cannot decode image: {type(e).__name__}: {e}") from e


def _check_size(image: Image.Image, max_pixels: int, frame: int = 0) -> None:
    w, h = image.size
    where = f"frame {frame + 1} " if frame else ""
    if w <= 0 or h <= 0:
        raise CorruptFile(f"image {where}has no pixels")
    if w * h > max_pixels:
        raise ImageTooLarge(
            f"image {where}is {w}x{h} pixels, over the limit of {max_pixels // 1_000_000} MP; "
            "split or downscale it"
        )


@contextlib.contextmanager
def _decoding(what: str) -> Iterator[None]:
    """Pillow's decoders raise many kinds of errors on hostile bytes (TypeError, KeyError,
    struct.error, ZeroDivisionError, ... found by fuzzing): all of them mean the file is
    corrupt. Our own errors and MemoryError pass through."""
    try:
        yield
    except (ScanError, MemoryError):
        raise
    except Image.DecompressionBombError as e:
        raise ImageTooLarge(f"image too large to read safely ({e})") from e
    except EOFError as e:
        raise CorruptFile(f"{what}: data missing (truncated file?)") from e
    except Exception as e:  # noqa: BLE001 - a foreign decoder's errors, converted here
        raise CorruptFile(f"{what}: {type(e).__name__}: {e}") from e


def plan_image(path: Path, *, max_pixels: int = MAX_PAGE_PIXELS) -> list[PagePlan]:
    """One page per frame (multi-page TIFF, animated GIF/WebP take their frames)."""
    with _open(path) as image, _decoding("cannot read the image"):
        _check_size(image, max_pixels)
        frames = getattr(image, "n_frames", 1)
        if frames < 1:
            raise EmptyDocument("image has no frames")
        # Animated GIF/WebP frames are rarely separate pages; TIFF frames are.
        if image.format not in ("TIFF", "MPO") and frames > 1:
            frames = 1
        # Pillow's bomb check sees the first frame only; seeking reads a frame's header,
        # not its pixels, so every frame's size is checked before anything is decoded.
        for frame in range(1, frames):
            _seek(image, frame)
            _check_size(image, max_pixels, frame)
        return [PagePlan(page_no=i + 1, text=None) for i in range(frames)]


def _seek(image: Image.Image, frame: int) -> None:
    with _decoding(f"cannot read frame {frame + 1}"):
        image.seek(frame)


def _flatten(image: Image.Image, color: bool = False) -> Image.Image:
    """Grayscale (with color, RGB when it has colour) on white: transparent pixels
    would otherwise read as black."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        image = image.point(lambda v: v / 256).convert("L")
    if color and image.mode not in ("1", "L"):
        return image.convert("RGB") if image.mode != "RGB" else image
    return image.convert("L") if image.mode != "L" else image


def load_image_page(path: Path, frame: int, *, max_pixels: int = MAX_PAGE_PIXELS,
                    color: bool = False) -> Image.Image:
    """Decode one frame, upright per EXIF, flattened to 8-bit grayscale (with color,
    RGB when it has colour)."""
    with _open(path) as image:
        _check_size(image, max_pixels)
        _seek(image, frame)
        _check_size(image, max_pixels, frame)
        with _decoding(f"cannot decode frame {frame + 1}"):
            dpi = image.info.get("dpi")
            upright = ImageOps.exif_transpose(image) or image
            page = _flatten(upright, color)
            page.load()
    if dpi:
        page.info["dpi"] = dpi
    return page
