"""Helpers for tests that talk to a real `scandex serve` over HTTP on 127.0.0.1."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(base: str, server: subprocess.Popen[str], timeout_s: float = 240) -> None:
    """Poll /health until 200 (the model is loaded), failing if the server dies."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.get(f"{base}/health", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert server.poll() is None and time.monotonic() < deadline, "server never healthy"
        time.sleep(0.5)


def upload_and_wait(base: str, headers: dict[str, str], scan: Path) -> dict[str, Any]:
    """POST a scan to /documents and poll its job until it ends."""
    with scan.open("rb") as f:
        job: dict[str, Any] = httpx.post(f"{base}/documents", headers=headers, timeout=60,
                                         files={"file": (scan.name, f, "image/png")}).json()
    while job["state"] in ("queued", "running"):
        time.sleep(0.3)
        job = httpx.get(f"{base}/jobs/{job['id']}", headers=headers, timeout=10).json()
    return job
