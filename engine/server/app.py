"""The HTTP API of the headless server (FastAPI). `scandex serve` runs it with uvicorn.

Security: loopback by default; a bearer token (SCANDEX_API_TOKEN) guards every
endpoint but /health, and `serve` refuses a non-loopback address without one.
Nothing from a request becomes a filesystem path: files are addressed by document
id, uploads are stored under blobs/ by content hash with a sanitised name.
"""


import contextlib
import hashlib
import hmac
import io
import os
import tempfile
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from engine.backends.factory import make_embedder
from engine.content import safe_filename, sniff
from engine.errors import OriginalUnavailable, ScandexError, UsageError
from engine.library import Library
from engine.models import SearchMode
from engine.protocols import Embedder
from engine.service.jobs import JobRunner
from engine.version import __version__

MAX_UPLOAD_BYTES = 200 * 1024 * 1024
TOKEN_ENV = "SCANDEX_API_TOKEN"
# Multipart framing (boundaries, part headers) around an upload at the size limit.
MULTIPART_OVERHEAD_BYTES = 64 * 1024


class ServerState:
    """What the endpoints share: the library folder, the model, the job runner."""

    def __init__(self, library_dir: Path, *, embedder: Embedder | None = None,
                 ocr: Any = None, executor: Any = None, lang: str = "eng",
                 sync: Any = None) -> None:
        self.library_dir = library_dir
        self.embedder = embedder or make_embedder()
        self.ocr = ocr
        self.executor = executor
        self.lang = lang
        self.model_ready = threading.Event()
        self.model_error: str | None = None
        self._local = threading.local()
        self._tesseract: str | None = None
        self.vectors = Library.new_vector_cache()
        self.open().close()  # create the index before read-only opens
        on_start = after_batch = None
        if sync is not None:
            # Pull the shared library at start; push after each batch of uploads.
            def on_start(library: Library) -> object:
                return library.pull(sync)

            def after_batch(library: Library) -> object:
                return library.push(sync)

        self.jobs = JobRunner(self.open, lang=lang, on_start=on_start, after_batch=after_batch)
        threading.Thread(target=self._load_model, name="scandex-model", daemon=True).start()

    def open(self, *, read_only: bool = False) -> Library:
        """A new Library on this folder."""
        return Library.open(self.library_dir, embedder=self.embedder, ocr=self.ocr,
                            executor=self.executor, read_only=read_only,
                            vector_cache=self.vectors if read_only else None)

    def reader(self) -> Library:
        """This request thread's read-only Library."""
        library = getattr(self._local, "library", None)
        if library is None:
            # One vector matrix for all request threads, not one per thread.
            library = self.open(read_only=True)
            self._local.library = library
        return library

    def tesseract(self) -> str:
        """Tesseract's version (checked once), or why it is unusable."""
        if self._tesseract is None:
            from engine.backends.tesseract import available_languages, tesseract_version

            try:
                available_languages()
                self._tesseract = tesseract_version()
            except ScandexError as e:
                return str(e)
        return self._tesseract

    def _load_model(self) -> None:
        try:
            load = getattr(self.embedder, "load", None)
            if load is not None:
                load()
            self.model_ready.set()
        except Exception as e:  # noqa: BLE001 - reported by /health
            self.model_error = str(e)

    def close(self) -> None:
        """Stop the job runner."""
        self.jobs.stop()


def create_app(library_dir: str | Path, *, token: str | None = None,
               max_upload_bytes: int = MAX_UPLOAD_BYTES, **engine_options: Any) -> Any:
    """The FastAPI application over one library."""
    from fastapi import Depends, FastAPI, File, HTTPException, Query, Request, UploadFile
    from fastapi import Path as PathParam
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse, Response, StreamingResponse
    from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
    from starlette.exceptions import HTTPException as StarletteHTTPException

    from engine.server.guard import RequestGuard

    state = ServerState(Path(library_dir), **engine_options)
    bearer = HTTPBearer(auto_error=False)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        yield
        state.close()

    app = FastAPI(title="Scandex", version=__version__, lifespan=lifespan,
                  description="Search over scanned paper: OCR, embeddings, hybrid search.")
    app.state.scandex = state
    # Token and body limit are checked in front of FastAPI, before any body is read.
    app.add_middleware(RequestGuard, token=token,
                       max_body_bytes=max_upload_bytes + MULTIPART_OVERHEAD_BYTES)

    def error(status: int, code: str, message: str) -> JSONResponse:
        return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {401: "unauthorized", 404: "not_found", 405: "method_not_allowed",
                 409: "changed", 410: "gone", 413: "too_large", 415: "unsupported_type"}
        response = error(exc.status_code, codes.get(exc.status_code, "error"), str(exc.detail))
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
        return error(400 if isinstance(exc, UsageError) else 503, type(exc).__name__, str(exc))

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, exc: Exception) -> JSONResponse:
        return error(500, "internal_error", "unexpected server error; see the server log")

    def authorized(credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:
        if token is None:
            return
        given = credentials.credentials if credentials else ""
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise HTTPException(401, "missing or wrong bearer token")

    guarded = [Depends(authorized)]
    doc_id_param = PathParam(ge=1, le=2**62, description="document id")
    max_int = 2**62

    @app.get("/health")
    def health() -> JSONResponse:
        checks: dict[str, Any] = {}
        try:
            state.reader().status()
            checks["index"] = "ok"
        except ScandexError as e:
            checks["index"] = str(e)
        checks["tesseract"] = state.tesseract()
        checks["model"] = ("ok" if state.model_ready.is_set()
                           else state.model_error or "loading")
        if state.jobs.sync_error:
            checks["sync"] = state.jobs.sync_error
        ready = (checks["index"] == "ok" and checks["model"] == "ok"
                 and state._tesseract is not None)
        return JSONResponse({"status": "ok" if ready else "starting", "checks": checks},
                            status_code=200 if ready else 503)

    @app.get("/search", dependencies=guarded)
    def search(q: str = Query(..., min_length=1, max_length=1000),
               mode: SearchMode = Query(SearchMode.HYBRID),
               limit: int = Query(10, ge=1, le=100),
               type: str | None = Query(None, max_length=10),  # noqa: A002
               path: str | None = Query(None, max_length=4096)) -> dict[str, Any]:
        if mode != "keyword" and not state.model_ready.wait(timeout=120):
            raise HTTPException(503, "the embedding model is still loading; retry shortly")
        hits = state.reader().search(q, mode=mode, limit=limit,
                                     kinds=[type] if type else [], path_prefix=path)
        return {"query": q, "mode": mode, "results": [
            {"id": h.id, "path": h.path, "page": h.page, "score": h.score,
             "snippet": h.snippet, "boxes": h.boxes} for h in hits]}

    def document_json(library: Library, doc_id: int) -> dict[str, Any]:
        try:
            info = library.resolve(doc_id)
        except UsageError as e:
            raise HTTPException(404, f"no document {doc_id}") from e
        return {"id": info.id, "path": info.path, "kind": info.kind, "state": info.state,
                "error": info.error, "pages": info.pages, "sha256": info.sha256,
                "size": info.size, "indexed_at": info.indexed_at}

    @app.get("/documents", dependencies=guarded)
    def documents(offset: int = Query(0, ge=0, le=max_int), limit: int = Query(50, ge=1, le=500),
                  state_filter: str | None = Query(None, alias="state",
                                                   pattern="^(indexed|failed)$")
                  ) -> dict[str, Any]:
        library = state.reader()
        docs = library.documents(state=state_filter)
        page = docs[offset:offset + limit]
        return {"total": len(docs), "offset": offset, "limit": limit,
                "documents": [document_json(library, d.id) for d in page]}

    @app.get("/documents/{doc_id}", dependencies=guarded)
    def document(doc_id: int = doc_id_param) -> dict[str, Any]:
        library = state.reader()
        body = document_json(library, doc_id)
        detail = library.document(doc_id)
        body["page_list"] = [{"page": p.page_no, "width": p.width, "height": p.height,
                              "source": p.source, "rotation": p.rotation, "text": p.text}
                             for p in detail.pages]
        return body

    @app.get("/documents/{doc_id}/file", dependencies=guarded)
    def original(doc_id: int = doc_id_param) -> StreamingResponse:
        library = state.reader()
        document_json(library, doc_id)
        try:
            handle = library.open_original(doc_id)
        except OriginalUnavailable as e:
            raise HTTPException(410 if e.gone else 409, str(e)) from e
        name = safe_filename(Path(library.resolve(doc_id).path).name, f"document-{doc_id}")

        def chunks() -> Iterator[bytes]:
            with handle:
                while block := handle.read(1 << 20):
                    yield block

        return StreamingResponse(
            chunks(), media_type="application/octet-stream",
            headers={"Content-Disposition": f'attachment; filename="{name}"'})

    @app.get("/documents/{doc_id}/pages/{page_no}.png", dependencies=guarded,
             response_class=Response, responses={200: {"content": {"image/png": {}}}})
    def page_png(doc_id: int = doc_id_param, page_no: int = PathParam(ge=1, le=100_000),
                 q: str | None = Query(None, max_length=1000),
                 width: int = Query(1200, ge=100, le=4000)) -> Response:
        from PIL import Image, ImageDraw

        from engine.search.highlight import matching_word_indexes

        library = state.reader()
        document_json(library, doc_id)
        detail = library.document(doc_id)
        page = next((p for p in detail.pages if p.page_no == page_no), None)
        if page is None:
            raise HTTPException(404, f"document {doc_id} has no page {page_no}")
        image = library.page_image(doc_id, page_no).convert("RGB")
        if q:
            overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
            draw = ImageDraw.Draw(overlay)
            sx, sy = image.width / max(1, page.width), image.height / max(1, page.height)
            for i in matching_word_indexes(page.words, q):
                b = page.words[i].box
                draw.rectangle([b.x * sx - 3, b.y * sy - 3, (b.x + b.w) * sx + 3,
                                (b.y + b.h) * sy + 3], fill=(255, 200, 0, 90),
                               outline=(230, 120, 0, 220), width=3)
            image = Image.alpha_composite(image.convert("RGBA"), overlay).convert("RGB")
        if image.width > width:
            image = image.resize((width, round(image.height * width / image.width)))
        out = io.BytesIO()
        image.save(out, format="PNG")
        return Response(out.getvalue(), media_type="image/png")

    @app.post("/documents", dependencies=guarded, status_code=202)
    async def upload(file: UploadFile = File(...)) -> dict[str, Any]:
        blobs = state.library_dir / "blobs"
        blobs.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        with tempfile.NamedTemporaryFile(dir=blobs, prefix=".upload-", delete=False) as tmp:
            try:
                while chunk := await file.read(1 << 20):
                    size += len(chunk)
                    if size > max_upload_bytes:
                        raise HTTPException(
                            413, f"upload over the limit of {max_upload_bytes // 2**20} MiB")
                    digest.update(chunk)
                    tmp.write(chunk)
            except BaseException:
                tmp.close()
                Path(tmp.name).unlink(missing_ok=True)
                raise
        staged = Path(tmp.name)
        with staged.open("rb") as f:
            kind = sniff(f.read(1024))
        if kind is None or size == 0:
            staged.unlink(missing_ok=True)
            raise HTTPException(415, "not a scan Scandex can read (PNG, JPEG, TIFF, BMP, GIF, "
                                     "WebP or PDF)")
        sha = digest.hexdigest()
        folder = blobs / "sha256" / sha[:2] / sha
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / safe_filename(file.filename, f"upload.{kind.value}")
        staged.replace(target)
        return state.jobs.submit(target).as_dict()

    from pydantic import BaseModel, Field

    class SourceRequest(BaseModel):
        """A location to index: s3://bucket/prefix."""

        url: str = Field(..., min_length=6, max_length=2048, pattern=r"^s3://")

    @app.post("/sources", dependencies=guarded, status_code=202)
    def add_source(source: SourceRequest) -> dict[str, Any]:
        """Index a bucket location (s3://bucket/prefix) in the background."""
        from engine.backends.s3 import S3Location, is_s3_url

        if not is_s3_url(source.url):
            raise HTTPException(422, "only s3://BUCKET/PREFIX sources can be added here; "
                                     "upload files with POST /documents")
        S3Location.parse(source.url)  # a malformed location is a 400 now, not a failed job
        return state.jobs.submit(source.url).as_dict()

    @app.get("/jobs/{job_id}", dependencies=guarded)
    def job(job_id: str = PathParam(max_length=64)) -> dict[str, Any]:
        found = state.jobs.get(job_id)
        if found is None:
            raise HTTPException(404, f"no job {job_id}")
        return found.as_dict()

    @app.delete("/documents/{doc_id}", dependencies=guarded)
    def delete(doc_id: int = doc_id_param) -> dict[str, Any]:
        library = state.reader()
        document_json(library, doc_id)
        owned = library.original_path(doc_id)
        with state.open() as writer:
            removed = writer.remove(doc_id)
        blobs = (state.library_dir / "blobs").resolve()
        if owned is not None and owned.resolve().is_relative_to(blobs):
            # An upload the library owns: its bytes go with the document.
            owned.unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                owned.parent.rmdir()
        return {"removed": removed}

    return app


def bind_addresses(host: str, port: int = 0) -> list[str]:
    """The addresses a listening socket on host would bind, as the OS resolves them
    (an empty host or 0.0.0.0 / :: is every interface)."""
    import socket

    name = host.strip().strip("[]")
    if not name or name in ("*", "0.0.0.0", "::"):
        return ["0.0.0.0" if name != "::" else "::"]
    try:
        infos = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM,
                                   flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as e:
        raise UsageError(f"cannot resolve the host '{host}' to listen on; give an address "
                         "such as 127.0.0.1") from e
    return sorted({str(info[4][0]) for info in infos})


def is_loopback(host: str) -> bool:
    """True only when every address the server would bind never leaves this machine."""
    import ipaddress

    try:
        addresses = bind_addresses(host)
    except UsageError:
        return False
    return bool(addresses) and all(
        ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses)


def serve(library_dir: Path, *, host: str = "127.0.0.1", port: int = 8765,
          lang: str = "eng", sync: Any = None) -> None:
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

    app = create_app(library_dir, token=token, lang=lang, sync=sync)
    try:
        uvicorn.run(app, host=host, port=port, log_level="info")
    except SystemExit as e:  # uvicorn exits 3 when it cannot start: not a missing dependency
        if e.code not in (0, None):
            raise UsageError(f"the server could not start on {host}:{port} (see the log "
                             "above); choose another --port or --host") from e


def check_port_free(host: str, port: int) -> None:
    """UsageError (exit 2) now, rather than a server that dies at start, when the port is
    taken or the address cannot be bound."""
    import errno
    import socket

    for address in bind_addresses(host, port):
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((address, port))
            except OSError as e:
                if e.errno == errno.EADDRINUSE:
                    raise UsageError(f"port {port} on {address} is already in use (another "
                                     "scandex serve?); choose another --port") from e
                raise UsageError(f"cannot listen on {address}:{port}: {e.strerror or e}") from e
