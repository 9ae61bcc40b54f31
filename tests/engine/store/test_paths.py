"""Documents are keyed by their path's exact bytes: names that are not UTF-8 round-trip
through index, show, remove and search --path, and never share a document."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from engine import Library
from engine.cli import main as cli
from engine.store.db import Store
from engine.store.migrations import MIGRATIONS
from engine.testing import write_fake_scan


def _name(folder: Path, raw: bytes) -> Path:
    return Path(os.fsdecode(os.fsencode(folder) + b"/" + raw))


def test_a_name_and_its_escapes_are_two_documents(fake_library: Library, tmp_path: Path) -> None:
    latin = write_fake_scan(_name(tmp_path, b"caf\xe9.png"), "espresso receipt")
    spelled = write_fake_scan(tmp_path / "caf\\xe9.png", "lemonade receipt")
    report = fake_library.add([tmp_path])
    assert report.indexed == 2
    docs = fake_library.documents()
    assert len(docs) == 2 and {d.path for d in docs} == {str(spelled)}  # they show alike
    by_bytes = {os.fsencode(fake_library.original_path(d.id)): d for d in docs}
    assert set(by_bytes) == {os.fsencode(latin), os.fsencode(spelled)}

    # A rerun sees both as unchanged (the old key merged them and re-read one each time).
    again = fake_library.add([tmp_path])
    assert again.indexed == 0 and again.skipped_unchanged == 2

    # The exact name finds its own document; the shared display text names neither.
    assert fake_library.resolve(str(latin)).id == by_bytes[os.fsencode(latin)].id
    with pytest.raises(Exception, match="no document"):
        fake_library.resolve(str(spelled).replace("\\xe9", "\\xE9"))
    assert fake_library.remove(str(latin)) == 1
    left = fake_library.documents()
    assert [os.fsencode(fake_library.original_path(d.id)) for d in left] == [os.fsencode(spelled)]
    assert [h.path for h in fake_library.search("lemonade", mode="keyword")] == [str(spelled)]


def test_a_folder_that_is_not_utf8_filters_and_removes_by_bytes(
    fake_library: Library, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    odd = _name(tmp_path, b"scans-\xff")
    twin = tmp_path / "scans-\\xff"
    odd.mkdir()
    twin.mkdir()
    write_fake_scan(odd / "a.png", "quarterly figures")
    write_fake_scan(twin / "b.png", "quarterly figures")
    fake_library.add([tmp_path])
    hits = fake_library.search("quarterly", mode="keyword", path_prefix=str(odd))
    assert len(hits) == 1 and hits[0].path.endswith("a.png")
    hits = fake_library.search("quarterly", mode="keyword", path_prefix=str(twin))
    assert len(hits) == 1 and hits[0].path.endswith("b.png")

    # The command line gets such names as surrogate-escaped text, as Python decodes argv.
    library = ["--library", str(tmp_path / "lib")]
    fake_library.close()
    assert cli.main([*library, "show", str(odd / "a.png")]) == 0
    out = capsys.readouterr().out
    assert "\\xff" in out and "\udcff" not in out
    assert cli.main([*library, "remove", str(odd)]) == 0
    with Library.open(tmp_path / "lib", read_only=True) as reopened:
        assert [d.path for d in reopened.documents()] == [str(twin / "b.png")]


def test_an_older_library_is_rekeyed_keeping_its_ids(tmp_path: Path) -> None:
    index = tmp_path / "index.sqlite"
    db = sqlite3.connect(index, isolation_level=None)
    db.execute("CREATE TABLE migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    for name, sql in MIGRATIONS:
        if name.startswith("0009"):
            break
        db.executescript(f"BEGIN;\n{sql}\nINSERT INTO migrations VALUES ('{name}', 'x');\nCOMMIT;")
    db.execute("INSERT INTO documents (id, path, raw_path, state, indexed_at, error) "
               "VALUES (7, '/a/caf\\xe9.png', x'2f612f636166e92e706e67', 'failed', 'x', 'bad')")
    db.close()
    store = Store(tmp_path)
    assert store.document_id_by_path(b"/a/caf\xe9.png") == 7
    assert store.document_id_by_path("/a/caf\\xe9.png") == 7  # the only one showing that text
    assert store.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    store.close()


def test_odd_names_round_trip_through_the_command_line(
    fake_library: Library, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    names = ["-starts-with-a-dash.png", "new\nline.png", os.fsdecode(b"bad-\xfe.png")]
    for i, name in enumerate(names):
        write_fake_scan(docs / name, f"oddname{i} words")
    assert fake_library.add([docs]).indexed == 3
    fake_library.close()
    library = ["--library", str(tmp_path / "lib")]
    monkeypatch.chdir(docs)
    for i, name in enumerate(names):
        assert cli.main([*library, "show", "--", name]) == 0, name  # relative, after --
        shown = capsys.readouterr().out
        assert f"oddname{i}" in shown and "\udcfe" not in shown
        assert "new\nline" not in shown  # a name never forges a line
        assert cli.main([*library, "search", f"oddname{i}", "--mode", "keyword",
                         "--path", str(docs), "--json"]) == 0
        assert f"oddname{i}" in capsys.readouterr().out
    for name in names:
        assert cli.main([*library, "remove", "--", name]) == 0, name
    capsys.readouterr()
    with Library.open(tmp_path / "lib", read_only=True) as reopened:
        assert reopened.documents() == []
