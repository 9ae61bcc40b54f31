"""Where a run's documents come from, behind one interface: folders on disk and
locations in a bucket. Each lists what it holds now and names the documents it no
longer holds; the run treats both alike (change detection, pruning)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from engine.backends.s3 import S3Access, S3Location, S3Object, list_objects
from engine.ingest.discover import WalkProblem, walk
from engine.ingest.items import Source
from engine.store.db import Store


class SourceRoots(Protocol):
    """A set of roots of one kind."""

    def listing(self) -> Iterator[Source | WalkProblem]:
        """Every document under the roots now (and what could not be listed)."""
        ...

    def vanished(self, store: Store, seen: set[bytes]) -> list[int]:
        """Indexed documents under the roots that the listing (seen keys) lacks and
        that are really gone."""
        ...


def key_of(source: Source | WalkProblem) -> bytes:
    """The index's key for a source: its path's exact bytes, or its s3:// URL's."""
    if isinstance(source, S3Object):
        return os.fsencode(source.url)
    return os.fsencode(source.path)


@dataclass(frozen=True)
class FolderRoots:
    """Files and folders on disk (the library's own folder excluded)."""

    roots: list[Path]
    exclude: list[Path]

    def listing(self) -> Iterator[Source | WalkProblem]:
        """Files under the roots, depth first, sorted by name."""
        yield from walk(self.roots, exclude=self.exclude)

    def vanished(self, store: Store, seen: set[bytes]) -> list[int]:
        """Documents under a root folder whose file is no longer there. A root that is
        not a folder now (unmounted, renamed) prunes nothing."""
        path_of = {row.id: raw for raw, row in store.file_rows().items()}
        gone: set[int] = set()
        for root in self.roots:
            if not root.is_dir():
                continue
            for doc_id in store.ids_under(os.fsencode(root)):
                raw = path_of.get(doc_id)
                if raw is not None and raw not in seen and not Path(os.fsdecode(raw)).exists():
                    gone.add(doc_id)
        return sorted(gone)


@dataclass(frozen=True)
class BucketRoots:
    """Locations (s3://bucket/prefix) in S3-compatible storage."""

    locations: list[S3Location]
    access: S3Access

    def listing(self) -> Iterator[Source | WalkProblem]:
        """Scan-like objects under each location; a refused listing raises."""
        for location in self.locations:
            yield from list_objects(self.access, location)

    def vanished(self, store: Store, seen: set[bytes]) -> list[int]:
        """Documents under a location whose object is no longer listed."""
        path_of = {row.id: raw for raw, row in store.file_rows().items()}
        return sorted({doc_id for location in self.locations
                       for doc_id in store.ids_under(location.url.rstrip("/"))
                       if path_of.get(doc_id) not in seen})
