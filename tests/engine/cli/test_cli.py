"""The scandex command: exit codes, --json, --help without heavy imports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.cli import main as cli
from engine.testing import write_fake_scan


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "engine", *args], capture_output=True, text=True, timeout=300,
        env={**os.environ, **(env or {})},
    )


def test_help_is_fast_and_light() -> None:
    code = (
        "import sys, engine.cli.main as c\n"
        "try:\n    c.main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('torch', 'sentence_transformers', 'boto3', 'pypdfium2', 'PySide6')"
        " if m in sys.modules]\nprint('HEAVY', heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "exit codes:" in out.stdout and "HEAVY []" in out.stdout


def test_a_keyword_search_loads_no_vector_or_ingest_code(tmp_path: Path) -> None:
    """A one-shot words search is SQLite and the ranking: numpy, the OCR side, the
    process pool and the model's runtime would be most of its time (issue 15)."""
    from engine import Library
    from engine.backends.pool import InlineExecutor
    from engine.testing import FakeOcr

    with Library.open(tmp_path / "lib", ocr=FakeOcr(), executor=InlineExecutor()) as lib:
        lib.add([write_fake_scan(tmp_path / "a.png", "monthly rent for the flat")])
    code = (
        "import sys, engine.cli.main as c\n"
        f"code = c.main(['--library', {str(tmp_path / 'lib')!r}, 'search', 'rent', "
        "'--mode', 'keyword'])\n"
        "heavy = [m for m in ('numpy', 'PIL', 'multiprocessing', 'onnxruntime', 'tokenizers',"
        " 'engine.ingest.run', 'engine.backends.s3', 'engine.search.vector_search')"
        " if m in sys.modules]\nprint('HEAVY', heavy, code)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert "HEAVY [] 0" in out.stdout and "a.png" in out.stdout, out.stdout + out.stderr


def test_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["frobnicate"]) == 2
    assert cli.main(["--library", str(tmp_path / "none"), "search", "x"]) == 2
    assert "index something first" in capsys.readouterr().err


def test_missing_tesseract_exits_3(tmp_path: Path) -> None:
    write_fake_scan(tmp_path / "a.png", "text")
    out = run_cli("--library", str(tmp_path / "lib"), "index", str(tmp_path / "a.png"),
                  env={"SCANDEX_TESSERACT": "/nonexistent/tesseract"})
    assert out.returncode == 3 and "apt-get install tesseract-ocr" in out.stderr


def test_missing_language_exits_3(tmp_path: Path) -> None:
    write_fake_scan(tmp_path / "a.png", "text")
    out = run_cli("--library", str(tmp_path / "lib"), "index", str(tmp_path / "a.png"),
                  "--lang", "eng+qqq")
    assert out.returncode == 3 and "tesseract-ocr-qqq" in out.stderr


@pytest.mark.slow
def test_index_failures_exit_1_and_json_everywhere(tmp_path: Path) -> None:
    from tests.scans import save_text_page

    docs = tmp_path / "docs"
    docs.mkdir()
    save_text_page(docs / "memo.png", ["Quarterly budget memo", "Marketing spend review"])
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4 broken")
    lib = str(tmp_path / "lib")
    out = run_cli("--library", lib, "index", str(docs), "--json")
    assert out.returncode == 1, out.stderr
    report = json.loads(out.stdout)
    assert report["indexed"] == 1 and report["failed"][0]["path"].endswith("broken.pdf")
    hits = json.loads(run_cli("--library", lib, "search", "budget", "--json").stdout)["results"]
    assert hits[0]["path"].endswith("memo.png") and hits[0]["boxes"]
    status = json.loads(run_cli("--library", lib, "status", "--json").stdout)
    assert status["indexed"] == 1 and status["failed"] == 1
    shown = json.loads(run_cli("--library", lib, "show", str(hits[0]["id"]), "--json").stdout)
    assert "budget" in shown["pages"][0]["text"].lower()
    again = run_cli("--library", lib, "index", str(docs))
    assert again.returncode == 0 and "unchanged 2" in again.stdout
    assert "1 unchanged file(s) had failed before" in again.stderr
    assert "--retry-failed" in again.stderr
    retried = json.loads(run_cli("--library", lib, "index", str(docs), "--retry-failed",
                                 "--json").stdout)
    assert retried["skipped_unchanged"] == 1 and retried["skipped_failed_before"] == 0
    assert retried["failed"][0]["path"].endswith("broken.pdf")
    removed = json.loads(run_cli("--library", lib, "remove", str(docs / "memo.png"), "--json"
                                 ).stdout)
    assert removed == {"removed": 1}


def test_exit_codes_are_one_table_in_help_and_readme() -> None:
    """ExitCode is the one source: --help is built from it, the README must list the same."""
    from pathlib import Path

    from engine.cli.main import EPILOG
    from engine.errors import ExitCode

    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    table = readme.split("### Exit codes", 1)[1].split("###", 1)[0]
    listed = {int(line.split("|")[1]) for line in table.splitlines()
              if line.startswith("| ") and line.split("|")[1].strip().isdigit()}
    assert listed == {int(code) for code in ExitCode}
    for code in ExitCode:
        assert code.meaning.split(" (")[0] in " ".join(EPILOG.split())


def test_a_new_library_is_announced_not_created_silently(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    typo = tmp_path / "libary"
    assert cli.main(["--library", str(typo), "remove", "1"]) == 2
    assert "creating a new one" in capsys.readouterr().err
    assert cli.main(["--library", str(typo), "remove", "1"]) == 2
    assert "creating a new one" not in capsys.readouterr().err  # it exists now
