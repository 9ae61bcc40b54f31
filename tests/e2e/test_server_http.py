"""`scandex serve` over real HTTP on 127.0.0.1 with real Tesseract and the real model."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.http_helpers import free_port, upload_and_wait, wait_healthy
from tests.scans import save_text_page

pytestmark = pytest.mark.slow
TOKEN = "e2e-token-0123456789"



def test_refuses_public_address_without_token(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "SCANDEX_API_TOKEN"}
    out = subprocess.run([sys.executable, "-m", "engine", "--library", str(tmp_path / "lib"),
                          "serve", "--host", "0.0.0.0", "--port", str(free_port())],
                         env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "SCANDEX_API_TOKEN" in out.stderr


def test_upload_search_page_over_http(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "SCANDEX_API_TOKEN": TOKEN}
    server = subprocess.Popen(
        [sys.executable, "-m", "engine", "--library", str(tmp_path / "lib"), "serve",
         "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {TOKEN}"}
    try:
        wait_healthy(base, server)
        assert httpx.get(f"{base}/documents", timeout=10).status_code == 401
        scan = save_text_page(tmp_path / "boiler.png", ["Boiler maintenance contract",
                                                        "Annual inspection of the gas heater"])
        job = upload_and_wait(base, headers, scan)
        assert job["state"] == "done", job
        for mode in ("keyword", "semantic", "hybrid"):
            hits = httpx.get(f"{base}/search", headers=headers, timeout=60,
                             params={"q": "heating maintenance", "mode": mode}).json()["results"]
            assert hits and hits[0]["id"] == job["document_id"], mode
        page = httpx.get(f"{base}/documents/{job['document_id']}/pages/1.png", headers=headers,
                         params={"q": "boiler"}, timeout=60)
        assert page.status_code == 200 and page.content.startswith(b"\x89PNG")
        assert httpx.get(f"{base}/openapi.json", timeout=10).status_code == 401
        spec = httpx.get(f"{base}/openapi.json", headers=headers, timeout=10).json()
        assert "/search" in spec["paths"]
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=60)
    # uvicorn shuts down gracefully, then re-raises SIGTERM as its exit status.
    assert server.returncode in (0, -15), output
    assert "Application shutdown complete" in output and "Traceback" not in output
