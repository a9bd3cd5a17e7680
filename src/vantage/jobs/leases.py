"""The worker side of the job queue: claim with a lease, fenced stage writes, renewal, reaping.

Every claim increments the job's fencing ``epoch``. Every later write by the claiming worker is
an UPDATE guarded by ``id = :id AND epoch = :epoch AND state = 'running'`` in the same
transaction as the rest of the write; when the guard matches no row the whole transaction rolls
back with `LeaseLostError`, so a worker that lost its lease (it stalled, was partitioned, or its
lease expired and another worker claimed the job) can never overwrite newer work.

PostgreSQL claims with ``FOR UPDATE SKIP LOCKED`` so concurrent workers never wait on each
other; SQLite claims inside ``BEGIN IMMEDIATE`` (see `vantage.catalog.db`), one writer at a time.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    func,
    insert,
    literal,
    literal_column,
    select,
    update,
)
from sqlalchemy.sql import ColumnElement, and_

from vantage.catalog.db import write_tx
from vantage.catalog.models import UTCDateTime, utcnow
from vantage.errors import LeaseLostError
from vantage.jobs.claims import (
    Claim,
    StageSlot,
    claim_event,
    claim_from,
    lease_lost,
    stage_succeeded_event,
)
from vantage.jobs.pg_fastpath import PgFastPath, finish_values
from vantage.jobs.queue import EVENTS, JOBS, STAGES, event_row
from vantage.jobs.records import JobState, StageState

__all__ = ["Claim", "JobLeases", "StageSlot"]

# Literals, not bound parameters, so the planners can use the partial indexes on state.
_QUEUED: ColumnElement[str] = literal_column("'queued'")
_RUNNING: ColumnElement[str] = literal_column("'running'")


class JobLeases:
    """Claims jobs and writes their progress under the fencing epoch."""

    def __init__(self, engine: Engine, *, lease_ttl_s: float) -> None:
        self.engine = engine
        self.lease_ttl = timedelta(seconds=lease_ttl_s)
        self._skip_locked = engine.dialect.name == "postgresql"
        self._fast = PgFastPath(engine) if self._skip_locked else None

    def close(self) -> None:
        """Release this object's own connections (the engine's pool is the caller's)."""
        if self._fast is not None:
            self._fast.close()

    def claim(self, owner: str, pipelines: Collection[str] | None = None) -> Claim | None:
        """Claim the most urgent due job and start its first unfinished stage; None if idle."""
        now = utcnow()
        expires = now + self.lease_ttl
        if self._fast is not None:
            row = self._fast.claim(
                owner, now, expires, None if pipelines is None else list(pipelines)
            )
            if row is None:
                return None
            return claim_from(row, [tuple(stage) for stage in row.stages], owner, expires)
        due = (
            select(JOBS.c.id)
            .where(JOBS.c.state == _QUEUED, JOBS.c.run_after <= now)
            .order_by(JOBS.c.priority.desc(), JOBS.c.id)
            .limit(1)
        )
        if pipelines is not None:
            due = due.where(JOBS.c.pipeline.in_(list(pipelines)))
        if self._skip_locked:
            due = due.with_for_update(skip_locked=True)
        resume_stage = (
            select(STAGES.c.name)
            .where(STAGES.c.job_id == JOBS.c.id, STAGES.c.state != StageState.SUCCEEDED)
            .order_by(STAGES.c.position)
            .limit(1)
            .scalar_subquery()
        )
        with write_tx(self.engine) as conn:
            row = conn.execute(
                update(JOBS)
                .where(JOBS.c.id == due.scalar_subquery())
                .values(
                    state=JobState.RUNNING,
                    lease_owner=owner,
                    lease_expires_at=expires,
                    epoch=JOBS.c.epoch + 1,
                    attempts=JOBS.c.attempts + 1,
                    current_stage=resume_stage,
                    started_at=_coalesce(JOBS.c.started_at, now),
                    updated_at=now,
                )
                .returning(
                    JOBS.c.id,
                    JOBS.c.pipeline,
                    JOBS.c.params,
                    JOBS.c.epoch,
                    JOBS.c.attempts,
                    JOBS.c.max_attempts,
                    JOBS.c.progress,
                    JOBS.c.notify,
                )
            ).first()
            if row is None:
                return None
            stage_rows = conn.execute(
                select(
                    STAGES.c.position,
                    STAGES.c.name,
                    STAGES.c.weight,
                    STAGES.c.state,
                    STAGES.c.output,
                )
                .where(STAGES.c.job_id == row.id)
                .order_by(STAGES.c.position)
            ).all()
            claim = claim_from(row, [tuple(stage) for stage in stage_rows], owner, expires)
            events = [
                claim_event(
                    claim,
                    "claimed",
                    JobState.RUNNING,
                    at=now,
                    progress=row.progress,
                    message=f"attempt {claim.attempt}",
                )
            ]
            position = claim.next_position
            if position is not None:
                events.append(self._start_stage(conn, claim, position, now, row.progress))
            conn.execute(insert(EVENTS).values(events))
        return claim

    def _start_stage(
        self, conn: Connection, claim: Claim, position: int, now: datetime, progress: float
    ) -> dict[str, Any]:
        conn.execute(
            update(STAGES)
            .where(STAGES.c.job_id == claim.job_id, STAGES.c.position == position)
            .values(
                state=StageState.RUNNING,
                progress=0.0,
                error=None,
                executions=STAGES.c.executions + 1,
                epoch=claim.epoch,
                started_at=now,
                finished_at=None,
            )
        )
        name = claim.stages[position].name
        return claim_event(
            claim,
            "stage_started",
            JobState.RUNNING,
            at=now,
            progress=progress,
            stage=name,
            message=name,
        )

    def _fence(self, conn: Connection, claim: Claim, now: datetime, **values: Any) -> bool:
        """Guarded job update; returns cancel_requested. Raises LeaseLostError if fenced off."""
        expires = now + self.lease_ttl
        row = conn.execute(
            update(JOBS)
            .where(
                JOBS.c.id == claim.job_id,
                JOBS.c.epoch == claim.epoch,
                JOBS.c.state == JobState.RUNNING,
            )
            .values({"updated_at": now, "lease_expires_at": expires, **values})
            .returning(JOBS.c.cancel_requested)
        ).first()
        if row is None:
            raise lease_lost(claim)
        if "state" not in values:
            claim.lease_expires_at = expires
        return bool(row.cancel_requested)

    def report_progress(self, claim: Claim, position: int, fraction: float, message: str) -> bool:
        """Record a running stage's progress (renews the lease); returns cancel_requested."""
        now = utcnow()
        progress = claim.job_progress(position, fraction)
        stage = claim.stages[position].name
        with write_tx(self.engine) as conn:
            cancel = self._fence(conn, claim, now, progress=progress, message=message)
            conn.execute(
                update(STAGES)
                .where(STAGES.c.job_id == claim.job_id, STAGES.c.position == position)
                .values(progress=min(max(fraction, 0.0), 1.0))
            )
            conn.execute(
                insert(EVENTS).values(
                    claim_event(
                        claim,
                        "progress",
                        JobState.RUNNING,
                        at=now,
                        progress=progress,
                        stage=stage,
                        message=message,
                    )
                )
            )
        return cancel

    def finish_stage(self, claim: Claim, position: int, output: dict[str, Any]) -> int | None:
        """Store a stage's output; start the next stage or finish the job. Returns the next.

        Raises:
            LeaseLostError: another claim owns the job now; nothing was written.
        """
        now = utcnow()
        following = position + 1 if position + 1 < len(claim.stages) else None
        progress = claim.job_progress(position, 1.0)
        events = [stage_succeeded_event(claim, position, progress, now)]
        if self._fast is not None:
            values, wire = finish_values(
                claim, position, following, output, events, now, self.lease_ttl
            )
            if not self._fast.finish(values, wire):
                raise lease_lost(claim)
        else:
            self._finish_portable(claim, position, following, output, progress, events, now)
        if following is not None:
            claim.lease_expires_at = now + self.lease_ttl
        slot = claim.stages[position]
        claim.outputs[slot.name] = output
        claim.stages[position] = StageSlot(
            slot.position, slot.name, slot.weight, StageState.SUCCEEDED, output
        )
        return following

    def finish_last_and_claim(
        self, claim: Claim, output: dict[str, Any], pipelines: Collection[str] | None = None
    ) -> tuple[bool, Claim | None]:
        """Finish the job's last stage and claim the next due job for the same worker.

        On PostgreSQL both happen in one statement (one round trip, one commit per job).
        Returns whether the finish passed the fencing guard, and the next claim or None; the
        claim is made even when the guard failed, since the worker is free either way.
        """
        position = len(claim.stages) - 1
        if self._fast is None:
            try:
                self.finish_stage(claim, position, output)
                fenced = True
            except LeaseLostError:
                fenced = False
            return fenced, self.claim(claim.owner, pipelines)
        now = utcnow()
        events = [stage_succeeded_event(claim, position, 100.0, now)]
        values, wire = finish_values(claim, position, None, output, events, now, self.lease_ttl)
        expires = now + self.lease_ttl
        row = self._fast.finish_and_claim(
            values, wire, expires, None if pipelines is None else list(pipelines)
        )
        if row.id is None:
            return bool(row.fenced), None
        stages = [tuple(stage) for stage in row.stages]
        return bool(row.fenced), claim_from(row, stages, claim.owner, expires)

    def _finish_portable(
        self,
        claim: Claim,
        position: int,
        following: int | None,
        output: dict[str, Any],
        progress: float,
        events: list[dict[str, Any]],
        now: datetime,
    ) -> None:
        slot = claim.stages[position]
        with write_tx(self.engine) as conn:
            if following is None:
                self._fence(
                    conn,
                    claim,
                    now,
                    state=JobState.SUCCEEDED,
                    progress=100.0,
                    message="succeeded",
                    current_stage=None,
                    lease_owner=None,
                    lease_expires_at=None,
                    finished_at=now,
                )
                events.append(
                    claim_event(
                        claim,
                        "succeeded",
                        JobState.SUCCEEDED,
                        at=now,
                        progress=100.0,
                        message="succeeded",
                    )
                )
            else:
                self._fence(
                    conn,
                    claim,
                    now,
                    progress=progress,
                    current_stage=claim.stages[following].name,
                    message=f"{slot.name} done",
                )
            conn.execute(
                update(STAGES)
                .where(STAGES.c.job_id == claim.job_id, STAGES.c.position == position)
                .values(state=StageState.SUCCEEDED, progress=1.0, output=output, finished_at=now)
            )
            if following is not None:
                events.append(self._start_stage(conn, claim, following, now, progress))
            conn.execute(insert(EVENTS).values(events))

    def fail_stage(
        self, claim: Claim, position: int, error: str, retry_in_s: float | None
    ) -> JobState:
        """Record a failed stage: queue the job again after ``retry_in_s``, fail it for good, or
        cancel it when a cancel was requested meanwhile. Returns the job's new state."""
        now = utcnow()
        slot = claim.stages[position]
        with write_tx(self.engine) as conn:
            # The guard alone first: it locks the job row for this transaction and says
            # whether a cancel arrived while the stage ran.
            cancel = self._fence(conn, claim, now)
            values: dict[str, Any] = {"lease_owner": None, "lease_expires_at": None, "error": error}
            if cancel:
                state, kind, stage_state = JobState.CANCELLED, "cancelled", StageState.CANCELLED
                message = f"cancelled ({slot.name} failed meanwhile: {error})"
                values.update(finished_at=now)
            elif retry_in_s is not None and claim.attempt < claim.max_attempts:
                state, kind, stage_state = JobState.QUEUED, "retry_scheduled", StageState.FAILED
                message = f"{slot.name} failed (attempt {claim.attempt}); "
                message += f"retrying in {retry_in_s:.1f} s"
                values.update(run_after=now + timedelta(seconds=retry_in_s))
            else:
                state, kind, stage_state = JobState.FAILED, "failed", StageState.FAILED
                message = f"{slot.name} failed: {error}"
                values.update(finished_at=now)
            conn.execute(
                update(JOBS)
                .where(JOBS.c.id == claim.job_id)
                .values(state=state, message=message, **values)
            )
            conn.execute(
                update(STAGES)
                .where(STAGES.c.job_id == claim.job_id, STAGES.c.position == position)
                .values(state=stage_state, error=error, finished_at=now)
            )
            conn.execute(
                insert(EVENTS).values(
                    claim_event(
                        claim,
                        kind,
                        state,
                        at=now,
                        progress=claim.job_progress(position, 0.0),
                        stage=slot.name,
                        message=message,
                    )
                )
            )
        return state

    def cancel_stage(self, claim: Claim, position: int) -> None:
        """Record that a running job stopped because it was cancelled."""
        now = utcnow()
        slot = claim.stages[position]
        with write_tx(self.engine) as conn:
            self._fence(
                conn,
                claim,
                now,
                state=JobState.CANCELLED,
                lease_owner=None,
                lease_expires_at=None,
                message="cancelled",
                finished_at=now,
            )
            conn.execute(
                update(STAGES)
                .where(STAGES.c.job_id == claim.job_id, STAGES.c.position == position)
                .values(state=StageState.CANCELLED, finished_at=now)
            )
            conn.execute(
                insert(EVENTS).values(
                    claim_event(
                        claim,
                        "cancelled",
                        JobState.CANCELLED,
                        at=now,
                        progress=claim.job_progress(position, 0.0),
                        stage=slot.name,
                        message="cancelled",
                    )
                )
            )

    def renew(self, claim: Claim) -> bool:
        """Extend the lease; False when the claim was lost (fenced off)."""
        now = utcnow()
        try:
            with write_tx(self.engine) as conn:
                self._fence(conn, claim, now)
        except LeaseLostError:
            return False
        return True

    def expire(self, job_id: str, epoch: int) -> bool:
        """End the lease of ``job_id`` at ``epoch`` now (its holder is known to be dead), so the
        next `reap` returns the job to the queue; False if that claim no longer stands."""
        past = utcnow() - timedelta(seconds=1)
        with write_tx(self.engine) as conn:
            changed = conn.execute(
                update(JOBS)
                .where(JOBS.c.id == job_id, JOBS.c.epoch == epoch, JOBS.c.state == _RUNNING)
                .values(lease_expires_at=past)
            ).rowcount
        return bool(changed)

    def reap(self) -> list[tuple[str, JobState]]:
        """Return running jobs whose lease expired to the queue (or fail them when out of
        attempts). Returns the reaped job ids and their new states."""
        now = utcnow()
        expired = and_(JOBS.c.state == _RUNNING, JOBS.c.lease_expires_at < now)
        with write_tx(self.engine) as conn:
            query = select(
                JOBS.c.id,
                JOBS.c.attempts,
                JOBS.c.max_attempts,
                JOBS.c.epoch,
                JOBS.c.progress,
                JOBS.c.lease_owner,
                JOBS.c.cancel_requested,
            ).where(expired)
            if self._skip_locked:
                query = query.with_for_update(skip_locked=True)
            reaped: list[tuple[str, JobState]] = []
            events = []
            for row in conn.execute(query).all():
                state, stage_state, message = _after_expiry(row)
                values: dict[str, Any] = {
                    "state": state,
                    "lease_owner": None,
                    "lease_expires_at": None,
                    "run_after": now,
                    "updated_at": now,
                    "message": message,
                }
                if state != JobState.QUEUED:
                    values.update(finished_at=now)
                if state == JobState.FAILED:
                    values.update(error=message)
                conn.execute(
                    update(JOBS)
                    .where(JOBS.c.id == row.id, JOBS.c.epoch == row.epoch)
                    .values(values)
                )
                conn.execute(
                    update(STAGES)
                    .where(STAGES.c.job_id == row.id, STAGES.c.state == StageState.RUNNING)
                    .values(state=stage_state)
                )
                events.append(
                    event_row(
                        row.id,
                        "lease_expired",
                        state,
                        at=now,
                        progress=row.progress,
                        message=message,
                        epoch=row.epoch,
                        worker_id=row.lease_owner,
                    )
                )
                reaped.append((row.id, state))
            if events:
                conn.execute(insert(EVENTS).values(events))
        return reaped


def _after_expiry(row: Any) -> tuple[JobState, StageState, str]:
    """What a job whose lease expired becomes: cancelled if that was asked for, failed when
    out of attempts, else queued again (its running stage back to pending)."""
    expired = f"lease of {row.lease_owner} expired"
    if row.cancel_requested:
        return JobState.CANCELLED, StageState.CANCELLED, f"{expired}; cancelled as requested"
    if row.attempts >= row.max_attempts:
        return JobState.FAILED, StageState.FAILED, f"{expired} after {row.attempts} attempts"
    return JobState.QUEUED, StageState.PENDING, f"{expired}; requeued"


def _coalesce(column: Any, default: datetime) -> Any:
    return func.coalesce(column, literal(default, UTCDateTime()))
