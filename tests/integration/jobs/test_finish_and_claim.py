"""Finishing a job's last stage and claiming the next job in one write (both databases)."""

from __future__ import annotations

from sqlalchemy import Engine

from vantage.jobs.leases import JobLeases
from vantage.jobs.queue import JobQueue
from vantage.jobs.records import JobState, StageState

from .harness import job_row, stage_rows
from .test_fencing import claim_as, expire_lease


def test_finish_last_stage_claims_the_next_job(engine: Engine, leases: JobLeases) -> None:
    queue = JobQueue(engine)
    first, _ = queue.submit("diagnostic", {"stages": 1, "stage_s": 0})
    second, _ = queue.submit("diagnostic", {"stages": 2, "stage_s": 0})
    claim = claim_as(leases, "worker-A")
    assert claim.job_id == first.id

    fenced, following = leases.finish_last_and_claim(claim, {"done": 1})

    assert fenced
    done = queue.get(first.id)
    assert (done.state, done.progress, done.lease_owner) == (JobState.SUCCEEDED, 100.0, None)
    assert done.stages[0].output == {"done": 1}
    assert [e.kind for e in queue.events(first.id)][-2:] == ["stage_succeeded", "succeeded"]
    assert following is not None
    assert (following.job_id, following.epoch, following.owner) == (second.id, 1, "worker-A")
    assert [slot.name for slot in following.stages] == ["step-1", "step-2"]
    assert job_row(engine, second.id)["lease_owner"] == "worker-A"
    assert [r["state"] for r in stage_rows(engine, second.id)] == ["running", "pending"]
    assert [e.kind for e in queue.events(second.id)] == ["submitted", "claimed", "stage_started"]

    assert leases.finish_stage(following, 0, {"step": 1}) == 1
    fenced, nothing = leases.finish_last_and_claim(following, {"step": 2})
    assert fenced and nothing is None
    assert queue.get(second.id).state == JobState.SUCCEEDED


def test_finish_rejected_by_the_fence_still_claims(engine: Engine, leases: JobLeases) -> None:
    queue = JobQueue(engine)
    first, _ = queue.submit("diagnostic", {"stages": 1, "stage_s": 0})
    stale = claim_as(leases, "worker-A")
    expire_lease(engine, first.id)
    assert leases.reap() == [(first.id, JobState.QUEUED)]
    newer = claim_as(leases, "worker-B")
    second, _ = queue.submit("diagnostic", {"stages": 1, "stage_s": 0})
    before = stage_rows(engine, first.id)

    fenced, following = leases.finish_last_and_claim(stale, {"by": "A"})

    assert not fenced
    assert stage_rows(engine, first.id) == before  # A wrote nothing to B's job
    assert job_row(engine, first.id)["lease_owner"] == "worker-B"
    assert following is not None and following.job_id == second.id
    leases.finish_stage(newer, 0, {"by": "B"})
    assert queue.get(first.id).stages[0].output == {"by": "B"}
    assert queue.get(first.id).stages[0].state == StageState.SUCCEEDED


def test_nothing_due_claims_nothing(engine: Engine, leases: JobLeases) -> None:
    queue = JobQueue(engine)
    only, _ = queue.submit("diagnostic", {"stages": 1, "stage_s": 0})
    claim = claim_as(leases, "worker-A")
    fenced, following = leases.finish_last_and_claim(claim, {})
    assert fenced and following is None
    assert queue.get(only.id).state == JobState.SUCCEEDED
