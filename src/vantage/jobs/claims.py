"""What a worker holds while it runs a job: the claim, its stages, and the claim's events."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from vantage.errors import LeaseLostError
from vantage.jobs.queue import event_row
from vantage.jobs.records import JobState, StageState


@dataclass(frozen=True)
class StageSlot:
    """A stage of a claimed job as the worker sees it."""

    position: int
    name: str
    weight: float
    state: StageState
    output: dict[str, Any] | None


@dataclass
class Claim:
    """A job this worker holds under ``epoch`` until ``lease_expires_at``."""

    job_id: str
    pipeline: str
    params: dict[str, Any]
    epoch: int
    attempt: int
    max_attempts: int
    owner: str
    stages: list[StageSlot]
    lease_expires_at: datetime
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    notify: dict[str, Any] | None = None  # the job's notification targets, if any

    @property
    def next_position(self) -> int | None:
        """The first stage not yet succeeded (where this claim resumes), or None."""
        for slot in self.stages:
            if slot.state != StageState.SUCCEEDED:
                return slot.position
        return None

    def job_progress(self, position: int, fraction: float) -> float:
        """Weighted job progress in % when stage ``position`` is ``fraction`` done."""
        total = sum(slot.weight for slot in self.stages) or 1.0
        done = sum(slot.weight for slot in self.stages if slot.position < position)
        current = self.stages[position].weight * min(max(fraction, 0.0), 1.0)
        return round(100.0 * (done + current) / total, 3)


def claim_from(row: Any, stages: list[tuple[Any, ...]], owner: str, expires: datetime) -> Claim:
    """A `Claim` from the claimed job's row and its (position, name, weight, state, output)s."""
    slots = [
        StageSlot(position, name, weight, StageState(state), output)
        for position, name, weight, state, output in stages
    ]
    return Claim(
        job_id=row.id,
        pipeline=row.pipeline,
        params=row.params,
        epoch=row.epoch,
        attempt=row.attempts,
        max_attempts=row.max_attempts,
        owner=owner,
        stages=slots,
        lease_expires_at=expires,
        outputs={s.name: s.output or {} for s in slots if s.state == StageState.SUCCEEDED},
        notify=row.notify,
    )


def claim_event(
    claim: Claim,
    kind: str,
    state: JobState,
    *,
    at: datetime,
    progress: float,
    stage: str | None = None,
    message: str = "",
) -> dict[str, Any]:
    """An event row written by the holder of ``claim`` (carries its epoch and owner)."""
    return event_row(
        claim.job_id,
        kind,
        state,
        at=at,
        progress=progress,
        stage=stage,
        message=message,
        epoch=claim.epoch,
        worker_id=claim.owner,
    )


def stage_succeeded_event(
    claim: Claim, position: int, progress: float, now: datetime
) -> dict[str, Any]:
    """The event that stage ``position`` of ``claim`` finished."""
    name = claim.stages[position].name
    return claim_event(
        claim,
        "stage_succeeded",
        JobState.RUNNING,
        at=now,
        progress=progress,
        stage=name,
        message=f"{name} done",
    )


def lease_lost(claim: Claim) -> LeaseLostError:
    """The error for a write that ``claim`` may no longer make."""
    return LeaseLostError(
        f"job {claim.job_id}: epoch {claim.epoch} no longer holds the lease",
        job_id=claim.job_id,
        epoch=claim.epoch,
    )
