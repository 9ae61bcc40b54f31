"""Any number of machines pushing and pulling through one bucket, in any interleaving,
lose nothing (issue 19): concurrent pushes, a push overtaken mid-way, removals and
re-adds in every order, and what `sync status` says afterwards."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("boto3")

from engine import Library  # noqa: E402
from engine.backends.pool import InlineExecutor  # noqa: E402
from engine.backends.s3 import RemoteConfig, S3Remote  # noqa: E402
from engine.errors import SyncError  # noqa: E402
from engine.sync.manifest import MANIFESTS  # noqa: E402
from engine.testing import FakeOcr, HashingEmbedder, write_fake_scan  # noqa: E402
from tests.s3_servers import KEY, SECRET, S3Endpoint, make_bucket, moto_endpoint, rclone_endpoint  # noqa: E402,E501

BUCKET = "scandex-race"


@pytest.fixture(params=["moto", "rclone"])
def endpoint(request, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[S3Endpoint]:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    context = moto_endpoint() if request.param == "moto" else rclone_endpoint(tmp_path / "rc")
    with context as ep:
        make_bucket(ep.url, BUCKET)
        yield ep


def library(root: Path) -> Library:
    return Library.open(root, embedder=HashingEmbedder(), ocr=FakeOcr(), executor=InlineExecutor())


def config(ep: S3Endpoint) -> RemoteConfig:
    return RemoteConfig(bucket=BUCKET, prefix="shared", endpoint_url=ep.url, max_attempts=3)


def add_docs(lib: Library, folder: Path, names: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        write_fake_scan(folder / name, f"unique words for {name.replace('.', ' ')}")
    lib.add([folder / n for n in names])


def doc_id(lib: Library, name: str) -> int:
    return next(d.id for d in lib.documents() if Path(d.path).name == name)


def names_in(lib: Library) -> set[str]:
    return {Path(d.path).name for d in lib.documents()}


def test_a_push_overtaken_mid_way_loses_nothing(endpoint: S3Endpoint, tmp_path: Path) -> None:
    """A pulls, then B pushes while A uploads, then A writes its manifest last: with one
    overwritten manifest.json, B's documents vanished from the bucket."""
    a, b = library(tmp_path / "a"), library(tmp_path / "b")
    add_docs(a, tmp_path / "docs-a", [f"a{i}.png" for i in range(4)])
    add_docs(b, tmp_path / "docs-b", [f"b{i}.png" for i in range(4)])
    overtaken = []

    def b_pushes_now(_message: str) -> None:
        if not overtaken:
            overtaken.append(b.push(config(endpoint)))

    a.push(config(endpoint), on_progress=b_pushes_now)
    assert overtaken, "B never pushed in the middle of A's push"
    fresh = library(tmp_path / "fresh")
    fresh.pull(config(endpoint))
    assert names_in(fresh) == {f"a{i}.png" for i in range(4)} | {f"b{i}.png" for i in range(4)}
    # The overtaken side is told the truth: nothing of B's is missing from the bucket.
    assert b.sync_status(config(endpoint)).to_push == 0
    assert a.sync_status(config(endpoint)).to_pull == 4


def test_concurrent_pushes_repeated(endpoint: S3Endpoint, tmp_path: Path) -> None:
    """Three machines push at the same moment, five rounds; a fresh pull sees everything."""
    machines, rounds = 3, 5
    barrier = threading.Barrier(machines)
    errors: list[BaseException] = []

    def machine(index: int) -> None:
        try:
            lib = library(tmp_path / f"m{index}")
            for round_no in range(rounds):
                add_docs(lib, tmp_path / f"docs-m{index}", [f"m{index}-r{round_no}.png"])
                barrier.wait(timeout=60)
                lib.push(config(endpoint))
            lib.close()
        except BaseException as e:  # noqa: BLE001 - reported by the test thread
            errors.append(e)
            barrier.abort()

    threads = [threading.Thread(target=machine, args=(i,)) for i in range(machines)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors, errors
    fresh = library(tmp_path / "fresh")
    fresh.pull(config(endpoint))
    expected = {f"m{i}-r{r}.png" for i in range(machines) for r in range(rounds)}
    assert names_in(fresh) == expected
    # Superseded manifests are tidied away: the bucket does not grow a manifest per push.
    remote = S3Remote(config(endpoint))
    assert len(remote.list(MANIFESTS)) <= machines


def test_removal_and_re_add_in_every_order(endpoint: S3Endpoint, tmp_path: Path) -> None:
    a, b = library(tmp_path / "a"), library(tmp_path / "b")
    add_docs(a, tmp_path / "docs-a", ["keep.png", "x.png"])
    a.push(config(endpoint))
    b.pull(config(endpoint))
    # B removes x; A, not knowing it yet, pulls the removal, then re-adds x at once
    # (the same second: timestamps must still order them).
    b.remove(doc_id(b, "x.png"))
    assert names_in(b) == {"keep.png"}
    b.push(config(endpoint))
    a.pull(config(endpoint))
    assert names_in(a) == {"keep.png"}
    a.add([tmp_path / "docs-a" / "x.png"])
    a.push(config(endpoint))
    b.pull(config(endpoint))
    b.push(config(endpoint))
    a.pull(config(endpoint))
    assert names_in(a) == names_in(b) == {"keep.png", "x.png"}
    # A removal that reached a third machine late never beats the re-add.
    c = library(tmp_path / "c")
    c.pull(config(endpoint))
    assert names_in(c) == {"keep.png", "x.png"}


def test_removal_learnt_late_keeps_its_own_time(endpoint: S3Endpoint, tmp_path: Path) -> None:
    """B removes x; C re-adds x; A learns of B's removal only after C's re-add. A must
    pass the removal on with B's time, or C's re-add is deleted by A's next push."""
    a, b, c = (library(tmp_path / n) for n in "abc")
    add_docs(a, tmp_path / "docs-a", ["x.png"])
    a.push(config(endpoint))
    b.pull(config(endpoint))
    c.pull(config(endpoint))
    b.remove(doc_id(b, "x.png"))
    b.push(config(endpoint))
    c.pull(config(endpoint))  # c drops x ...
    again = tmp_path / "docs-c" / "x-again.png"
    again.parent.mkdir()
    again.write_bytes((tmp_path / "docs-a" / "x.png").read_bytes())
    c.add([again])  # ... and re-adds the same content
    c.push(config(endpoint))
    a.pull(config(endpoint))
    a.push(config(endpoint))
    c.pull(config(endpoint))
    assert "x-again.png" in names_in(c)


def test_status_after_a_failed_first_push_knows_the_bucket(endpoint: S3Endpoint,
                                                           tmp_path: Path) -> None:
    a = library(tmp_path / "a")
    add_docs(a, tmp_path / "docs", ["one.png", "two.png"])

    def endpoint_dies(_message: str) -> None:
        endpoint.stop()  # type: ignore[operator]

    with pytest.raises(SyncError):
        a.push(config(endpoint), on_progress=endpoint_dies)
    endpoint.start()  # type: ignore[operator]
    status = a.sync_status()  # no config given: the one the failed push used is kept
    assert status.to_push == 2
    report = a.push()
    assert report.uploaded >= 2 and a.sync_status().to_push == 0
