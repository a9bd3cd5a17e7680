"""The client side of the job queue: submit, read, list, cancel, retry, and read the event log.

Workers use `vantage.jobs.leases` instead. Both write through the catalog, so a job's state is
durable and the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import builtins
import os
import secrets
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Engine, Table, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from vantage.catalog.db import read_tx, write_tx
from vantage.catalog.models import Job, JobEvent, JobStage, utcnow
from vantage.errors import (
    DedupeConflictError,
    InvalidInputError,
    InvalidTransitionError,
    JobNotFoundError,
)
from vantage.jobs.pipeline import get_pipeline
from vantage.jobs.records import (
    EventRecord,
    JobRecord,
    JobState,
    NotifyTargets,
    StageRecord,
    StageState,
)

JOBS = cast(Table, Job.__table__)
STAGES = cast(Table, JobStage.__table__)
EVENTS = cast(Table, JobEvent.__table__)


def new_job_id() -> str:
    """A 32-hex-digit id that sorts by creation time (48-bit ms clock + 80 random bits)."""
    return f"{int(time.time() * 1000):012x}{secrets.token_hex(10)}"


def event_row(
    job_id: str,
    kind: str,
    state: str,
    *,
    at: datetime,
    progress: float = 0.0,
    message: str = "",
    stage: str | None = None,
    epoch: int = 0,
    worker_id: str | None = None,
) -> dict[str, Any]:
    """One row for the job event log."""
    return {
        "job_id": job_id,
        "at": at,
        "kind": kind,
        "state": state,
        "stage": stage,
        "progress": progress,
        "message": message,
        "epoch": epoch,
        "worker_id": worker_id,
    }


class JobQueue:
    """Submit and manage jobs in the catalog."""

    def __init__(self, engine: Engine, *, default_max_attempts: int = 3) -> None:
        self.engine = engine
        self.default_max_attempts = default_max_attempts

    def submit(
        self,
        pipeline: str,
        params: Mapping[str, Any] | None = None,
        *,
        dedupe_key: str | None = None,
        priority: int = 0,
        max_attempts: int | None = None,
        notify: NotifyTargets | None = None,
    ) -> tuple[JobRecord, bool]:
        """Queue a job; returns it and whether it was created (False: dedupe key matched).

        ``notify`` names who hears when the job succeeds or fails for good; a dedupe match
        keeps the existing job's targets.

        Raises:
            UnknownPipelineError: no such pipeline.
            InvalidParamsError: the parameters do not fit the pipeline.
            DedupeConflictError: the dedupe key belongs to a job with other pipeline/params.
        """
        definition = get_pipeline(pipeline)
        validated = definition.validate_params(params or {})
        stages = definition.stages_for(validated)
        normalized = validated.model_dump(mode="json")
        attempts = max_attempts if max_attempts is not None else self.default_max_attempts
        if attempts < 1:
            raise InvalidInputError("max_attempts must be at least 1", field="max_attempts")
        if dedupe_key is not None:
            if not dedupe_key or len(dedupe_key) > 255:
                raise InvalidInputError("dedupe_key must be 1–255 characters", field="dedupe_key")
            existing = self._by_dedupe_key(dedupe_key, pipeline, normalized)
            if existing is not None:
                return existing, False
        job_id = new_job_id()
        now = utcnow()
        try:
            with write_tx(self.engine) as conn:
                conn.execute(
                    insert(JOBS).values(
                        id=job_id,
                        pipeline=pipeline,
                        params=normalized,
                        state=JobState.QUEUED,
                        priority=priority,
                        dedupe_key=dedupe_key,
                        attempts=0,
                        max_attempts=attempts,
                        run_after=now,
                        epoch=0,
                        cancel_requested=False,
                        progress=0.0,
                        message="queued",
                        created_at=now,
                        updated_at=now,
                        notify=notify.stored() if notify is not None else None,
                    )
                )
                conn.execute(
                    insert(STAGES),
                    [
                        {
                            "job_id": job_id,
                            "position": position,
                            "name": stage.name,
                            "weight": stage.weight,
                            "state": StageState.PENDING,
                            "progress": 0.0,
                            "executions": 0,
                        }
                        for position, stage in enumerate(stages)
                    ],
                )
                conn.execute(
                    insert(EVENTS).values(
                        event_row(job_id, "submitted", JobState.QUEUED, at=now, message="queued")
                    )
                )
        except IntegrityError:
            if dedupe_key is None:
                raise
            # Another submitter won the race for this key: theirs is the job.
            existing = self._by_dedupe_key(dedupe_key, pipeline, normalized)
            if existing is None:
                raise
            return existing, False
        return self.get(job_id), True

    def _by_dedupe_key(
        self, dedupe_key: str, pipeline: str, params: dict[str, Any]
    ) -> JobRecord | None:
        with read_tx(self.engine) as conn:
            job_id = conn.scalar(select(JOBS.c.id).where(JOBS.c.dedupe_key == dedupe_key))
            if job_id is None:
                return None
            job = _load(conn, job_id)
        if job.pipeline != pipeline or job.params != params:
            raise DedupeConflictError(
                f"dedupe key {dedupe_key!r} belongs to job {job.id} "
                f"with pipeline {job.pipeline!r} and other parameters",
                job_id=job.id,
                dedupe_key=dedupe_key,
            )
        return job

    def get(self, job_id: str) -> JobRecord:
        """The job with its stages.

        Raises:
            JobNotFoundError: no job has that id.
        """
        with read_tx(self.engine) as conn:
            return _load(conn, job_id)

    def list(
        self,
        *,
        state: JobState | None = None,
        pipeline: str | None = None,
        limit: int = 50,
        before_id: str | None = None,
    ) -> builtins.list[JobRecord]:
        """Jobs, newest first, without their stages (page with ``before_id``)."""
        query = select(JOBS).order_by(JOBS.c.id.desc()).limit(max(1, min(limit, 1000)))
        if state is not None:
            query = query.where(JOBS.c.state == state)
        if pipeline is not None:
            query = query.where(JOBS.c.pipeline == pipeline)
        if before_id is not None:
            query = query.where(JOBS.c.id < before_id)
        with read_tx(self.engine) as conn:
            return [JobRecord.model_validate(row._mapping) for row in conn.execute(query)]

    def cancel(self, job_id: str) -> JobRecord:
        """Cancel a job: at once if queued, at its next progress report if running.

        Cancelling a cancelled job changes nothing.

        Raises:
            JobNotFoundError: no job has that id.
            InvalidTransitionError: the job already succeeded or failed.
        """
        now = utcnow()
        with write_tx(self.engine) as conn:
            job = _load(conn, job_id, with_stages=False)
            if job.state == JobState.QUEUED:
                conn.execute(
                    update(JOBS)
                    .where(JOBS.c.id == job_id)
                    .values(
                        state=JobState.CANCELLED,
                        cancel_requested=True,
                        message="cancelled",
                        finished_at=now,
                        updated_at=now,
                    )
                )
                kind, state = "cancelled", JobState.CANCELLED
            elif job.state == JobState.RUNNING:
                conn.execute(
                    update(JOBS)
                    .where(JOBS.c.id == job_id)
                    .values(cancel_requested=True, updated_at=now)
                )
                kind, state = "cancel_requested", JobState.RUNNING
            elif job.state == JobState.CANCELLED:
                return _load(conn, job_id)
            else:
                raise InvalidTransitionError(
                    f"job {job_id} already {job.state}; it cannot be cancelled",
                    job_id=job_id,
                    state=str(job.state),
                )
            conn.execute(
                insert(EVENTS).values(
                    event_row(job_id, kind, state, at=now, progress=job.progress, epoch=job.epoch)
                )
            )
            # Read back in the same transaction: a fast worker must not make us report a state
            # newer than the one we wrote.
            return _load(conn, job_id)

    def retry(self, job_id: str) -> JobRecord:
        """Queue a failed or cancelled job again; it resumes after its last finished stage.

        Raises:
            JobNotFoundError: no job has that id.
            InvalidTransitionError: the job is queued, running or succeeded.
        """
        now = utcnow()
        with write_tx(self.engine) as conn:
            job = _load(conn, job_id, with_stages=False)
            if job.state not in (JobState.FAILED, JobState.CANCELLED):
                raise InvalidTransitionError(
                    f"job {job_id} is {job.state}; only failed or cancelled jobs can be retried",
                    job_id=job_id,
                    state=str(job.state),
                )
            conn.execute(
                update(JOBS)
                .where(JOBS.c.id == job_id)
                .values(
                    state=JobState.QUEUED,
                    attempts=0,
                    cancel_requested=False,
                    error=None,
                    message="queued for retry",
                    run_after=now,
                    finished_at=None,
                    updated_at=now,
                )
            )
            conn.execute(
                update(STAGES)
                .where(STAGES.c.job_id == job_id, STAGES.c.state != StageState.SUCCEEDED)
                .values(state=StageState.PENDING, progress=0.0)
            )
            conn.execute(
                insert(EVENTS).values(
                    event_row(
                        job_id,
                        "retried",
                        JobState.QUEUED,
                        at=now,
                        progress=job.progress,
                        message="queued for retry",
                        epoch=job.epoch,
                    )
                )
            )
            return _load(conn, job_id)

    def events(
        self, job_id: str, *, after_id: int = 0, limit: int = 500
    ) -> builtins.list[EventRecord]:
        """The job's events with ids above ``after_id``, oldest first."""
        query = (
            select(EVENTS)
            .where(EVENTS.c.job_id == job_id, EVENTS.c.id > after_id)
            .order_by(EVENTS.c.id)
            .limit(limit)
        )
        with read_tx(self.engine) as conn:
            return [EventRecord.model_validate(row._mapping) for row in conn.execute(query)]

    def counts_by_state(self) -> dict[str, int]:
        """How many jobs are in each state (every state present, zero if none)."""
        query = select(JOBS.c.state, func.count()).group_by(JOBS.c.state)
        counts = {state.value: 0 for state in JobState}
        with read_tx(self.engine) as conn:
            for state, count in conn.execute(query):
                counts[state] = count
        return counts


def _load(conn: Connection, job_id: str, *, with_stages: bool = True) -> JobRecord:
    row = conn.execute(select(JOBS).where(JOBS.c.id == job_id)).first()
    if row is None:
        raise JobNotFoundError(f"no job with id {job_id!r}", job_id=job_id)
    stages: list[StageRecord] = []
    if with_stages:
        query = select(STAGES).where(STAGES.c.job_id == job_id).order_by(STAGES.c.position)
        stages = [StageRecord.model_validate(r._mapping) for r in conn.execute(query)]
    return JobRecord.model_validate({**row._mapping, "stages": stages})


def worker_identity() -> str:
    """A default worker id: host, pid and a short random suffix."""
    return f"{os.uname().nodename}-{os.getpid()}-{secrets.token_hex(3)}"
