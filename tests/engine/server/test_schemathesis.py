"""Property-based requests against /openapi.json: no input makes the server answer 5xx."""

from __future__ import annotations

from pathlib import Path

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402

from engine.backends.pool import InlineExecutor  # noqa: E402
from engine.server.app import create_app  # noqa: E402
from engine.testing import FakeOcr, HashingEmbedder, write_fake_scan  # noqa: E402

TOKEN = "fuzz-token"
_root = Path(__import__("tempfile").mkdtemp(prefix="scandex-fuzz-"))
APP = create_app(_root / "lib", token=TOKEN, max_upload_bytes=100_000,
                 embedder=HashingEmbedder(), ocr=FakeOcr(), executor=InlineExecutor())
APP.state.scandex.jobs.submit(write_fake_scan(_root / "seed.png", "seed document words"))
schema = schemathesis.openapi.from_asgi("/openapi.json", APP,
                                      headers={"Authorization": f"Bearer {TOKEN}"})


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case) -> None:  # type: ignore[no-untyped-def]
    case.headers = {**(case.headers or {}), "Authorization": f"Bearer {TOKEN}"}
    case.call_and_validate(checks=[not_a_server_error])
