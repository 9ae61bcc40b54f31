"""A reader's map from contents to documents follows the writer: only new documents
are read while documents are only added (a library being indexed commits every few
seconds), and any change or removal of a document reloads it whole."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine import Library
from engine.backends.pool import InlineExecutor
from engine.testing import FakeOcr, HashingEmbedder, write_fake_scan


@pytest.fixture
def writer(tmp_path: Path) -> Library:
    folder = tmp_path / "scans"
    folder.mkdir()
    write_fake_scan(folder / "rope.png", "harbour rope invoice")
    write_fake_scan(folder / "rope-copy.png", "harbour rope invoice")  # the same content
    write_fake_scan(folder / "buoy.png", "mooring buoy receipt")
    lib = Library.open(tmp_path / "lib", embedder=HashingEmbedder(), ocr=FakeOcr(),
                       executor=InlineExecutor())
    lib.add([folder])
    return lib


def _names(reader: Library, query: str) -> list[str]:
    return sorted(Path(h.path).name for h in reader.search(query, mode="keyword"))


def test_the_documents_map_follows_additions_changes_and_removals(
        writer: Library, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reader = Library.open(writer.directory, embedder=HashingEmbedder(), read_only=True)
    assert _names(reader, "rope") == ["rope-copy.png", "rope.png"]
    reads = reader.store.reads
    real = reads.indexed_documents
    read_after: list[int] = []

    def recorded(after: int = 0) -> list[tuple[int, str, str, str]]:
        read_after.append(after)
        return real(after)

    monkeypatch.setattr(reads, "indexed_documents", recorded)
    folder = tmp_path / "scans"

    write_fake_scan(folder / "anchor.png", "anchor chain receipt")
    write_fake_scan(folder / "rope-again.png", "harbour rope invoice")  # a third copy
    writer.add([folder])
    assert _names(reader, "anchor") == ["anchor.png"]
    assert _names(reader, "rope") == ["rope-again.png", "rope-copy.png", "rope.png"]
    assert read_after and all(after > 0 for after in read_after)  # only the new ones

    # rope.png now holds other words; its old content lives on in its copies, so no
    # content is removed: only the document row changed.
    write_fake_scan(folder / "rope.png", "lighthouse keeper letter")
    stat = (folder / "rope.png").stat()
    os.utime(folder / "rope.png", ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    read_after.clear()
    writer.add([folder])
    assert _names(reader, "rope") == ["rope-again.png", "rope-copy.png"]
    assert _names(reader, "lighthouse") == ["rope.png"]
    assert 0 in read_after  # reloaded whole

    read_after.clear()
    writer.remove(str(folder / "rope-copy.png"))
    assert _names(reader, "rope") == ["rope-again.png"]
    assert 0 in read_after
