"""A rich progress bar that follows one job until it stops, from any source of job snapshots."""

from __future__ import annotations

import time
from collections.abc import Callable

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)

from vantage.errors import JobCancelledError, JobFailedError
from vantage.jobs.records import JobRecord, JobState

#: How often the bar asks for a fresh snapshot of the job.
POLL_INTERVAL_S = 0.2


def follow_job(fetch: Callable[[], JobRecord], console: Console) -> JobRecord:
    """Show the job's progress until it reaches a final state; return the final record.

    Raises:
        JobFailedError: the job failed.
        JobCancelledError: the job was cancelled.
    """
    columns = (
        TextColumn("[bold]{task.fields[stage]:<14}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[message]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        job = fetch()
        task = bar.add_task(job.id, total=100.0, stage=job.state.value, message=job.message)
        while True:
            bar.update(
                task,
                completed=job.progress,
                stage=job.current_stage or job.state.value,
                message=job.message[:60],
            )
            if job.state.terminal:
                break
            time.sleep(POLL_INTERVAL_S)
            job = fetch()
    if job.state == JobState.FAILED:
        raise JobFailedError(f"job {job.id} failed: {job.error or job.message}", job_id=job.id)
    if job.state == JobState.CANCELLED:
        raise JobCancelledError(f"job {job.id} was cancelled", job_id=job.id)
    return job
