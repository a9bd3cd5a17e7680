"""A job's artifacts: the list, and each file streamed from the blob store."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from vantage.api.deps import EngineDep, StoreDep
from vantage.api.routes.jobs import existing_job
from vantage.api.schemas import problem_responses
from vantage.errors import ArtifactNotFoundError
from vantage.jobs.artifacts import list_artifacts
from vantage.jobs.records import JobRecord
from vantage.storage import BlobStore

router = APIRouter(tags=["artifacts"])
_CHUNK_BYTES = 1 << 20


class ArtifactInfo(BaseModel):
    """One artifact of a job."""

    name: str
    stage: str
    size_bytes: int
    content_type: str | None
    url: str


@router.get("/jobs/{job_id}/artifacts", responses=problem_responses(404))
def job_artifacts(
    job: Annotated[JobRecord, Depends(existing_job)], engine: EngineDep, request: Request
) -> list[ArtifactInfo]:
    """The files the job published (empty until a stage publishes one)."""
    return [
        ArtifactInfo(
            name=artifact.name,
            stage=artifact.stage,
            size_bytes=artifact.size_bytes,
            content_type=artifact.content_type,
            url=str(request.url_for("job_artifact", job_id=job.id, name=artifact.name).path),
        )
        for artifact in list_artifacts(engine, job.id)
    ]


@router.get(
    "/jobs/{job_id}/artifacts/{name}",
    name="job_artifact",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/octet-stream": {}}}, **problem_responses(404)},
)
def job_artifact(
    job: Annotated[JobRecord, Depends(existing_job)],
    name: str,
    engine: EngineDep,
    store: StoreDep,
) -> StreamingResponse:
    """Download artifact ``name`` of the job."""
    found = {artifact.name: artifact for artifact in list_artifacts(engine, job.id)}
    artifact = found.get(name)
    if artifact is None:
        message = f"job {job.id} has no artifact {name!r}"
        raise ArtifactNotFoundError(message, job_id=job.id, name=name)
    return StreamingResponse(
        _chunks(store, artifact.key),
        media_type=artifact.content_type or "application/octet-stream",
        headers={
            "Content-Length": str(artifact.size_bytes),
            "Content-Disposition": f'inline; filename="{artifact.name}"',
        },
    )


def _chunks(store: BlobStore, key: str) -> Iterator[bytes]:
    with store.open(key) as handle:
        while chunk := handle.read(_CHUNK_BYTES):
            yield chunk
