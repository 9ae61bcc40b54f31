"""Small units: sniffing, walking, chunking, query parsing, migrations, the public API."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from PIL import Image

import engine
from engine.content import sniff
from engine.ingest.chunking import chunk_page
from engine.ingest.discover import Candidate, WalkProblem, walk
from engine.models import Box, FileKind, PageText, Word
from engine.search.highlight import matching_words
from engine.search.query import parse_query
from engine.store.db import Store
from engine.store.migrations import MIGRATIONS


@pytest.mark.parametrize(
    ("fmt", "kind"),
    [("PNG", FileKind.PNG), ("JPEG", FileKind.JPEG), ("TIFF", FileKind.TIFF),
     ("BMP", FileKind.BMP), ("GIF", FileKind.GIF), ("WEBP", FileKind.WEBP), ("PDF", FileKind.PDF),
     ("AVIF", FileKind.AVIF), ("JPEG2000", FileKind.JPEG2000), ("PPM", FileKind.PNM)],
)
def test_sniff_by_content(tmp_path: Path, fmt: str, kind: FileKind) -> None:
    path = tmp_path / "file.bin"
    Image.new("RGB", (20, 20), "white").save(path, format=fmt)
    assert sniff(path.read_bytes()[:1024]) is kind


@pytest.mark.parametrize(("head", "kind"), [
    (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", FileKind.HEIF),  # an iPhone photo
    (b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1heic", FileKind.HEIF),
    (b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1avif", FileKind.AVIF),  # generic first
    (b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2", None),  # an MP4 video
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n\x00\x00\x00\x14ftypjp2 ", FileKind.JPEG2000),
    (b"\xff\x4f\xff\x51\x00\x2f", FileKind.JPEG2000),  # a bare codestream (.j2k)
    (b"P4\n# scanimage\n2550 3300\n", FileKind.PNM),
    (b"P5 640 480 255\n", FileKind.PNM),
    (b"Pizza menu, open late\n", None),
    (b"P7\nWIDTH 4\n", None),
])
def test_sniff_by_header(head: bytes, kind: FileKind | None) -> None:
    assert sniff(head) is kind


def test_file_kinds_are_named_by_type_or_extension() -> None:
    assert FileKind.named("PNG") is FileKind.PNG and FileKind.named(".jpg") is FileKind.JPEG
    assert FileKind.named("heic") is FileKind.HEIF and FileKind.named("pgm") is FileKind.PNM
    assert FileKind.named("j2k") is FileKind.JPEG2000 and FileKind.named("docx") is None


def test_sniff_rejects_text() -> None:
    assert sniff(b"hello, I am text") is None
    assert sniff(b"") is None


def test_walk_skips_hidden_excluded_and_survives_loops(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "x.png").write_bytes(b"x")
    (tmp_path / "a" / ".h.png").write_bytes(b"x")
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "y.png").write_bytes(b"x")
    (tmp_path / "a" / "b" / "up").symlink_to(tmp_path / "a", target_is_directory=True)
    (tmp_path / "a" / "dangling").symlink_to(tmp_path / "nowhere")
    found = list(walk([tmp_path, tmp_path / "missing"], exclude=[tmp_path / "lib"]))
    files = [f.path.name for f in found if isinstance(f, Candidate)]
    problems = [f.path.name for f in found if isinstance(f, WalkProblem)]
    assert files == ["x.png"] and problems == ["missing"]


def _page(n: int) -> PageText:
    return PageText(1, 100, 100, [Word(f"w{i}", Box(i, 0, 1, 1)) for i in range(n)], "ocr")


@pytest.mark.parametrize("n", [0, 1, 50, 96, 97, 150, 1000])
def test_chunks_cover_every_word_with_overlap(n: int) -> None:
    chunks = chunk_page(_page(n))
    if n == 0:
        assert chunks == []
        return
    covered = set()
    for c in chunks:
        covered.update(range(c.word_start, c.word_end))
        assert c.text.split() == [f"w{i}" for i in range(c.word_start, c.word_end)]
        assert c.page_no == 1
    assert covered == set(range(n))
    for a, b in zip(chunks, chunks[1:], strict=False):
        assert b.word_start < a.word_end  # overlap
    assert all(c.word_end - c.word_start >= min(12, n) for c in chunks)


def test_parse_query_phrases_prefixes_and_folding() -> None:
    parsed = parse_query('Café "Monthly Rent" inv* -x:y')
    assert [[t.text for t in g] for g in parsed.groups] == [
        ["cafe"], ["monthly", "rent"], ["inv"], ["x"], ["y"]]
    assert parsed.groups[2][0].prefix
    assert parsed.fts("AND") == '"cafe" AND "monthly rent" AND "inv"* AND "x" AND "y"'
    assert parse_query('the "of the" cat').fts("OR") == '"of the" OR "cat"'


def test_matching_words_folds_and_prefixes() -> None:
    words = [Word(t, Box(0, 0, 1, 1)) for t in ["Café,", "Invoices", "other", "RENT."]]
    assert matching_words(words, parse_query("cafe invoice* rent")) == [0, 1, 3]


def test_migrations_are_idempotent_and_wal(tmp_path: Path) -> None:
    Store(tmp_path).close()
    store = Store(tmp_path)
    assert store.schema_version == len(MIGRATIONS)
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    names = [r[0] for r in store.db.execute("SELECT name FROM migrations")]
    assert names == [name for name, _ in MIGRATIONS]
    store.close()


def test_newer_library_is_refused(tmp_path: Path) -> None:
    Store(tmp_path).close()
    db = sqlite3.connect(tmp_path / "index.sqlite")
    db.execute("INSERT INTO migrations VALUES ('9999_future', 'x')")
    db.commit()
    db.close()
    with pytest.raises(engine.LibraryError, match="newer Scandex"):
        Store(tmp_path)


def test_fts_stays_in_sync_with_chunks(fake_library: engine.Library, tmp_path: Path) -> None:
    from engine.testing import write_fake_scan

    write_fake_scan(tmp_path / "a.png", "zebra stripes")
    fake_library.add([tmp_path / "a.png"])
    fake_library.remove(str(tmp_path / "a.png"))
    db = fake_library.store.db
    db.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('integrity-check')")
    assert db.execute("SELECT COUNT(*) FROM chunks_fts WHERE chunks_fts MATCH 'zebra'"
                      ).fetchone()[0] == 0


def test_public_api_is_complete() -> None:
    import inspect

    public = {n for n in dir(engine) if not n.startswith("_")
              and not inspect.ismodule(getattr(engine, n))}
    assert public <= set(engine.__all__)
    for name in engine.__all__:
        assert hasattr(engine, name), name


def _engine_types_in(annotation: object) -> set[type]:
    import typing

    found: set[type] = set()
    if isinstance(annotation, type) and annotation.__module__.startswith("engine."):
        found.add(annotation)
    for arg in typing.get_args(annotation):
        found |= _engine_types_in(arg)
    return found


def test_public_api_exports_every_type_library_takes_or_returns() -> None:
    """Every engine type in Library's public signatures is importable from `engine`."""
    import inspect
    import typing

    import engine.library as library_module
    from engine.search.vector_search import VectorSearch

    # The package loads its names on first use, and the library imports some only for
    # type checking (they cost a keyword search its start-up time): resolve them here.
    names = vars(library_module) | {n: getattr(engine, n) for n in engine.__all__}
    names["VectorSearch"] = VectorSearch
    used: set[type] = set()
    for name, member in inspect.getmembers(engine.Library):
        if name.startswith("_") or not callable(member):
            continue
        hints = typing.get_type_hints(member, names)
        for hint in hints.values():
            used |= _engine_types_in(hint)
    exported = {getattr(engine, n) for n in engine.__all__}
    # VectorSearch is deliberately opaque: callers only pass Library.new_vector_cache() on.
    missing = {t.__name__ for t in used - exported} - {"VectorSearch"}
    assert not missing, f"export these from engine: {sorted(missing)}"


def test_public_api_exports_every_error_the_engine_raises() -> None:
    """Every ScandexError subclass defined in engine.errors is exported."""
    import inspect

    import engine.errors as errors

    defined = {name for name, obj in vars(errors).items()
               if inspect.isclass(obj) and issubclass(obj, errors.ScandexError)}
    assert defined <= set(engine.__all__), sorted(defined - set(engine.__all__))


def test_exit_codes_are_stable() -> None:
    assert [int(c) for c in engine.ExitCode] == [0, 1, 2, 3, 4, 130]
    assert engine.TesseractMissing().exit_code == 3
    assert engine.CorruptFile("x").exit_code == 1
