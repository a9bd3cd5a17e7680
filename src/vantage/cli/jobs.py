"""``vantage jobs submit|list|show|cancel|retry``: the job queue from the command line."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from vantage.cli.app import ConfigOption, console, err_console, jobs_app, settings_from
from vantage.cli.progress import follow_job
from vantage.config import Settings
from vantage.errors import InvalidInputError
from vantage.jobs.queue import JobQueue
from vantage.jobs.records import JobRecord, JobState

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def open_queue(settings: Settings) -> JobQueue:
    """The job queue of the configured catalog (the embedded SQLite one migrates itself)."""
    from vantage.catalog.db import engine_from_settings
    from vantage.catalog.migrate import ensure_current

    engine = engine_from_settings(settings)
    ensure_current(engine, auto_upgrade=settings.db.url is None)
    return JobQueue(engine, default_max_attempts=settings.jobs.max_attempts)


def parse_params(pairs: list[str]) -> dict[str, Any]:
    """``k=v`` pairs as a dict; values are JSON when they parse as JSON, else strings.

    Raises:
        InvalidInputError: a pair has no ``=`` or an empty key.
    """
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidInputError(f"--param {pair!r} is not KEY=VALUE", field="param")
        try:
            params[key.strip()] = json.loads(raw)
        except ValueError:
            params[key.strip()] = raw
    return params


def _print_job(job: JobRecord, as_json: bool) -> None:
    if as_json:
        print(job.model_dump_json(indent=2))
        return
    console.print(
        f"[bold]{job.id}[/] {job.pipeline} [bold]{job.state.value}[/] {job.progress:.0f}% "
        f"attempt {job.attempts}/{job.max_attempts} epoch {job.epoch}  {job.message}"
    )
    if job.error:
        console.print(f"  error: {job.error}", markup=False)
    table = Table("#", "stage", "state", "progress", "runs", "output")
    for stage in job.stages:
        table.add_row(
            str(stage.position),
            stage.name,
            stage.state.value,
            f"{stage.progress * 100:.0f}%",
            str(stage.executions),
            json.dumps(stage.output)[:60] if stage.output else "",
        )
    if job.stages:
        console.print(table)


@jobs_app.command("submit")
def submit(
    pipeline: Annotated[str, typer.Argument(help="Pipeline name, e.g. diagnostic.")],
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="Parameter KEY=VALUE (repeatable).")
    ] = None,
    dedupe_key: Annotated[
        str | None, typer.Option(help="Submit at most once per key (idempotent).")
    ] = None,
    priority: Annotated[int, typer.Option(help="Higher runs first.")] = 0,
    max_attempts: Annotated[int | None, typer.Option(help="Attempts before failing.")] = None,
    wait: Annotated[
        bool, typer.Option("--wait", help="Follow progress until the job ends.")
    ] = False,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Queue a job (a worker or `vantage serve` runs it)."""
    queue = open_queue(settings_from(config))
    job, created = queue.submit(
        pipeline,
        parse_params(param or []),
        dedupe_key=dedupe_key,
        priority=priority,
        max_attempts=max_attempts,
    )
    if not as_json:
        verb = "queued" if created else "already exists (dedupe key)"
        console.print(f"job [bold]{job.id}[/] {verb}: {job.pipeline} {json.dumps(job.params)}")
    if wait:
        # With --json, stdout carries only the JSON document; the progress bar goes to stderr.
        job = follow_job(lambda: queue.get(job.id), err_console if as_json else console)
    if as_json:
        print(job.model_dump_json(indent=2))
    elif wait:
        _print_job(job, as_json=False)


@jobs_app.command("list")
def list_jobs(
    state: Annotated[JobState | None, typer.Option(help="Only jobs in this state.")] = None,
    pipeline: Annotated[str | None, typer.Option(help="Only jobs of this pipeline.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many.")] = 50,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """List jobs, newest first."""
    jobs = open_queue(settings_from(config)).list(state=state, pipeline=pipeline, limit=limit)
    if as_json:
        print(json.dumps([job.model_dump(mode="json") for job in jobs], indent=2))
        return
    table = Table("id", "pipeline", "state", "progress", "attempts", "created", "message")
    for job in jobs:
        table.add_row(
            job.id,
            job.pipeline,
            job.state.value,
            f"{job.progress:.0f}%",
            f"{job.attempts}/{job.max_attempts}",
            job.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            job.message[:50],
        )
    console.print(table)


@jobs_app.command("show")
def show(
    job_id: Annotated[str, typer.Argument(help="Job id.")],
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Show one job with its stages."""
    _print_job(open_queue(settings_from(config)).get(job_id), as_json)


@jobs_app.command("cancel")
def cancel(
    job_id: Annotated[str, typer.Argument(help="Job id.")],
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Cancel a job (a running stage stops at its next progress report)."""
    _print_job(open_queue(settings_from(config)).cancel(job_id), as_json)


@jobs_app.command("retry")
def retry(
    job_id: Annotated[str, typer.Argument(help="Job id.")],
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Queue a failed or cancelled job again; it resumes after its last finished stage."""
    _print_job(open_queue(settings_from(config)).retry(job_id), as_json)
