"""Fast fakes of Scandex's outside dependencies, for unit tests and users' own tests.

``FakeOcr`` reads the words a test wrote into a PNG's text chunk instead of
running Tesseract; ``HashingEmbedder`` maps words to hashed dimensions so that
texts sharing words are close. Both are deterministic and picklable.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, PngImagePlugin

from engine.errors import MissingLanguage, OcrFailed
from engine.models import Box, Word
from engine.protocols import OcrOptions, OcrResult

FAKE_TEXT_KEY = "scandex-fake-text"


def write_fake_scan(path: Path, text: str, *, size: tuple[int, int] = (850, 1100)) -> Path:
    """A blank PNG page whose text chunk carries the words FakeOcr will 'read'."""
    info = PngImagePlugin.PngInfo()
    info.add_text(FAKE_TEXT_KEY, text)
    Image.new("L", size, 255).save(path, pnginfo=info)
    return path


@dataclass(frozen=True)
class FakeOcr:
    """Returns the words stored in the image's text chunk, laid out in lines."""

    languages: tuple[str, ...] = ("eng", "deu", "osd")
    words_per_line: int = 10

    def check(self, lang: str) -> None:
        """Refuse languages outside self.languages, like Tesseract would."""
        for code in lang.split("+"):
            if code not in self.languages:
                raise MissingLanguage(code, list(self.languages))

    def ocr(self, image: Image.Image, options: OcrOptions) -> OcrResult:
        """Lay the stored words out on a grid of 10-word lines."""
        text = image.info.get(FAKE_TEXT_KEY, "")  # a page without fake text reads as blank
        if text == "!fail":
            raise OcrFailed("FakeOcr: asked to fail")
        words = []
        for i, token in enumerate(str(text).split()):
            row, col = divmod(i, self.words_per_line)
            words.append(Word(token, Box(40 + col * 80, 40 + row * 30, 70, 24), 95.0))
        return OcrResult(words=words, width=image.width, height=image.height)


_TOKEN = re.compile(r"\w+")


def _fold(token: str) -> str:
    decomposed = unicodedata.normalize("NFKD", token.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@dataclass
class HashingEmbedder:
    """Bag of hashed words: a cheap stand-in with real cosine behaviour."""

    dim: int = 384
    model_id: str = "test/hashing-embedder"

    def embed(self, texts: list[str]) -> np.ndarray:
        """One unit vector per text (zero vectors stay zero)."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for token in _TOKEN.findall(text):
                digest = hashlib.blake2b(_fold(token).encode(), digest_size=4).digest()
                out[row, int.from_bytes(digest, "little") % self.dim] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        np.divide(out, norms, out=out, where=norms > 0)
        return out
