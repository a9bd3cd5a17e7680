"""Plain, serialisable views of jobs, stages and events, shared by the queue, API and CLI."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field


class JobState(StrEnum):
    """Where a job is in its life: queued → running → succeeded | failed | cancelled."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        """Whether the job will not change again without a retry."""
        return self in {JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED}


class StageState(StrEnum):
    """Where one stage of a job is."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


#: One e-mail address, without whitespace (a newline would forge e-mail headers).
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


class NotifyTargets(BaseModel):
    """Who hears when a job succeeds or fails for good: an e-mail address, a webhook, or both."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    email: str | None = Field(
        None,
        max_length=254,
        pattern=EMAIL_PATTERN,
        description="Address that gets an e-mail.",
    )
    webhook: AnyHttpUrl | None = Field(
        None, description="URL that gets a JSON POST: {event, job_id, pipeline, state, error, url}."
    )

    def stored(self) -> dict[str, Any] | None:
        """The targets as the catalog keeps them (None when there are none)."""
        targets = self.model_dump(mode="json", exclude_none=True)
        return targets or None


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, from_attributes=True)


class StageRecord(_Record):
    """One stage of a job."""

    position: int = Field(description="0-based order of the stage in its pipeline.")
    name: str
    weight: float = Field(description="Share of the job's progress this stage accounts for.")
    state: StageState
    progress: float = Field(description="Stage progress, 0–1.")
    output: dict[str, Any] | None = None
    error: str | None = None
    executions: int = Field(description="How many times a worker started this stage.")
    started_at: datetime | None = None
    finished_at: datetime | None = None


class JobRecord(_Record):
    """A job as the API and CLI show it."""

    id: str
    pipeline: str
    params: dict[str, Any]
    state: JobState
    priority: int
    dedupe_key: str | None = None
    attempts: int
    max_attempts: int
    epoch: int = Field(description="Fencing epoch: increments on every claim.")
    lease_owner: str | None = None
    lease_expires_at: datetime | None = None
    run_after: datetime
    cancel_requested: bool
    progress: float = Field(description="Weighted progress over all stages, 0–100 %.")
    message: str
    current_stage: str | None = None
    error: str | None = None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    stages: list[StageRecord] = Field(default_factory=list)


class EventRecord(_Record):
    """One entry of a job's event log."""

    id: int
    job_id: str
    at: datetime
    kind: str = Field(description="submitted, claimed, stage_started, progress, …")
    state: JobState
    stage: str | None = None
    progress: float
    message: str
    epoch: int
    worker_id: str | None = None
