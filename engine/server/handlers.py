"""What every route shares: the server state from the request, the bearer-token check
(behind the ASGI guard, and what OpenAPI documents), and errors as one JSON shape."""

import hmac
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException

from engine.errors import ScandexError, UsageError
from engine.server.state import ServerState
from engine.service.uploads import NotAScan, UploadTooLarge

_bearer = HTTPBearer(auto_error=False)
_CODES = {401: "unauthorized", 404: "not_found", 405: "method_not_allowed",
          409: "changed", 410: "gone", 413: "too_large", 415: "unsupported_type"}


def server_state(request: Request) -> ServerState:
    """The state create_app attached to the application."""
    state: ServerState = request.app.state.scandex
    return state


def authorized(request: Request,
               credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> None:
    """401 unless the request carries the server's token (when it has one)."""
    token: str | None = request.app.state.token
    if token is None:
        return
    given = credentials.credentials if credentials else ""
    if not hmac.compare_digest(given.encode(), token.encode()):
        raise HTTPException(401, "missing or wrong bearer token")


GUARDED: list[Any] = [Depends(authorized)]


def error(status: int, code: str, message: str) -> JSONResponse:
    """The one error body: {"error": {"code": ..., "message": ...}}."""
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def install_error_handlers(app: FastAPI) -> None:
    """Every failure as the one error body; never a traceback over the wire."""

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        response = error(exc.status_code, _CODES.get(exc.status_code, "error"), str(exc.detail))
        if exc.status_code == 401:
            response.headers["WWW-Authenticate"] = "Bearer"
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return error(422, "invalid_request", f"{where}: {first.get('msg', 'invalid')}")

    @app.exception_handler(ScandexError)
    async def scandex_error(_request: Request, exc: ScandexError) -> JSONResponse:
        if isinstance(exc, UploadTooLarge):
            return error(413, "too_large", str(exc))
        if isinstance(exc, NotAScan):
            return error(415, "unsupported_type", str(exc))
        return error(400 if isinstance(exc, UsageError) else 503, type(exc).__name__, str(exc))

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, exc: Exception) -> JSONResponse:
        return error(500, "internal_error", "unexpected server error; see the server log")
