"""The index's words and how many chunks hold each, kept beside index.sqlite for big
libraries. FTS5's vocabulary table counts them by reading every posting list (0.7 s at
100k chunks, 5 s at 1M), which a searching process would otherwise pay at its first
query holding a word the index never saw (a typo, an OCR-mangled name). The writer
refreshes the file after each run. A reader uses it when it belongs to the index state it
sees, or to an earlier one that only lacks chunks added since (their words are read from
them: engine/search/fuzzy.py), and otherwise counts the words itself."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

from engine.store.db import Store

VOCABULARY_FILE = "vocabulary.cache"
# Below this many chunks counting the words takes well under a second: no file.
CACHE_FROM_CHUNKS = 50_000
_FORMAT = "scandex-vocabulary 2"
_END = "\x00end"  # no indexed word holds a NUL


def vocabulary_path(store: Store) -> Path:
    """Where the word list of this store's index is kept."""
    return store.path.with_name(VOCABULARY_FILE)


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
    """(The writer, holding the library's lock.) Refresh the file of a big library if it
    is stale; drop it from a small one. True when it was written."""
    path = vocabulary_path(store)
    if store.reads.chunk_count() < CACHE_FROM_CHUNKS:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return False
    generation = store.generation()
    if read_vocabulary(store, generation) is not None:
        return False  # up to date (a damaged or stale file is written again)
    staging = path.with_name(f".{VOCABULARY_FILE}.{os.getpid()}")
    try:
        with staging.open("w", encoding="utf-8") as handle:
            top_chunk = store.reads.chunk_id_range()[1]  # the writer holds the lock
            words = store.reads.vocabulary()
            handle.write(_header(generation, top_chunk))
            handle.writelines(f"{word}\t{count}\n" for word, count in words)
            handle.write(f"{_END}\t{len(words)}\n")  # a file cut short lacks it
        staging.replace(path)
    except OSError:
        with contextlib.suppress(OSError):
            staging.unlink()
        return False  # a derived cache: readers count the words themselves
    return True


def read_vocabulary(store: Store, generation: tuple[int, int]) -> list[tuple[str, int]] | None:
    """The words of the index at exactly generation, or None when the file is missing,
    damaged or of another state of the index."""
    kept = read_kept_words(store)
    return kept.words if kept is not None and kept.generation == generation else None


def read_kept_words(store: Store) -> KeptWords | None:
    """The file's words and the state they were counted at, or None when it is missing,
    damaged or cut short."""
    try:
        with vocabulary_path(store).open(encoding="utf-8") as handle:
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
