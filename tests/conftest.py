"""Shared fixtures: tests never touch the user's real library or cloud credentials."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from engine import Library  # noqa: E402
from engine.backends.pool import InlineExecutor  # noqa: E402
from engine.testing import FakeOcr, HashingEmbedder  # noqa: E402


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point every default at tmp_path; drop AWS settings."""
    monkeypatch.setenv("SCANDEX_LIBRARY", str(tmp_path / "default-library"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    for key in list(os.environ):
        if key.startswith("AWS_"):
            monkeypatch.delenv(key)
    # Tests talk to 127.0.0.1 only: no instance-metadata lookups, and an s3:// path that
    # a test (or the API fuzzer) reaches without its own endpoint goes nowhere.
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("SCANDEX_S3_ENDPOINT", "http://127.0.0.1:9")
    # Each test starts as a fresh process would: no page print made by an earlier one.
    from engine.search.page_likeness import RECENT_PRINTS

    RECENT_PRINTS.clear()


@pytest.fixture
def fake_library(tmp_path: Path) -> Library:
    """A library with fake OCR and embedder and inline execution: fast and exact."""
    library = Library.open(
        tmp_path / "lib", embedder=HashingEmbedder(), ocr=FakeOcr(), executor=InlineExecutor()
    )
    yield library
    library.close()


@pytest.fixture(scope="session")
def real_embedder() -> object:
    """The real MiniLM model as the product runs it (ONNX Runtime where installed), loaded
    once per test session."""
    from engine.backends.factory import make_embedder

    embedder = make_embedder()
    embedder.load()
    return embedder


RUN_SLOW_ENV = "SCANDEX_RUN_SLOW"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--runslow", action="store_true", default=False,
                     help="also run the slow tests (real Tesseract, model, servers, bundles); "
                          f"{RUN_SLOW_ENV}=1 does the same (.ci/run sets it)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Slow tests are opt-in locally; a -m expression that names them also selects them."""
    if config.getoption("--runslow") or os.environ.get(RUN_SLOW_ENV) == "1":
        return
    if "slow" in (config.getoption("-m") or ""):
        return
    skip = pytest.mark.skip(reason=f"slow: run with --runslow or {RUN_SLOW_ENV}=1")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
