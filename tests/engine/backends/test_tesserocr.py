"""The in-process Tesseract (tesserocr) reads what the CLI reads, in the same coordinates,
and is the default only where it works."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
from PIL import Image

from engine import MissingLanguage, OcrFailed, UsageError
from engine.backends.factory import make_ocr
from engine.backends.tesseract import TesseractOcr
from engine.protocols import OcrOptions

pytest.importorskip("tesserocr")
from engine.backends.tesserocr_ocr import TesserocrOcr, tessdata_dir  # noqa: E402

CORPUS = Path(__file__).resolve().parents[4] / "shared" / "corpus" / "tesseract-test"
needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason="needs ../shared/corpus")


def test_the_models_are_found_where_the_cli_finds_them() -> None:
    folder = tessdata_dir()
    assert folder is not None and (Path(folder) / "eng.traineddata").is_file()


@needs_corpus
def test_it_reads_what_the_cli_reads_in_the_same_boxes() -> None:
    image = Image.open(CORPUS / "phototest.tif")
    ours = TesserocrOcr().ocr(image, OcrOptions())
    cli = TesseractOcr().ocr(image, OcrOptions())
    assert [w.text for w in ours.words] == [w.text for w in cli.words]
    for a, b in zip(ours.words, cli.words, strict=True):
        assert abs(a.box.x - b.box.x) <= 3 and abs(a.box.y - b.box.y) <= 3
        assert abs(a.box.w - b.box.w) <= 4 and abs(a.box.h - b.box.h) <= 4
        assert 0 <= a.conf <= 100
    assert (ours.width, ours.height) == (cli.width, cli.height)


@needs_corpus
@pytest.mark.parametrize(("name", "turn"), [("phototest-rotated-L.png", 90),
                                            ("phototest-rotated-180.png", 180)])
def test_sideways_pages_are_turned_as_the_cli_turns_them(name: str, turn: int) -> None:
    result = TesserocrOcr().ocr(Image.open(CORPUS / name), OcrOptions())
    assert result.rotation == turn
    assert "quick brown dog" in " ".join(w.text for w in result.words)


def test_a_page_past_its_time_limit_fails_clearly() -> None:
    busy = Image.effect_noise((2400, 3200), 90).convert("L")
    with pytest.raises(OcrFailed, match="page-timeout"):
        TesserocrOcr().ocr(busy, OcrOptions(timeout_s=0.001, detect_rotation=False))


def test_a_missing_language_names_the_package() -> None:
    with pytest.raises(MissingLanguage, match="tesseract-ocr-zzz"):
        TesserocrOcr().check("eng+zzz")


def test_it_travels_to_worker_processes() -> None:
    engine = TesserocrOcr()
    assert pickle.loads(pickle.dumps(engine)) == engine


def test_selection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SCANDEX_OCR", raising=False)
    assert isinstance(make_ocr(), TesserocrOcr)
    monkeypatch.setenv("SCANDEX_OCR", "tesseract")
    assert type(make_ocr()) is TesseractOcr
    assert isinstance(make_ocr("tesserocr"), TesserocrOcr)
    with pytest.raises(UsageError, match="unknown OCR engine"):
        make_ocr("abbyy")
