"""The 3D viewer page of a job's splat scene."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse

from vantage.api.routes.jobs import existing_job
from vantage.api.schemas import problem_responses
from vantage.jobs.records import JobRecord
from vantage.web.viewer import ViewerCamera, viewer_page

#: The artifact the viewer shows: the compact SOG the reconstruct pipeline writes.
SCENE_ARTIFACT = "scene.sog"

router = APIRouter(tags=["viewer"])


@router.get(
    "/jobs/{job_id}/viewer",
    response_class=HTMLResponse,
    responses={200: {"content": {"text/html": {}}}, **problem_responses(404)},
)
def job_viewer(job: Annotated[JobRecord, Depends(existing_job)]) -> HTMLResponse:
    """An HTML page showing the job's 3D scene (its ``scene.sog`` artifact) in the browser.

    The view starts where the compress stage said (one of the capture's own cameras), when it
    did.
    """
    page = viewer_page(
        f"/jobs/{quote(job.id)}/artifacts/{SCENE_ARTIFACT}",
        title=f"Vantage — {job.pipeline} {job.id}",
        camera=_start_camera(job),
    )
    return HTMLResponse(page)


def _start_camera(job: JobRecord) -> ViewerCamera | None:
    for stage in job.stages:
        saved = (stage.output or {}).get("viewer_camera") if stage.name == "compress" else None
        if isinstance(saved, dict):
            try:
                return ViewerCamera.from_dict(saved)
            except (KeyError, TypeError, ValueError):
                return None
    return None
