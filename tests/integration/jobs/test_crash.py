"""A worker process killed mid-stage: another worker resumes the job at the unfinished stage."""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import Engine

from vantage.catalog.models import utcnow
from vantage.config import Settings
from vantage.errors import LeaseLostError
from vantage.jobs.executors.local import worker_process_main
from vantage.jobs.leases import Claim, JobLeases, StageSlot
from vantage.jobs.queue import JobQueue
from vantage.jobs.records import JobState, StageState

from .harness import job_row, stage_rows, wait_for

SPAWN = multiprocessing.get_context("spawn")
DEADLINE_S = 60.0


@contextmanager
def worker_process(
    settings: Settings, worker_id: str
) -> Iterator[multiprocessing.context.SpawnProcess]:
    """A spawned worker process (the same entry point `LocalExecutor` uses)."""
    process = SPAWN.Process(
        target=worker_process_main,
        args=(settings.model_dump(mode="json"), worker_id),
        name=worker_id,
    )
    process.start()
    try:
        yield process
    finally:
        process.terminate()  # SIGTERM: finish the job in hand, then exit
        process.join(30)
        if process.is_alive():
            process.kill()
            process.join(10)


def test_killed_worker_job_resumes_elsewhere(settings: Settings, engine: Engine) -> None:
    queue = JobQueue(engine)
    job, _ = queue.submit("diagnostic", {"stages": 3, "stage_s": 1.5})

    with worker_process(settings, "worker-A") as worker_a:
        wait_for(
            lambda: stage_rows(engine, job.id)[1]["state"] == StageState.RUNNING,
            timeout_s=DEADLINE_S,
            what="worker A to start step-2",
        )
        assert worker_a.pid is not None
        os.kill(worker_a.pid, signal.SIGKILL)
        worker_a.join(10)
        assert worker_a.exitcode == -signal.SIGKILL
    # A's view of the job at the moment it died, as its in-memory claim held it.
    at_death = queue.get(job.id)
    assert at_death.state == JobState.RUNNING
    assert (at_death.epoch, at_death.lease_owner) == (1, "worker-A")
    assert [s.state for s in at_death.stages] == [
        StageState.SUCCEEDED,
        StageState.RUNNING,
        StageState.PENDING,
    ]
    step1_output = at_death.stages[0].output

    with worker_process(settings, "worker-B"):
        final = wait_for(
            lambda: j if (j := queue.get(job.id)).state.terminal else None,
            timeout_s=DEADLINE_S,
            what="worker B to finish the job",
        )
    assert final.state == JobState.SUCCEEDED
    assert final.epoch == 2
    assert final.attempts == 2
    assert final.progress == 100.0
    assert [s.executions for s in final.stages] == [1, 2, 1]
    assert final.stages[0].output == step1_output  # resumed, not re-run
    pids = [s.output["pid"] for s in final.stages if s.output]
    assert pids[0] == worker_a.pid
    assert pids[1] == pids[2] != worker_a.pid

    events = queue.events(job.id)
    expired = [e for e in events if e.kind == "lease_expired"]
    assert len(expired) == 1
    assert (expired[0].worker_id, expired[0].epoch) == ("worker-A", 1)
    claims = [(e.worker_id, e.epoch) for e in events if e.kind == "claimed"]
    assert claims == [("worker-A", 1), ("worker-B", 2)]

    # The killed worker's late write (had it only stalled) is fenced off.
    stale = Claim(
        job_id=job.id,
        pipeline="diagnostic",
        params=final.params,
        epoch=1,
        attempt=1,
        max_attempts=final.max_attempts,
        owner="worker-A",
        stages=[
            StageSlot(0, "step-1", 1.0, StageState.SUCCEEDED, step1_output),
            StageSlot(1, "step-2", 1.0, StageState.RUNNING, None),
            StageSlot(2, "step-3", 1.0, StageState.PENDING, None),
        ],
        lease_expires_at=utcnow() - timedelta(seconds=1),
        outputs={"step-1": step1_output or {}},
    )
    before = job_row(engine, job.id), stage_rows(engine, job.id), len(queue.events(job.id))
    leases = JobLeases(engine, lease_ttl_s=settings.jobs.lease_ttl_s)
    try:
        with pytest.raises(LeaseLostError):
            leases.finish_stage(stale, 1, {"forged": True})
        with pytest.raises(LeaseLostError):
            leases.report_progress(stale, 1, 0.9, "late")
    finally:
        leases.close()
    assert (job_row(engine, job.id), stage_rows(engine, job.id), len(queue.events(job.id))) == (
        before
    )
