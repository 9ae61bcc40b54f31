"""Real S3 HTTP endpoints on 127.0.0.1 for the sync tests: moto's server and rclone."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.http_helpers import free_port

KEY, SECRET = "scandex-test-key", "scandex-test-secret-0123456789"


@dataclass
class S3Endpoint:
    """An S3 endpoint the tests can stop and start again."""

    url: str
    kind: str
    stop: object
    start: object


def _wait_port(port: int, timeout_s: float = 30) -> None:
    import socket

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


@contextmanager
def moto_endpoint() -> Iterator[S3Endpoint]:
    """moto's server mode (a real S3 HTTP API) on a free loopback port."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    holder: dict[str, ThreadedMotoServer] = {}

    def start() -> None:
        holder["server"] = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        holder["server"].start()
        _wait_port(port)

    def stop() -> None:
        holder["server"].stop()

    start()
    # moto keeps its buckets in process memory: begin every test with none.
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(
        f"http://127.0.0.1:{port}/moto-api/reset", method="POST"), timeout=10).close()
    try:
        yield S3Endpoint(f"http://127.0.0.1:{port}", "moto", stop, start)
    finally:
        stop()


@contextmanager
def rclone_endpoint(root: Path) -> Iterator[S3Endpoint]:
    """rclone's `serve s3` (an independent implementation; checks signatures)."""
    binary = shutil.which("rclone") or str(Path(sys.executable).parent / "rclone")
    port = free_port()
    root.mkdir(parents=True, exist_ok=True)
    holder: dict[str, subprocess.Popen[bytes]] = {}

    def start() -> None:
        holder["proc"] = subprocess.Popen(
            [binary, "serve", "s3", "--addr", f"127.0.0.1:{port}", "--auth-key",
             f"{KEY},{SECRET}", str(root)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_port(port)

    def stop() -> None:
        holder["proc"].terminate()
        holder["proc"].wait(timeout=30)

    start()
    try:
        yield S3Endpoint(f"http://127.0.0.1:{port}", "rclone", stop, start)
    finally:
        stop()


def make_bucket(url: str, bucket: str) -> None:
    """Create a bucket with the test credentials."""
    import boto3

    client = boto3.client("s3", endpoint_url=url, region_name="us-east-1",
                          aws_access_key_id=KEY, aws_secret_access_key=SECRET)
    client.create_bucket(Bucket=bucket)
