"""Page prints kept by content across pairing runs, so pairing between an index run's
commits does not make the recent pages' prints again each time."""

from __future__ import annotations

from typing import Any

from PIL import Image, ImageDraw, ImageFilter

from engine.search import page_likeness
from engine.search.duplicates import PageJudge
from engine.search.page_likeness import RecentPrints, ink_print


def _page(seed: int) -> Image.Image:
    image = Image.new("L", (600, 800), 235)
    draw = ImageDraw.Draw(image)
    for row in range(20):
        draw.rectangle((40 + seed % 7, 40 + row * 35, 500 - row * 9, 52 + row * 35), fill=30)
    return image.filter(ImageFilter.GaussianBlur(1.5))  # edges grey, as scanned


def test_the_least_recently_used_print_goes_first() -> None:
    recent = RecentPrints(2)
    a, b, c = (ink_print(_page(i)) for i in range(3))
    assert a is not None and b is not None and c is not None
    recent.put("a", a)
    recent.put("b", b)
    assert recent.get("a") is a  # a is now the most recent
    recent.put("c", c)
    assert recent.get("b") is None and recent.get("a") is a and recent.get("c") is c


def test_a_second_pairing_run_reuses_the_prints_of_the_first(monkeypatch: Any) -> None:
    monkeypatch.setattr(page_likeness, "RECENT_PRINTS", RecentPrints(8))
    monkeypatch.setattr("engine.search.duplicates.RECENT_PRINTS", page_likeness.RECENT_PRINTS)
    reads: list[str] = []

    def read_page(sha256: str) -> Image.Image | None:
        reads.append(sha256)
        return _page(int(sha256[-1])) if sha256 != "gone0" else None

    first = PageJudge(store=None, read_page=read_page)  # type: ignore[arg-type]
    assert first._print("sha1") is not None and first._print("gone0") is None
    second = PageJudge(store=None, read_page=read_page)  # type: ignore[arg-type]
    assert second._print("sha1") is first._print("sha1")
    assert second._print("gone0") is None  # a missing page is looked for again
    assert reads == ["sha1", "gone0", "gone0"]
