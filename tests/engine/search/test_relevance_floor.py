"""Meaning has a floor: gibberish finds nothing; weak meaning-only hits say 'related'."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine import Library
from engine.backends.pool import InlineExecutor
from engine.testing import FakeOcr, HashingEmbedder, write_fake_scan


class FlooredEmbedder(HashingEmbedder):
    relevance_floor = 0.3


@pytest.fixture
def library(tmp_path: Path) -> Library:
    lib = Library.open(tmp_path / "lib", embedder=FlooredEmbedder(), ocr=FakeOcr(),
                       executor=InlineExecutor())
    lib.add([write_fake_scan(tmp_path / "lease.png", "apartment lease monthly rent landlord"),
             write_fake_scan(tmp_path / "cake.png", "chocolate cake recipe flour sugar")])
    return lib


def test_gibberish_finds_nothing_by_meaning(library: Library) -> None:
    assert library.search("qzxv wprt", mode="semantic") == []
    assert library.search("qzxv wprt", mode="hybrid") == []


def test_real_meaning_matches_survive_the_floor(library: Library) -> None:
    hits = library.search("lease rent landlord", mode="semantic")
    assert [Path(h.path).name for h in hits] == ["lease.png"] and not hits[0].related


def test_weak_meaning_only_hits_are_marked_related(library: Library) -> None:
    weak = library.search("landlord cake", mode="semantic")  # one word in common each
    assert len(weak) == 2 and all(h.related for h in weak)
    strong = library.search("landlord rent sugar", mode="semantic")
    assert [h.related for h in strong] == [False]


def test_minilm_floor_is_calibrated() -> None:
    from engine.backends.minilm import RELEVANCE_FLOOR, MiniLMEmbedder
    from engine.backends.onnx_minilm import OnnxMiniLMEmbedder

    assert MiniLMEmbedder.relevance_floor == OnnxMiniLMEmbedder.relevance_floor
    assert 0.15 <= RELEVANCE_FLOOR <= 0.3 and np.isfinite(RELEVANCE_FLOOR)
