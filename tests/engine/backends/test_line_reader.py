"""The line recogniser: decoding, placement, the script gate, and the real model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from engine.backends import line_reader
from engine.backends.line_reader import (
    PaddleLineReader,
    _allowed,
    _words,
    default_line_reader,
    read_regions,
    reads_script,
)
from engine.backends.tesseract import TesseractOcr
from engine.errors import OcrFailed
from engine.models import Box, Word
from engine.protocols import OcrOptions

FUNSD = Path(__file__).resolve().parents[4] / "shared" / "corpus" / "funsd" / \
    "training_data" / "images"


def _columns(characters: list[str], spelled: list[str]) -> np.ndarray:
    """Network output that is sure of one output per column (a name from characters,
    "" for the CTC blank, " " for the space)."""
    index = {c: i + 1 for i, c in enumerate(characters)}
    out = np.zeros((len(spelled), len(characters) + 2), dtype=np.float32)
    for column, name in enumerate(spelled):
        out[column, 0 if name == "" else len(characters) + 1 if name == " " else index[name]] = 0.9
    return out


def test_ctc_decoding_joins_repeats_splits_words_and_boxes_them_by_column() -> None:
    characters = ["a", "b", "1", "/"]
    spelled = ["a", "a", "", "a", "b", " ", "", "1", "/", "1"]
    words = _words(_columns(characters, spelled), characters, _allowed(characters), 1.0, 20)
    assert [w.text for w in words] == ["aab", "1/1"]
    assert words[0].box.x == 0 and words[1].box.x == round(6.5 * 8)
    assert words[0].box.x + words[0].box.w <= words[1].box.x
    # 90 % sure, reported as at most MAX_CONF (see there).
    assert all(w.box.h == 20 and w.conf == line_reader.MAX_CONF for w in words)


def test_a_latin_page_is_never_read_as_hanzi() -> None:
    characters = ["中", "P", "：", "w"]
    probabilities = _columns(characters, ["中", "", "：", "w"])
    probabilities[0, 2] = 0.4  # "P", the runner-up, where the network preferred a hanzi
    words = _words(probabilities, characters, _allowed(characters), 1.0, 10)
    # The full-width colon is a Latin one in NFKC; the hanzi gives way to "P".
    assert [w.text for w in words] == ["P:w"]


@pytest.mark.parametrize(("lang", "latin"), [("eng", True), ("eng+deu+fra", True),
                                             ("rus", False), ("eng+chi_sim", False)])
def test_only_latin_script_pages_are_read_by_the_recogniser(lang: str, latin: bool) -> None:
    assert reads_script(lang) is latin


class _RecordingReader:
    def __init__(self, text: str) -> None:
        self.text, self.crops = text, []  # type: ignore[var-annotated]

    def read_lines(self, crops: list[Image.Image]) -> list[list[Word]]:
        self.crops.extend(crops)
        return [[Word(self.text, Box(2, 0, c.width - 4, c.height), 95.0)] for c in crops]


def test_regions_read_come_back_in_page_pixels_and_tiny_ones_are_skipped() -> None:
    page = Image.new("L", (400, 200), 255)
    reader = _RecordingReader("12-4-80")
    read = read_regions(reader, page, [Box(100, 50, 80, 20), Box(10, 10, 2, 2)])
    assert read[1] == [] and len(reader.crops) == 1
    assert read[0] == [Word("12-4-80", Box(102, 50, 76, 20), 95.0)]


def _cell_page() -> Image.Image:
    """A heading, and a date in a ruled box the page's read may skip."""
    page = Image.new("L", (900, 400), 255)
    draw = ImageDraw.Draw(page)
    draw.text((40, 40), "QUARTERLY REPORT OF THE RESEARCH CENTER", fill=0,
              font=ImageFont.load_default(size=28))
    draw.rectangle((560, 200, 860, 260), outline=0, width=3)
    draw.text((600, 215), "12-4-80", fill=0, font=ImageFont.load_default(size=24))
    return page


def test_unread_ink_goes_to_the_recogniser_on_latin_pages_to_tesseract_otherwise(
        monkeypatch: pytest.MonkeyPatch) -> None:
    reader = _RecordingReader("12-4-80")
    ocr = TesseractOcr(line_reader=reader)
    tesseract_lines: list[Box] = []
    monkeypatch.setattr(TesseractOcr, "_read_field",
                        lambda self, image, box, *a, **k: tesseract_lines.append(box) or [])
    heading = [Word("QUARTERLY", Box(40, 40, 200, 30), 96.0)]
    words = ocr._with_unread_ink(_cell_page(), heading, OcrOptions(lang="eng"))
    assert reader.crops and not tesseract_lines
    assert "12-4-80" in [w.text for w in words]
    reader.crops.clear()
    ocr._with_unread_ink(_cell_page(), heading, OcrOptions(lang="ell"))
    assert not reader.crops and tesseract_lines


def test_without_the_wheel_tesseract_reads_the_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(line_reader.importlib.util, "find_spec", lambda name: None)
    assert default_line_reader() is None
    assert TesseractOcr().line_reader is None


def test_the_real_recogniser_reads_a_printed_line() -> None:
    reader = default_line_reader()
    assert reader is not None, "rapidocr-onnxruntime (the model's wheel) is a dependency"
    line = Image.new("L", (420, 40), 255)
    ImageDraw.Draw(line).text((8, 6), "Invoice 2024-03-11 paid", fill=0,
                              font=ImageFont.load_default(size=26))
    words = reader.read_lines([line, line.crop((0, 0, 200, 40))])
    assert [w.text for w in words[0]] == ["Invoice", "2024-03-11", "paid"]
    assert all(80 < w.conf <= line_reader.MAX_CONF for w in words[0])
    assert words[0][0].box.x < words[0][1].box.x < words[0][2].box.x <= 420
    assert words[1] and words[1][0].text == "Invoice"


@pytest.mark.slow
def test_a_hand_printed_date_in_a_real_form_is_read() -> None:
    """FUNSD 00836816: "8/10/82" written by hand beside DATE, which the page's read of
    Tesseract leaves out."""
    from engine.backends.factory import make_ocr

    path = FUNSD / "00836816.png"
    if not path.exists():
        pytest.skip("the FUNSD corpus is not beside this checkout")
    words = make_ocr().ocr(Image.open(path), OcrOptions()).words
    assert "8/10/82" in " ".join(w.text for w in words)


def test_the_reader_survives_pickling_for_worker_processes() -> None:
    import pickle

    reader = PaddleLineReader()
    assert pickle.loads(pickle.dumps(reader)).model == reader.model


def test_a_damaged_model_leaves_the_lines_to_tesseract(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    broken = tmp_path / "rec.onnx"
    broken.write_bytes(b"not a model")
    reader = PaddleLineReader(model=broken)
    with pytest.raises(OcrFailed, match="reinstall|Reinstall"):
        reader.read_lines([Image.new("L", (80, 20), 255)])
    tesseract_lines: list[Box] = []
    monkeypatch.setattr(TesseractOcr, "_read_field",
                        lambda self, image, box, *a, **k: tesseract_lines.append(box) or [])
    heading = [Word("QUARTERLY", Box(40, 40, 200, 30), 96.0)]
    TesseractOcr(line_reader=reader)._with_unread_ink(_cell_page(), heading,
                                                     OcrOptions(lang="eng"))
    assert tesseract_lines
