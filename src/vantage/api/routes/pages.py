"""The web UI's HTML pages: jobs list, new job, job page, service health, login.

The JSON API keeps its paths; pages live under ``/ui`` (and ``/jobs/{id}/view``, the link that
notifications carry). Every page works from its server-rendered HTML; ``/static/app.js`` then
makes it live (server-sent events, polling as the fallback) and drives the forms through the
JSON API, showing any problem+json ``title``/``detail`` inline.

Routes:
    ``GET /`` → redirect to ``/ui/jobs``.
    ``GET /ui/jobs?state=&pipeline=&before=``: jobs, newest first, live.
    ``GET /ui/jobs/new``: the new capture job form.
    ``GET /ui/jobs/{id}`` and ``GET /jobs/{id}/view``: one job (404 page for an unknown id).
    ``GET /ui/jobs/{id}/stages``: the job's stage timeline alone (the job page refreshes it).
    ``GET /ui/health``: service health.
    ``GET /ui/login``: the token form (it posts to ``POST /login``).

Stable hooks for browser tests (each id listed also carries an equal ``data-testid``; job and
stage rows carry ``data-testid`` ``job-row`` / ``stage-row``):
    new job form: ``#job-form``, ``#upload-input`` (file, multiple), ``#source-input``,
    ``#preset-select``, ``#max-frames-input``, ``#iterations-input``, ``#email-input``,
    ``#webhook-input``, ``#submit-job``, ``#form-error`` (hidden while empty),
    ``#upload-progress`` (``<progress>`` with ``data-percent``) and
    ``#upload-percent``.
    jobs list: ``#jobs-table``, ``.job-row[data-job-id][data-state]`` holding ``.job-state``,
    ``.job-progress[data-percent]``, ``.job-percent``, ``.job-stage`` and ``a.job-link``;
    ``#state-filter``.
    job page: ``#job[data-job-id][data-state]``, ``#job-state``, ``#job-progress``
    (``<progress>`` with ``data-percent``), ``#job-percent``, ``#job-stage``, ``#job-message``,
    ``#job-error``, ``#stage-timeline`` with ``.stage-row[data-stage=NAME][data-state]`` (each
    with ``.stage-state``, ``.stage-progress[data-percent]``, ``.stage-duration``),
    ``#cancel-job``, ``#retry-job``, ``#action-error``, ``#job-log`` with ``.log-line``,
    ``#report`` (figures in ``#report-figures``), ``#downloads`` with ``#downloads a``,
    ``#viewer`` with ``#viewer-frame`` (its ``src`` is set when shown).
    health page: ``#health-status``, ``#health-database``, ``#health-workers``,
    ``#health-queue-depth``, ``#health-jobs``, ``#workers-table``.
    login page: ``#login-form``, ``#token-input``, ``#login-submit``, ``#login-error``.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, RedirectResponse

from vantage.api.deps import EngineDep, QueueDep, SettingsDep
from vantage.api.routes.health import health, worker_alive_s
from vantage.capture.params import FRAME_MAX_SIDE, MAX_FRAMES, ReconstructParams
from vantage.errors import JobNotFoundError, ServiceUnavailableError
from vantage.jobs.pipeline import PIPELINES
from vantage.jobs.records import JobState
from vantage.web.pages import (
    alive_workers,
    event_tail,
    job_row,
    job_view,
    last_event_ids,
    local_report,
    render,
    report_spec,
    stage_views,
)

#: Jobs per page of the list.
PAGE_SIZE = 50

router = APIRouter(include_in_schema=False)


@router.get("/", name="home")
def home() -> RedirectResponse:
    """The start page is the jobs list."""
    return RedirectResponse("/ui/jobs", status_code=302)


def _not_found(job_id: str) -> HTMLResponse:
    return render(
        "error.html",
        status_code=404,
        title="Job not found",
        detail=f"No job has the id {job_id!r}.",
    )


@router.get("/ui/jobs", name="jobs_page", response_class=HTMLResponse)
def jobs_page(
    queue: QueueDep,
    engine: EngineDep,
    state: Annotated[str | None, Query()] = None,
    pipeline: Annotated[str | None, Query()] = None,
    before: Annotated[str | None, Query()] = None,
) -> HTMLResponse:
    """Jobs, newest first, optionally of one state or pipeline; live while any is active."""
    states = [s.value for s in JobState]
    if state and state not in states:
        return render(
            "error.html",
            status_code=422,
            title="Unknown state",
            detail=f"There is no job state {state!r}; the states are {', '.join(states)}.",
        )
    filters = {"state": state or None, "pipeline": pipeline or None}
    jobs = queue.list(
        state=JobState(state) if state else None,
        pipeline=filters["pipeline"],
        limit=PAGE_SIZE,
        before_id=before or None,
    )
    active = [job.id for job in jobs if not job.state.terminal]
    cursors = last_event_ids(engine, active)
    chosen = {name: value for name, value in filters.items() if value}
    older = (
        "/ui/jobs?" + urlencode({**chosen, "before": jobs[-1].id})
        if len(jobs) == PAGE_SIZE
        else None
    )
    return render(
        "jobs.html",
        nav="jobs",
        rows=[job_row(job, cursors.get(job.id, 0)) for job in jobs],
        states=states,
        pipelines=sorted(PIPELINES),
        state=state or "",
        pipeline=pipeline or "",
        api_query=urlencode(
            {**chosen, "limit": PAGE_SIZE, **({"before": before} if before else {})}
        ),
        older=older,
    )


@router.get("/ui/jobs/new", name="new_job_page", response_class=HTMLResponse)
def new_job_page() -> HTMLResponse:
    """The form that uploads a capture (or names one) and submits a reconstruction."""
    field = ReconstructParams.model_fields["preset"]
    presets = [
        (
            name,
            f"{name} — up to {MAX_FRAMES.get(name, '?')} keyframes, "
            + (f"{side} px" if (side := FRAME_MAX_SIDE.get(name)) else "full resolution"),
        )
        for name in MAX_FRAMES
    ]
    return render("new_job.html", nav="new", presets=presets, default_preset=field.default)


@router.get("/ui/jobs/{job_id}", name="job_page", response_class=HTMLResponse)
@router.get("/jobs/{job_id}/view", response_class=HTMLResponse)
def job_page(job_id: str, queue: QueueDep, engine: EngineDep) -> HTMLResponse:
    """One job: its stages, live progress, log, report, downloads and viewer."""
    try:
        job = queue.get(job_id)
    except JobNotFoundError:
        return _not_found(job_id)
    view = job_view(job, event_tail(engine, job.id), local_report(job))
    return render("job.html", nav="jobs", job=view, report_spec=report_spec())


@router.get("/ui/jobs/{job_id}/stages", name="job_stages_fragment", response_class=HTMLResponse)
def job_stages_fragment(job_id: str, queue: QueueDep) -> HTMLResponse:
    """The job's stage timeline alone, as the job page shows it."""
    try:
        job = queue.get(job_id)
    except JobNotFoundError:
        return _not_found(job_id)
    return render("_stages.html", stages=stage_views(job))


@router.get("/ui/health", name="health_page", response_class=HTMLResponse)
def health_page(engine: EngineDep, queue: QueueDep, settings: SettingsDep) -> HTMLResponse:
    """Whether the database answers, which workers are alive and how many jobs wait."""
    try:
        report = health(engine, queue, settings)
        workers = alive_workers(engine, worker_alive_s(settings))
    except ServiceUnavailableError as exc:
        return render(
            "health.html",
            status_code=503,
            nav="health",
            status="down",
            database=str(exc.fields.get("database") or exc),
            workers_alive=None,
            jobs={},
            queue_depth=None,
            workers=[],
            server_version=str(exc.fields.get("version", "")),
        )
    return render(
        "health.html",
        nav="health",
        status=report.status,
        database=report.database,
        workers_alive=report.workers_alive,
        jobs=report.jobs,
        queue_depth=report.jobs.get(JobState.QUEUED.value, 0),
        workers=workers,
        server_version=report.version,
    )


def _local_path(target: str | None) -> str:
    """``target`` when it is a path on this site, else the jobs list (no open redirect)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/ui/jobs"


@router.get("/ui/login", name="login_page", response_class=HTMLResponse)
def login_page(next_path: Annotated[str | None, Query(alias="next")] = None) -> HTMLResponse:
    """The form that hands an API token to ``POST /login`` (which sets the cookie)."""
    return render("login.html", nav="login", next=_local_path(next_path))
