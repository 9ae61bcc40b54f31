"""Tags: on the content (they survive renames), filtered in search, merged last-writer-wins
across machines, and suggested from a few examples."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from engine import Library, UsageError
from engine.backends.pool import InlineExecutor
from engine.cli import main as cli
from engine.store.db import Store
from engine.store.tags import TagEvent, clean_tag
from engine.testing import FakeOcr, HashingEmbedder, write_fake_scan

KINDS = {
    "receipt": ["till receipt total cash change thank you shop {i} item price vat",
                "receipt {i} paid card subtotal vat total store thank you"],
    "letter": ["dear neighbour {i} kind regards yours sincerely we write to tell you",
               "dear sir madam {i} thank you for your letter yours faithfully regards"],
    "form": ["application form {i} name address date of birth signature office use only",
             "please complete form {i} in block capitals name signature date reference"],
    "paper": ["abstract {i} we show results methods protein expression cells study",
              "background {i} methods results conclusions trial patients significant"],
}


@pytest.fixture
def library(tmp_path: Path) -> Library:
    folder = tmp_path / "scans"
    folder.mkdir()
    for kind, templates in KINDS.items():
        for i in range(8):
            write_fake_scan(folder / f"{kind}-{i}.png", templates[i % 2].format(i=i))
    lib = Library.open(tmp_path / "lib", embedder=HashingEmbedder(), ocr=FakeOcr(),
                       executor=InlineExecutor())
    lib.add([folder])
    return lib


def _id(lib: Library, stem: str) -> int:
    return next(d.id for d in lib.documents() if Path(d.path).stem == stem)


def test_tag_untag_count_and_filter(library: Library) -> None:
    assert library.tag(_id(library, "receipt-0"), ["Tax 2024", "receipts"]) == 2
    assert library.tag(_id(library, "receipt-0"), ["tax 2024"]) == 0  # case-insensitive
    library.tag(_id(library, "receipt-1"), ["receipts"])
    assert library.tags() == {"receipts": 2, "Tax 2024": 1}
    hits = library.search("receipt total", mode="keyword", tags=["RECEIPTS"], limit=20)
    assert sorted(Path(h.path).stem for h in hits) == ["receipt-0", "receipt-1"]
    assert "Tax 2024" in hits[[Path(h.path).stem for h in hits].index("receipt-0")].tags
    assert library.search("receipt", tags=["receipts", "tax 2024"], limit=20)[0].path.endswith(
        "receipt-0.png")
    assert library.tag(_id(library, "receipt-0"), ["Tax 2024"], present=False) == 1
    assert library.tags(_id(library, "receipt-0")) == {"receipts": 1}
    for bad in ("", "   ", "x" * 65, "bell\x07"):
        with pytest.raises(UsageError):
            library.tag(_id(library, "receipt-0"), [bad])


def test_tags_survive_a_rename(library: Library, tmp_path: Path) -> None:
    library.tag(_id(library, "letter-3"), ["post"])
    shutil.move(tmp_path / "scans" / "letter-3.png", tmp_path / "scans" / "renamed.png")
    library.add([tmp_path / "scans"])
    assert library.tags(_id(library, "renamed")) == {"post": 1}


def test_merge_keeps_the_later_event_of_each_pair(tmp_path: Path) -> None:
    store = Store(tmp_path)
    sha = "a" * 64
    store.tags.set([sha], ["x"], present=True, at="2026-01-02T00:00:00+00:00")
    older = TagEvent(sha, "x", False, "2026-01-01T00:00:00+00:00")
    newer = TagEvent(sha, "X", False, "2026-01-03T00:00:00+00:00")
    assert store.tags.merge([older]) == 0 and store.tags.of(sha) == ["x"]
    assert store.tags.merge([newer]) == 1 and store.tags.of(sha) == []
    # Any order of the same events ends the same.
    other = Store(tmp_path / "other")
    other.tags.merge([newer, older, TagEvent(sha, "x", True, "2026-01-02T00:00:00+00:00")])
    assert other.tags.of(sha) == [] and list(other.tags.events())[0].at == newer.at
    assert clean_tag("  a   b ") == "a b"


def test_few_shot_suggestions(library: Library) -> None:
    """Four tagged examples per kind; every other document gets its kind first."""
    for kind in KINDS:
        for i in range(4):
            library.tag(_id(library, f"{kind}-{i}"), [kind])
    right = 0
    for kind in KINDS:
        for i in range(4, 8):
            suggestions = library.suggest_tags(_id(library, f"{kind}-{i}"))
            assert suggestions == sorted(suggestions, key=lambda s: -s.score)
            right += suggestions[0].tag == kind
    assert right / 16 >= 0.9
    # A document never gets a tag it already has.
    assert all(s.tag != "receipt" for s in library.suggest_tags(_id(library, "receipt-0")))


def test_one_tag_only_suggests_by_closeness(library: Library) -> None:
    library.tag(_id(library, "form-0"), ["forms"])
    close = library.suggest_tags(_id(library, "form-2"))[0].score
    far = library.suggest_tags(_id(library, "paper-1"))[0].score
    assert close > far


def test_cli(library: Library, capsys: pytest.CaptureFixture[str]) -> None:
    folder = str(library.directory)
    doc = str(_id(library, "paper-0"))
    library.close()
    assert cli.main(["--library", folder, "tag", doc, "papers", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"changed": 1, "tags": ["papers"]}
    assert cli.main(["--library", folder, "tags", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["tags"] == [{"tag": "papers", "documents": 1}]
    # The CLI embeds with MiniLM, this library with the hashing fake: no vectors of its
    # model, so no suggestions (the shape is what is checked here).
    assert cli.main(["--library", folder, "suggest", str(int(doc) + 1), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"suggestions": []}
    assert cli.main(["--library", folder, "search", "abstract", "--tag", "papers",
                     "--mode", "keyword", "--json"]) == 0
    results = json.loads(capsys.readouterr().out)["results"]
    assert [r["tags"] for r in results] == [["papers"]]
    assert cli.main(["--library", folder, "untag", doc, "papers"]) == 0
    assert cli.main(["--library", folder, "tag", doc, ""]) == 2
