"""The HTTP API of the headless server (FastAPI): `create_app` assembles the routers
(reading.py, intake.py) behind the request guard; `serve` runs it with uvicorn.

Security: loopback by default; a bearer token (SCANDEX_API_TOKEN) guards every
endpoint but /health, and `serve` refuses a non-loopback address without one.
Nothing from a request becomes a filesystem path: files are addressed by document
id, uploads are stored under blobs/ by content hash with a sanitised name.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from engine.errors import UsageError
from engine.server.listen import bind_addresses, check_port_free, is_loopback
from engine.server.state import MAX_UPLOAD_BYTES, TOKEN_ENV, ServerState
from engine.version import __version__

# Multipart framing (boundaries, part headers) around an upload at the size limit.
MULTIPART_OVERHEAD_BYTES = 64 * 1024

__all__ = ["bind_addresses", "create_app", "is_loopback", "serve"]


def create_app(library_dir: str | Path, *, token: str | None = None,
               max_upload_bytes: int = MAX_UPLOAD_BYTES, **engine_options: Any) -> Any:
    """The FastAPI application over one library."""
    from fastapi import FastAPI

    from engine.server.guard import RequestGuard
    from engine.server.handlers import install_error_handlers
    from engine.server.intake import router as changes
    from engine.server.reading import router as reads
    from engine.server.tagging import router as tagging

    state = ServerState(Path(library_dir), max_upload_bytes=max_upload_bytes,
                        **engine_options)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        yield
        state.close()

    app = FastAPI(title="Scandex", version=__version__, lifespan=lifespan,
                  description="Search over scanned paper: OCR, embeddings, hybrid search.")
    app.state.scandex = state
    app.state.token = token
    # Token and body limit are checked in front of FastAPI, before any body is read.
    app.add_middleware(RequestGuard, token=token,
                       max_body_bytes=max_upload_bytes + MULTIPART_OVERHEAD_BYTES)
    install_error_handlers(app)
    app.include_router(reads)
    app.include_router(changes)
    app.include_router(tagging)
    return app


def serve(library_dir: Path, *, host: str = "127.0.0.1", port: int = 8765,
          lang: str = "eng", sync: Any = None, watch: list[Path] | None = None,
          watch_poll_s: float | None = None) -> None:
    """Run the server until interrupted."""
    token = os.environ.get(TOKEN_ENV) or None
    if not is_loopback(host) and not token:
        where = ", ".join(bind_addresses(host)) if host.strip() else "every interface"
        raise UsageError(
            f"refusing to listen on {host!r} ({where}) without a token: set {TOKEN_ENV} to a "
            "long random secret (clients send 'Authorization: Bearer <token>'), or bind "
            "127.0.0.1"
        )
    check_port_free(host, port)
    import uvicorn

    app = create_app(library_dir, token=token, lang=lang, sync=sync, watch=watch,
                     watch_poll_s=watch_poll_s)
    try:
        uvicorn.run(app, host=host, port=port, log_level="info")
    except SystemExit as e:  # uvicorn exits 3 when it cannot start: not a missing dependency
        if e.code not in (0, None):
            raise UsageError(f"the server could not start on {host}:{port} (see the log "
                             "above); choose another --port or --host") from e
