"""A short coverage-guided fuzzing run of the readers in every `make test` (`make fuzz`
runs the same target for ten minutes)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("atheris")
ROOT = Path(__file__).resolve().parents[2]


def test_readers_survive_fuzzed_bytes(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "tests.fuzz.fuzz_readers", "-atheris_runs=4000",
         "-rss_limit_mb=3000", f"-artifact_prefix={tmp_path}/"],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Done 4000" in run.stderr
