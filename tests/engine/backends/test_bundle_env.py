"""engine.backends.bundle: a frozen app points the engine at the Tesseract inside the bundle."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from engine.backends.bundle import (
    configure_environment,
    find_bundled_tesseract,
    restore_library_path,
)


@pytest.fixture(autouse=True)
def own_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """configure_environment writes os.environ: give each test a copy, thrown away after."""
    monkeypatch.setattr(os, "environ", dict(os.environ))


def fake_bundle(root: Path) -> Path:
    home = root / "tesseract"
    (home / "tessdata").mkdir(parents=True)
    (home / "lib").mkdir()
    (home / "tesseract").write_text("#!/bin/sh\n")
    (home / "tessdata" / "eng.traineddata").write_bytes(b"data")
    return home


def test_the_bundled_tesseract_and_its_data_are_used(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    home = fake_bundle(tmp_path)
    monkeypatch.delenv("SCANDEX_TESSERACT", raising=False)
    monkeypatch.setenv("TESSDATA_PREFIX", "/usr/share/somewhere-else")
    configured = configure_environment(tmp_path)
    assert configured is not None
    assert os.environ["SCANDEX_TESSERACT"] == str(home / "tesseract")
    assert os.environ["TESSDATA_PREFIX"] == str(home / "tessdata")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="LD_LIBRARY_PATH is Linux's")
def test_children_get_the_callers_library_path_back(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    # As PyInstaller's bootloader leaves it: the bundle first, the caller's value saved.
    monkeypatch.setenv("LD_LIBRARY_PATH", str(tmp_path))
    monkeypatch.setenv("LD_LIBRARY_PATH_ORIG", "/opt/keep-me")
    restore_library_path()
    assert os.environ["LD_LIBRARY_PATH"] == "/opt/keep-me"
    assert "LD_LIBRARY_PATH_ORIG" not in os.environ
    monkeypatch.setenv("LD_LIBRARY_PATH", str(tmp_path))  # the caller had none
    restore_library_path()
    assert "LD_LIBRARY_PATH" not in os.environ


def test_a_user_choice_of_tesseract_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_bundle(tmp_path)
    monkeypatch.setenv("SCANDEX_TESSERACT", "/opt/tesseract-with-every-language")
    assert configure_environment(tmp_path) is None
    assert os.environ["SCANDEX_TESSERACT"] == "/opt/tesseract-with-every-language"


def test_an_incomplete_bundle_is_not_used(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    home = fake_bundle(tmp_path)
    (home / "tessdata" / "eng.traineddata").unlink()
    monkeypatch.delenv("SCANDEX_TESSERACT", raising=False)
    assert find_bundled_tesseract(tmp_path) is None
    assert configure_environment(tmp_path) is None
    assert "SCANDEX_TESSERACT" not in os.environ


def test_not_frozen_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SCANDEX_TESSERACT", raising=False)
    assert configure_environment() is None
    assert "SCANDEX_TESSERACT" not in os.environ
