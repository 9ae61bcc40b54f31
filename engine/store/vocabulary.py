"""The index's words and how many chunks hold each, kept beside index.sqlite for big
libraries. FTS5's vocabulary table counts them by reading every posting list (0.7 s at
100k chunks, 5 s at 1M), which a searching process would otherwise pay at its first
query holding a word the index never saw (a typo, an OCR-mangled name). The writer
refreshes the file after each run. A reader uses it when it belongs to the index state it
sees, or to an earlier one that only lacks chunks added since (their words are read from
them: engine/search/fuzzy.py), and otherwise counts the words itself. Beside it, the
common words alone (common-words.cache), which a searching process reads at its first
query to plan queries without counting their words (Searcher._df_of)."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

from engine.store.db import Store

VOCABULARY_FILE = "vocabulary.cache"
# Below this many chunks counting the words takes well under a second: no file.
CACHE_FROM_CHUNKS = 50_000
# The words at least this many chunks hold, kept apart with their counts: a searching
# process needs the counts of a query's words to plan it, and FTS5 counts a word by
# reading its whole posting list (40-55 ms for a common word at 1M chunks, ~1 ms below
# this), while the whole list is too big to load for that alone.
COMMON_WORDS_FILE = "common-words.cache"
COMMON_FROM = 1_000
_FORMAT = "scandex-vocabulary 2"
_END = "\x00end"  # no indexed word holds a NUL


def vocabulary_path(store: Store) -> Path:
    """Where the word list of this store's index is kept."""
    return store.path.with_name(VOCABULARY_FILE)


def common_words_path(store: Store) -> Path:
    """Where the index's common words are kept with their counts."""
    return store.path.with_name(COMMON_WORDS_FILE)


def _header(generation: tuple[int, int], top_chunk: int) -> str:
    return f"{_FORMAT}\t{generation[0]}\t{generation[1]}\t{top_chunk}\n"


@dataclass(frozen=True)
class KeptWords:
    """The word list as the writer kept it: the words with their chunk counts, the index
    state it was counted at and the highest chunk id then."""

    words: list[tuple[str, int]]
    generation: tuple[int, int]
    top_chunk: int


def write_vocabulary(store: Store) -> bool:
    """(The writer, holding the library's lock.) Refresh the files of a big library if
    they are stale; drop them from a small one. True when the word list was written."""
    path, common = vocabulary_path(store), common_words_path(store)
    if store.reads.chunk_count() < CACHE_FROM_CHUNKS:
        for stale in (path, common):
            with contextlib.suppress(FileNotFoundError):
                stale.unlink()
        return False
    generation = store.generation()
    kept = _read_list(path)
    if kept is not None and kept.generation == generation:
        # Up to date (a damaged or stale file is written again); the common words too.
        held = _read_list(common)
        if held is None or held.generation != generation:
            _write_list(common, generation, kept.top_chunk, _common(kept.words))
        return False
    top_chunk = store.reads.chunk_id_range()[1]  # the writer holds the lock
    words = store.reads.vocabulary()
    _write_list(common, generation, top_chunk, _common(words))
    return _write_list(path, generation, top_chunk, words)


def _common(words: list[tuple[str, int]]) -> list[tuple[str, int]]:
    return [(word, count) for word, count in words if count >= COMMON_FROM]


def _write_list(path: Path, generation: tuple[int, int], top_chunk: int,
                words: list[tuple[str, int]]) -> bool:
    """Words and counts into path, whole or not at all (False: not written)."""
    staging = path.with_name(f".{path.name}.{os.getpid()}")
    try:
        with staging.open("w", encoding="utf-8") as handle:
            handle.write(_header(generation, top_chunk))
            handle.writelines(f"{word}\t{count}\n" for word, count in words)
            handle.write(f"{_END}\t{len(words)}\n")  # a file cut short lacks it
        staging.replace(path)
    except OSError:
        with contextlib.suppress(OSError):
            staging.unlink()
        return False  # a derived cache: readers count the words themselves
    return True


def read_common_words(store: Store, generation: tuple[int, int]) -> dict[str, int] | None:
    """The words held by at least COMMON_FROM chunks, with their counts, of the index at
    exactly generation; None when the file is missing, damaged or of another state (a
    library being indexed changes state at every commit: only the header is read then)."""
    path = common_words_path(store)
    try:
        with path.open(encoding="utf-8") as handle:
            fields = handle.readline().rstrip("\n").split("\t")
    except (OSError, UnicodeDecodeError):
        return None
    if len(fields) != 4 or fields[1:3] != [str(generation[0]), str(generation[1])]:
        return None
    kept = _read_list(path)
    return dict(kept.words) if kept is not None and kept.generation == generation else None


def read_vocabulary(store: Store, generation: tuple[int, int]) -> list[tuple[str, int]] | None:
    """The words of the index at exactly generation, or None when the file is missing,
    damaged or of another state of the index."""
    kept = read_kept_words(store)
    return kept.words if kept is not None and kept.generation == generation else None


def read_kept_words(store: Store) -> KeptWords | None:
    """The file's words and the state they were counted at, or None when it is missing,
    damaged or cut short."""
    return _read_list(vocabulary_path(store))


def _read_list(path: Path) -> KeptWords | None:
    """A words file as written by _write_list, or None (missing, damaged, cut short)."""
    try:
        with path.open(encoding="utf-8") as handle:
            fields = handle.readline().rstrip("\n").split("\t")
            if len(fields) != 4 or fields[0] != _FORMAT:
                return None
            generation = (int(fields[1]), int(fields[2]))
            words: list[tuple[str, int]] = []
            for line in handle:
                word, _, count = line.rstrip("\n").rpartition("\t")
                if word == _END:
                    if int(count) != len(words):
                        return None
                    return KeptWords(words, generation, int(fields[3]))
                words.append((word, int(count)))
            return None  # cut short
    except (OSError, ValueError, UnicodeDecodeError):
        return None
