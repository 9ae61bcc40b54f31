"""The library end to end with fake OCR and embedder: indexing, incremental runs, search."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from engine import Library, UsageError
from engine.backends.pool import InlineExecutor
from engine.progress import CancelToken, IndexProgress
from engine.testing import FakeOcr, HashingEmbedder, write_fake_scan

DOCS = {
    "invoice.png": "invoice from acme corporation total due four hundred euros payment terms",
    "lease.png": "apartment lease renewal monthly rent rises landlord tenant deposit",
    "recipe.png": "chocolate cake recipe flour sugar eggs butter bake forty minutes",
    "café.png": "le café est fermé le dimanche résumé naïve",
}


class CountingOcr(FakeOcr):
    """FakeOcr that counts pages (inline executor: same process)."""

    calls: list[str] = []

    def ocr(self, image, options):  # type: ignore[no-untyped-def]
        CountingOcr.calls.append(image.info.get("scandex-fake-text", ""))
        return super().ocr(image, options)


@pytest.fixture
def scans(tmp_path: Path) -> Path:
    folder = tmp_path / "scans"
    folder.mkdir()
    for name, text in DOCS.items():
        write_fake_scan(folder / name, text)
    return folder


@pytest.fixture
def counting_library(tmp_path: Path) -> Library:
    CountingOcr.calls = []
    lib = Library.open(tmp_path / "lib", embedder=HashingEmbedder(), ocr=CountingOcr(),
                       executor=InlineExecutor())
    yield lib
    lib.close()


def names(hits: list) -> list[str]:  # type: ignore[type-arg]
    return [Path(h.path).name for h in hits]


def test_index_and_search_every_mode(fake_library: Library, scans: Path) -> None:
    report = fake_library.add([scans])
    assert report.indexed == 4 and not report.failed
    for mode in ("hybrid", "keyword", "semantic"):
        assert names(fake_library.search("lease rent", mode=mode))[0] == "lease.png", mode
    hit = fake_library.search("acme invoice", mode="keyword")[0]
    assert hit.page == 1 and "<mark>acme</mark>" in hit.snippet
    assert len(hit.boxes) == 2 and all(len(b) == 4 for b in hit.boxes)


def test_keyword_phrases_prefixes_and_diacritics(fake_library: Library, scans: Path) -> None:
    fake_library.add([scans])
    assert names(fake_library.search('"monthly rent"', mode="keyword")) == ["lease.png"]
    assert names(fake_library.search('"rent monthly"', mode="keyword")) == []
    assert names(fake_library.search("choco*", mode="keyword")) == ["recipe.png"]
    assert names(fake_library.search("cafe resume naive", mode="keyword")) == ["café.png"]
    assert names(fake_library.search("fermé", mode="keyword")) == ["café.png"]


def test_hostile_query_text_is_not_fts_syntax(fake_library: Library, scans: Path) -> None:
    fake_library.add([scans])
    for query in ['"', "NEAR(", "a:b", "-x", "(((", "acme AND", "*", "''", "ü^2"]:
        assert isinstance(fake_library.search(query, mode="keyword"), list), query
        assert isinstance(fake_library.search(query), list), query
    # Operators are words, not syntax: the words around them still find their page.
    for query in ["acme AND", "NEAR(acme", '"acme', "acme:corporation", "(((acme"]:
        hits = fake_library.search(query, mode="keyword")
        assert [Path(h.path).name for h in hits][:1] == ["invoice.png"], query


def test_one_result_per_document_with_limit(fake_library: Library, tmp_path: Path) -> None:
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(12):
        write_fake_scan(folder / f"doc{i:02}.png", f"common term number{i} " * 80)
    fake_library.add([folder])
    hits = fake_library.search("common term", limit=5)
    assert len(hits) == 5 and len({h.id for h in hits}) == 5
    assert len(fake_library.search("common", limit=50)) == 12


def test_unchanged_files_are_skipped_and_changed_reindexed(
    counting_library: Library, scans: Path
) -> None:
    counting_library.add([scans])
    assert len(CountingOcr.calls) == 4
    again = counting_library.add([scans])
    assert again.skipped_unchanged == 4 and again.indexed == 0
    assert len(CountingOcr.calls) == 4
    write_fake_scan(scans / "recipe.png", "vegetable soup recipe carrots onions")
    os.utime(scans / "recipe.png", ns=(time.time_ns(), time.time_ns() + 10**9))
    third = counting_library.add([scans])
    assert third.indexed == 1 and third.skipped_unchanged == 3
    assert names(counting_library.search("chocolate", mode="keyword")) == []
    assert names(counting_library.search("soup", mode="keyword")) == ["recipe.png"]
    assert counting_library.status().chunks == 4  # the old content was collected


def test_a_rerun_says_how_many_unchanged_files_had_failed(
    counting_library: Library, scans: Path
) -> None:
    (scans / "broken.pdf").write_bytes(b"%PDF-1.4 broken")
    first = counting_library.add([scans])
    assert len(first.failed) == 1 and first.indexed == 4
    again = counting_library.add([scans])
    assert (again.skipped_unchanged, again.skipped_failed_before, again.failed) == (5, 1, [])
    retried = counting_library.add([scans], retry_failed=True)
    assert retried.skipped_failed_before == 0 and len(retried.failed) == 1


def test_same_content_elsewhere_is_never_ocrd_twice(
    counting_library: Library, scans: Path, tmp_path: Path
) -> None:
    counting_library.add([scans])
    other = tmp_path / "copies"
    other.mkdir()
    (other / "copy.png").write_bytes((scans / "lease.png").read_bytes())
    (other / "copy2.png").write_bytes((scans / "lease.png").read_bytes())
    report = counting_library.add([other])
    assert report.reused == 2 and len(CountingOcr.calls) == 4
    assert sorted(names(counting_library.search("landlord", mode="keyword"))) == [
        "copy.png", "copy2.png", "lease.png"]


def test_duplicates_within_one_run_are_ocrd_once(counting_library: Library, tmp_path: Path) -> None:
    folder = tmp_path / "dups"
    folder.mkdir()
    for name in ("a.png", "b.png", "c.png"):
        write_fake_scan(folder / name, "identical page content")
    report = counting_library.add([folder])
    assert report.indexed == 1 and report.reused == 2 and len(CountingOcr.calls) == 1


def test_renamed_and_deleted_files(counting_library: Library, scans: Path) -> None:
    counting_library.add([scans])
    (scans / "lease.png").rename(scans / "lease-2024.png")
    (scans / "recipe.png").unlink()
    report = counting_library.add([scans])
    assert report.removed == 2 and report.reused == 1 and len(CountingOcr.calls) == 4
    assert names(counting_library.search("landlord", mode="keyword")) == ["lease-2024.png"]
    assert counting_library.search("chocolate", mode="keyword") == []


def test_remove_by_id_path_and_folder(fake_library: Library, scans: Path) -> None:
    fake_library.add([scans])
    lease = fake_library.resolve(str(scans / "lease.png"))
    assert fake_library.remove(lease.id) == 1
    assert fake_library.remove(str(scans / "invoice.png")) == 1
    assert fake_library.remove(str(scans)) == 2
    assert fake_library.status().documents == 0 and fake_library.status().chunks == 0
    with pytest.raises(UsageError):
        fake_library.remove("does-not-exist.png")


def test_filters(fake_library: Library, scans: Path, tmp_path: Path) -> None:
    sub = tmp_path / "other"
    sub.mkdir()
    write_fake_scan(sub / "old-lease.png", "lease rent landlord")
    os.utime(sub / "old-lease.png", (946684800, 946684800))  # year 2000
    fake_library.add([scans, sub])
    from datetime import datetime

    assert names(fake_library.search("lease", path_prefix=str(sub))) == ["old-lease.png"]
    assert names(fake_library.search("lease", until=datetime(2001, 1, 1))) == ["old-lease.png"]
    assert "old-lease.png" not in names(fake_library.search("lease", since=datetime(2020, 1, 1)))
    assert fake_library.search("lease", kinds=["pdf"]) == []
    assert len(fake_library.search("lease", kinds=["png"], mode="keyword")) == 2
    with pytest.raises(UsageError):
        fake_library.search("lease", kinds=["docx"])


def test_hidden_files_and_library_folder_are_skipped(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / ".hidden").mkdir(parents=True)
    write_fake_scan(root / ".hidden" / "secret.png", "secret")
    write_fake_scan(root / ".dot.png", "dotfile")
    write_fake_scan(root / "visible.png", "visible")
    lib = Library.open(root / "lib", embedder=HashingEmbedder(), ocr=FakeOcr(),
                       executor=InlineExecutor())
    write_fake_scan(root / "lib" / "inside.png", "inside library")
    report = lib.add([root])
    assert report.indexed == 1 and [Path(d.path).name for d in lib.documents()] == ["visible.png"]


def test_progress_and_cancel_keep_finished_documents(fake_library: Library, tmp_path: Path) -> None:
    folder = tmp_path / "batch"
    folder.mkdir()
    for i in range(10):
        write_fake_scan(folder / f"p{i:02}.png", f"page {i} words")
    cancel = CancelToken()
    seen: list[IndexProgress] = []

    class Sink:
        def update(self, progress: IndexProgress) -> None:
            seen.append(progress)
            if progress.current.endswith("p03.png"):
                cancel.cancel()  # pages of p00-p03 are through; the rest never start

        def document_done(self, path: str, ok: bool, error: str | None) -> None:
            pass

    report = fake_library.add([folder], progress=Sink(), cancel=cancel)
    assert report.cancelled
    done = fake_library.status().indexed
    assert 4 <= done < 10
    assert seen and seen[-1].files_total == 10
    rerun = fake_library.add([folder])
    assert rerun.indexed == 10 - done and fake_library.status().indexed == 10


def test_missing_language_is_a_clear_error(fake_library: Library, scans: Path) -> None:
    from engine import MissingLanguage

    with pytest.raises(MissingLanguage) as info:
        fake_library.add([scans], lang="eng+xyz")
    assert info.value.package == "tesseract-ocr-xyz" and "apt-get install" in str(info.value)


def test_model_change_reembeds_chunks(tmp_path: Path, scans: Path) -> None:
    lib = Library.open(tmp_path / "l", embedder=HashingEmbedder(), ocr=FakeOcr(),
                       executor=InlineExecutor())
    lib.add([scans])
    lib.close()
    lib2 = Library.open(tmp_path / "l", embedder=HashingEmbedder(dim=64, model_id="other"),
                        ocr=FakeOcr(), executor=InlineExecutor())
    lib2.add([scans])
    assert names(lib2.search("landlord deposit", mode="semantic"))[0] == "lease.png"
    rows = lib2.store.db.execute("SELECT DISTINCT model_id FROM chunks").fetchall()
    assert rows == [("other",)]


def test_a_second_writer_waits_for_the_lock_or_says_why_not(tmp_path: Path) -> None:
    import threading

    from engine.errors import LibraryBusy
    from engine.layout import LibraryLayout

    layout = LibraryLayout(tmp_path)
    held, release = threading.Event(), threading.Event()

    def first_writer() -> None:
        with layout.writer_lock():
            held.set()
            release.wait(10)

    thread = threading.Thread(target=first_writer)
    thread.start()
    held.wait(10)
    with pytest.raises(LibraryBusy, match="another Scandex process"), layout.writer_lock():
        pass
    # A cancelled wait gives up at once.
    with pytest.raises(LibraryBusy), layout.writer_lock(60, lambda: True):
        pass
    threading.Timer(0.4, release.set).start()
    started = time.monotonic()
    with layout.writer_lock(10):
        assert time.monotonic() - started >= 0.3
    thread.join(10)


def test_a_type_only_a_newer_scandex_reads_is_not_shown_but_explained(
    fake_library: Library, scans: Path
) -> None:
    fake_library.add([scans])
    hit = fake_library.search("lease rent", mode="keyword")[0]
    fake_library.store.db.execute("UPDATE documents SET kind = 'jxl' WHERE id = ?", (hit.id,))
    with pytest.raises(UsageError, match="update Scandex"):
        fake_library.page_image(hit.id, 1)
