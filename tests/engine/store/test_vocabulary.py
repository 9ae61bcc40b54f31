"""The word list kept beside a big index: written by the writer, used by readers only
when it belongs to exactly the index they see, and never needed for correctness."""

from __future__ import annotations

from pathlib import Path

import pytest

import engine.store.vocabulary as vocabulary
from engine import Library
from engine.backends.pool import InlineExecutor
from engine.store.vocabulary import (
    common_words_path,
    read_common_words,
    read_vocabulary,
    vocabulary_path,
    write_vocabulary,
)
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


def _never_count(reader: Library) -> list[int]:
    """Make the reader's FTS5 word count observable: the list grows at each count."""
    counted: list[int] = []
    real = reader.store.reads.vocabulary
    reader.store.reads.vocabulary = lambda: counted.append(1) or real()  # type: ignore[method-assign]
    return counted


def test_a_reader_takes_up_new_words_without_counting_every_word(
        library: Library, tmp_path: Path) -> None:
    """A library being indexed commits every few seconds; counting every word again at
    each commit cost 5 s at 1M chunks for any search with a word the index lacks."""
    reader = Library.open(library.directory, embedder=HashingEmbedder(), read_only=True)
    counted = _never_count(reader)
    assert reader.search("harbovr", mode="keyword")  # the writer's list, no count
    folder = tmp_path / "later"
    folder.mkdir()
    write_fake_scan(folder / "memo.png", "quarterly lighthouse memo")
    library.add([folder])
    vocabulary_path(library.store).unlink()  # as if the writer had not got there yet
    found = reader.search("lighthovse", mode="keyword")
    assert [Path(h.path).name for h in found] == ["memo.png"]
    assert counted == []
    # A new reader starts from an older list and reads only the chunks added after it.
    old_list = tmp_path / "old-list"
    write_vocabulary(library.store)
    old_list.write_text(vocabulary_path(library.store).read_text())
    write_fake_scan(folder / "note.png", "anchorage invoice note")
    library.add([folder])
    vocabulary_path(library.store).write_text(old_list.read_text())
    fresh = Library.open(library.directory, embedder=HashingEmbedder(), read_only=True)
    fresh_counted = _never_count(fresh)
    assert [Path(h.path).name for h in fresh.search("anchorabe", mode="keyword")] == ["note.png"]
    assert fresh_counted == []


def test_after_a_removal_the_words_are_counted_again(library: Library, tmp_path: Path) -> None:
    reader = Library.open(library.directory, embedder=HashingEmbedder(), read_only=True)
    counted = _never_count(reader)
    assert reader.search("harbovr", mode="keyword")
    library.remove(library.documents()[0].id)
    vocabulary_path(library.store).unlink()
    assert reader.search("harbovr", mode="keyword") == []
    assert counted == [1]


def test_too_many_new_chunks_are_counted_rather_than_read(
        library: Library, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import engine.search.fuzzy as fuzzy

    monkeypatch.setattr(fuzzy, "CATCH_UP_CHUNKS", 0)
    reader = Library.open(library.directory, embedder=HashingEmbedder(), read_only=True)
    counted = _never_count(reader)
    assert reader.search("harbovr", mode="keyword")
    folder = tmp_path / "later"
    folder.mkdir()
    write_fake_scan(folder / "memo.png", "quarterly lighthouse memo")
    library.add([folder])
    vocabulary_path(library.store).unlink()
    assert [Path(h.path).name for h in reader.search("lighthovse", mode="keyword")] \
        == ["memo.png"]
    assert counted == [1]


def test_a_reader_takes_common_words_counts_from_the_writer(
        library: Library, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # FTS5 counts a word by reading all its postings (40-55 ms for a common word at 1M
    # chunks): a reader plans its first queries with the writer's counts instead.
    monkeypatch.setattr(vocabulary, "COMMON_FROM", 2)
    folder = tmp_path / "more"
    folder.mkdir()
    write_fake_scan(folder / "second.png", "HARBOUR SUPPLIES invoice rope")
    library.add([folder])
    store = library.store
    common = read_common_words(store, store.generation())
    assert common == {w: n for w, n in store.reads.vocabulary() if n >= 2}
    assert common["harbour"] == 2 and "buoy" not in common
    reader = Library.open(library.directory, embedder=HashingEmbedder(), read_only=True)
    counted: list[str] = []
    real = reader.store.reads.chunks_with_word
    reader.store.reads.chunks_with_word = (  # type: ignore[method-assign]
        lambda word: counted.append(word) or real(word))
    searcher = reader._searcher
    assert searcher._df_of("harbour") == 2 and searcher._df_of("rope") == 2
    assert counted == []
    # A word too rare for the file is counted (cheaply: it has few postings).
    assert searcher._df_of("buoy") == 1 and searcher._df_of("nowhere") == 0
    assert counted == ["buoy", "nowhere"]
    reader.close()


def test_a_common_words_file_of_another_state_or_damaged_is_not_used(
        library: Library, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vocabulary, "COMMON_FROM", 1)
    store = library.store
    path = common_words_path(store)
    path.unlink()
    write_vocabulary(store)  # the word list is current: the common words are written again
    header, *words = path.read_text().splitlines(keepends=True)
    tampered = "".join(words).replace("harbour\t1\n", "harbour\t999\n")
    assert "harbour\t999" in tampered

    def counted_by_a_new_reader() -> int:
        reader = Library.open(library.directory, embedder=HashingEmbedder(), read_only=True)
        try:
            return reader._searcher._df_of("harbour")
        finally:
            reader.close()

    path.write_text(header + tampered)
    assert counted_by_a_new_reader() == 999  # a file of this very state is believed
    _format, commits, changes, top = header.rstrip("\n").split("\t")
    path.write_text("\t".join([_format, str(int(commits) + 1), changes, top]) + "\n" + tampered)
    assert counted_by_a_new_reader() == 1  # another state's: counted by FTS5
    path.write_text(header + tampered[:10])  # cut short by a crash
    assert counted_by_a_new_reader() == 1
