"""Work between commits while pages are still read: the rescans' pairing happens during
an index run, paced so it never takes more than its share of the loop's time."""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
from PIL import Image

from engine import Library
from engine.ingest import run as run_module
from engine.protocols import OcrOptions, OcrResult
from engine.testing import FakeOcr, HashingEmbedder, write_fake_scan

T = TypeVar("T")
R = TypeVar("R")

RECEIPT = ("HARBOUR SUPPLIES LTD 12 Quay Road Portsmouth receipt 20240311 till 4 rope 2 x 1299 "
           "buoy 1 x 4550 chandlery gloves 1 x 899 subtotal 7047 vat 1409 total 8456 paid card")
RESCAN = RECEIPT.replace("Portsmouth", "Portsrnouth").replace("chandlery", "chand lery")

WORDS = ("apple orchard frost blossom pear autumn harvest ladder basket cider press barn "
         "tractor fence meadow river bridge mill wheel grain flour bread oven baker market "
         "stall cheese butter cream honey bees hive wax candle lantern window shutter roof "
         "chimney smoke hearth kettle teapot saucer spoon ledger invoice parcel stamp").split()


class SlowOcr(FakeOcr):
    """FakeOcr taking a while per page, so pages are still being read between commits."""

    def ocr(self, image: Image.Image, options: OcrOptions) -> OcrResult:
        time.sleep(0.05)
        return super().ocr(image, options)


class ThreadExecutor:
    """Pages read on threads (the pool's seam without processes)."""

    workers = 2

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(2)

    def submit(self, fn: Callable[[T], R], arg: T) -> Future[R]:
        return self._pool.submit(fn, arg)

    def restart(self) -> None:
        pass

    def shutdown(self, *, cancel: bool = False) -> None:
        self._pool.shutdown(wait=True, cancel_futures=cancel)


def _scans(folder: Path, count: int) -> Path:
    folder.mkdir()
    write_fake_scan(folder / "000-receipt.png", RECEIPT)
    write_fake_scan(folder / "001-receipt-rescan.png", RESCAN, size=(860, 1110))
    rng = random.Random(7)
    for i in range(2, count):
        write_fake_scan(folder / f"{i:03}-letter.png", " ".join(rng.sample(WORDS, 30)))
    return folder


def _threaded(tmp_path: Path) -> Library:
    return Library.open(tmp_path / "lib", embedder=HashingEmbedder(), ocr=SlowOcr(),
                        executor=ThreadExecutor())


@pytest.fixture
def fast_flushes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(run_module, "_FLUSH_CHUNKS", 1)  # commit each document at once


def test_pairs_are_found_while_later_pages_are_still_read(
        tmp_path: Path, fast_flushes: None) -> None:
    folder = _scans(tmp_path / "scans", 30)
    library = _threaded(tmp_path)
    seen_mid_run: list[tuple[int, int]] = []  # (documents committed, pairs) at each call
    calls = 0
    pair_during_run = library._date_and_pair

    def watched(limit: int | None = None, **_: Any) -> None:
        nonlocal calls
        calls += 1
        pair_during_run(limit)
        seen_mid_run.append((library.store.counts()["indexed"],
                             len(library.store.pairs.pairs())))

    library._date_and_pair = watched  # type: ignore[method-assign]
    report = library.add([folder])
    assert report.indexed == 30
    # Called during the run (the last call is the one after it, with all 30 committed).
    during = [seen for seen in seen_mid_run if seen[0] < 30]
    assert during, seen_mid_run
    assert any(pairs == 1 for _, pairs in during), seen_mid_run  # paired mid-run
    groups = library.duplicates()
    assert [sorted(Path(d.path).name for d in g.documents) for g in groups] == [
        ["000-receipt.png", "001-receipt-rescan.png"]]
    library.close()


def test_the_work_between_commits_takes_at_most_its_share(
        tmp_path: Path, fast_flushes: None) -> None:
    folder = _scans(tmp_path / "scans", 40)
    library = _threaded(tmp_path)
    starts: list[float] = []
    lock = threading.Lock()
    slow = 0.06

    def slow_work(limit: int | None = None, **_: Any) -> None:
        with lock:
            starts.append(time.monotonic())
        time.sleep(slow)

    library._date_and_pair = slow_work  # type: ignore[method-assign]
    library.add([folder])
    gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    assert len(starts) >= 2
    # Each call is followed by at least took / share - took of the loop's own work.
    least = slow / run_module._AFTER_COMMITS_SHARE
    assert all(gap >= least * 0.95 for gap in gaps[:-1]), (gaps, least)
    library.close()


def test_a_run_without_the_hook_or_pending_pages_never_calls_it(tmp_path: Path) -> None:
    called: list[Any] = []
    folder = _scans(tmp_path / "scans", 3)
    library = Library.open(tmp_path / "lib", embedder=HashingEmbedder(), ocr=FakeOcr(),
                           executor="inline")
    original = library._date_and_pair

    def count(limit: int | None = None, **_: Any) -> None:
        called.append(1)
        original(limit)

    library._date_and_pair = count  # type: ignore[method-assign]
    library.add([folder])
    assert called == [1]  # once, after the run: inline, no page is ever pending
    assert len(library.store.pairs.pairs()) == 1
    library.close()


def test_a_failure_between_commits_leaves_the_pages_going_and_is_tried_after(
        tmp_path: Path, fast_flushes: None) -> None:
    folder = _scans(tmp_path / "scans", 20)
    library = _threaded(tmp_path)
    pair = library._date_and_pair
    calls: list[int] = []

    def failing_once(limit: int | None = None, **_: Any) -> None:
        calls.append(library.store.counts()["indexed"])
        if len(calls) == 1:
            raise sqlite3.OperationalError("database is locked")
        pair(limit)

    library._date_and_pair = failing_once  # type: ignore[method-assign]
    report = library.add([folder])
    assert report.indexed == 20 and not report.failed
    assert len(calls) == 2 and calls[-1] == 20  # not again mid-run; once after the run
    assert len(library.store.pairs.pairs()) == 1
    library.close()


def test_a_backlog_is_dated_and_paired_a_slice_at_a_time_during_a_run(
        tmp_path: Path, fast_flushes: None) -> None:
    folder = _scans(tmp_path / "scans", 12)
    library = _threaded(tmp_path)
    limits: list[int | None] = []
    pair = library._date_and_pair

    def sliced(limit: int | None = None, **_: Any) -> None:
        limits.append(limit)
        pair(limit)

    library._date_and_pair = sliced  # type: ignore[method-assign]
    library.add([folder])
    assert limits[-1] is None and set(limits[:-1]) == {200}  # all of it only after the run
    # A slice takes the first contents not compared yet, in their stable order; the next
    # call goes on from there.
    model = library.embedder.model_id
    with library.store.transaction():
        library.store.db.execute("DELETE FROM content_profiles")
        library.store.db.execute("DELETE FROM duplicate_pairs")
        library.store.db.execute("DELETE FROM content_dates")
    from engine.ingest.dates import date_contents
    from engine.search.duplicates import pair_contents

    backlog = library.store.pairs.missing(model)
    assert len(backlog) == 12
    assert date_contents(library.store, limit=5) == 5
    assert date_contents(library.store, limit=200) == 7
    pair_contents(library.store, model, limit=5)
    assert library.store.pairs.missing(model) == backlog[5:]
    pair_contents(library.store, model, limit=200)
    assert library.store.pairs.missing(model) == []
    assert len(library.store.pairs.pairs()) == 1  # the rescan, found across the slices
    library.close()
