"""A stage that fails after its job was asked to cancel ends the job cancelled, not retried."""

from __future__ import annotations

from sqlalchemy import Engine

from vantage.config import Settings
from vantage.jobs.leases import JobLeases
from vantage.jobs.queue import JobQueue
from vantage.jobs.records import JobState, StageState

from .harness import stage_rows


def test_failure_after_cancel_request_cancels(settings: Settings, engine: Engine) -> None:
    queue = JobQueue(engine)
    job, _ = queue.submit("diagnostic", {"stages": 2, "stage_s": 0}, max_attempts=5)
    leases = JobLeases(engine, lease_ttl_s=settings.jobs.lease_ttl_s)
    claim = leases.claim("worker-A")
    assert claim is not None and claim.job_id == job.id

    assert queue.cancel(job.id).cancel_requested  # running: only a request
    state = leases.fail_stage(claim, 0, "boom", retry_in_s=0.0)

    assert state == JobState.CANCELLED
    final = queue.get(job.id)
    assert final.state == JobState.CANCELLED
    assert final.finished_at is not None and final.lease_owner is None
    assert stage_rows(engine, job.id)[0]["state"] == StageState.CANCELLED
    assert leases.claim("worker-B") is None  # nothing was put back in the queue
    kinds = [event.kind for event in queue.events(job.id)]
    assert kinds[-2:] == ["cancel_requested", "cancelled"]
    leases.close()


def test_failure_without_cancel_request_retries(settings: Settings, engine: Engine) -> None:
    queue = JobQueue(engine)
    job, _ = queue.submit("diagnostic", {"stages": 1, "stage_s": 0}, max_attempts=2)
    leases = JobLeases(engine, lease_ttl_s=settings.jobs.lease_ttl_s)
    claim = leases.claim("worker-A")
    assert claim is not None

    assert leases.fail_stage(claim, 0, "boom", retry_in_s=0.0) == JobState.QUEUED
    again = leases.claim("worker-B")
    assert again is not None and again.job_id == job.id and again.epoch == 2
    assert leases.fail_stage(again, 0, "boom", retry_in_s=0.0) == JobState.FAILED
    assert queue.get(job.id).error == "boom"
    leases.close()
