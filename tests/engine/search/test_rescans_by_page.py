"""A rescan read so poorly that its text cannot tell is still grouped by its pages (read
again from the files), while a copy of the same blank form filled in by another hand,
read as poorly, is not; nor is anything whose file is no longer on this machine."""

from __future__ import annotations

import dataclasses
import io
import os
import random
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter, ImageFont, PngImagePlugin

from engine import Library
from engine.backends.pool import InlineExecutor
from engine.ingest.first_pages import first_page_reader
from engine.models import PageText, Word
from engine.protocols import OcrOptions, OcrResult
from engine.search import page_likeness
from engine.search.duplicates import (
    IMAGE_TEXT_MIN,
    POOR_READ,
    UNREADABLE,
    UNREADABLE_COSINE,
    _gram_jaccard,
    pair_contents,
    profile,
    same_paper,
)
from engine.testing import FAKE_TEXT_KEY, FakeOcr, HashingEmbedder

FORM = ("PURCHASE REQUISITION vendor microbiological associates bethesda ship research "
        "centre attention harry minnemeyer quantity description authorization provide "
        "effect inhalation reference cigarette smoke cytogenetic endpoints chromosome "
        "aberrations sister chromatid exchange fixed price tests performed accordance "
        "formal agreement between laboratories budget account department approved 4111 "
        "9590 00922237 19750 21688").split()


class PoorReads(FakeOcr):
    """FakeOcr, except that words written '?word' were read unsure (confidence 40)."""

    def ocr(self, image: Image.Image, options: OcrOptions) -> OcrResult:
        result = super().ocr(image, options)
        words = [Word(w.text[1:], w.box, 40.0) if w.text.startswith("?") else w
                 for w in result.words]
        return dataclasses.replace(result, words=words)


def _page(hand: int) -> Image.Image:
    """The printed form, and one hand's writing in its fields."""
    page = Image.new("L", (850, 1100), 250)
    draw = ImageDraw.Draw(page)
    font = ImageFont.load_default(size=22)
    for row in range(0, len(FORM), 10):
        draw.text((40, 40 + 3 * row), " ".join(FORM[row : row + 10]), font=font, fill=15)
    rng = random.Random(hand)
    for top in (300, 330, 600, 630):
        x, y = rng.randint(380, 520), top
        for _ in range(rng.randint(15, 45)):
            nx, ny = x + rng.randint(4, 14), top + rng.randint(-12, 12)
            draw.line((x, y, nx, ny), fill=25, width=3)
            x, y = nx, ny
    return page


def _scan(path: Path, page: Image.Image, words: list[str]) -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text(FAKE_TEXT_KEY, " ".join(words))
    page.save(path, pnginfo=info)


def _poor_read(words: list[str], seed: int, keep_every: int = 2) -> list[str]:
    """Every other word misread, unsure; the rest read right, sure."""
    rng = random.Random(seed)
    return [w if i % keep_every == 0 else "?" + "".join(rng.sample("xqzjkvw", 4))
            for i, w in enumerate(words)]


@pytest.fixture
def scans(tmp_path: Path) -> Path:
    folder = tmp_path / "scans"
    folder.mkdir()
    _scan(folder / "form.png", _page(1), FORM)
    degraded = _page(1).filter(ImageFilter.GaussianBlur(0.8)).point(lambda v: v * 0.9 + 12)
    _scan(folder / "form-rescan.png", degraded, _poor_read(FORM, 2))
    # The same blank form filled in by another hand, as poorly read: its printed words
    # are the form's, what was written in it is not.
    written = "dermal absorption patch trial rabbits twelve weeks protocol".split()
    other = _poor_read(FORM[:16] + [written[i % len(written)] + str(i) for i in range(16, 32)]
                       + [str(int(w) + 7) if w.isdigit() else w for w in FORM[32:]], 3)
    _scan(folder / "form-other-hand.png", _page(2), other)
    return folder


def _library(tmp_path: Path) -> Library:
    return Library.open(tmp_path / "lib", embedder=HashingEmbedder(), ocr=PoorReads(),
                        executor=InlineExecutor())


def _pair_again_without_pages(library: Library) -> None:
    """Forget every comparison and pair again as if no file could be read, in a process
    that has made no page print yet (one made earlier is of the same content's page, and
    would be used: only the page's file is gone)."""
    page_likeness.RECENT_PRINTS.clear()
    library.store.db.execute("DELETE FROM content_profiles")
    library.store.db.execute("DELETE FROM duplicate_pairs")
    library.store.db.commit()
    pair_contents(library.store, library.embedder.model_id, read_page=lambda sha256: None)


def _groups(library: Library) -> list[set[str]]:
    return [{Path(d.path).stem for d in g.documents} for g in library.duplicates()]


def _pages(library: Library) -> dict[str, tuple[str, PageText]]:
    """stem -> (sha256, first page)."""
    out = {}
    for info in library.documents():
        detail = library.document(info.id)
        out[Path(info.path).stem] = (str(info.sha256), detail.pages[0])
    return out


def test_a_poorly_read_rescan_is_grouped_by_its_pages_and_another_hand_is_not(
        scans: Path, tmp_path: Path) -> None:
    library = _library(tmp_path)
    library.add([scans])
    pages = _pages(library)
    sha, rescan = pages["form-rescan"]
    assert rescan.confidence is not None and rescan.confidence < POOR_READ
    # The text alone turns the rescan down: too much of it was misread.
    assert same_paper(profile(pages["form"][0], 1, [pages["form"][1].text], []),
                      profile(sha, 1, [rescan.text], [])) is None
    assert _groups(library) == [{"form", "form-rescan"}]


def test_without_its_file_a_poorly_read_rescan_is_judged_by_its_text(
        scans: Path, tmp_path: Path) -> None:
    library = _library(tmp_path)
    library.add([scans])
    reader = first_page_reader(library.store)
    sha = _pages(library)["form-rescan"][0]
    assert reader(sha) is not None
    os.utime(scans / "form-rescan.png", ns=(10**18, 10**18))  # edited since it was read
    assert reader(sha) is None
    (scans / "form-rescan.png").unlink()
    assert reader(sha) is None
    # Compared again (as after an upgrade) without the file: the text's verdict stands.
    library.store.db.execute("DELETE FROM content_profiles")
    library.store.db.execute("DELETE FROM duplicate_pairs")
    library.store.db.commit()
    library.add([scans])
    assert _groups(library) == []


def test_one_typed_form_filled_twice_is_not_taken_for_a_rescan(tmp_path: Path) -> None:
    # Few numbers, the printed half the same: the text alone would call them one paper.
    printed = [w for w in FORM if not w.isdigit()]
    typed = "dermal absorption patch trial rabbits twelve weeks protocol".split()
    other = printed[:30] + [typed[i % len(typed)] + "x" * (i % 3) for i in range(len(printed) - 30)]
    folder = tmp_path / "scans"
    folder.mkdir()
    _scan(folder / "filled-once.png", _page(1), printed)
    _scan(folder / "filled-twice.png", _page(1), other)
    _scan(folder / "filled-once-rescan.png",
          _page(1).filter(ImageFilter.GaussianBlur(0.6)), printed[:-2])
    by_text = same_paper(profile("a", 1, [" ".join(printed)], []),
                         profile("b", 1, [" ".join(other)], []))
    assert by_text is not None
    library = _library(tmp_path)
    library.add([folder])
    assert _groups(library) == [{"filled-once", "filled-once-rescan"}]
    # Without the pages to look at (files gone or changed), the text's verdict stands.
    _pair_again_without_pages(library)
    assert _groups(library) == [{"filled-once", "filled-twice", "filled-once-rescan"}]


def _typed_page(words: list[str], lined: range, size: int = 13, bold: bool = True
                ) -> Image.Image:
    """A page with each word typed where FakeOcr reads it, and a line under the words
    of rows `lined` (a form's fields), typed in or left blank ('___'). Not bold and
    larger: a typewriter's type, not a bold 13 px one whose words are bars alike at any
    resolution."""
    page = Image.new("L", (850, 1100), 250)
    draw = ImageDraw.Draw(page)
    font = ImageFont.load_default(size=size)
    for i, word in enumerate(words):
        row, column = divmod(i, 10)
        x, y = 40 + column * 80, 40 + row * 30
        if row in lined:
            draw.line((x, y + 22, x + 70, y + 22), fill=15, width=1)
        if not word.startswith("_"):
            draw.text((x + 2, y + 3) if bold else (x + 1, y + 2), word[:8 if bold else 7],
                      font=font, fill=15, stroke_width=int(bold), stroke_fill=15)
    return page


def test_a_blank_form_and_its_filled_copy_are_not_one_paper(tmp_path: Path) -> None:
    # The printed words the same, no numbers, and the fill a quarter of the text: the text
    # alone (and every sure word both reads hold) calls them one paper. The pages do not:
    # the filled copy has sure words where the blank one has only its lines.
    printed = [w for w in FORM if not w.isdigit()] * 3
    fill = "excellent movement when couponed without coupons slows dramatically quickly " \
           "depleted continues drive carton business sales force reports moved shelves " \
           "early".split()
    blank = printed[:30] + ["___"] * 20 + printed[30:]
    filled = printed[:30] + fill[:20] + printed[30:]
    folder = tmp_path / "scans"
    folder.mkdir()
    _scan(folder / "blank.png", _typed_page(blank, range(3, 5)), blank)
    _scan(folder / "filled.png", _typed_page(filled, range(3, 5)), filled)
    _scan(folder / "filled-rescan.png",
          _typed_page(filled, range(3, 5)).filter(ImageFilter.GaussianBlur(0.6)), filled)
    by_text = same_paper(profile("a", 1, [" ".join(blank)], []),
                         profile("b", 1, [" ".join(filled)], []))
    assert by_text is not None
    library = _library(tmp_path)
    library.add([folder])
    assert _groups(library) == [{"filled", "filled-rescan"}]
    # Without the pages to look at (files gone or changed), the text's verdict stands.
    _pair_again_without_pages(library)
    assert _groups(library) == [{"blank", "filled", "filled-rescan"}]


def _fax(page: Image.Image, seed: int) -> Image.Image:
    """A poor copy at the page's size: three quarters of the detail, blurred, grainy,
    JPEG."""
    small = page.resize((page.width * 3 // 4, page.height * 3 // 4), Image.Resampling.BILINEAR)
    blurred = small.filter(ImageFilter.GaussianBlur(0.6)).resize(page.size,
                                                                 Image.Resampling.BILINEAR)
    grain = np.random.default_rng(seed).normal(0, 12, (page.height, page.width))
    noisy = Image.fromarray(np.clip(np.asarray(blurred, dtype=np.float64) + grain, 0, 255)
                            .astype(np.uint8))
    out = io.BytesIO()
    noisy.save(out, format="JPEG", quality=30)
    return Image.open(io.BytesIO(out.getvalue())).convert("L")


def _unreadable(words: list[str], seed: int, right_every: int = 4) -> list[str]:
    """A read too poor to say anything surely: a few words right but unsure, the rest
    misread as short scraps (what OCR makes of a fax)."""
    rng = random.Random(seed)
    return ["?" + w if i % right_every == 0 else "?" + "".join(rng.sample("xqzjkvw", 2))
            for i, w in enumerate(words)]


def test_a_fax_read_as_scraps_is_grouped_by_its_word_pictures_and_another_filling_is_not(
        tmp_path: Path) -> None:
    # Two rows of fields among five rows of print: a third of the words, as on the
    # bench's forms (a fill of a few words among many printed ones is another matter:
    # docs/intelligence.md).
    printed = [w for w in FORM if not w.isdigit()]
    fill = ("harold goldfarb elm street springfield warranty carton dermal absorption "
            "rabbits march twelfth hamilton county ohio invoice pending signed copy "
            "attached").split()
    other_fill = ("maria santos oak avenue riverside monthly invoice coupons trial shelves "
                  "april second jefferson parish texas receipt overdue unsigned draft "
                  "enclosed").split()
    filled = printed[:30] + fill + printed[30:]
    other = printed[:30] + other_fill + printed[30:]
    folder = tmp_path / "scans"
    folder.mkdir()
    _scan(folder / "form.png", _typed_page(filled, range(3, 5), 17, bold=False), filled)
    _scan(folder / "form-fax.png", _fax(_typed_page(filled, range(3, 5), 17, bold=False), 1),
          _unreadable(filled, 2, right_every=6))
    # Another filling of the same form, faxed and read as poorly: the printed words it
    # reads, and the layout, are the form's; only the pictures of its fill differ.
    _scan(folder / "other-fax.png", _fax(_typed_page(other, range(3, 5), 17, bold=False), 3),
          _unreadable(other, 4, right_every=3))
    library = _library(tmp_path)
    library.add([folder])
    pages = _pages(library)
    fax = pages["form-fax"][1]
    assert fax.confidence is not None and fax.confidence < UNREADABLE
    clean = profile(pages["form"][0], 1, [pages["form"][1].text], [])
    scraps = profile(pages["form-fax"][0], 1, [fax.text], [])
    # The text alone cannot tell, not even by the floor poorly read pairs had before; nor
    # does its meaning propose the pair: it is found among the wider ring by its text.
    assert same_paper(clean, scraps) is None
    assert _gram_jaccard(clean.grams, scraps.grams) < IMAGE_TEXT_MIN
    known, matrix, _ = library.store.pairs.checked(library.embedder.model_id)
    vectors = dict(zip(known, matrix, strict=True))
    assert float(vectors[clean.sha256] @ vectors[scraps.sha256]) < UNREADABLE_COSINE
    assert _groups(library) == [{"form", "form-fax"}]
    _pair_again_without_pages(library)
    assert _groups(library) == []
