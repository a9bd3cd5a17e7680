"""The job queue on SQLite and PostgreSQL: submit, dedupe, cancel, retry, backoff, events."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from vantage.config import Settings
from vantage.errors import (
    DedupeConflictError,
    InvalidInputError,
    InvalidParamsError,
    InvalidTransitionError,
    JobNotFoundError,
    UnknownPipelineError,
)
from vantage.jobs.queue import JobQueue
from vantage.jobs.records import JobRecord, JobState, StageState

from .harness import row_counts, wait_for, with_jobs, worker_thread

#: Generous: a 2-core machine running both databases and other tests at once.
DEADLINE_S = 30.0


def wait_state(queue: JobQueue, job_id: str, *states: JobState) -> JobRecord:
    return wait_for(
        lambda: job if (job := queue.get(job_id)).state in states else None,
        timeout_s=DEADLINE_S,
        what=f"job {job_id} to reach {'/'.join(states)}",
    )


def wait_stage_running(queue: JobQueue, job_id: str, position: int) -> JobRecord:
    def running() -> JobRecord | None:
        job = queue.get(job_id)
        return job if job.stages[position].state == StageState.RUNNING else None

    return wait_for(running, timeout_s=DEADLINE_S, what=f"stage {position} of {job_id} to run")


def kinds(queue: JobQueue, job_id: str) -> list[str]:
    return [event.kind for event in queue.events(job_id)]


# -- submit, read, list -----------------------------------------------------------------------


def test_submit_get_list(queue: JobQueue) -> None:
    job, created = queue.submit("diagnostic", {"stages": 2, "stage_s": 0.5}, priority=3)
    assert created
    assert len(job.id) == 32
    assert job.state == JobState.QUEUED
    assert job.params == {"stages": 2, "stage_s": 0.5, "fail_rate": 0.0}  # normalised
    assert (job.priority, job.attempts, job.max_attempts, job.epoch) == (3, 0, 3, 0)
    assert job.progress == 0.0
    assert [(s.position, s.name, s.state, s.executions) for s in job.stages] == [
        (0, "step-1", StageState.PENDING, 0),
        (1, "step-2", StageState.PENDING, 0),
    ]
    assert job.created_at.tzinfo is not None
    assert queue.get(job.id) == job
    assert kinds(queue, job.id) == ["submitted"]

    other, _ = queue.submit("diagnostic", {"stages": 1}, max_attempts=5)
    assert other.max_attempts == 5
    listed = queue.list()
    assert [j.id for j in listed] == [other.id, job.id]  # newest first
    assert listed[0].stages == []  # the list leaves stages out
    assert [j.id for j in queue.list(limit=1)] == [other.id]
    assert [j.id for j in queue.list(before_id=other.id)] == [job.id]
    assert queue.list(state=JobState.RUNNING) == []
    assert len(queue.list(state=JobState.QUEUED, pipeline="diagnostic")) == 2
    assert queue.list(pipeline="other") == []
    assert queue.counts_by_state()["queued"] == 2
    assert set(queue.counts_by_state()) == {state.value for state in JobState}


# -- dedupe -----------------------------------------------------------------------------------


def test_dedupe_key_returns_the_same_job(queue: JobQueue, engine: Engine) -> None:
    first, created = queue.submit("diagnostic", {"stages": 2}, dedupe_key="scan-17")
    assert created
    before = row_counts(engine)
    again, created_again = queue.submit("diagnostic", {"stages": 2}, dedupe_key="scan-17")
    assert not created_again
    assert again.id == first.id
    # Equal after normalisation: defaults spelled out are the same parameters.
    same, created_same = queue.submit(
        "diagnostic", {"stages": 2, "stage_s": 1.0}, dedupe_key="scan-17"
    )
    assert (same.id, created_same) == (first.id, False)
    assert row_counts(engine) == before


def test_dedupe_key_with_other_params_conflicts(queue: JobQueue, engine: Engine) -> None:
    first, _ = queue.submit("diagnostic", {"stages": 2}, dedupe_key="scan-18")
    before = row_counts(engine)
    with pytest.raises(DedupeConflictError) as caught:
        queue.submit("diagnostic", {"stages": 3}, dedupe_key="scan-18")
    assert caught.value.fields["job_id"] == first.id
    assert caught.value.http_status == 409
    assert row_counts(engine) == before


@pytest.mark.parametrize("key", ["", "k" * 256])
def test_bad_dedupe_key(queue: JobQueue, engine: Engine, key: str) -> None:
    with pytest.raises(InvalidInputError, match="dedupe_key"):
        queue.submit("diagnostic", {}, dedupe_key=key)
    assert row_counts(engine)["jobs"] == 0


def test_concurrent_dedupe_submits_make_one_job(queue: JobQueue, engine: Engine) -> None:
    threads_n = 8
    barrier = threading.Barrier(threads_n)
    results: list[tuple[str, bool]] = []
    failures: list[BaseException] = []
    lock = threading.Lock()

    def submit() -> None:
        try:
            barrier.wait(timeout=30)
            job, created = queue.submit("diagnostic", {"stages": 1}, dedupe_key="race")
            with lock:
                results.append((job.id, created))
        except BaseException as exc:
            with lock:
                failures.append(exc)

    threads = [threading.Thread(target=submit) for _ in range(threads_n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not failures, failures
    assert len(results) == threads_n
    assert len({job_id for job_id, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    assert row_counts(engine) == {"jobs": 1, "job_stages": 1, "job_events": 1}


# -- bad input writes nothing -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("pipeline", "params", "options", "error"),
    [
        ("nope", {}, {}, UnknownPipelineError),
        ("diagnostic", {"stages": -1}, {}, InvalidParamsError),
        ("diagnostic", {"stages": "many"}, {}, InvalidParamsError),
        ("diagnostic", {"colour": "red"}, {}, InvalidParamsError),
        ("diagnostic", {}, {"max_attempts": 0}, InvalidInputError),
    ],
    ids=["unknown pipeline", "bad value", "bad type", "unknown key", "bad max_attempts"],
)
def test_bad_input_writes_nothing(
    queue: JobQueue,
    engine: Engine,
    pipeline: str,
    params: dict[str, Any],
    options: dict[str, Any],
    error: type[Exception],
) -> None:
    queue.submit("diagnostic", {"stages": 1})  # something already there, to count against
    before = row_counts(engine)
    with pytest.raises(error):
        queue.submit(pipeline, params, dedupe_key="k", **options)
    assert row_counts(engine) == before


def test_unknown_job_id(queue: JobQueue) -> None:
    for action in (queue.get, queue.cancel, queue.retry):
        with pytest.raises(JobNotFoundError) as caught:
            action("0" * 32)
        assert caught.value.fields["job_id"] == "0" * 32
    assert queue.events("0" * 32) == []


# -- cancel -----------------------------------------------------------------------------------


def test_cancel_queued_is_immediate(queue: JobQueue) -> None:
    job, _ = queue.submit("diagnostic", {"stages": 2})
    cancelled = queue.cancel(job.id)
    assert cancelled.state == JobState.CANCELLED
    assert cancelled.cancel_requested
    assert cancelled.finished_at is not None
    assert kinds(queue, job.id) == ["submitted", "cancelled"]
    # Cancelling again changes nothing.
    assert queue.cancel(job.id) == cancelled
    assert kinds(queue, job.id) == ["submitted", "cancelled"]


def test_cancel_running_stops_the_stage(
    queue: JobQueue, engine: Engine, settings: Settings
) -> None:
    job, _ = queue.submit("diagnostic", {"stages": 2, "stage_s": 30})
    with worker_thread(engine, settings):
        wait_stage_running(queue, job.id, 0)
        requested = queue.cancel(job.id)
        assert requested.cancel_requested
        final = wait_state(queue, job.id, JobState.CANCELLED, JobState.FAILED, JobState.SUCCEEDED)
    assert final.state == JobState.CANCELLED
    assert [s.state for s in final.stages] == [StageState.CANCELLED, StageState.PENDING]
    assert final.lease_owner is None
    events = kinds(queue, job.id)
    assert events.index("cancel_requested") < events.index("cancelled")
    assert events[-1] == "cancelled"


def test_cancel_succeeded_is_invalid(queue: JobQueue, engine: Engine, settings: Settings) -> None:
    job, _ = queue.submit("diagnostic", {"stages": 1, "stage_s": 0})
    with worker_thread(engine, settings):
        wait_state(queue, job.id, JobState.SUCCEEDED)
    with pytest.raises(InvalidTransitionError) as caught:
        queue.cancel(job.id)
    assert caught.value.fields == {"job_id": job.id, "state": "succeeded"}
    with pytest.raises(InvalidTransitionError):
        queue.retry(job.id)
    assert queue.get(job.id).state == JobState.SUCCEEDED


def test_retry_of_queued_is_invalid(queue: JobQueue) -> None:
    job, _ = queue.submit("diagnostic", {})
    with pytest.raises(InvalidTransitionError):
        queue.retry(job.id)


# -- retry resumes ----------------------------------------------------------------------------


def test_cancelled_job_retried_resumes_after_finished_stages(
    queue: JobQueue, engine: Engine, settings: Settings
) -> None:
    job, _ = queue.submit("diagnostic", {"stages": 3, "stage_s": 0.6})
    with worker_thread(engine, settings, worker_id="first"):
        wait_stage_running(queue, job.id, 1)
        queue.cancel(job.id)
        cancelled = wait_state(queue, job.id, JobState.CANCELLED)
    assert [s.state for s in cancelled.stages] == [
        StageState.SUCCEEDED,
        StageState.CANCELLED,
        StageState.PENDING,
    ]
    step1_output = cancelled.stages[0].output

    retried = queue.retry(job.id)
    assert retried.state == JobState.QUEUED
    assert (retried.attempts, retried.cancel_requested, retried.finished_at) == (0, False, None)
    assert [s.state for s in retried.stages] == [
        StageState.SUCCEEDED,
        StageState.PENDING,
        StageState.PENDING,
    ]

    with worker_thread(engine, settings, worker_id="second"):
        final = wait_state(queue, job.id, JobState.SUCCEEDED, JobState.FAILED)
    assert final.state == JobState.SUCCEEDED
    assert [s.executions for s in final.stages] == [1, 2, 1]
    assert final.stages[0].output == step1_output  # not re-run
    assert [s.output["position"] for s in final.stages if s.output] == [0, 1, 2]
    assert final.epoch == 2
    assert final.progress == 100.0
    events = queue.events(job.id)
    assert [e.kind for e in events].count("retried") == 1
    claims = [e for e in events if e.kind == "claimed"]
    assert [(e.worker_id, e.epoch) for e in claims] == [("first", 1), ("second", 2)]
    started = [(e.stage, e.epoch) for e in events if e.kind == "stage_started"]
    assert started == [("step-1", 1), ("step-2", 1), ("step-2", 2), ("step-3", 2)]


def test_failed_job_retried_resumes(queue: JobQueue, engine: Engine, settings: Settings) -> None:
    """A permanently failed stage keeps its finished predecessors when the job is retried."""
    job, _ = queue.submit("diagnostic", {"stages": 1, "stage_s": 0, "fail_rate": 1}, max_attempts=1)
    with worker_thread(engine, settings):
        failed = wait_state(queue, job.id, JobState.FAILED)
    assert failed.attempts == 1
    assert failed.error and "failed on purpose" in failed.error
    assert failed.stages[0].state == StageState.FAILED
    retried = queue.retry(job.id)
    assert retried.state == JobState.QUEUED
    assert retried.error is None
    assert retried.stages[0].state == StageState.PENDING


# -- retries with backoff ---------------------------------------------------------------------


def test_failing_job_retries_with_backoff_then_fails(
    queue: JobQueue, engine: Engine, settings: Settings
) -> None:
    base_s, max_s = 0.4, 2.0
    fast = with_jobs(settings, retry_backoff_base_s=base_s, retry_backoff_max_s=max_s)
    job, _ = queue.submit("diagnostic", {"stages": 1, "stage_s": 0, "fail_rate": 1}, max_attempts=3)
    with worker_thread(engine, fast):
        final = wait_state(queue, job.id, JobState.FAILED, JobState.SUCCEEDED)
    assert final.state == JobState.FAILED
    assert final.attempts == 3
    assert final.finished_at is not None
    assert final.stages[0].executions == 3
    events = queue.events(job.id)
    names = [e.kind for e in events]
    assert names.count("retry_scheduled") == 2
    assert names.count("failed") == 1
    assert names[-1] == "failed"
    claims = [e for e in events if e.kind == "claimed"]
    retries = [e for e in events if e.kind == "retry_scheduled"]
    assert [c.epoch for c in claims] == [1, 2, 3]
    # The next claim comes no sooner than the lower bound of attempt n's backoff band.
    for attempt, (scheduled, next_claim) in enumerate(zip(retries, claims[1:], strict=True), 1):
        lower_s = min(max_s, base_s * 2 ** (attempt - 1)) / 2
        assert next_claim.at - scheduled.at >= timedelta(seconds=lower_s) - timedelta(
            microseconds=2
        )
        assert next_claim.at - claims[attempt - 1].at >= timedelta(seconds=lower_s)


# -- progress and the event log ---------------------------------------------------------------


def test_progress_reaches_100_and_events_are_in_order(
    queue: JobQueue, engine: Engine, settings: Settings
) -> None:
    job, _ = queue.submit("diagnostic", {"stages": 2, "stage_s": 0.4})
    with worker_thread(engine, settings, worker_id="w1"):
        final = wait_state(queue, job.id, JobState.SUCCEEDED, JobState.FAILED)
    assert final.state == JobState.SUCCEEDED
    assert final.progress == 100.0
    assert final.message == "succeeded"
    assert (final.attempts, final.epoch, final.lease_owner, final.current_stage) == (
        1,
        1,
        None,
        None,
    )
    assert final.started_at is not None and final.finished_at is not None
    assert final.started_at <= final.finished_at
    assert all(s.state == StageState.SUCCEEDED and s.progress == 1.0 for s in final.stages)
    assert all(s.executions == 1 for s in final.stages)

    events = queue.events(job.id)
    assert [e.id for e in events] == sorted(e.id for e in events)
    milestones = [(e.kind, e.stage) for e in events if e.kind != "progress"]
    assert milestones == [
        ("submitted", None),
        ("claimed", None),
        ("stage_started", "step-1"),
        ("stage_succeeded", "step-1"),
        ("stage_started", "step-2"),
        ("stage_succeeded", "step-2"),
        ("succeeded", None),
    ]
    assert any(e.kind == "progress" for e in events)
    progress = [e.progress for e in events]
    assert progress == sorted(progress)  # never goes backwards
    assert progress[-1] == 100.0
    assert all(e.worker_id == "w1" for e in events[1:])
    # Paging through the log with after_id.
    assert queue.events(job.id, after_id=events[2].id, limit=2) == events[3:5]


def test_priority_then_age_decides_claim_order(
    queue: JobQueue, engine: Engine, settings: Settings
) -> None:
    low, _ = queue.submit("diagnostic", {"stages": 1, "stage_s": 0})
    high, _ = queue.submit("diagnostic", {"stages": 1, "stage_s": 0}, priority=5)
    later, _ = queue.submit("diagnostic", {"stages": 1, "stage_s": 0})
    with worker_thread(engine, settings):
        for job in (low, high, later):
            wait_state(queue, job.id, JobState.SUCCEEDED)
    started = {j.id: queue.get(j.id).started_at for j in (low, high, later)}
    assert started[high.id] <= started[low.id] <= started[later.id]  # type: ignore[operator]
