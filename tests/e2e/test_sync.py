"""Sync through real S3 HTTP endpoints on 127.0.0.1 (moto's server, and rclone's)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("boto3")
from PIL import Image, PngImagePlugin  # noqa: E402

from engine import Library  # noqa: E402
from engine.backends.pool import InlineExecutor  # noqa: E402
from engine.backends.s3 import RemoteConfig, S3Remote
from engine.errors import SyncAuthError, SyncError, UnsafeRemote  # noqa: E402
from engine.sync.manifest import LEGACY_MANIFEST as MANIFEST  # noqa: E402
from engine.sync.manifest import blob_key  # noqa: E402
from engine.testing import FAKE_TEXT_KEY, FakeOcr, HashingEmbedder, write_fake_scan  # noqa: E402
from tests.s3_servers import KEY, SECRET, S3Endpoint, make_bucket, moto_endpoint, rclone_endpoint  # noqa: E402,E501

BUCKET = "scandex-sync"


@pytest.fixture(params=["moto", "rclone"])
def endpoint(request, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[S3Endpoint]:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    context = moto_endpoint() if request.param == "moto" else rclone_endpoint(tmp_path / "rclone")
    with context as ep:
        make_bucket(ep.url, BUCKET)
        yield ep


@pytest.fixture
def moto(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[S3Endpoint]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    with moto_endpoint() as ep:
        make_bucket(ep.url, BUCKET)
        yield ep


def library(root: Path) -> Library:
    return Library.open(root, embedder=HashingEmbedder(), ocr=FakeOcr(), executor=InlineExecutor())


def config(ep: S3Endpoint, **kw: object) -> RemoteConfig:
    return RemoteConfig(bucket=BUCKET, prefix="team", endpoint_url=ep.url, max_attempts=2,
                        **kw)  # type: ignore[arg-type]


def names(lib: Library, query: str) -> list[str]:
    return sorted(Path(h.path).name for h in lib.search(query, mode="keyword"))


def scans(folder: Path, docs: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in docs.items():
        write_fake_scan(folder / name, text)
    return folder


def test_push_then_pull_into_an_empty_library(endpoint: S3Endpoint, tmp_path: Path) -> None:
    a = library(tmp_path / "a")
    a.add([scans(tmp_path / "docs-a", {"lease.png": "lease rent landlord",
                                       "invoice.png": "invoice total acme"})])
    report = a.push(config(endpoint))
    assert report.uploaded == 3 and report.uploaded_bytes > 0  # 2 originals + 1 snapshot
    b = library(tmp_path / "b")
    assert b.sync_status(config(endpoint)).to_pull == 2
    pulled = b.pull(config(endpoint))
    assert pulled.merged == 2
    assert names(b, "landlord") == ["lease.png"] and names(b, "acme") == ["invoice.png"]
    hit = b.search("landlord", mode="semantic")[0]
    assert Path(hit.path).name == "lease.png"
    assert not Path(hit.path).exists()
    image = b.page_image(hit.id, 1)  # the original is fetched (and verified) on first open
    assert image.size == (850, 1100) and Path(hit.path).exists()
    again = a.push(config(endpoint))
    assert again.skipped == 2 and again.uploaded == 1  # only a new snapshot


def test_two_libraries_converge_and_removals_travel(endpoint: S3Endpoint, tmp_path: Path) -> None:
    a, b = library(tmp_path / "a"), library(tmp_path / "b")
    a.add([scans(tmp_path / "docs-a", {"alpha.png": "alpha apple", "gone.png": "gone soon"})])
    b.add([scans(tmp_path / "docs-b", {"beta.png": "beta banana"})])
    a.push(config(endpoint))
    b.push(config(endpoint))
    a.pull(config(endpoint))
    everything = ["alpha.png", "beta.png", "gone.png"]
    for lib in (a, b):
        assert sorted(Path(d.path).name for d in lib.documents()) == everything
    a.remove(str(tmp_path / "docs-a" / "gone.png"))
    a.push(config(endpoint))
    b.pull(config(endpoint))
    assert names(b, "gone") == []
    b.push(config(endpoint))
    a.pull(config(endpoint))
    for lib in (a, b):
        assert sorted(Path(d.path).name for d in lib.documents()) == ["alpha.png", "beta.png"]
    assert a.sync_status(config(endpoint)).to_pull == 0


def test_push_interrupted_by_a_dead_server_then_rerun(moto: S3Endpoint, tmp_path: Path) -> None:
    a = library(tmp_path / "a")
    a.add([scans(tmp_path / "docs", {f"d{i}.png": f"document {i} words" for i in range(6)})])
    uploads = []

    def stop_after_two(message: str) -> None:
        uploads.append(message)
        if len(uploads) == 2:
            moto.stop()  # type: ignore[operator]

    with pytest.raises(SyncError):
        a.push(config(moto), on_progress=stop_after_two)
    moto.start()  # type: ignore[operator]
    remote = S3Remote(config(moto))
    assert not remote.exists(MANIFEST)  # never a manifest pointing at missing objects
    report = a.push(config(moto))
    assert report.skipped == 2 and report.uploaded == 5
    manifest = remote.get_json(MANIFEST)
    blobs = remote.list("blobs/sha256")
    assert all(blob_key(d["sha256"]) in blobs for d in manifest["documents"])
    assert len(manifest["documents"]) == 6 and remote.exists(manifest["snapshot"])
    b = library(tmp_path / "b")
    assert b.pull(config(moto)).merged == 6


@pytest.mark.parametrize("entry", [
    {"snapshot": "../../etc/passwd"}, {"snapshot": "/abs/snapshot.sqlite"},
    {"snapshot": "snapshots\\..\\x"}, {"snapshot": "snapshots/a\x00b"},
    {"documents": [{"sha256": "a" * 64, "name": "../../.bashrc"}]},
    {"documents": [{"sha256": "../" + "a" * 61, "name": "x.png"}]},
])
def test_manifest_with_traversal_is_refused(moto: S3Endpoint, tmp_path: Path,
                                            entry: dict) -> None:  # type: ignore[type-arg]
    a = library(tmp_path / "a")
    a.add([scans(tmp_path / "docs", {"ok.png": "fine words"})])
    a.push(config(moto))
    remote = S3Remote(config(moto))
    manifest = {**remote.get_json(MANIFEST), **entry}
    remote.put_json(MANIFEST, manifest)
    b = library(tmp_path / "b")
    with pytest.raises(UnsafeRemote):
        b.pull(config(moto))
    assert b.documents() == [] and not (tmp_path / "b" / "blobs").exists()
    assert not (tmp_path / "b" / "sync.json").exists()


def test_corrupt_object_is_detected_and_not_kept(moto: S3Endpoint, tmp_path: Path) -> None:
    a = library(tmp_path / "a")
    a.add([scans(tmp_path / "docs", {"x.png": "tamper target"})])
    a.push(config(moto))
    b = library(tmp_path / "b")
    b.pull(config(moto))
    doc = b.documents()[0]
    remote = S3Remote(config(moto))
    remote.client.put_object(Bucket=BUCKET, Key=remote.key(blob_key(doc.sha256 or "")),
                             Body=b"not the original")
    with pytest.raises(SyncError, match="SHA-256"):
        b.page_image(doc.id, 1)
    assert not Path(doc.path).exists()
    assert not any(p.name.startswith(".download-") for p in (tmp_path / "b").rglob("*"))


def test_large_file_goes_multipart(moto: S3Endpoint, tmp_path: Path) -> None:
    folder = tmp_path / "big"
    folder.mkdir()
    info = PngImagePlugin.PngInfo()
    info.add_text(FAKE_TEXT_KEY, "very large scan")
    Image.frombytes("RGB", (2600, 2600), os.urandom(2600 * 2600 * 3)).save(
        folder / "big.png", pnginfo=info, compress_level=0)
    assert (folder / "big.png").stat().st_size > 16 * 2**20
    a = library(tmp_path / "a")
    a.add([folder])
    a.push(config(moto))
    remote = S3Remote(config(moto))
    sha = a.documents()[0].sha256 or ""
    head = remote.client.head_object(Bucket=BUCKET, Key=remote.key(blob_key(sha)))
    assert head["ETag"].strip('"').endswith(("-2", "-3"))  # a multipart upload's ETag
    assert head["Metadata"]["sha256"] == sha


def test_wrong_credentials_are_a_clear_error(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    with rclone_endpoint(tmp_path / "rclone") as ep:
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
        make_bucket(ep.url, BUCKET)
        a = library(tmp_path / "a")
        a.add([scans(tmp_path / "docs", {"x.png": "words"})])
        a.close()
        env = {**os.environ, "AWS_ACCESS_KEY_ID": KEY,
               "AWS_SECRET_ACCESS_KEY": "wrong-secret-DO-NOT-PRINT"}
        out = subprocess.run(
            [sys.executable, "-m", "engine", "--library", str(tmp_path / "a"), "sync", "push",
             "--bucket", BUCKET, "--endpoint-url", ep.url, "--json"],
            capture_output=True, text=True, env=env, timeout=120)
        assert out.returncode == 4, out.stderr
        assert "refused our credentials" in out.stderr
        assert "wrong-secret" not in out.stderr + out.stdout and SECRET not in out.stderr
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong")
        with pytest.raises(SyncAuthError):
            library(tmp_path / "a").push(config(ep))


def test_cli_push_pull_status_json(moto: S3Endpoint, tmp_path: Path) -> None:
    a = library(tmp_path / "a")
    a.add([scans(tmp_path / "docs", {"x.png": "cli words"})])
    a.close()
    base = [sys.executable, "-m", "engine", "--library", str(tmp_path / "a"), "sync"]
    flags = ["--bucket", BUCKET, "--endpoint-url", moto.url, "--json"]
    state = json.loads(subprocess.run([*base, "status", *flags], capture_output=True,
                                      text=True, timeout=120, check=True).stdout)
    assert state["to_push"] == 1
    pushed = json.loads(subprocess.run([*base, "push", *flags], capture_output=True,
                                       text=True, timeout=120, check=True).stdout)
    assert pushed["uploaded"] == 2 and "speed_mb_s" in pushed
    # The remote is remembered (no credentials in it) for later runs without flags.
    saved = json.loads((tmp_path / "a" / "sync.json").read_text())
    assert saved["bucket"] == BUCKET and "secret" not in json.dumps(saved).lower()
    again = subprocess.run([*base, "status", "--json"], capture_output=True, text=True,
                           timeout=120, check=True)
    assert json.loads(again.stdout)["to_push"] == 0


def test_server_pulls_at_start_and_pushes_after_indexing(moto: S3Endpoint, tmp_path: Path) -> None:
    import time

    from fastapi.testclient import TestClient

    from engine.server.app import create_app

    a = library(tmp_path / "a")
    a.add([scans(tmp_path / "docs", {"shared.png": "shared document from a laptop"})])
    a.push(config(moto))
    app = create_app(tmp_path / "server", embedder=HashingEmbedder(), ocr=FakeOcr(),
                     executor=InlineExecutor(), sync=config(moto))
    with TestClient(app) as client:
        deadline = time.monotonic() + 30
        while not client.get("/search", params={"q": "laptop", "mode": "keyword"}).json()[
                "results"]:
            assert time.monotonic() < deadline, "the server never pulled"
            time.sleep(0.2)
        info = PngImagePlugin.PngInfo()
        info.add_text(FAKE_TEXT_KEY, "uploaded to the server")
        data = io.BytesIO()
        Image.new("L", (300, 200), 255).save(data, format="PNG", pnginfo=info)
        job = client.post("/documents", files={"file": ("upload.png", data.getvalue())}).json()
        while job["state"] in ("queued", "running"):
            time.sleep(0.1)
            job = client.get(f"/jobs/{job['id']}").json()
        assert job["state"] == "done"
        remote = S3Remote(config(moto))
        deadline = time.monotonic() + 30
        while len(remote.get_json(MANIFEST)["documents"]) < 2:
            assert time.monotonic() < deadline, "the server never pushed"
            time.sleep(0.2)
    a.pull(config(moto))
    assert names(a, "server") == ["upload.png"]


def test_tags_travel_and_merge_in_any_order(moto: S3Endpoint, tmp_path: Path) -> None:
    """Tags are added and removed on two machines, pushed and pulled in turns: both end
    with the same tags, the later change of each winning."""
    a, b = library(tmp_path / "a"), library(tmp_path / "b")
    a.add([scans(tmp_path / "docs", {"lease.png": "lease rent landlord",
                                     "invoice.png": "invoice total acme"})])
    a.push(config(moto))
    b.pull(config(moto))
    lease_a = a.resolve(str(tmp_path / "docs" / "lease.png")).id
    lease_b = next(d.id for d in b.documents() if d.path.endswith("lease.png"))
    a.tag(lease_a, ["home", "2024"])
    b.tag(lease_b, ["contracts"])
    a.push(config(moto))  # both push without pulling the other's change first
    b.push(config(moto))
    a.pull(config(moto))
    assert a.tags(lease_a) == b.tags(lease_b) == {"2024": 1, "contracts": 1, "home": 1}
    b.tag(lease_b, ["2024"], present=False)
    b.push(config(moto))
    a.pull(config(moto))
    assert set(a.tags(lease_a)) == {"contracts", "home"}
    assert [Path(h.path).name for h in a.search("lease", tags=["home"])] == ["lease.png"]


def test_names_that_are_not_utf8_push_and_pull(moto: S3Endpoint, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    odd = Path(os.fsdecode(os.fsencode(docs) + b"/re\xe7u.png"))
    write_fake_scan(odd, "latin receipt words")
    write_fake_scan(docs / "re\\xe7u.png", "spelled receipt words")
    a = library(tmp_path / "a")
    a.add([docs])
    assert a.push(config(moto)).uploaded == 3
    b = library(tmp_path / "b")
    assert b.pull(config(moto)).merged == 2
    for query in ("latin", "spelled"):
        ours = a.original_file(a.search(query, mode="keyword")[0].id)
        theirs = b.original_file(b.search(query, mode="keyword")[0].id)
        assert theirs.read_bytes() == ours.read_bytes() and theirs != ours


def test_an_original_deleted_from_disk_is_shown_from_the_bucket_and_restored(
    moto: S3Endpoint, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from engine.cli import main as cli

    a = library(tmp_path / "a")
    docs = scans(tmp_path / "docs", {"deed.png": "deed of the house", "kept.png": "not pushed"})
    a.add([docs / "deed.png"])
    a.push(config(moto))
    original = docs / "deed.png"
    data = original.read_bytes()
    original.unlink()
    doc = a.search("deed", mode="keyword")[0].id
    copy = a.original_file(doc)  # a viewing copy, not a restore behind the user's back
    assert copy != original and copy.read_bytes() == data and not original.exists()
    assert a.page_image(doc, 1).size == (850, 1100)
    a.close()
    assert cli.main(["--library", str(tmp_path / "a"), "restore", str(doc)]) == 0
    assert original.read_bytes() == data and "restored" in capsys.readouterr().out
    assert cli.main(["--library", str(tmp_path / "a"), "restore", str(doc)]) == 2
    assert "nothing to restore" in capsys.readouterr().err

    b = library(tmp_path / "b")  # never pushed: the bucket has no copy to give
    b.add([docs / "kept.png"])
    (tmp_path / "b" / "sync.json").write_text((tmp_path / "a" / "sync.json").read_text())
    (docs / "kept.png").unlink()
    with pytest.raises(SyncError, match="has no copy"):
        b.original_file(b.search("pushed", mode="keyword")[0].id)


def test_an_unreachable_bucket_answers_a_preview_in_seconds(tmp_path: Path) -> None:
    import time

    a = library(tmp_path / "a")
    docs = scans(tmp_path / "docs", {"gone.png": "gone from disk"})
    a.add([docs])
    RemoteConfig(bucket=BUCKET, endpoint_url="http://127.0.0.1:9").save(
        tmp_path / "a" / "sync.json")
    (docs / "gone.png").unlink()
    started = time.monotonic()
    with pytest.raises(SyncError):
        a.original_file(a.search("gone", mode="keyword")[0].id)
    assert time.monotonic() - started < 15


def test_a_cancelled_push_announces_nothing_and_the_next_one_finishes(
    moto: S3Endpoint, tmp_path: Path
) -> None:
    from engine.progress import CancelToken

    a = library(tmp_path / "a")
    a.add([scans(tmp_path / "docs", {f"d{i}.png": f"document number{i}" for i in range(8)})])
    cancel = CancelToken()
    moved: list[str] = []

    def progress(message: str) -> None:
        moved.append(message)
        if len(moved) == 3:
            cancel.cancel()  # the user presses Cancel mid-push

    report = a.push(config(moto), on_progress=progress, cancel=cancel)
    assert report.cancelled and report.uploaded == 3
    b = library(tmp_path / "b")
    assert b.pull(config(moto)).merged == 0  # nothing announced by the stopped push
    again = a.push(config(moto))
    assert not again.cancelled and again.skipped == 3 and again.uploaded == 6  # 5 + snapshot
    assert b.pull(config(moto)).merged == 8
