"""The server's one writer: jobs and calls run in order on one thread, survive a stop and
restart, and never wait forever when the library cannot be opened."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import Library, LibraryError
from engine.backends.pool import InlineExecutor
from engine.service.jobs import JobRunner
from engine.service.uploads import NotAScan, StagedUpload, UploadTooLarge, remove_document
from engine.testing import FakeOcr, HashingEmbedder, write_fake_scan


def _opener(directory: Path):  # type: ignore[no-untyped-def]
    return lambda: Library.open(directory, embedder=HashingEmbedder(), ocr=FakeOcr(),
                                executor=InlineExecutor())


def _wait(runner: JobRunner, job_id: str) -> str:
    # A call queued behind the job returns only after the job ran.
    runner.call(lambda _library: None, timeout=60)
    job = runner.get(job_id)
    assert job is not None
    return job.state


def test_calls_run_after_the_jobs_before_them(tmp_path: Path) -> None:
    runner = JobRunner(_opener(tmp_path / "lib"))
    try:
        job = runner.submit(write_fake_scan(tmp_path / "a.png", "alpha words"))
        count = runner.call(lambda library: len(library.documents()), timeout=60)
        assert count == 1
        assert _wait(runner, job.id) == "done"
    finally:
        runner.stop()


def test_work_after_a_stop_starts_the_writer_again(tmp_path: Path) -> None:
    runner = JobRunner(_opener(tmp_path / "lib"))
    runner.stop()
    runner.stop()  # a second stop must not leave a stale "stop" for the next writer
    job = runner.submit(write_fake_scan(tmp_path / "b.png", "beta words"))
    assert _wait(runner, job.id) == "done"
    runner.stop()


def test_a_library_that_cannot_open_fails_what_waits(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the library folder should be")
    runner = JobRunner(_opener(blocker))
    with pytest.raises(LibraryError):
        runner.call(lambda library: library.documents(), timeout=60)


def test_an_upload_is_kept_by_hash_and_removed_with_its_document(tmp_path: Path) -> None:
    library_dir = tmp_path / "lib"
    scan = write_fake_scan(tmp_path / "scan.png", "uploaded words")
    with StagedUpload(library_dir, max_bytes=10**6) as staged:
        staged.write(scan.read_bytes())
        kept = staged.keep("../../evil name.png")
    assert "sha256" in kept.parts
    assert kept.name == "evil name.png" and kept.is_relative_to(library_dir / "blobs")
    with _opener(library_dir)() as library:
        library.add([kept])
        doc_id = library.resolve(str(kept)).id
        assert remove_document(library, doc_id) == 1
    assert not kept.exists()
    assert not any(p.name.startswith(".upload-") for p in (library_dir / "blobs").iterdir())


def test_uploads_over_the_limit_or_not_scans_leave_nothing(tmp_path: Path) -> None:
    library_dir = tmp_path / "lib"
    with pytest.raises(UploadTooLarge), StagedUpload(library_dir, max_bytes=10) as staged:
        staged.write(b"x" * 11)
    with pytest.raises(NotAScan), StagedUpload(library_dir, max_bytes=10**6) as staged:
        staged.write(b"plain text, not a scan")
        staged.keep("notes.png")
    assert list((library_dir / "blobs").rglob("*")) == []
