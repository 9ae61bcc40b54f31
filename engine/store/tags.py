"""Tags on contents: the last event of each (content, tag) pair, added or removed, with
its time. Merging another library's events keeps the later one of each pair, so any
number of machines exchanging them in any order agree (a last-writer-wins set)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass

from engine.errors import UsageError

MAX_TAG_LENGTH = 64


@dataclass(frozen=True)
class TagEvent:
    """A tag put on (present) or taken off a content at a time (ISO 8601 UTC)."""

    sha256: str
    tag: str
    present: bool
    at: str


def clean_tag(tag: str) -> str:
    """A tag as stored: trimmed, inner spaces collapsed; refused when empty, too long or
    holding control characters."""
    text = " ".join(str(tag).split())
    if not text:
        raise UsageError("a tag cannot be empty")
    if len(text) > MAX_TAG_LENGTH:
        raise UsageError(f"a tag has at most {MAX_TAG_LENGTH} characters: {text[:20]}...")
    if any(ord(c) < 32 or 0x7F <= ord(c) < 0xA0 for c in text):
        raise UsageError("a tag cannot hold control characters")
    return text


class Tags:
    """The tags table over the store's connection (writes in the store's transactions)."""

    def __init__(self, db: sqlite3.Connection,
                 transaction: Callable[[], AbstractContextManager[sqlite3.Connection]]) -> None:
        self.db = db
        self._transaction = transaction

    def set(self, sha256s: Iterable[str], tags: Iterable[str], *, present: bool,
            at: str) -> int:
        """Put tags on (or take them off) contents; returns how many pairs changed."""
        cleaned = [clean_tag(t) for t in tags]
        changed = 0
        with self._transaction() as db:
            for sha in sha256s:
                for tag in cleaned:
                    before = db.execute("SELECT present FROM tags WHERE sha256 = ? AND tag = ?",
                                        (sha, tag)).fetchone()
                    if before is not None and bool(before[0]) == present:
                        continue
                    db.execute(
                        "INSERT INTO tags (sha256, tag, present, at) VALUES (?, ?, ?, ?) "
                        "ON CONFLICT(sha256, tag) DO UPDATE SET present = excluded.present, "
                        "at = excluded.at, tag = excluded.tag", (sha, tag, int(present), at))
                    changed += 1
        return changed

    def of(self, sha256: str) -> list[str]:
        """The tags on one content, sorted."""
        return [str(r[0]) for r in self.db.execute(
            "SELECT tag FROM tags WHERE sha256 = ? AND present = 1 ORDER BY tag COLLATE NOCASE",
            (sha256,))]

    def of_many(self, sha256s: Iterable[str]) -> dict[str, list[str]]:
        """The tags on each of several contents."""
        wanted = list(dict.fromkeys(sha256s))
        out: dict[str, list[str]] = {sha: [] for sha in wanted}
        for start in range(0, len(wanted), 500):
            batch = wanted[start : start + 500]
            for sha, tag in self.db.execute(
                    f"SELECT sha256, tag FROM tags WHERE present = 1 AND sha256 IN "
                    f"({','.join('?' * len(batch))}) ORDER BY tag COLLATE NOCASE", batch):
                out[str(sha)].append(str(tag))
        return out

    def counts(self) -> dict[str, int]:
        """Every tag in use and how many indexed documents carry it."""
        return {str(tag): int(n) for tag, n in self.db.execute(
            "SELECT t.tag, COUNT(d.id) FROM tags t JOIN documents d ON d.sha256 = t.sha256 "
            "AND d.state = 'indexed' WHERE t.present = 1 GROUP BY t.tag COLLATE NOCASE "
            "ORDER BY t.tag COLLATE NOCASE")}

    def tagged(self) -> dict[str, list[str]]:
        """Every indexed content carrying tags, with them."""
        out: dict[str, list[str]] = {}
        for sha, tag in self.db.execute(
                "SELECT t.sha256, t.tag FROM tags t WHERE t.present = 1 AND t.sha256 IN "
                "(SELECT sha256 FROM documents WHERE state = 'indexed') ORDER BY t.tag"):
            out.setdefault(str(sha), []).append(str(tag))
        return out

    def events(self) -> Iterator[TagEvent]:
        """Every pair's last event (what a push publishes)."""
        for sha, tag, present, at in self.db.execute(
                "SELECT sha256, tag, present, at FROM tags ORDER BY sha256, tag"):
            yield TagEvent(str(sha), str(tag), bool(present), str(at))

    def merge(self, events: Iterable[TagEvent]) -> int:
        """Keep the later event of each pair; returns how many pairs changed here."""
        changed = 0
        with self._transaction() as db:
            for event in events:
                tag = clean_tag(event.tag)
                row = db.execute("SELECT at FROM tags WHERE sha256 = ? AND tag = ?",
                                 (event.sha256, tag)).fetchone()
                if row is not None and str(row[0]) >= event.at:
                    continue
                db.execute(
                    "INSERT INTO tags (sha256, tag, present, at) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT(sha256, tag) DO UPDATE SET present = excluded.present, "
                    "at = excluded.at", (event.sha256, tag, int(event.present), event.at))
                changed += 1
        return changed
