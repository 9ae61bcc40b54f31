"""Watch folders: new, grown, moved and deleted files are followed; half-written files
wait; a vanished folder keeps its documents; a busy library is retried, not fatal."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from engine import IndexReport, Library, LibraryBusy
from engine.backends.pool import InlineExecutor
from engine.service.watch import FolderWatcher, WatchBatch, listing, mount_type
from engine.testing import FakeOcr, HashingEmbedder, write_fake_scan
from tests.scans import text_page


@pytest.fixture
def watched(tmp_path: Path) -> Iterator[tuple[Library, Path, list[WatchBatch], FolderWatcher]]:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    library = Library.open(tmp_path / "lib", embedder=HashingEmbedder(), ocr=FakeOcr(),
                           executor=InlineExecutor())
    batches: list[WatchBatch] = []
    watcher = FolderWatcher(library, [inbox], poll_s=0.05, settle_s=0.2, on_batch=batches.append)
    thread = threading.Thread(target=watcher.run)
    thread.start()
    _until(lambda: batches)  # the catch-up run
    yield library, inbox, batches, watcher
    watcher.stop()
    thread.join(timeout=30)
    assert not thread.is_alive()
    library.close()


def _until(condition: Callable[[], object], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _names(library: Library) -> set[str]:
    return {Path(d.path).name for d in library.documents(state="indexed")}


def test_new_files_are_indexed_and_deleted_ones_forgotten(watched) -> None:  # type: ignore[no-untyped-def]
    library, inbox, _batches, _watcher = watched
    write_fake_scan(inbox / "a.png", "alpha invoice")
    (inbox / "sub").mkdir()
    write_fake_scan(inbox / "sub" / "b.png", "beta letter")
    _until(lambda: _names(library) == {"a.png", "b.png"})
    assert library.search("beta", mode="keyword")[0].path.endswith("b.png")
    (inbox / "a.png").unlink()
    _until(lambda: _names(library) == {"b.png"})


def test_a_move_reuses_the_stored_reading(watched) -> None:  # type: ignore[no-untyped-def]
    library, inbox, batches, _watcher = watched
    write_fake_scan(inbox / "scan.png", "moved words")
    _until(lambda: "scan.png" in _names(library))
    # The document is committed before its batch's report arrives: wait for the report,
    # or the batch that indexed it would be counted with the move's.
    _until(lambda: any(b.report is not None and b.report.indexed for b in batches))
    before = len(batches)
    (inbox / "filed").mkdir()
    (inbox / "scan.png").rename(inbox / "filed" / "scan-2024.png")
    _until(lambda: _names(library) == {"scan-2024.png"})
    # On a busy machine the move may be seen over more than one batch: count them all.
    after = [b.report for b in batches[before:] if b.report is not None]
    assert sum(r.reused for r in after) == 1 and sum(r.indexed for r in after) == 0
    assert sum(r.removed for r in after) == 1


def test_a_file_still_being_written_waits_until_it_stops_growing(watched) -> None:  # type: ignore[no-untyped-def]
    library, inbox, batches, _watcher = watched
    source = write_fake_scan(inbox.parent / "whole.png", "slowly copied page")
    data = source.read_bytes()
    target = inbox / "copying.png"
    with target.open("wb") as out:
        for start in range(0, len(data), max(1, len(data) // 8)):
            out.write(data[start:start + max(1, len(data) // 8)])
            out.flush()
            time.sleep(0.08)  # a slow network copy: never quiet for the settle time
            assert "copying.png" not in _names(library)
    _until(lambda: "copying.png" in _names(library))
    assert all(not b.report or not b.report.failed for b in batches), "no half-read failure"


def test_a_vanished_folder_keeps_its_documents(watched, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    library, inbox, batches, _watcher = watched
    write_fake_scan(inbox / "kept.png", "kept while unmounted")
    _until(lambda: "kept.png" in _names(library))
    inbox.rename(tmp_path / "elsewhere")  # the share goes away
    _until(lambda: any(b.offline for b in batches))
    time.sleep(0.5)
    assert "kept.png" in _names(library)
    (tmp_path / "elsewhere").rename(inbox)  # ... and comes back
    write_fake_scan(inbox / "new.png", "after the share returned")
    _until(lambda: _names(library) == {"kept.png", "new.png"})


def test_a_busy_library_is_retried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    write_fake_scan(inbox / "a.png", "waited for the lock")
    library = Library.open(tmp_path / "lib", embedder=HashingEmbedder(), ocr=FakeOcr(),
                           executor=InlineExecutor())
    real_add, calls = library.add, []

    def busy_once(*a: object, **k: object) -> object:
        calls.append(1)
        if len(calls) <= 2:
            raise LibraryBusy("another Scandex process is indexing")
        return real_add(*a, **k)  # type: ignore[arg-type]

    monkeypatch.setattr(library, "add", busy_once)
    batches: list[WatchBatch] = []
    watcher = FolderWatcher(library, [inbox], poll_s=0.05, settle_s=0.05,
                            on_batch=batches.append)
    thread = threading.Thread(target=watcher.run)
    thread.start()
    _until(lambda: "a.png" in _names(library))
    watcher.stop()
    thread.join(timeout=30)
    assert any(b.note and "another Scandex process" in b.note for b in batches)
    library.close()


def test_listing_skips_the_library_inside_a_watched_folder(tmp_path: Path) -> None:
    write_fake_scan(tmp_path / "a.png", "x")
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "index.sqlite").write_bytes(b"changes all the time")
    assert set(listing([tmp_path], [tmp_path / "lib"])) == {str(tmp_path / "a.png")}


def test_network_shares_are_recognised(tmp_path: Path) -> None:
    mounts = tmp_path / "mounts"
    mounts.write_text("/dev/sda1 / ext4 rw 0 0\n"
                      "//nas/scans /mnt/scanner\\040inbox cifs rw 0 0\n")
    assert mount_type(Path("/mnt/scanner inbox/2024"), str(mounts)) == "cifs"
    assert mount_type(Path("/home/me"), str(mounts)) == "ext4"


@pytest.mark.slow
def test_scandex_watch_follows_a_folder_and_stops_on_sigterm(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    library_dir = tmp_path / "lib"
    env = {**os.environ, "SCANDEX_RUN_SLOW": "1"}
    watch = subprocess.Popen(
        [sys.executable, "-m", "engine.cli.main", "--library", str(library_dir), "watch",
         str(inbox), "--settle", "0.3", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        first = watch.stdout.readline() if watch.stdout else ""
        assert '"report"' in first  # the catch-up batch
        staged = tmp_path / "phototest.tif"
        text_page(["The quick brown dog jumped over the lazy fox."]).save(staged)
        staged.rename(inbox / "phototest.tif")  # lands whole, as a scanner's file would
        line = watch.stdout.readline() if watch.stdout else ""
        assert '"indexed": 1' in line, line
        watch.send_signal(signal.SIGTERM)
        assert watch.wait(timeout=30) == 0
    finally:
        if watch.poll() is None:
            watch.kill()
    found = subprocess.run([sys.executable, "-m", "engine.cli.main", "--library",
                            str(library_dir), "search", "quick brown", "--mode", "keyword",
                            "--json"],
                           capture_output=True, text=True, timeout=120)
    assert "phototest.tif" in found.stdout


@pytest.mark.slow
def test_two_real_writers_take_turns_and_lose_nothing(tmp_path: Path) -> None:
    """`scandex watch` and `scandex index` on one library at once, with real OCR: one
    waits for the other's writer lock; every page of both ends up searchable."""
    inbox, other, library_dir = tmp_path / "inbox", tmp_path / "other", tmp_path / "lib"
    inbox.mkdir()
    other.mkdir()
    words = ["amber", "birch", "cedar", "delta", "ember", "fjord", "grove", "heron", "igloo",
             "jumbo", "kayak", "lemon", "mango", "nylon", "otter"]
    # Enough pages that the index holds the lock for seconds while the inbox fills.
    for i, word in enumerate(words[3:]):
        text_page([f"Folder page {word} number {i}."]).save(other / f"other-{word}.png")
    cli = [sys.executable, "-m", "engine.cli.main", "--library", str(library_dir)]
    watch = subprocess.Popen([*cli, "watch", str(inbox), "--settle", "0.1", "--json"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    index = None
    try:
        assert '"report"' in (watch.stdout.readline() if watch.stdout else "")
        index = subprocess.Popen([*cli, "index", str(other), "--json"], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
        _until(lambda: _lock_held(library_dir / "index.lock") or index.poll() is not None,
               timeout=120)
        assert index.poll() is None, "the index finished before it could be met"
        for word in words[:3]:  # while it indexes: staged, then renamed in, as a scanner
            text_page([f"Inbox page {word} arrived."]).save(tmp_path / f"{word}.png")
            (tmp_path / f"{word}.png").rename(inbox / f"inbox-{word}.png")
        deadline = time.monotonic() + 180
        lines: list[str] = []
        while not _all_found(cli, words[:3]):  # each look waits for the next batch line
            assert time.monotonic() < deadline, lines
            lines.append(watch.stdout.readline() if watch.stdout else "")
        out, err = index.communicate(timeout=600)
        assert index.returncode == 0, err
        watch.send_signal(signal.SIGTERM)
        assert watch.wait(timeout=30) == 0
    finally:
        for process in (watch, index):
            if process is not None and process.poll() is None:
                process.kill()
    # The watcher's pass came while the index held the lock: it waited, then ran.
    assert any("another Scandex process" in line for line in lines), lines
    assert _all_found(cli, words) and '"failed": []' in out


def _lock_held(lock: Path) -> bool:
    """True while another process holds the library's writer lock."""
    import fcntl

    if not lock.exists():
        return False
    with lock.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
    return False


def _all_found(cli: list[str], words: list[str]) -> bool:
    """Every word finds the page named after it (not merely the query echoed back)."""
    for word in words:
        out = subprocess.run([*cli, "search", word, "--mode", "keyword", "--json"],
                             capture_output=True, text=True, timeout=120)
        results = json.loads(out.stdout)["results"] if out.returncode == 0 else []
        if not any(Path(r["path"]).stem.endswith(word) for r in results):
            return False
    return True


def test_file_system_events_wake_it_without_polling(tmp_path: Path) -> None:
    pytest.importorskip("watchdog")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    library = Library.open(tmp_path / "lib", embedder=HashingEmbedder(), ocr=FakeOcr(),
                           executor=InlineExecutor())
    batches: list[WatchBatch] = []
    watcher = FolderWatcher(library, [inbox], settle_s=0.2, on_batch=batches.append)
    assert not watcher.polling and watcher.interval_s >= 30  # events, not a timer
    thread = threading.Thread(target=watcher.run)
    thread.start()
    try:
        _until(lambda: batches)
        write_fake_scan(inbox / "evented.png", "woken by inotify")
        _until(lambda: "evented.png" in _names(library), timeout=10)
    finally:
        watcher.stop()
        thread.join(timeout=30)
        library.close()


def test_polling_looks_at_folder_times_between_full_listings(tmp_path: Path) -> None:
    from engine.service.watch import folder_times, unchanged_folders

    (tmp_path / "a" / "b").mkdir(parents=True)
    times = folder_times([tmp_path / "a", tmp_path / "missing"])
    assert unchanged_folders(times)
    time.sleep(0.01)
    write_fake_scan(tmp_path / "a" / "b" / "new.png", "a new entry in a deep folder")
    assert not unchanged_folders(times)
    times = folder_times([tmp_path / "a", tmp_path / "missing"])
    (tmp_path / "missing").mkdir()  # a share that comes back is a change too
    assert not unchanged_folders(times)


def test_a_file_rewritten_in_place_is_read_again_when_polling(watched) -> None:  # type: ignore[no-untyped-def]
    library, inbox, _batches, _watcher = watched
    write_fake_scan(inbox / "draft.png", "first draft words")
    _until(lambda: library.search("first", mode="keyword"))
    time.sleep(0.01)
    write_fake_scan(inbox / "draft.png", "final version words")  # no folder time changes
    # Well before the 30 s full listing: the poll looks at the known files' own times.
    _until(lambda: library.search("final", mode="keyword"), timeout=10)
    assert not library.search("first", mode="keyword")


def test_a_file_rewritten_in_place_is_read_again_on_its_event(tmp_path: Path) -> None:
    pytest.importorskip("watchdog")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    write_fake_scan(inbox / "draft.png", "first draft words")
    library = Library.open(tmp_path / "lib", embedder=HashingEmbedder(), ocr=FakeOcr(),
                           executor=InlineExecutor())
    batches: list[WatchBatch] = []
    watcher = FolderWatcher(library, [inbox], settle_s=0.2, on_batch=batches.append)
    thread = threading.Thread(target=watcher.run)
    thread.start()
    try:
        _until(lambda: batches)
        write_fake_scan(inbox / "draft.png", "final version words")
        _until(lambda: library.search("final", mode="keyword"), timeout=10)
    finally:
        watcher.stop()
        thread.join(timeout=30)
        library.close()


def test_a_folder_on_a_network_share_falls_back_to_polling(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import engine.service.watch as watch

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    monkeypatch.setattr(watch, "mount_type", lambda _path, *_a: "nfs4")  # no events there
    library = Library.open(tmp_path / "lib", embedder=HashingEmbedder(), ocr=FakeOcr(),
                           executor=InlineExecutor())
    batches: list[WatchBatch] = []
    watcher = FolderWatcher(library, [inbox], settle_s=0.1, on_batch=batches.append)
    assert watcher.polling and watcher.interval_s == 2.0  # chosen by itself, not asked for
    thread = threading.Thread(target=watcher.run)
    thread.start()
    try:
        _until(lambda: batches)
        write_fake_scan(inbox / "share.png", "landed on the share")
        _until(lambda: "share.png" in _names(library), timeout=15)
    finally:
        watcher.stop()
        thread.join(timeout=30)
        library.close()


def test_a_burst_becomes_few_batches_and_no_failures(watched) -> None:  # type: ignore[no-untyped-def]
    library, inbox, batches, _watcher = watched
    staged = inbox.parent / "scanner"
    staged.mkdir()
    pages = [write_fake_scan(staged / f"page{i:03}.png", f"burst page {i}", size=(200, 260))
             for i in range(60)]
    before = len(batches)
    for page in pages:  # a scanner's burst: whole files landing one after another
        page.rename(inbox / page.name)

    def reports() -> list[IndexReport]:
        return [b.report for b in batches[before:] if b.report is not None]

    # The pass's report comes after its documents are committed (and searchable).
    _until(lambda: sum(r.indexed for r in reports()) == 60, timeout=60)
    assert len(_names(library)) == 60 and not any(r.failed for r in reports())
    assert len(reports()) < 10, "debounced into a few batches, not one per file"
