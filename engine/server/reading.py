"""Routes that read: health, search, documents, their originals and their pages."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse

from engine.content import safe_filename
from engine.errors import OriginalUnavailable, ScandexError, UsageError
from engine.library import Library
from engine.models import SearchHit, SearchMode
from engine.server.handlers import GUARDED, server_state
from engine.server.state import ServerState
from engine.service.rendering import highlighted_page_png

router = APIRouter()
DOC_ID = PathParam(ge=1, le=2**62, description="document id")
_MAX_INT = 2**62


@router.get("/health")
def health(state: ServerState = Depends(server_state)) -> JSONResponse:
    """Ready (200) when the index opens, Tesseract runs and the model is loaded."""
    checks: dict[str, Any] = {}
    try:
        state.reader().status()
        checks["index"] = "ok"
    except ScandexError as e:
        checks["index"] = str(e)
    checks["tesseract"] = state.tesseract()
    checks["model"] = "ok" if state.model_ready.is_set() else state.model_error or "loading"
    if state.jobs.sync_error:
        checks["sync"] = state.jobs.sync_error
    watching = state.watching.status()
    ready = checks["index"] == "ok" and checks["model"] == "ok" and state.tesseract_ready
    body: dict[str, Any] = {"status": "ok" if ready else "starting", "checks": checks}
    if watching is not None:
        body["watching"] = watching
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get("/search", dependencies=GUARDED)
def search(q: str = Query(..., min_length=1, max_length=1000),
           mode: SearchMode = Query(SearchMode.HYBRID),
           limit: int = Query(10, ge=1, le=100),
           type: str | None = Query(None, max_length=10),  # noqa: A002
           path: str | None = Query(None, max_length=4096),
           state: ServerState = Depends(server_state)) -> dict[str, Any]:
    """Documents matching q, best first."""
    if mode != SearchMode.KEYWORD and not state.model_ready.wait(timeout=120):
        raise HTTPException(503, "the embedding model is still loading; retry shortly")
    hits = state.reader().search(q, mode=mode, limit=limit,
                                 kinds=[type] if type else [], path_prefix=path)
    return {"query": q, "mode": mode, "results": [hit_json(h) for h in hits]}


def hit_json(hit: SearchHit) -> dict[str, Any]:
    """A search hit as the API returns it."""
    return {"id": hit.id, "path": hit.path, "page": hit.page, "score": hit.score,
            "snippet": hit.snippet, "boxes": hit.boxes, "tags": list(hit.tags),
            "document_date": hit.document_date}


@router.get("/documents/{doc_id}/similar", dependencies=GUARDED)
def similar(doc_id: int = DOC_ID, limit: int = Query(10, ge=1, le=100),
            state: ServerState = Depends(server_state)) -> dict[str, Any]:
    """More like this: the documents closest in meaning to one, best first."""
    if not state.model_ready.wait(timeout=120):
        raise HTTPException(503, "the embedding model is still loading; retry shortly")
    library = state.reader()
    info = document_json(library, doc_id)
    hits = library.similar(doc_id, limit=limit)
    return {"document": {"id": info["id"], "path": info["path"]}, "mode": "similar",
            "results": [hit_json(h) for h in hits]}


@router.get("/duplicates", dependencies=GUARDED)
def duplicates(state: ServerState = Depends(server_state)) -> dict[str, Any]:
    """Groups of documents holding the same paper (copies, rescans); nothing is removed."""
    return {"groups": [
        {"documents": [{"id": d.id, "path": d.path} for d in g.documents],
         "similarity": g.similarity} for g in state.reader().duplicates()]}


def document_json(library: Library, doc_id: int) -> dict[str, Any]:
    """A document's fields; 404 when there is no such document."""
    try:
        info = library.resolve(doc_id)
    except UsageError as e:
        raise HTTPException(404, f"no document {doc_id}") from e
    day, candidates = library.document_dates(doc_id)
    return {"id": info.id, "path": info.path, "kind": info.kind, "state": info.state,
            "error": info.error, "pages": info.pages, "sha256": info.sha256,
            "size": info.size, "indexed_at": info.indexed_at, "document_date": day,
            "date_candidates": candidates, "tags": list(library.tags(doc_id))}


@router.get("/documents", dependencies=GUARDED)
def documents(offset: int = Query(0, ge=0, le=_MAX_INT), limit: int = Query(50, ge=1, le=500),
              state_filter: str | None = Query(None, alias="state",
                                               pattern="^(indexed|failed)$"),
              state: ServerState = Depends(server_state)) -> dict[str, Any]:
    """Every document by path, a page at a time."""
    library = state.reader()
    docs = library.documents(state=state_filter)
    page = docs[offset:offset + limit]
    return {"total": len(docs), "offset": offset, "limit": limit,
            "documents": [document_json(library, d.id) for d in page]}


@router.get("/documents/{doc_id}", dependencies=GUARDED)
def document(doc_id: int = DOC_ID, state: ServerState = Depends(server_state)
             ) -> dict[str, Any]:
    """A document and its recognised pages."""
    library = state.reader()
    body = document_json(library, doc_id)
    detail = library.document(doc_id)
    body["page_list"] = [{"page": p.page_no, "width": p.width, "height": p.height,
                          "source": p.source, "rotation": p.rotation, "text": p.text}
                         for p in detail.pages]
    return body


@router.get("/documents/{doc_id}/file", dependencies=GUARDED)
def original(doc_id: int = DOC_ID, state: ServerState = Depends(server_state)
             ) -> StreamingResponse:
    """The original's bytes, only while they are the ones indexed (else 409 / 410)."""
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


@router.get("/documents/{doc_id}/searchable.pdf", dependencies=GUARDED,
            response_class=Response, responses={200: {"content": {"application/pdf": {}}}})
def searchable_pdf(doc_id: int = DOC_ID, state: ServerState = Depends(server_state)
                   ) -> Response:
    """The document as a searchable PDF: its pages with their recognised text laid over
    them (a PDF that carries its own text: the original)."""
    import shutil
    import tempfile

    from starlette.background import BackgroundTask

    library = state.reader()
    document_json(library, doc_id)
    name = safe_filename(Path(library.resolve(doc_id).path).stem + ".pdf",
                         f"document-{doc_id}.pdf")
    # Written to a file and sent from it (a long document's PDF is not held in memory),
    # removed once sent.
    folder = tempfile.mkdtemp(prefix="scandex-pdf-")
    target = Path(folder) / "export.pdf"
    try:
        library.export_pdf(doc_id, target)
    except BaseException as e:
        shutil.rmtree(folder, ignore_errors=True)
        if isinstance(e, OriginalUnavailable):
            raise HTTPException(410 if e.gone else 409, str(e)) from e
        if isinstance(e, UsageError):
            raise HTTPException(404, str(e)) from e
        if isinstance(e, ScandexError):  # the original no longer reads (changed, damaged)
            raise HTTPException(409, str(e)) from e
        raise
    return FileResponse(target, media_type="application/pdf", filename=name,
                        background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True))


@router.get("/documents/{doc_id}/pages/{page_no}.png", dependencies=GUARDED,
            response_class=Response, responses={200: {"content": {"image/png": {}}}})
def page_png(doc_id: int = DOC_ID, page_no: int = PathParam(ge=1, le=100_000),
             q: str | None = Query(None, max_length=1000),
             width: int = Query(1200, ge=100, le=4000),
             state: ServerState = Depends(server_state)) -> Response:
    """The page as a PNG, q's words marked."""
    library = state.reader()
    document_json(library, doc_id)
    try:
        png = highlighted_page_png(library, doc_id, page_no, query=q, width=width)
    except UsageError as e:
        raise HTTPException(404, str(e)) from e
    return Response(png, media_type="image/png")
