"""Reading a library's files ahead of searches: which files, within what memory, and
that the desktop and the server ask for it."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from engine import Library
from engine.layout import LibraryLayout
from engine.store import page_cache
from engine.testing import FakeOcr, HashingEmbedder, write_fake_scan


def _files(tmp_path: Path, sizes: list[int]) -> list[Path]:
    paths = []
    for i, size in enumerate(sizes):
        path = tmp_path / f"f{i}"
        path.write_bytes(bytes([i]) * size)
        paths.append(path)
    return paths


def test_files_are_taken_in_order_while_they_fit(tmp_path: Path) -> None:
    a, b, c = _files(tmp_path, [100, 300, 50])
    assert page_cache.files_within_budget([a, b, c], 10_000) == [a, b, c]
    # The second would pass the budget: it and everything after it are left alone, so
    # the most read files come first and a too-big index never pushes them out.
    assert page_cache.files_within_budget([a, b, c], 399) == [a]
    assert page_cache.files_within_budget([a, b, c], 50) == []


def test_without_knowing_the_memory_only_the_first_file_is_read(tmp_path: Path) -> None:
    a, b = _files(tmp_path, [10, 10])
    assert page_cache.files_within_budget([a, b], None) == [a]


def test_missing_files_are_skipped(tmp_path: Path) -> None:
    a, b = _files(tmp_path, [10, 20])
    gone = tmp_path / "not-there"
    assert page_cache.files_within_budget([gone, a, b], 1000) == [a, b]
    assert page_cache.read_through([a, gone, b]) == 30


def test_reading_stops_when_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(page_cache, "_BLOCK", 16)
    (big,) = _files(tmp_path, [1024])
    stop = threading.Event()
    assert page_cache.read_through([big], stop) == 1024
    stop.set()
    assert page_cache.read_through([big], stop) == 0


def test_available_memory_is_known_here() -> None:
    if not Path("/proc/meminfo").exists():
        pytest.skip("MemAvailable is Linux's")
    memory = page_cache.available_memory()
    assert memory is not None and memory > 0


def test_the_background_read_reads_what_fits(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    files = _files(tmp_path, [1000, 2000, 4000])
    read: list[list[Path]] = []
    real = page_cache.read_through
    monkeypatch.setattr(page_cache, "available_memory", lambda: 7000)  # half: 3500
    monkeypatch.setattr(page_cache, "read_through",
                        lambda paths, stop=None: read.append(list(paths)) or real(paths, stop))
    thread = page_cache.warm_in_background(files)
    thread.join(10)
    assert not thread.is_alive() and thread.daemon
    assert read == [files[:2]]


def test_a_library_reads_its_sketch_first_then_its_index(tmp_path: Path) -> None:
    layout = LibraryLayout(tmp_path)
    (tmp_path / "index.sqlite").write_bytes(b"x")
    (tmp_path / "vectors-abc.usearch").write_bytes(b"g")
    (tmp_path / "vectors-abc.sketch").write_bytes(b"s")
    assert [p.name for p in layout.files_searches_read()] == [
        "vectors-abc.sketch", "index.sqlite", "vectors-abc.usearch"]


def test_a_real_library_warms_without_blocking(tmp_path: Path, fake_library: Library) -> None:
    fake_library.add([write_fake_scan(tmp_path / "a.png", "an invoice from the garage")])
    thread = fake_library.warm_page_cache()
    thread.join(10)
    assert not thread.is_alive()
    assert [h.path for h in fake_library.search("invoice", mode="keyword")] == [
        str(tmp_path / "a.png")]


def test_the_server_reads_its_library_ahead(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.server.app import create_app

    asked: list[Path] = []
    monkeypatch.setattr(Library, "warm_page_cache",
                        lambda self: asked.append(self.directory) or threading.Thread())
    create_app(tmp_path / "lib", token="t" * 32, embedder=HashingEmbedder(), ocr=FakeOcr())
    assert asked == [tmp_path / "lib"]


def test_without_read_ahead_hints_the_files_are_read(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(page_cache, "_BLOCK", 100)
    monkeypatch.delattr(page_cache.os, "posix_fadvise", raising=False)
    files = _files(tmp_path, [250, 1])
    assert page_cache.read_through(files) == 251


def test_read_ahead_can_be_turned_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    read: list[list[Path]] = []
    monkeypatch.setenv("SCANDEX_READ_AHEAD", "0")
    monkeypatch.setattr(page_cache, "read_through",
                        lambda paths, stop=None: read.append(list(paths)) or 0)
    page_cache.warm_in_background(_files(tmp_path, [10])).join(10)
    assert read == [[]]
