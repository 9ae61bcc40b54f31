"""SIGKILL at several points leaves an index that opens; a rerun finishes the job.
Searching from another process works while an indexer runs."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.scans import save_text_page

pytestmark = pytest.mark.slow

INDEXER = """
import sys
from engine import Library
from engine.testing import HashingEmbedder
lib = Library.open(sys.argv[1], embedder=HashingEmbedder())
lib.add([sys.argv[2]], workers=2)
"""
TOPICS = ["invoice timber", "lease rent", "garden tomato", "train ticket", "pharmacy syrup",
          "electric meter", "school board", "bicycle route", "dental clinic", "museum entry",
          "insurance claim", "tax return"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("crash") / "docs"
    folder.mkdir()
    for i, topic in enumerate(TOPICS):
        save_text_page(folder / f"doc{i:02}.png",
                       [f"Document number {i} about {topic}", f"More words on {topic} here"])
    return folder


def start_indexer(library: Path, docs: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", INDEXER, str(library), str(docs)],
                            start_new_session=True)


def results(library: Path) -> list[tuple[str, ...]]:
    from engine import Library
    from engine.testing import HashingEmbedder

    with Library.open(library, embedder=HashingEmbedder(), read_only=True) as lib:
        return [tuple(Path(h.path).name for h in lib.search(t, mode="keyword", limit=3))
                for t in TOPICS]


def test_kill_at_any_point_then_rerun(corpus: Path, tmp_path: Path) -> None:
    clean = tmp_path / "clean"
    subprocess.run([sys.executable, "-c", INDEXER, str(clean), str(corpus)], check=True,
                   timeout=600)
    expected = results(clean)
    assert all(expected), expected
    killed = tmp_path / "killed"
    for delay in (0.5, 1.5, 3.0, 4.5):
        proc = start_indexer(killed, corpus)
        time.sleep(delay)
        os.killpg(proc.pid, signal.SIGKILL)  # the indexer and its OCR workers
        proc.wait()
        if (killed / "index.sqlite").exists():
            db = sqlite3.connect(killed / "index.sqlite")
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            db.close()
    subprocess.run([sys.executable, "-c", INDEXER, str(killed), str(corpus)], check=True,
                   timeout=600)
    assert results(killed) == expected


def test_search_while_indexing(corpus: Path, tmp_path: Path) -> None:
    library = tmp_path / "busy"
    subprocess.run([sys.executable, "-c", INDEXER, str(library), str(corpus / "doc00.png")],
                   check=True, timeout=600)
    proc = start_indexer(library, corpus)
    searches = 0
    try:
        while proc.poll() is None:
            out = subprocess.run(
                [sys.executable, "-m", "engine", "--library", str(library), "search",
                 "invoice timber", "--mode", "keyword", "--json"],
                capture_output=True, text=True, timeout=120)
            assert out.returncode == 0, out.stderr
            assert "doc00.png" in out.stdout
            searches += 1
    finally:
        proc.wait(timeout=600)
    assert proc.returncode == 0 and searches >= 1


def test_ctrl_c_exits_130_and_keeps_finished(tmp_path: Path) -> None:
    corpus = tmp_path / "long-run"
    corpus.mkdir()
    for i in range(40):
        save_text_page(corpus / f"p{i:02}.png", [f"Page {i} of a long run", "Interrupt me"])
    library = tmp_path / "interrupted"
    proc = subprocess.Popen(
        [sys.executable, "-m", "engine", "--library", str(library), "index", str(corpus),
         "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    # Wait until at least one document is committed, then press Ctrl-C.
    while time.monotonic() < deadline:
        if (library / "index.sqlite").exists():
            db = sqlite3.connect(library / "index.sqlite")
            try:
                done = db.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
            except sqlite3.OperationalError:
                done = 0
            db.close()
            if done:
                break
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    pressed = time.monotonic()
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert time.monotonic() - pressed < 10, "Ctrl-C took more than a few seconds"
    db = sqlite3.connect(library / "index.sqlite")
    kept = db.execute("SELECT COUNT(*) FROM documents WHERE state = 'indexed'").fetchone()[0]
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()
    assert 1 <= kept < 40


def test_page_time_limit(tmp_path: Path) -> None:
    from engine import OcrFailed
    from engine.backends.tesseract import TesseractOcr
    from engine.protocols import OcrOptions
    from tests.scans import text_page

    with pytest.raises(OcrFailed, match="longer than"):
        TesseractOcr().ocr(text_page(["slow page"] * 20), OcrOptions(timeout_s=0.01))
