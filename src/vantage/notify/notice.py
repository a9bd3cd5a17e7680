"""What a job notice says: the job, how it ended, how long it took and where to look."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from vantage.formatting import format_duration
from vantage.jobs.records import JobRecord


@dataclass(frozen=True)
class JobNotice:
    """The facts of a finished job that a notice carries."""

    job_id: str
    pipeline: str
    state: str
    error: str | None
    duration_s: float | None
    url: str
    finished_at: datetime | None

    @property
    def event(self) -> str:
        """The event name: ``job.succeeded`` or ``job.failed``."""
        return f"job.{self.state}"

    def subject(self) -> str:
        """A one-line summary (the e-mail subject)."""
        return f"Vantage: {self.pipeline} job {self.job_id} {self.state}"

    def text(self) -> str:
        """The notice for people (the e-mail body)."""
        lines = [
            f"Your {self.pipeline} job {self.job_id} {self.state}.",
            "",
            f"Pipeline: {self.pipeline}",
            f"Job:      {self.job_id}",
            f"State:    {self.state}",
        ]
        if self.error:
            lines.append(f"Error:    {self.error}")
        if self.duration_s is not None:
            lines.append(f"Duration: {format_duration(self.duration_s)}")
        lines += ["", f"See the job: {self.url}", ""]
        return "\n".join(lines)

    def payload(self) -> dict[str, Any]:
        """The notice for programs (the webhook's JSON body)."""
        return {
            "event": self.event,
            "job_id": self.job_id,
            "pipeline": self.pipeline,
            "state": self.state,
            "error": self.error,
            "url": self.url,
            "duration_s": self.duration_s,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
        }


def job_url(public_url: str, job_id: str) -> str:
    """The page people open to see a job."""
    return f"{public_url.rstrip('/')}/jobs/{job_id}/view"


def notice_for(job: JobRecord, public_url: str) -> JobNotice:
    """The notice of a finished ``job``, linking to its page under ``public_url``."""
    duration = None
    if job.started_at is not None and job.finished_at is not None:
        duration = round((job.finished_at - job.started_at).total_seconds(), 3)
    return JobNotice(
        job_id=job.id,
        pipeline=job.pipeline,
        state=job.state.value,
        error=job.error,
        duration_s=duration,
        url=job_url(public_url, job.id),
        finished_at=job.finished_at,
    )
