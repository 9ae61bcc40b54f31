"""More like this and duplicates: rescans grouped, look-alikes (one shop's receipts, one
form filled twice) kept apart, copies found, nothing removed; the CLI's JSON shapes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from engine import Library
from engine.backends.pool import InlineExecutor
from engine.cli import main as cli
from engine.search.duplicates import profile, same_paper
from engine.testing import FakeOcr, HashingEmbedder, write_fake_scan

RECEIPT = ("HARBOUR SUPPLIES LTD 12 Quay Road Portsmouth receipt 20240311 till 4 "
           "rope 2 x 1299 buoy 1 x 4550 chandlery gloves 1 x 899 subtotal 7047 vat 1409 "
           "total 8456 paid card thank you for shopping with us")
# The same receipt read again by OCR: a few slips, a split word.
RESCAN = RECEIPT.replace("Portsmouth", "Portsrnouth").replace("chandlery", "chand lery") \
    .replace("thank", "tbank")
# Another receipt of the same shop: header and layout alike, figures not.
SAME_SHOP = ("HARBOUR SUPPLIES LTD 12 Quay Road Portsmouth receipt 20240402 till 2 "
             "rope 1 x 1299 fuel can 1 x 2375 chandlery gloves 2 x 899 subtotal 5472 "
             "vat 1094 total 6566 paid cash thank you for shopping with us")
FORM_A = ("APPLICATION FOR PARKING PERMIT name Alice Smith address 4 Elm Street "
          "vehicle registration AB12CDE date of birth 19800214 permit zone 3 signed 20240105")
FORM_B = ("APPLICATION FOR PARKING PERMIT name Brian Jones address 77 Mill Lane "
          "vehicle registration XY98ZZZ date of birth 19751130 permit zone 1 signed 20240322")
LETTER = ("Dear neighbour the orchard frost this spring damaged the apple blossom and "
          "the pears we will share what the trees give in autumn kind regards")


@pytest.fixture
def library(tmp_path: Path) -> Library:
    folder = tmp_path / "scans"
    folder.mkdir()
    for name, text in (("receipt", RECEIPT), ("receipt-rescan", RESCAN),
                       ("receipt-other", SAME_SHOP), ("form-a", FORM_A), ("form-b", FORM_B),
                       ("letter", LETTER)):
        write_fake_scan(folder / f"{name}.png", text)
    shutil.copy(folder / "letter.png", folder / "letter-copy.png")
    lib = Library.open(tmp_path / "lib", embedder=HashingEmbedder(), ocr=FakeOcr(),
                       executor=InlineExecutor())
    lib.add([folder])
    return lib


def _names(paths: list[str]) -> set[str]:
    return {Path(p).stem for p in paths}


def test_rescans_and_copies_are_grouped_look_alikes_are_not(library: Library) -> None:
    groups = [(_names([d.path for d in g.documents]), g.similarity)
              for g in library.duplicates()]
    assert ({"letter", "letter-copy"}, 1.0) in groups
    rescans = next(similarity for names, similarity in groups
                   if names == {"receipt", "receipt-rescan"})
    assert 0.5 < rescans < 1.0
    assert len(groups) == 2  # the same shop's other receipt and the other form stay apart
    assert len(library.documents()) == 7  # nothing removed


def test_the_numbers_tell_two_receipts_of_one_shop_apart() -> None:
    a, b, c = (profile(str(i), 1, [t], []) for i, t in enumerate((RECEIPT, RESCAN, SAME_SHOP)))
    assert same_paper(a, b) is not None
    assert same_paper(a, c) is None
    assert same_paper(profile("x", 1, [FORM_A], []), profile("y", 1, [FORM_B], [])) is None
    # Another page count is another paper.
    assert same_paper(a, profile("z", 2, [RECEIPT], [])) is None


def test_similar_finds_the_closest_documents_but_not_itself(library: Library) -> None:
    receipt = next(d for d in library.documents() if Path(d.path).stem == "receipt")
    hits = library.similar(receipt.id, limit=3)
    names = [Path(h.path).stem for h in hits]
    assert "receipt" not in names
    assert names[0] in {"receipt-rescan", "receipt-other"}
    assert all(h.matched_by == ("semantic",) for h in hits)
    assert hits == sorted(hits, key=lambda h: -h.score)


def test_cli_json_shapes(library: Library, capsys: pytest.CaptureFixture[str]) -> None:
    folder = str(library.directory)
    library.close()
    assert cli.main(["--library", folder, "duplicates", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {"documents", "similarity"} <= set(data["groups"][0])
    assert {"id", "path"} <= set(data["groups"][0]["documents"][0])
    assert cli.main(["--library", folder, "similar", "1", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["document"]["id"] == 1 and data["mode"] == "similar"
    assert isinstance(data["results"], list)
    assert cli.main(["--library", folder, "similar", "99999"]) == 2


def _groups(library: Library) -> list[set[str]]:
    return sorted((_names([d.path for d in g.documents]) for g in library.duplicates()),
                  key=sorted)


def _four_scans(folder: Path) -> Path:
    folder.mkdir()
    for name, text in (("receipt", RECEIPT), ("receipt-rescan", RESCAN), ("letter", LETTER),
                       ("form-a", FORM_A)):
        write_fake_scan(folder / f"{name}.png", text)
    return folder


def _open(path: Path) -> Library:
    return Library.open(path, embedder=HashingEmbedder(), ocr=FakeOcr(),
                        executor=InlineExecutor())


def test_pairs_are_found_as_documents_arrive_and_asking_only_reads_them(
        library: Library, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = library.embedder.model_id
    assert library.store.pairs.missing(model) == []
    assert len(library.store.pairs.pairs()) == 1  # the receipt and its rescan
    everything_at_once = _groups(library)
    # One by one, in another order, gives the same groups.
    folder = tmp_path / "scans"
    one_by_one = _open(tmp_path / "lib-2")
    for path in sorted(folder.iterdir(), reverse=True):
        one_by_one.add([path])
    assert _groups(one_by_one) == everything_at_once
    # Asking compares nothing again: no profile is built once all were paired.
    import engine.search.duplicates as duplicates

    monkeypatch.setattr(duplicates, "profiles", lambda *a, **k: pytest.fail("recompared"))
    assert _groups(one_by_one) == everything_at_once


def test_a_removed_paper_coming_back_meets_what_arrived_meanwhile(tmp_path: Path) -> None:
    folder = tmp_path / "scans"
    folder.mkdir()
    write_fake_scan(folder / "receipt.png", RECEIPT)
    lib = _open(tmp_path / "lib")
    lib.add([folder])
    lib.remove(str(folder / "receipt.png"))
    (folder / "receipt.png").rename(tmp_path / "receipt.png")
    write_fake_scan(folder / "receipt-rescan.png", RESCAN)
    lib.add([folder])
    assert _groups(lib) == []
    (tmp_path / "receipt.png").rename(folder / "receipt.png")
    lib.add([folder])
    assert _groups(lib) == [{"receipt", "receipt-rescan"}]


def test_a_pairing_killed_midway_is_finished_by_the_next_run(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import engine.search.duplicates as duplicates

    folder = _four_scans(tmp_path / "scans")
    lib = _open(tmp_path / "lib")
    real = duplicates.pair_contents
    calls = []

    def killed_after_one_batch(store, model_id, **kwargs):  # type: ignore[no-untyped-def]
        original = store.pairs.record

        def record(*args):  # type: ignore[no-untyped-def]
            calls.append(args)
            if len(calls) > 1:
                raise KeyboardInterrupt  # the process dies between two batches
            original(*args)

        monkeypatch.setattr(store.pairs, "record", record)
        return real(store, model_id, batch=1)

    monkeypatch.setattr(duplicates, "pair_contents", killed_after_one_batch)
    with pytest.raises(KeyboardInterrupt):
        lib.add([folder])
    lib.close()
    monkeypatch.undo()
    again = _open(tmp_path / "lib")
    model = again.embedder.model_id
    assert 0 < len(again.store.pairs.missing(model)) < 4  # one batch was kept
    again.add([folder])  # nothing new to read; the pairing goes on
    assert again.store.pairs.missing(model) == []
    assert _groups(again) == [{"receipt", "receipt-rescan"}]


def test_a_cancelled_run_leaves_the_pairing_to_the_next_and_loses_no_group(
        tmp_path: Path) -> None:
    from engine.progress import CancelToken

    folder = _four_scans(tmp_path / "scans")
    lib = _open(tmp_path / "lib")
    token = CancelToken()
    real = lib.store.pairs.missing

    def cancel_when_pairing_starts(model_id: str) -> list[str]:
        token.cancel()  # Ctrl-C after every page is read, as the pairing begins
        return real(model_id)

    lib.store.pairs.missing = cancel_when_pairing_starts  # type: ignore[method-assign]
    report = lib.add([folder], cancel=token)
    lib.store.pairs.missing = real  # type: ignore[method-assign]
    model = lib.embedder.model_id
    assert report.indexed == 4 and token.cancelled  # every read document was kept
    assert len(lib.store.pairs.missing(model)) == 4  # the pairing itself was left
    assert _groups(lib) == [{"receipt", "receipt-rescan"}]  # judged in memory meanwhile
    lib.add([folder])
    assert lib.store.pairs.missing(model) == []
    assert _groups(lib) == [{"receipt", "receipt-rescan"}]


def test_a_library_never_paired_is_paired_in_memory_when_read_only(library: Library) -> None:
    library.store.db.execute("DELETE FROM content_profiles")
    library.store.db.execute("DELETE FROM duplicate_pairs")
    library.store.db.commit()
    folder = library.directory
    expected = _groups(library)
    library.close()
    reader = Library.open(folder, embedder=HashingEmbedder(), read_only=True)
    assert reader.store.pairs.pairs() == []
    assert _groups(reader) == expected and {"receipt", "receipt-rescan"} in expected
