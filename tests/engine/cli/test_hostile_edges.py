"""Hostile edges of the CLI and the library: every one ends in a clear message and a
documented exit code, never a traceback; nothing already indexed is lost."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from engine import IndexDamaged, Library, LibraryError
from engine.backends.pool import InlineExecutor
from engine.cli import main as cli
from engine.cli.output import shown
from engine.testing import FakeOcr, HashingEmbedder, write_fake_scan

BAD_ARGUMENTS = [
    ["index", "x.png", "--workers", "-1"], ["index", "x.png", "--workers", "0"],
    ["index", "x.png", "--workers", "99999999999999999999"],
    ["index", "x.png", "--page-timeout", "nan"], ["index", "x.png", "--page-timeout", "-5"],
    ["index", "x.png", "--page-timeout", "inf"], ["index", "x.png", "--page-timeout", "1e400"],
    ["index", "x.png", "--s3-endpoint", "not a url"], ["index", "x.png", "--cluster", "garbage"],
    ["index", "x.png", "--s3-endpoint", "http://:0"],
    ["search", "x", "--limit", "-1"], ["search", "x", "--limit", "0"],
    ["search", "x", "--limit", "99999999999999999999"], ["search", "x", "--since", "0001-01-01"],
    ["search", "x", "--since", "9999-12-31"], ["search", "x", "--until", "2024-13-01"],
    ["search", "x", "--since", "yesterday"], ["search", "x", "--mode", "psychic"],
    ["serve", "--port", "70000"], ["serve", "--port", "-1"], ["serve", "--port", "http"],
    ["sync", "status", "--bucket", "ab"], ["sync", "status", "--bucket", "a/b/c"],
    ["sync", "status", "--bucket", "bad name"], ["sync", "push", "--bucket", "okay-bucket",
                                                 "--endpoint-url", "not a url"],
    ["sync", "pull", "--bucket", "okay-bucket", "--prefix", "../escape"],
    ["worker", "--scheduler", "garbage"], ["worker", "--scheduler", "tcp://h:1", "--processes",
                                           "-2"],
    ["--library", "", "status"], ["show", "99999999999999999999999"],
    ["remove", "99999999999999999999999"], ["show", "-1"], ["show", "0"],
]


@pytest.fixture
def library_dir(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "lib"
    with Library.open(folder, embedder=HashingEmbedder(), ocr=FakeOcr(),
                      executor=InlineExecutor()) as library:
        library.add([write_fake_scan(tmp_path / "kept.png", "kept document words")])
    yield folder


@pytest.mark.parametrize("argv", BAD_ARGUMENTS, ids=lambda a: " ".join(a)[:60])
def test_bad_arguments_exit_2_with_a_message(argv: list[str], library_dir: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    full = argv if argv[0] == "--library" else ["--library", str(library_dir), *argv]
    assert cli.main(full) == 2
    err = capsys.readouterr().err
    assert "error" in err and "Traceback" not in err


def test_unreachable_scheduler_is_exit_4(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("distributed")
    import distributed

    from engine.backends.dask_cluster import _connect
    from engine.errors import ClusterUnreachable, ExitCode

    def refuse(*_a: object, **_k: object) -> None:
        raise OSError("Timed out trying to connect")

    monkeypatch.setattr(distributed, "Client", refuse)
    with pytest.raises(ClusterUnreachable) as caught:
        _connect("tcp://127.0.0.1:1")
    assert caught.value.exit_code == ExitCode.REMOTE and "run the same command" in str(
        caught.value)


def test_port_in_use_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                      ) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert cli.main(["--library", str(tmp_path / "lib"), "serve", "--port", str(port)]) == 2
    assert "already in use" in capsys.readouterr().err


def test_printed_names_cannot_forge_lines() -> None:
    assert shown("evil\nfailed: forged.png") == "evil\\nfailed: forged.png"
    assert shown("\x1b[31mred\x1b[0m") == "\\x1b[31mred\\x1b[0m"
    assert shown("a\u202eb") == "a\\u202eb"
    assert shown("plain name 📄.png") == "plain name 📄.png"


def test_failure_with_a_newline_in_its_name_prints_on_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "evil\nfailed: forged.pdf").write_bytes(b"%PDF-1.4 broken")
    lib = str(tmp_path / "lib")
    assert cli.main(["--library", lib, "index", str(docs)]) == 1
    assert cli.main(["--library", lib, "status"]) == 0
    out = capsys.readouterr()
    failed_lines = [ln for ln in (out.out + out.err).splitlines() if "failed:" in ln]
    assert failed_lines and all("evil\\nfailed: forged.pdf" in ln for ln in failed_lines)


def test_path_filter_is_a_folder_not_a_text_prefix(fake_library: Library, tmp_path: Path
                                                   ) -> None:
    (tmp_path / "scans").mkdir()
    (tmp_path / "scans-old").mkdir()
    write_fake_scan(tmp_path / "scans" / "a.png", "quarterly report")
    write_fake_scan(tmp_path / "scans-old" / "b.png", "quarterly report")
    fake_library.add([tmp_path / "scans", tmp_path / "scans-old"])
    hits = fake_library.search("quarterly", mode="keyword", path_prefix=str(tmp_path / "scans"))
    assert [Path(h.path).name for h in hits] == ["a.png"]
    trailing = fake_library.search("quarterly", mode="keyword",
                                   path_prefix=str(tmp_path / "scans") + "/")
    assert [Path(h.path).name for h in trailing] == ["a.png"]


@pytest.mark.parametrize("moment", [datetime(1, 1, 1), datetime(9999, 12, 31),
                                    datetime(1970, 1, 1)])
def test_any_date_the_api_accepts_filters_without_error(fake_library: Library,
                                                        tmp_path: Path, moment: datetime
                                                        ) -> None:
    fake_library.add([write_fake_scan(tmp_path / "d.png", "dated words")])
    after = fake_library.search("dated", mode="keyword", since=moment)
    before = fake_library.search("dated", mode="keyword", until=moment)
    # The scan was written just now: every moment here is far before or after it.
    assert len(after) + len(before) == 1
    assert (len(after) == 1) == (moment.year < 2000)


def _damage_the_middle(index: Path) -> None:
    size = index.stat().st_size
    with index.open("r+b") as f:
        f.seek(size // 2)
        f.write(os.urandom(min(16384, size // 3)))


def test_damaged_index_is_reported_by_every_command(library_dir: Path,
                                                    capsys: pytest.CaptureFixture[str]
                                                    ) -> None:
    with Library.open(library_dir, embedder=HashingEmbedder(), ocr=FakeOcr(),
                      executor=InlineExecutor()) as library:
        for i in range(40):  # enough pages that the middle of the file holds b-tree pages
            library.add([write_fake_scan(library_dir.parent / f"more{i}.png",
                                         f"filler document number {i} " * 30)])
    _damage_the_middle(library_dir / "index.sqlite")
    lib = ["--library", str(library_dir)]
    # search and show read only pages far from the damage: the open notices it anyway,
    # because the file changed since Scandex last vouched for it.
    for argv in (["status"], ["index", str(library_dir.parent / "kept.png")],
                 ["remove", "1"], ["search", "kept", "--mode", "keyword"], ["show", "1"]):
        assert cli.main([*lib, *argv]) == 2, argv
        err = capsys.readouterr().err
        assert "damaged" in err and "Traceback" not in err, argv
    with pytest.raises(IndexDamaged):
        Library.open(library_dir, read_only=True).status()


def test_unwritable_parent_is_a_library_error(tmp_path: Path) -> None:
    parent = tmp_path / "file-not-folder"
    parent.write_text("x")
    with pytest.raises(LibraryError):
        Library.open(parent / "lib")


@pytest.fixture
def read_only_mount(tmp_path: Path) -> Iterator[Path]:
    """A read-only bind mount of a library (root can mount; elsewhere the test skips)."""
    source = tmp_path / "lib"
    with Library.open(source, embedder=HashingEmbedder(), ocr=FakeOcr(),
                      executor=InlineExecutor()) as library:
        library.add([write_fake_scan(tmp_path / "ro.png", "read only words")])
    target = tmp_path / "ro-mount"
    target.mkdir()
    mounted = subprocess.run(["mount", "--bind", str(source), str(target)],
                             capture_output=True).returncode == 0
    if not mounted or subprocess.run(["mount", "-o", "remount,bind,ro", str(target)],
                                     capture_output=True).returncode != 0:
        if mounted:
            subprocess.run(["umount", str(target)], check=False)
        pytest.skip("cannot make a read-only bind mount here (needs root)")
    try:
        yield target
    finally:
        if subprocess.run(["umount", str(target)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(target)], check=False)
            raise AssertionError("the read-only library was still busy: a file left open")


def test_read_only_library_searches_and_refuses_writes(read_only_mount: Path,
                                                       capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    with Library.open(read_only_mount, read_only=True, embedder=HashingEmbedder()) as library:
        assert [Path(h.path).name for h in library.search("read only", mode="keyword")] == [
            "ro.png"]
        assert library.status().indexed == 1
    lib = ["--library", str(read_only_mount)]
    assert cli.main([*lib, "status"]) == 0
    for argv in (["index", str(read_only_mount / "x.png")], ["remove", "1"]):
        assert cli.main([*lib, *argv]) == 2
        err = capsys.readouterr().err
        assert "read-only" in err and "move it aside" not in err


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    target = tmp_path / "tiny"
    target.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=600k", "tmpfs", str(target)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        yield target
    finally:
        subprocess.run(["umount", str(target)], check=False)


def test_full_disk_mid_run_keeps_the_index_and_a_rerun_finishes(tiny_disk: Path,
                                                                tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(60):
        write_fake_scan(docs / f"d{i:02}.png", f"document {i} " + "filler words " * 200)
    library = Library.open(tiny_disk / "lib", embedder=HashingEmbedder(), ocr=FakeOcr(),
                           executor=InlineExecutor())
    with pytest.raises(LibraryError, match="disk"):
        library.add([docs])
    library.close()
    with Library.open(tiny_disk / "lib", read_only=True, embedder=HashingEmbedder()) as ro:
        kept = ro.status()  # passes the integrity check
        assert 0 < kept.indexed < 60
    with Library.open(tmp_path / "elsewhere", embedder=HashingEmbedder(), ocr=FakeOcr(),
                      executor=InlineExecutor()) as roomy:
        assert roomy.add([docs]).indexed == 60


def test_documents_become_searchable_during_a_long_run(tmp_path: Path) -> None:
    """Each document commits as soon as its pages are through (not at the end of the run),
    so a search from another connection finds the first ones while the run goes on."""
    import threading
    import time

    class SlowOcr(FakeOcr):
        def ocr(self, image, options):  # type: ignore[no-untyped-def]
            time.sleep(0.2)
            return super().ocr(image, options)

    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(30):
        write_fake_scan(docs / f"d{i:02}.png", f"steady stream document {i}")
    folder = tmp_path / "lib"
    Library.open(folder, embedder=HashingEmbedder(), ocr=FakeOcr()).close()
    finished = threading.Event()

    def index() -> None:
        with Library.open(folder, embedder=HashingEmbedder(), ocr=SlowOcr(),
                          executor=InlineExecutor()) as writer:
            writer.add([docs])
        finished.set()

    thread = threading.Thread(target=index)
    thread.start()
    try:
        with Library.open(folder, read_only=True, embedder=HashingEmbedder()) as reader:
            deadline = time.monotonic() + 5  # the whole run takes ~6 s
            while not reader.search("stream", mode="keyword"):
                assert time.monotonic() < deadline, "nothing searchable 5 s into the run"
                time.sleep(0.1)
            assert not finished.is_set(), "found only after the run ended"
    finally:
        thread.join(timeout=60)


def test_an_index_is_verified_only_when_it_changed_unseen(
    library_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from engine.store.db import Store

    checks: list[Path] = []
    real_check = Store.check_integrity

    def counted(store: Store) -> None:
        checks.append(store.path)
        real_check(store)

    monkeypatch.setattr(Store, "check_integrity", counted)
    Library.open(library_dir, read_only=True).close()
    assert checks == []  # the writer that built it vouched for what it left
    index = library_dir / "index.sqlite"
    stat = index.stat()
    os.utime(index, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))  # touched unseen
    Library.open(library_dir, read_only=True).close()
    Library.open(library_dir, read_only=True).close()
    assert checks == [index]  # checked once, then vouched for
