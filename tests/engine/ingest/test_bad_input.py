"""Every kind of bad input ends as a failed document with a reason; the batch goes on."""

from __future__ import annotations

import os
import resource
from pathlib import Path

import pytest
from PIL import Image

from engine import Library
from engine.progress import IndexProgress
from engine.testing import write_fake_scan
from tests import scans


@pytest.fixture
def bad_folder(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """Good fake scans among bad files; returns the folder and {name: expected reason part}."""
    folder = tmp_path / "mixed"
    folder.mkdir()
    good = write_fake_scan(folder / "good.png", "good document alpha")
    page = scans.text_page(["hello"])
    page.save(folder / "real.jpg")
    page.save(folder / "real.tif")
    expected = {
        "zero.png": "empty",
        "truncated.png": "truncated",
        "truncated.jpg": "truncated",
        "truncated.tif": "truncated",
        "truncated.pdf": "PDF",
        "truncated.heic": "HEIC/HEIF file that cannot be decoded",
        "truncated.avif": "AVIF file that cannot be decoded",
        "encrypted.pdf": "password",
        "nopages.pdf": "no pages",
        "huge-30000.png": "too large",
        "bomb.png": "too large",
        "text.png": "not a scan",
        "garbage.tif": "not a scan",
        "giant-page.pdf": "too large",
        "vanishing.png": "disappeared",
        "unreadable.png": "permission denied",
    }
    (folder / "zero.png").write_bytes(b"")
    scans.truncate(good, folder / "truncated.png", 0.6)
    scans.truncate(folder / "real.jpg", folder / "truncated.jpg", 0.3)
    scans.truncate(folder / "real.tif", folder / "truncated.tif", 0.2)
    scans.truncate(scans.image_pdf(tmp_path / "ok.pdf", [page]), folder / "truncated.pdf", 0.4)
    heic = Path(__file__).resolve().parents[2] / "e2e" / "data" / "garage-invoice-photo.heic"
    scans.truncate(heic, folder / "truncated.heic", 0.5)
    page.save(folder / "real.avif")
    scans.truncate(folder / "real.avif", folder / "truncated.avif", 0.5)
    scans.encrypted_pdf(folder / "encrypted.pdf")
    scans.empty_pdf(folder / "nopages.pdf")
    scans.png_header_only(folder / "huge-30000.png", 30000, 30000)
    scans.decompression_bomb(folder / "bomb.png")
    (folder / "text.png").write_text("I am a text file wearing a .png hat\n")
    (folder / "garbage.tif").write_bytes(os.urandom(2048))
    scans.huge_page_pdf(folder / "giant-page.pdf")
    write_fake_scan(folder / "vanishing.png", "gone soon")
    write_fake_scan(folder / "unreadable.png", "locked")
    # Not failures: a folder named like a PDF, odd names, a symlink loop, other files.
    (folder / "x.pdf").mkdir()
    write_fake_scan(folder / "x.pdf" / "inside folder.png", "inside the pdf named folder")
    write_fake_scan(folder / "name with spaces 📄.png", "emoji name document")
    write_fake_scan(Path(os.fsdecode(os.fsencode(str(folder)) + b"/latin1-\xe9t\xe9.png")),
                    "latin one name document")
    (folder / "loop").symlink_to(folder, target_is_directory=True)
    (folder / "notes.txt").write_text("not a scan and not named like one: skipped quietly")
    Image.open(folder / "real.jpg").save(folder / "photo-named.pdf", format="JPEG")
    return folder, expected


def test_bad_inputs_fail_alone(
    fake_library: Library, bad_folder: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, expected = bad_folder
    import engine.ingest.run as pipeline

    real_sha = pipeline.sha256_file

    def sha_or_denied(path: Path) -> str:
        # Tests run as root, where chmod 000 still reads: deny like a real OS would.
        if path.name == "unreadable.png":
            raise PermissionError(13, "Permission denied")
        return real_sha(path)

    monkeypatch.setattr(pipeline, "sha256_file", sha_or_denied)

    class DeleteDuringRun:
        def update(self, progress: IndexProgress) -> None:
            if progress.files_total and (folder / "vanishing.png").exists():
                (folder / "vanishing.png").unlink()

        def document_done(self, path: str, ok: bool, error: str | None) -> None:
            pass

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    report = fake_library.add([folder], progress=DeleteDuringRun())
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    failures = {Path(f.path).name: f.error for f in fake_library.status().failures}
    for name, reason in expected.items():
        assert name in failures, f"{name} not recorded as failed"
        assert reason.lower() in failures[name].lower(), (name, failures[name])
        assert "\n" not in failures[name]
    assert set(failures) - set(expected) == set(), failures
    assert len(failures) == len(report.failed)
    indexed = {Path(d.path).name for d in fake_library.documents(state="indexed")}
    assert {"good.png", "inside folder.png", "name with spaces 📄.png", "real.jpg",
            "real.tif", "photo-named.pdf"} <= indexed
    assert any(name.startswith("latin1-") for name in indexed)
    assert "notes.txt" not in indexed and "notes.txt" not in failures
    assert report.skipped_not_scans == 1  # left alone, but counted for the summary
    assert grown_mb < 600, f"memory grew by {grown_mb:.0f} MB"
    # Searches still work and unicode paths come back as text.
    assert fake_library.search("emoji", mode="keyword")[0].path.endswith("📄.png")


def test_nothing_indexed_is_lost_when_a_file_goes_bad(
    fake_library: Library, tmp_path: Path
) -> None:
    folder = tmp_path / "f"
    folder.mkdir()
    write_fake_scan(folder / "a.png", "stable alpha")
    write_fake_scan(folder / "b.png", "changing beta")
    fake_library.add([folder])
    (folder / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n broken now")
    report = fake_library.add([folder])
    assert len(report.failed) == 1
    assert [Path(h.path).name for h in fake_library.search("alpha", mode="keyword")] == ["a.png"]


def test_unreadable_folder_is_reported(fake_library: Library, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "top"
    (folder / "locked").mkdir(parents=True)
    write_fake_scan(folder / "ok.png", "fine")
    import engine.ingest.discover as discover

    real_scandir = os.scandir

    def scandir(path: object) -> object:
        if str(path).endswith("locked"):
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)  # type: ignore[arg-type]

    monkeypatch.setattr(discover.os, "scandir", scandir)
    report = fake_library.add([folder])
    assert report.indexed == 1
    assert [Path(f.path).name for f in report.failed] == ["locked"]
    assert "Permission denied" in report.failed[0].error
