"""The door of the HTTP server, before any route runs: the bearer token is checked from
the headers alone, and request bodies are cut off at the upload limit as they stream in.

FastAPI reads (and spools to disk) a multipart body before it runs a route's
dependencies, so a token check in a dependency comes too late: anyone who can reach the
port could fill the disk. This ASGI layer answers 401 / 413 without reading the body.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.exceptions import HTTPException

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# The only path that answers without the token (load balancers and HEALTHCHECK use it).
OPEN_PATHS = frozenset({"/health"})


class BodyTooLarge(HTTPException):
    """Raised inside receive() once a body passes the limit. An HTTPException, so FastAPI's
    body parsing lets it through (it turns other errors into 400) and it ends as a 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body over the limit of {limit // 2**20} MiB")


async def _answer(send: Send, status: int, code: str, message: str,
                  extra: list[tuple[bytes, bytes]] | None = None) -> None:
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    headers = [(b"content-type", b"application/json"),
               (b"content-length", str(len(body)).encode()), (b"connection", b"close"),
               *(extra or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _bearer(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, credentials = value.decode("latin-1").partition(" ")
            return credentials.strip() if scheme.lower() == "bearer" else ""
    return ""


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class RequestGuard:
    """Token first, then a body limit; everything else is the wrapped app's business."""

    def __init__(self, app: ASGIApp, *, token: str | None, max_body_bytes: int) -> None:
        self.app = app
        self.token = token
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.token is not None and scope.get("path") not in OPEN_PATHS and not (
                hmac.compare_digest(_bearer(scope).encode(), self.token.encode())):
            await _answer(send, 401, "unauthorized", "missing or wrong bearer token",
                          [(b"www-authenticate", b"Bearer")])
            return
        limit = self.max_body_bytes
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _answer(send, 413, "too_large",
                          f"request body over the limit of {limit // 2**20} MiB")
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await _answer(send, 413, "too_large",
                              f"request body over the limit of {limit // 2**20} MiB")
