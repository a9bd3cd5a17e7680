"""Fenced leases: once a newer claim owns a job, every write of the older one is rejected."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import Engine, update

from vantage.catalog.db import write_tx
from vantage.catalog.models import utcnow
from vantage.errors import LeaseLostError
from vantage.jobs.leases import Claim, JobLeases
from vantage.jobs.queue import JobQueue
from vantage.jobs.records import JobState, StageState

from .harness import JOBS, job_row, row_counts, stage_rows


def expire_lease(engine: Engine, job_id: str) -> None:
    """Make the job's lease lie in the past, as if its worker had stalled for a while."""
    with write_tx(engine) as conn:
        conn.execute(
            update(JOBS)
            .where(JOBS.c.id == job_id)
            .values(lease_expires_at=utcnow() - timedelta(seconds=5))
        )


def claim_as(leases: JobLeases, owner: str) -> Claim:
    claim = leases.claim(owner)
    assert claim is not None, f"{owner} found nothing to claim"
    return claim


def assert_every_write_rejected(leases: JobLeases, stale: Claim) -> None:
    with pytest.raises(LeaseLostError) as caught:
        leases.finish_stage(stale, 0, {"by": "A"})
    assert caught.value.fields == {"job_id": stale.job_id, "epoch": stale.epoch}
    with pytest.raises(LeaseLostError):
        leases.report_progress(stale, 0, 0.5, "A still thinks it runs")
    with pytest.raises(LeaseLostError):
        leases.fail_stage(stale, 0, "A failed", retry_in_s=1.0)
    with pytest.raises(LeaseLostError):
        leases.fail_stage(stale, 0, "A failed", retry_in_s=None)
    with pytest.raises(LeaseLostError):
        leases.cancel_stage(stale, 0)
    assert leases.renew(stale) is False


def test_stale_claim_cannot_write_after_another_worker_claims(
    engine: Engine, queue: JobQueue, leases: JobLeases
) -> None:
    job, _ = queue.submit("diagnostic", {"stages": 2, "stage_s": 0})
    a = claim_as(leases, "worker-A")
    assert (a.job_id, a.epoch, a.attempt, a.next_position) == (job.id, 1, 1, 0)
    assert leases.renew(a) is True
    assert leases.report_progress(a, 0, 0.5, "halfway") is False

    expire_lease(engine, job.id)
    assert leases.reap() == [(job.id, JobState.QUEUED)]
    requeued = queue.get(job.id)
    assert requeued.state == JobState.QUEUED
    assert requeued.lease_owner is None
    assert requeued.stages[0].state == StageState.PENDING
    assert [e.kind for e in queue.events(job.id)][-1] == "lease_expired"

    # Between the reap and the next claim A is already fenced off (the job is not running).
    with pytest.raises(LeaseLostError):
        leases.finish_stage(a, 0, {"by": "A"})

    b = claim_as(leases, "worker-B")
    assert (b.job_id, b.epoch, b.attempt, b.next_position) == (job.id, 2, 2, 0)

    job_before, stages_before, counts_before = (
        job_row(engine, job.id),
        stage_rows(engine, job.id),
        row_counts(engine),
    )
    assert job_before["lease_owner"] == "worker-B"
    assert stages_before[0]["epoch"] == 2
    assert stages_before[0]["executions"] == 2

    assert_every_write_rejected(leases, a)
    # Nothing A tried left a trace: job, stages and the event log are exactly as B left them.
    assert job_row(engine, job.id) == job_before
    assert stage_rows(engine, job.id) == stages_before
    assert row_counts(engine) == counts_before

    assert leases.finish_stage(b, 0, {"by": "B", "n": 0}) == 1
    assert leases.finish_stage(b, 1, {"by": "B", "n": 1}) is None
    final = queue.get(job.id)
    assert final.state == JobState.SUCCEEDED
    assert final.epoch == 2
    assert final.progress == 100.0
    assert [s.output for s in final.stages] == [{"by": "B", "n": 0}, {"by": "B", "n": 1}]
    assert [s.executions for s in final.stages] == [2, 1]

    # Even after the job is done, A's late writes change nothing.
    done = job_row(engine, job.id), stage_rows(engine, job.id)
    assert_every_write_rejected(leases, a)
    assert (job_row(engine, job.id), stage_rows(engine, job.id)) == done


def test_tiny_lease_ttl_expires_on_its_own(
    engine: Engine, queue: JobQueue, request: pytest.FixtureRequest
) -> None:
    short = JobLeases(engine, lease_ttl_s=0.001)
    request.addfinalizer(short.close)
    job, _ = queue.submit("diagnostic", {"stages": 1, "stage_s": 0})
    a = claim_as(short, "worker-A")
    reaped: list[tuple[str, JobState]] = []
    deadline = utcnow() + timedelta(seconds=10)
    while not reaped and utcnow() < deadline:
        time.sleep(0.005)
        reaped = short.reap()
    assert reaped == [(job.id, JobState.QUEUED)]
    b = claim_as(short, "worker-B")
    assert b.epoch == a.epoch + 1
    with pytest.raises(LeaseLostError):
        short.finish_stage(a, 0, {"by": "A"})
    # B's lease may have lapsed too, but nobody reaped it: B still holds epoch 2.
    assert short.finish_stage(b, 0, {"by": "B"}) is None
    assert queue.get(job.id).stages[0].output == {"by": "B"}


def test_reap_fails_a_job_out_of_attempts(
    engine: Engine, queue: JobQueue, leases: JobLeases
) -> None:
    job, _ = queue.submit("diagnostic", {"stages": 2, "stage_s": 0}, max_attempts=1)
    claim_as(leases, "worker-A")
    expire_lease(engine, job.id)
    assert leases.reap() == [(job.id, JobState.FAILED)]
    final = queue.get(job.id)
    assert final.state == JobState.FAILED
    assert final.error and "expired" in final.error
    assert final.finished_at is not None
    assert [s.state for s in final.stages] == [StageState.FAILED, StageState.PENDING]
    assert leases.claim("worker-B") is None


def test_live_lease_is_not_reaped(engine: Engine, queue: JobQueue, leases: JobLeases) -> None:
    queue.submit("diagnostic", {"stages": 1, "stage_s": 0})
    claim = claim_as(leases, "worker-A")
    assert leases.reap() == []
    assert leases.claim("worker-B") is None  # running jobs are not claimable
    assert leases.finish_stage(claim, 0, {}) is None


def test_renew_extends_the_lease(engine: Engine, queue: JobQueue, leases: JobLeases) -> None:
    job, _ = queue.submit("diagnostic", {"stages": 1, "stage_s": 0})
    claim = claim_as(leases, "worker-A")
    first = claim.lease_expires_at
    expire_lease(engine, job.id)
    assert leases.renew(claim) is True  # still ours: nobody reaped it yet
    assert claim.lease_expires_at >= first
    assert job_row(engine, job.id)["lease_expires_at"] > utcnow()
    assert leases.reap() == []


def test_cancel_requested_job_is_not_rerun_after_its_worker_dies(
    engine: Engine, queue: JobQueue, leases: JobLeases
) -> None:
    job, _ = queue.submit("diagnostic", {"stages": 2, "stage_s": 0})
    claim_as(leases, "worker-A")
    assert queue.cancel(job.id).cancel_requested  # running: cancel at the next report...
    expire_lease(engine, job.id)  # ...which never comes: worker A died
    leases.reap()
    assert queue.get(job.id).state == JobState.CANCELLED
    assert leases.claim("worker-B") is None
