"""Routes for tags and tag suggestions. Tags are written on the server's one writer."""

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi import Path as PathParam

from engine.server.handlers import GUARDED, server_state
from engine.server.reading import DOC_ID, document_json
from engine.server.state import ServerState
from engine.store.tags import MAX_TAG_LENGTH

router = APIRouter()
TAG = PathParam(min_length=1, max_length=MAX_TAG_LENGTH * 4, description="a tag")


@router.get("/tags", dependencies=GUARDED)
def tags(state: ServerState = Depends(server_state)) -> dict[str, Any]:
    """Every tag in use and how many documents carry it."""
    return {"tags": [{"tag": t, "documents": n} for t, n in state.reader().tags().items()]}


@router.get("/documents/{doc_id}/tags", dependencies=GUARDED)
def document_tags(doc_id: int = DOC_ID, state: ServerState = Depends(server_state)
                  ) -> dict[str, Any]:
    """One document's tags."""
    document_json(state.reader(), doc_id)
    return {"id": doc_id, "tags": list(state.reader().tags(doc_id))}


@router.put("/documents/{doc_id}/tags/{tag}", dependencies=GUARDED)
def add_tag(doc_id: int = DOC_ID, tag: str = TAG, state: ServerState = Depends(server_state)
            ) -> dict[str, Any]:
    """Put a tag on a document (idempotent)."""
    return _set(state, doc_id, tag, present=True)


@router.delete("/documents/{doc_id}/tags/{tag}", dependencies=GUARDED)
def remove_tag(doc_id: int = DOC_ID, tag: str = TAG, state: ServerState = Depends(server_state)
               ) -> dict[str, Any]:
    """Take a tag off a document (idempotent)."""
    return _set(state, doc_id, tag, present=False)


def _set(state: ServerState, doc_id: int, tag: str, *, present: bool) -> dict[str, Any]:
    document_json(state.reader(), doc_id)
    changed = state.jobs.call(lambda library: library.tag(doc_id, [tag], present=present))
    return {"id": doc_id, "changed": changed, "tags": list(state.reader().tags(doc_id))}


@router.get("/documents/{doc_id}/suggestions", dependencies=GUARDED)
def suggestions(doc_id: int = DOC_ID, limit: int = Query(5, ge=1, le=50),
                state: ServerState = Depends(server_state)) -> dict[str, Any]:
    """Tags for a document, learnt from the tags given so far, best first."""
    document_json(state.reader(), doc_id)
    found = state.reader().suggest_tags(doc_id, limit=limit)
    if not found and not state.model_ready.is_set():
        raise HTTPException(503, "the embedding model is still loading; retry shortly")
    return {"id": doc_id, "suggestions": [{"tag": s.tag, "score": s.score} for s in found]}
