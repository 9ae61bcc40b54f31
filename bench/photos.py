"""Pages photographed with a phone, made by code: the sheet in perspective on a desk,
the light falling off to one side, recompressed as a phone's JPEG."""

from __future__ import annotations

import random
from io import BytesIO

import numpy as np
from PIL import Image, ImageFilter


def phone_photo(page: Image.Image, corners: list[tuple[float, float]],
                size: tuple[int, int], desk: int = 80) -> Image.Image:
    """page photographed on a desk: its corners (clockwise from top-left) placed at
    corners of a photo of size, the light falling off towards one side."""
    width, height = page.size
    rows = []
    for (x, y), (u, v) in zip(corners, [(0, 0), (width, 0), (width, height), (0, height)],
                              strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
    source = np.array([(0, 0), (width, 0), (width, height), (0, height)], dtype=float)
    coefficients = tuple(np.linalg.solve(np.array(rows, dtype=float), source.reshape(8)))
    gray = page.convert("L")
    warped = gray.transform(size, Image.Transform.PERSPECTIVE, coefficients,
                            Image.Resampling.BICUBIC)
    mask = Image.new("L", gray.size, 255).transform(size, Image.Transform.PERSPECTIVE,
                                                    coefficients, Image.Resampling.BILINEAR)
    photo = Image.new("L", size, desk)
    photo.paste(warped, (0, 0), mask)
    light = np.linspace(1.0, 0.8, size[0])[None, :]
    shaded = np.clip(np.asarray(photo, dtype=np.float64) * light, 0, 255).astype(np.uint8)
    return Image.fromarray(shaded)


def photographed(page: Image.Image, seed: int, tilt: float = 0.04) -> Image.Image:
    """page photographed from a random slant (each corner moved up to tilt of the photo),
    a little blurred and saved as a JPEG."""
    rng = random.Random(seed)
    scale = rng.uniform(1.1, 1.4)
    size = (int(page.width * scale * 1.12), int(page.height * scale * 1.12))
    margin = 0.06

    def corner(x: float, y: float) -> tuple[float, float]:
        return ((margin + x * (1 - 2 * margin) + rng.uniform(-tilt, tilt)) * size[0],
                (margin + y * (1 - 2 * margin) + rng.uniform(-tilt, tilt)) * size[1])

    corners = [corner(0, 0), corner(1, 0), corner(1, 1), corner(0, 1)]
    photo = phone_photo(page.resize((int(page.width * scale), int(page.height * scale)),
                                    Image.Resampling.LANCZOS), corners, size,
                        desk=rng.randint(50, 110))
    photo = photo.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 0.8)))
    out = BytesIO()
    photo.save(out, format="JPEG", quality=rng.randint(70, 88))
    return Image.open(BytesIO(out.getvalue()))


def cast_shadow(photo: Image.Image, angle: float, through: tuple[float, float],
                darkest: float, softness: float) -> Image.Image:
    """A shadow cast across the photo (desk and sheet alike): the side of a line through
    `through` (shares of the photo), at `angle` radians, darkened to `darkest` with an
    edge `softness` pixels wide."""
    pixels = np.asarray(photo.convert("L"), dtype=np.float64)
    height, width = pixels.shape
    rows, columns = np.mgrid[0:height, 0:width]
    side = (columns - through[0] * width) * np.cos(angle) + \
        (rows - through[1] * height) * np.sin(angle)
    light = darkest + (1 - darkest) / (1 + np.exp(-side / softness))
    return Image.fromarray(np.clip(pixels * light, 0, 255).astype(np.uint8))
