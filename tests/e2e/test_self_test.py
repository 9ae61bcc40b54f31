"""`--self-test` from a source install (the packaged one is tests/packaging): the CLI
in-process, the desktop app as its own offscreen process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.cli.main import main

pytestmark = pytest.mark.slow


def test_cli_self_test_reports_a_working_chain(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--self-test"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is True and report["frontend"] == "cli"
    assert report["versions"]["frozen"] is False
    assert report["tesseract"]["bundled"] is False and report["tesseract"]["version"]
    assert {hit["top"] for hit in report["search"].values()} == {"invoice-acme.png"}
    assert set(report["timings_s"]) >= {"index", "search_hybrid", "total"}


def test_desktop_self_test_runs_offscreen(tmp_path: Path) -> None:
    pytest.importorskip("PySide6")
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "user-settings")}
    env.pop("QT_QPA_PLATFORM", None)  # the self-test must choose offscreen by itself
    out = subprocess.run([sys.executable, "-m", "desktop", "--self-test"], env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    report = json.loads(out.stdout)
    assert report["ok"] is True and report["frontend"] == "desktop"
    assert report["versions"]["qt_platform"] == "offscreen"
    assert report["timings_s"]["window_shown"] > 0
    assert not (tmp_path / "user-settings").exists()  # the user's settings are untouched
