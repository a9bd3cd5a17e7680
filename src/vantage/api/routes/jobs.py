"""Job routes: submit (also in the seeds' /start-job shape), list, read, cancel, retry, stream a
job's events; list pipelines."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from typing import Annotated

import anyio
from fastapi import APIRouter, Depends, Header, Query, Request, Response, status
from fastapi.sse import EventSourceResponse, ServerSentEvent

from vantage.api.deps import QueueDep, SettingsDep, StoreDep
from vantage.api.schemas import JobPage, JobSubmit, PipelineInfo, StartJob, problem_responses
from vantage.jobs.pipeline import PIPELINES, get_pipeline
from vantage.jobs.records import EventRecord, JobRecord, JobState

#: Events read per poll; a shorter batch means the stream has caught up.
EVENTS_PER_POLL = 500

router = APIRouter(tags=["jobs"])


def existing_job(job_id: str, queue: QueueDep) -> JobRecord:
    """The job named in the path (404 problem when there is none)."""
    return queue.get(job_id)


@router.post(
    "/jobs",
    status_code=status.HTTP_201_CREATED,
    name="submit_job",
    responses={
        200: {"model": JobRecord, "description": "The dedupe key matched an identical job."},
        **problem_responses(401, 409, 422),
    },
)
def submit_job(
    submission: JobSubmit,
    request: Request,
    response: Response,
    queue: QueueDep,
    store: StoreDep,
) -> JobRecord:
    """Queue a job (201), or return the job its dedupe key already names (200)."""
    definition = get_pipeline(submission.pipeline)
    if definition.preflight is not None:  # e.g. that an upload:// input exists
        definition.preflight(definition.validate_params(submission.params), store)
    job, created = queue.submit(
        submission.pipeline,
        submission.params,
        dedupe_key=submission.dedupe_key,
        priority=submission.priority,
        max_attempts=submission.max_attempts,
        notify=submission.notify,
    )
    if created:
        response.headers["Location"] = str(request.url_for("get_job", job_id=job.id))
    else:
        response.status_code = status.HTTP_200_OK
    return job


@router.post(
    "/start-job",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 422),
)
def start_job(
    start: StartJob, request: Request, response: Response, queue: QueueDep, store: StoreDep
) -> JobRecord:
    """Reconstruct the capture at ``s3Url`` and e-mail (and call the webhook) when it ends.

    The seeds' request shape: a ``reconstruct`` job with the URL as its input, the output in
    the job's own folder, and notices to ``email`` and ``webhook``. Answers like POST /jobs.
    """
    submission = JobSubmit(
        pipeline="reconstruct",
        params={"input": start.s3_url, "preset": start.preset},
        notify=start.notify_targets(),
    )
    return submit_job(submission, request, response, queue, store)


@router.get("/jobs", responses=problem_responses(422))
def list_jobs(
    queue: QueueDep,
    state: Annotated[JobState | None, Query(description="Only jobs in this state.")] = None,
    pipeline: Annotated[str | None, Query(description="Only jobs of this pipeline.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="Page size.")] = 50,
    before: Annotated[
        str | None, Query(description="Only jobs older than this id (a page's next_before).")
    ] = None,
) -> JobPage:
    """Jobs, newest first, one page at a time."""
    jobs = queue.list(state=state, pipeline=pipeline, limit=limit, before_id=before)
    return JobPage(jobs=jobs, next_before=jobs[-1].id if len(jobs) == limit else None)


@router.get("/jobs/{job_id}", name="get_job", responses=problem_responses(404))
def get_job(job: Annotated[JobRecord, Depends(existing_job)]) -> JobRecord:
    """One job with its stages."""
    return job


@router.post("/jobs/{job_id}/cancel", responses=problem_responses(404, 409))
def cancel_job(job_id: str, queue: QueueDep) -> JobRecord:
    """Cancel a job: at once when queued, at its next progress report when running."""
    return queue.cancel(job_id)


@router.post("/jobs/{job_id}/retry", responses=problem_responses(404, 409))
def retry_job(job_id: str, queue: QueueDep) -> JobRecord:
    """Queue a failed or cancelled job again; it resumes after its last finished stage."""
    return queue.retry(job_id)


@router.get(
    "/jobs/{job_id}/events",
    response_class=EventSourceResponse,
    responses=problem_responses(404, 422),
)
async def job_events(
    job: Annotated[JobRecord, Depends(existing_job)],
    queue: QueueDep,
    settings: SettingsDep,
    last_event_id: Annotated[
        int | None, Header(ge=0, description="Resume after this event (set by EventSource).")
    ] = None,
    after: Annotated[int, Query(ge=0, description="Only events with a higher id.")] = 0,
) -> AsyncIterator[ServerSentEvent]:
    """The job's events as server-sent events, until the job reaches a final state.

    Each event carries its id, its kind as the event name and the event as JSON data. The
    stream ends once it has sent the event that made the job final and nothing follows.
    """
    cursor = max(after, last_event_id or 0)
    terminal = job.state.terminal  # resuming after a final job's last event: nothing will come
    while True:
        batch: list[EventRecord] = await anyio.to_thread.run_sync(
            functools.partial(queue.events, job.id, after_id=cursor, limit=EVENTS_PER_POLL)
        )
        for event in batch:
            yield ServerSentEvent(data=event, event=event.kind, id=str(event.id))
            cursor, terminal = event.id, event.state.terminal
        if len(batch) < EVENTS_PER_POLL:  # caught up
            if terminal:
                return
            await anyio.sleep(settings.api.sse_poll_interval_s)


@router.get("/pipelines", tags=["pipelines"])
def list_pipelines() -> list[PipelineInfo]:
    """Every pipeline jobs can run, with the JSON schema of its parameters."""
    pipelines = [get_pipeline(name) for name in sorted(PIPELINES)]
    return [
        PipelineInfo(
            name=pipeline.name,
            description=pipeline.description,
            params=pipeline.params_model.model_json_schema(),
        )
        for pipeline in pipelines
    ]
