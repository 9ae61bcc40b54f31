"""The server's door: what binds where, token before body, body limits, served bytes.

Each test here failed before the hardening: an empty host counted as loopback, uploads
were spooled before the 401, the size limit applied after spooling, a swapped original
was served, and the API schema answered without the token.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from engine.backends.pool import InlineExecutor  # noqa: E402
from engine.cli.main import main as cli  # noqa: E402
from engine.server.app import bind_addresses, create_app, is_loopback  # noqa: E402
from engine.testing import FakeOcr, HashingEmbedder  # noqa: E402
from tests.engine.server.test_api import TOKEN, fake_png, upload  # noqa: E402
from tests.http_helpers import free_port  # noqa: E402

LIMIT = 200_000


def make_app(library: Path) -> Any:
    return create_app(library, token=TOKEN, max_upload_bytes=LIMIT,
                      embedder=HashingEmbedder(), ocr=FakeOcr(), executor=InlineExecutor())


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(make_app(tmp_path / "lib"),
                    headers={"Authorization": f"Bearer {TOKEN}"}) as c:
        yield c


@pytest.mark.parametrize("host", ["", " ", "0.0.0.0", "::", "[::]", "*"])
def test_wildcard_hosts_are_not_loopback(host: str) -> None:
    assert not is_loopback(host)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.2"])
def test_loopback_hosts(host: str) -> None:
    assert is_loopback(host)


def test_unresolvable_host_is_not_loopback() -> None:
    assert not is_loopback("no-such-host.invalid")
    assert bind_addresses("") == ["0.0.0.0"]


@pytest.mark.parametrize("host", ["", "0.0.0.0", "::"])
def test_serve_refuses_every_interface_without_token(host: str, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    import uvicorn

    monkeypatch.delenv("SCANDEX_API_TOKEN", raising=False)

    def must_not_run(*_a: Any, **_k: Any) -> None:
        raise AssertionError("the server started on every interface without a token")

    monkeypatch.setattr(uvicorn, "run", must_not_run)
    assert cli(["--library", str(tmp_path / "lib"), "serve", "--host", host]) == 2
    assert "without a token" in capsys.readouterr().err


class _Recorder:
    """An ASGI conversation: a request whose body arrives in chunks, and what came back."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.reads = 0
        self.sent: list[dict[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        self.reads += 1
        if self.reads <= len(self.chunks):
            return {"type": "http.request", "body": self.chunks[self.reads - 1],
                    "more_body": self.reads < len(self.chunks)}
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)

    @property
    def status(self) -> int:
        return int(next(m["status"] for m in self.sent if m["type"] == "http.response.start"))


def _post(app: Any, recorder: _Recorder, headers: dict[str, str]) -> None:
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "POST", "scheme": "http", "path": "/documents", "raw_path": b"/documents",
             "query_string": b"", "root_path": "", "server": ("127.0.0.1", 80),
             "client": ("127.0.0.1", 5000),
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]}
    asyncio.run(app(scope, recorder.receive, recorder.send))


def _multipart_headers(**extra: str) -> dict[str, str]:
    return {"content-type": "multipart/form-data; boundary=xyz", **extra}


def test_no_token_is_refused_before_the_body_is_read(tmp_path: Path) -> None:
    app = make_app(tmp_path / "lib")
    for auth in ({}, {"authorization": "Bearer wrong"}, {"authorization": f"Basic {TOKEN}"}):
        recorder = _Recorder([b"x" * 65536] * 100)
        _post(app, recorder, _multipart_headers(**{"content-length": str(6_553_600)}, **auth))
        assert recorder.status == 401 and recorder.reads == 0


def test_declared_oversize_body_is_refused_before_reading(tmp_path: Path) -> None:
    app = make_app(tmp_path / "lib")
    recorder = _Recorder([b"x" * 65536] * 100)
    _post(app, recorder, _multipart_headers(**{"content-length": str(6_553_600),
                                               "authorization": f"Bearer {TOKEN}"}))
    assert recorder.status == 413 and recorder.reads == 0


def test_streamed_oversize_body_stops_at_the_limit(tmp_path: Path) -> None:
    app = make_app(tmp_path / "lib")
    head = (b"--xyz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n"
            b"Content-Type: image/png\r\n\r\n\x89PNG")
    recorder = _Recorder([head] + [b"0" * 65536] * 200)  # 13 MB, no Content-Length
    _post(app, recorder, _multipart_headers(authorization=f"Bearer {TOKEN}"))
    assert recorder.status == 413
    assert recorder.reads * 65536 < LIMIT + 200_000, "read far past the limit"
    leftovers = list((tmp_path / "lib").rglob(".upload-*"))
    assert leftovers == []


def test_early_401_on_the_wire(tmp_path: Path) -> None:
    """A real server answers 401 while the client is still sending a 100 MB body."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(make_app(tmp_path / "lib"), host="127.0.0.1",
                                           port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"POST /documents HTTP/1.1\r\nHost: x\r\n"
                         b"Content-Type: multipart/form-data; boundary=xyz\r\n"
                         b"Content-Length: 104857600\r\n\r\n" + b"0" * 65536)
            started = time.monotonic()
            reply = sock.recv(4096)
            assert reply.startswith(b"HTTP/1.1 401"), reply[:80]
            assert time.monotonic() - started < 5
        assert not list((tmp_path / "lib").rglob(".upload-*"))
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_schema_and_docs_need_the_token(client: TestClient) -> None:
    for path in ("/openapi.json", "/docs", "/redoc"):
        assert client.get(path, headers={"Authorization": ""}).status_code == 401, path
    assert client.get("/openapi.json").status_code == 200


def test_a_swapped_original_is_never_served(client: TestClient, tmp_path: Path) -> None:
    job = upload(client, "receipt.png", fake_png("hardware store receipt"))
    stored = Path(job["path"])
    good = client.get(f"/documents/{job['document_id']}/file")
    assert good.status_code == 200 and good.content == stored.read_bytes()
    secret = tmp_path / "secret.txt"
    secret.write_text("not yours")
    stored.unlink()
    stored.symlink_to(secret)
    swapped = client.get(f"/documents/{job['document_id']}/file")
    assert swapped.status_code == 409 and b"not yours" not in swapped.content
    assert swapped.json()["error"]["code"] == "changed"
    stored.unlink()
    gone = client.get(f"/documents/{job['document_id']}/file")
    assert gone.status_code == 410 and gone.json()["error"]["code"] == "gone"
