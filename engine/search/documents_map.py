"""Which documents hold each content: the map unfiltered searches turn their ranked chunks
into documents with, kept between queries and taken up incrementally as the index grows."""

from __future__ import annotations

from collections.abc import Iterable

from engine.store.db import Store

# content hash -> the indexed documents holding it: (id, path, kind)
ByContent = dict[str, tuple[tuple[int, str, str], ...]]


class DocumentsMap:
    """content hash -> indexed documents (id, path, kind), kept until the index changes."""

    def __init__(self) -> None:
        self._by_sha: ByContent = {}
        self._generation: tuple[int, int] = (-1, -1)
        self._changes = -1  # Store.document_changes() when the map was made
        self._top_id = 0

    def current(self, store: Store) -> ByContent:
        """The map as of the store's present state."""
        generation = store.generation()
        if generation != self._generation:
            changes = store.document_changes()
            # Only documents added since (a library being indexed commits every few
            # seconds; reading all 100k documents again cost 0.5 s at 1M chunks).
            after = self._top_id if changes == self._changes else 0
            with store.reads.unbounded():  # once per change: not the query's cost
                rows = store.reads.indexed_documents(after)
            if after:
                added = by_content(rows)
                self._by_sha = {**self._by_sha, **{
                    sha: self._by_sha.get(sha, ()) + documents
                    for sha, documents in added.items()}}
            else:
                self._by_sha = by_content(rows)
            self._top_id = max(self._top_id if after else 0, rows[-1][0] if rows else 0)
            self._generation, self._changes = generation, changes
        return self._by_sha


def by_content(rows: Iterable[tuple[int, str, str, str]]) -> ByContent:
    """(id, path, kind, sha) rows grouped by content hash. Tuples, not lists: the
    garbage collector stops tracking tuples of plain values, and a list per document
    made every full collection walk them all (100k documents: 24-31 ms pauses, the
    whole p95 tail of meaning search at 1M chunks)."""
    grouped: dict[str, list[tuple[int, str, str]]] = {}
    for doc_id, path, kind, sha in rows:
        grouped.setdefault(sha, []).append((doc_id, path, kind))
    return {sha: tuple(documents) for sha, documents in grouped.items()}
