"""The word list kept beside a big index: written by the writer, used by readers only
when it belongs to exactly the index they see, and never needed for correctness."""

from __future__ import annotations

from pathlib import Path

import pytest

import engine.store.vocabulary as vocabulary
from engine import Library
from engine.backends.pool import InlineExecutor
from engine.store.vocabulary import read_vocabulary, vocabulary_path, write_vocabulary
from engine.testing import FakeOcr, HashingEmbedder, write_fake_scan


@pytest.fixture
def library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Library:
    monkeypatch.setattr(vocabulary, "CACHE_FROM_CHUNKS", 1)  # "big" from one chunk
    folder = tmp_path / "scans"
    folder.mkdir()
    write_fake_scan(folder / "receipt.png", "HARBOUR SUPPLIES receipt rope buoy total")
    lib = Library.open(tmp_path / "lib", embedder=HashingEmbedder(), ocr=FakeOcr(),
                       executor=InlineExecutor())
    lib.add([folder])
    return lib


def test_the_writer_keeps_the_word_list_and_readers_use_it(library: Library) -> None:
    store = library.store
    assert vocabulary_path(store).exists()  # written at the end of the run
    words = dict(read_vocabulary(store, store.generation()) or [])
    assert words == dict(store.reads.vocabulary()) and words["harbour"] == 1
    # A reader searching a misspelt name uses the file, not FTS5's count.
    reader = Library.open(library.directory, embedder=HashingEmbedder(), read_only=True)
    counted = []
    real = reader.store.reads.vocabulary
    reader.store.reads.vocabulary = lambda: counted.append(1) or real()  # type: ignore[method-assign]
    assert [h.path for h in reader.search("harbovr", mode="keyword")]
    assert counted == []


def test_a_stale_or_damaged_list_is_never_used(library: Library, tmp_path: Path) -> None:
    store = library.store
    path = vocabulary_path(store)
    assert read_vocabulary(store, (store.generation()[0] + 1, 0)) is None  # another state
    text = path.read_text()
    path.write_text(text[: len(text) // 2])  # cut short by a crash
    assert read_vocabulary(store, store.generation()) is None
    path.write_bytes(b"\xff\xfe garbage")
    assert read_vocabulary(store, store.generation()) is None
    # Searching still finds the misspelt name: the reader counts the words itself.
    assert library.search("harbovr", mode="keyword")
    # The next writer run repairs it.
    folder = tmp_path / "more"
    folder.mkdir()
    write_fake_scan(folder / "letter.png", "orchard frost letter")
    library.add([folder])
    assert dict(read_vocabulary(store, store.generation()) or [])["orchard"] == 1


def test_a_small_library_keeps_no_list(library: Library,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vocabulary, "CACHE_FROM_CHUNKS", 50_000)
    assert write_vocabulary(library.store) is False
    assert not vocabulary_path(library.store).exists()


def test_counting_the_words_is_not_cut_short_by_the_query_time_limit(
        library: Library) -> None:
    import time

    reads = library.store.reads
    with reads.time_limit(10):
        reads._deadline.at = time.monotonic() - 1  # the query's time is already up
        assert dict(reads.vocabulary())["harbour"] == 1
