"""`scandex index s3://bucket/prefix` against moto's S3 server on 127.0.0.1: paginated
listing, ETag/size change detection, per-object errors, temp files removed, previews."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("boto3")

from engine import Library  # noqa: E402
from engine.backends.pool import InlineExecutor  # noqa: E402
from engine.backends.s3 import S3Access, S3Location, list_objects  # noqa: E402
from engine.testing import FakeOcr, HashingEmbedder, write_fake_scan  # noqa: E402
from tests.s3_servers import (  # noqa: E402
    KEY,
    SECRET,
    S3Endpoint,
    make_bucket,
    moto_endpoint,
    rclone_endpoint,
)

BUCKET = "scandex-inbox"


@pytest.fixture
def moto(monkeypatch: pytest.MonkeyPatch) -> Iterator[S3Endpoint]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    with moto_endpoint() as ep:
        make_bucket(ep.url, BUCKET)
        monkeypatch.setenv("SCANDEX_S3_ENDPOINT", ep.url)
        yield ep


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where the worker's temporary copies go, to check that none is left behind."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def client(ep: S3Endpoint) -> Any:
    import boto3

    return boto3.client("s3", endpoint_url=ep.url, region_name="us-east-1",
                        aws_access_key_id=KEY, aws_secret_access_key=SECRET)


def fake_scan_bytes(text: str, tmp: Path) -> bytes:
    return write_fake_scan(tmp / "page.png", text).read_bytes()


def put(ep: S3Endpoint, key: str, body: bytes) -> None:
    client(ep).put_object(Bucket=BUCKET, Key=key, Body=body)


def library(root: Path) -> Library:
    return Library.open(root, embedder=HashingEmbedder(), ocr=FakeOcr(), executor=InlineExecutor())


def found(lib: Library, query: str) -> list[str]:
    return sorted(h.path for h in lib.search(query, mode="keyword"))


def test_listing_is_paginated_and_skips_what_is_not_a_scan(moto: S3Endpoint,
                                                            tmp_path: Path) -> None:
    page = fake_scan_bytes("anything", tmp_path)
    for i in range(5):
        put(moto, f"scans/page{i}.png", page)
    put(moto, "scans/notes.txt", b"not a scan")
    put(moto, "scans/.hidden.png", page)
    put(moto, "scans/folder/", b"")
    put(moto, "elsewhere/other.png", page)
    calls: list[dict[str, Any]] = []
    s3 = client(moto)
    s3.meta.events.register("before-call.s3.ListObjectsV2",
                            lambda params, **_: calls.append(params))
    listed = list(list_objects(S3Access(moto.url, page_size=2), S3Location.parse(
        f"s3://{BUCKET}/scans"), client=s3))
    assert [o.key for o in listed] == [f"scans/page{i}.png" for i in range(5)]
    put(moto, "scans-old/page9.png", page)  # a sibling prefix, not inside s3://.../scans
    assert len(calls) == 4  # 8 keys under the prefix, 2 per request: every page requested
    assert all(o.etag and o.size == len(page) for o in listed)


def test_bucket_indexed_then_only_changes_are_read(moto: S3Endpoint, tmp_path: Path,
                                                   scratch: Path) -> None:
    put(moto, "scans/lease.png", fake_scan_bytes("apartment lease renewal Linden", tmp_path))
    put(moto, "scans/2024/invoice.png", fake_scan_bytes("invoice toner cartridges", tmp_path))
    put(moto, "scans/copy-of-lease.png", fake_scan_bytes("apartment lease renewal Linden",
                                                         tmp_path))
    put(moto, "scans/broken.pdf", b"%PDF-1.7\n1 0 obj <<")  # truncated
    put(moto, "scans/empty.jpg", b"")
    lib = library(tmp_path / "lib")
    location = f"s3://{BUCKET}/scans"

    first = lib.add([location])
    assert (first.indexed, first.reused) == (2, 1)
    assert sorted(Path(f.path).name for f in first.failed) == ["broken.pdf", "empty.jpg"]
    assert found(lib, "Linden") == [f"{location}/copy-of-lease.png", f"{location}/lease.png"]
    assert found(lib, "toner") == [f"{location}/2024/invoice.png"]
    assert list(scratch.iterdir()) == []  # every temporary copy removed, failures included
    status = lib.status()
    assert {Path(f.path).name for f in status.failures} == {"broken.pdf", "empty.jpg"}

    again = lib.add([location])
    assert (again.indexed, again.reused, again.skipped_unchanged) == (0, 0, 5)

    put(moto, "scans/2024/invoice.png", fake_scan_bytes("invoice paper staples", tmp_path))
    client(moto).delete_object(Bucket=BUCKET, Key="scans/lease.png")
    third = lib.add([location])
    assert (third.indexed, third.removed, third.skipped_unchanged) == (1, 1, 3)
    assert found(lib, "toner") == []
    assert found(lib, "staples") == [f"{location}/2024/invoice.png"]
    assert found(lib, "Linden") == [f"{location}/copy-of-lease.png"]

    # A preview fetches the object once into the library's cache.
    hit = lib.search("staples", mode="keyword")[0]
    assert lib.page_image(hit.id, 1).size == (850, 1100)
    assert len(list((tmp_path / "lib" / "cache" / "objects").iterdir())) == 1
    lib.close()


def test_local_and_bucket_inputs_in_one_run(moto: S3Endpoint, tmp_path: Path) -> None:
    put(moto, "in/remote.png", fake_scan_bytes("remote harbour chart", tmp_path))
    folder = tmp_path / "local"
    folder.mkdir()
    write_fake_scan(folder / "local.png", "local harbour chart")
    lib = library(tmp_path / "lib")
    report = lib.add([folder, f"s3://{BUCKET}/in"])
    assert report.indexed == 2 and not report.failed
    assert len(found(lib, "harbour")) == 2


def test_refused_credentials_stop_the_run_with_a_clear_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from engine.cli.main import main

    monkeypatch.setenv("SCANDEX_S3_ENDPOINT", "")  # the CLI sets it; restored afterwards
    # rclone checks request signatures (moto does not).
    with rclone_endpoint(tmp_path / "rclone") as ep:
        make_bucket(ep.url, BUCKET)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret-value")
        code = main(["index", f"s3://{BUCKET}/scans", "--library", str(tmp_path / "lib"),
                     "--s3-endpoint", ep.url, "--executor", "inline"])
    err = capsys.readouterr().err
    assert code == 4
    assert "credentials" in err and "wrong-secret-value" not in err


def test_missing_bucket_is_a_remote_error(moto: S3Endpoint, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    from engine.cli.main import main

    code = main(["index", "s3://no-such-bucket/scans", "--library", str(tmp_path / "lib"),
                 "--executor", "inline"])
    assert code == 4
    assert "no-such-bucket" in capsys.readouterr().err


def test_not_a_bucket_location_is_a_usage_error(tmp_path: Path) -> None:
    from engine.cli.main import main

    assert main(["index", "s3://", "--library", str(tmp_path / "lib")]) == 2


def test_server_indexes_a_bucket_location(moto: S3Endpoint, tmp_path: Path) -> None:
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from engine.server.app import create_app
    from tests.engine.server.test_api import wait_job

    put(moto, "mail/letter.png", fake_scan_bytes("parking permit renewal", tmp_path))
    app = create_app(tmp_path / "lib", token="t0ken-for-tests", embedder=HashingEmbedder(),
                     ocr=FakeOcr(), executor=InlineExecutor())
    with TestClient(app, headers={"Authorization": "Bearer t0ken-for-tests"}) as api:
        assert api.post("/sources", json={"url": "/etc/passwd"}).status_code == 422
        assert api.post("/sources", json={"url": "s3://x"}).status_code == 400
        queued = api.post("/sources", json={"url": f"s3://{BUCKET}/mail"})
        assert queued.status_code == 202
        job = wait_job(api, queued.json()["id"])
        assert job["state"] == "done" and job["report"]["indexed"] == 1
        hits = api.get("/search", params={"q": "parking permit", "mode": "keyword"}).json()
        assert hits["results"][0]["path"] == f"s3://{BUCKET}/mail/letter.png"
        original = api.get(f"/documents/{hits['results'][0]['id']}/file")
        assert original.status_code == 200
        assert original.content == fake_scan_bytes("parking permit renewal", tmp_path)


@pytest.mark.slow
def test_cluster_workers_fetch_their_own_objects(moto: S3Endpoint, tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    from engine.backends.dask_cluster import DaskExecutor

    for i in range(6):
        put(moto, f"box/page{i}.png", fake_scan_bytes(f"ledger page {i} of the tram depot",
                                                      tmp_path))
    import botocore.client

    executor = DaskExecutor("local:2")
    fetched_here: list[str] = []
    original = botocore.client.BaseClient._make_api_call
    try:
        # The client never reads an object: every GetObject happens on a worker.
        def spy(self: Any, operation: str, params: Any) -> Any:
            if operation == "GetObject":
                fetched_here.append(params["Key"])
            return original(self, operation, params)

        botocore.client.BaseClient._make_api_call = spy  # type: ignore[method-assign]
        lib = Library.open(tmp_path / "lib", embedder=HashingEmbedder(), ocr=FakeOcr(),
                           executor=executor)
        report = lib.add([f"s3://{BUCKET}/box"])
        again = lib.add([f"s3://{BUCKET}/box"])
    finally:
        botocore.client.BaseClient._make_api_call = original  # type: ignore[method-assign]
        executor.shutdown()
    assert report.indexed == 6 and not report.failed
    assert again.skipped_unchanged == 6 and again.indexed == 0
    assert fetched_here == []
    assert len(lib.search("tram depot", mode="keyword", limit=10)) == 6


def test_same_bytes_on_disk_and_in_the_bucket_are_read_once(moto: S3Endpoint,
                                                            tmp_path: Path) -> None:
    folder = tmp_path / "local"
    folder.mkdir()
    page = write_fake_scan(folder / "scan.png", "identical tram depot ledger")
    put(moto, "copy/scan-copy.png", page.read_bytes())
    lib = library(tmp_path / "lib")
    report = lib.add([f"s3://{BUCKET}/copy", folder])
    assert not report.failed and report.indexed + report.reused == 2
    assert len(found(lib, "depot")) == 2
    assert lib.store.db.execute("SELECT COUNT(*) FROM contents").fetchone()[0] == 1
