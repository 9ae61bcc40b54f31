"""A search's meaning side confirms its shortlist on the store's second connection, so it
runs beside the words side instead of after it; an error on the words side never leaves
it running, and closing the store closes both connections."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import engine.search.ann as ann
from engine.search.searcher import Searcher
from engine.store.db import Store
from tests.engine.search.test_ann import DIM, MODEL, _add_documents

pytest.importorskip("usearch")


class _FixedEmbedder:
    """Every text embeds as one stored chunk's vector."""

    model_id = MODEL
    dim = DIM

    def __init__(self, vector: np.ndarray) -> None:
        self.vector = vector

    def embed(self, texts: list[str]) -> np.ndarray:
        return np.tile(self.vector, (len(texts), 1)).astype(np.float32)


@pytest.fixture
def indexed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
    monkeypatch.setattr(ann, "ANN_FROM_CHUNKS", 200)
    monkeypatch.setattr(ann, "MERGE_TAIL_ROWS", 100)
    store = Store(tmp_path)
    _add_documents(store, 0, 150, seed=13)  # 600 chunks: the ANN path
    ann.AnnFile(tmp_path, MODEL, DIM).update(store)
    return store


def _stored_vector(store: Store, chunk_id: int) -> tuple[np.ndarray, str]:
    _, sha, _, blob = store.reads.vectors_by_id(MODEL, [chunk_id])[0]
    return np.frombuffer(blob, dtype="<f4").copy(), sha


def test_meaning_confirms_its_shortlist_on_the_second_connection(
        indexed: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    vector, sha = _stored_vector(indexed, 77)
    searcher = Searcher(indexed, _FixedEmbedder(vector))
    on_main: list[str] = []
    for name in ("vectors_by_id", "chunk_places"):
        real = getattr(indexed.reads, name)
        monkeypatch.setattr(indexed.reads, name,
                            lambda *a, _real=real, _name=name: on_main.append(_name) or _real(*a))
    for mode in ("semantic", "hybrid"):
        hits = searcher.search("text", mode=mode, limit=3)
        assert hits and hits[0].path == next(
            d.path for d in indexed.documents() if d.sha256 == sha), mode
    assert on_main == [] and indexed._side is not None
    indexed.close()
    assert indexed._side is None


def test_an_error_on_the_words_side_waits_for_the_meaning_side(
        indexed: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    vector, _ = _stored_vector(indexed, 5)
    searcher = Searcher(indexed, _FixedEmbedder(vector))
    finished = threading.Event()
    real_meaning = searcher._meaning

    def slow_meaning(*args: Any) -> Any:
        time.sleep(0.3)
        result = real_meaning(*args)
        finished.set()
        return result

    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(searcher, "_meaning", slow_meaning)
    monkeypatch.setattr(indexed.reads, "ranked_chunks", broken)
    with pytest.raises(sqlite3.OperationalError):
        searcher.search("text", mode="hybrid")
    assert finished.is_set()  # the store may be closed now: nothing uses it any more
    indexed.close()


class _GatedEmbedder(_FixedEmbedder):
    """Embeds only once the gate opens (or after 2 s): the meaning side is still busy
    until the test says otherwise."""

    def __init__(self, vector: np.ndarray) -> None:
        super().__init__(vector)
        self.gate = threading.Event()
        self.embedded = threading.Event()

    def embed(self, texts: list[str]) -> np.ndarray:
        self.gate.wait(2.0)
        self.embedded.set()
        return super().embed(texts)


def test_hybrid_asks_which_contents_hold_every_word_while_meaning_still_ranks(
        indexed: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    vector, _ = _stored_vector(indexed, 5)
    embedder = _GatedEmbedder(vector)
    searcher = Searcher(indexed, embedder)
    meaning_busy: list[bool] = []
    real = searcher._with_every_word

    def asked(*args: Any) -> Any:
        meaning_busy.append(not embedder.embedded.is_set())
        found = real(*args)
        embedder.gate.set()
        return found

    monkeypatch.setattr(searcher, "_with_every_word", asked)
    hits = searcher.search("text 2", mode="hybrid", limit=5)
    assert hits and meaning_busy == [True]
