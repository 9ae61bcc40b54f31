"""Routes that change the library: uploads, bucket locations, removals, and the jobs that
carry them out (all through the job runner, the server's one writer)."""

from typing import Any

from fastapi import APIRouter, Depends, File, HTTPException, UploadFile
from fastapi import Path as PathParam
from pydantic import BaseModel, Field

from engine.backends.s3 import S3Location, is_s3_url
from engine.server.handlers import GUARDED, server_state
from engine.server.reading import DOC_ID, document_json
from engine.server.state import ServerState
from engine.service.uploads import StagedUpload, remove_document

router = APIRouter()


@router.post("/documents", dependencies=GUARDED, status_code=202)
async def upload(file: UploadFile = File(...), state: ServerState = Depends(server_state)
                 ) -> dict[str, Any]:
    """Store a scan under the library and queue it for indexing."""
    with StagedUpload(state.library_dir, state.max_upload_bytes) as staged:
        while chunk := await file.read(1 << 20):
            staged.write(chunk)
        target = staged.keep(file.filename)
    return state.jobs.submit(target).as_dict()


class SourceRequest(BaseModel):
    """A location to index: s3://bucket/prefix."""

    url: str = Field(..., min_length=6, max_length=2048, pattern=r"^s3://")


@router.post("/sources", dependencies=GUARDED, status_code=202)
def add_source(source: SourceRequest, state: ServerState = Depends(server_state)
               ) -> dict[str, Any]:
    """Index a bucket location (s3://bucket/prefix) in the background."""
    if not is_s3_url(source.url):
        raise HTTPException(422, "only s3://BUCKET/PREFIX sources can be added here; "
                                 "upload files with POST /documents")
    S3Location.parse(source.url)  # a malformed location is a 400 now, not a failed job
    return state.jobs.submit(source.url).as_dict()


@router.get("/jobs/{job_id}", dependencies=GUARDED)
def job(job_id: str = PathParam(max_length=64), state: ServerState = Depends(server_state)
        ) -> dict[str, Any]:
    """A job's state."""
    found = state.jobs.get(job_id)
    if found is None:
        raise HTTPException(404, f"no job {job_id}")
    return found.as_dict()


@router.delete("/documents/{doc_id}", dependencies=GUARDED)
def delete(doc_id: int = DOC_ID, state: ServerState = Depends(server_state)
           ) -> dict[str, Any]:
    """Remove a document (an upload's bytes too), after the jobs queued before it."""
    document_json(state.reader(), doc_id)
    removed = state.jobs.call(lambda library: remove_document(library, doc_id))
    return {"removed": removed}
