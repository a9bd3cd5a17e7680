"""Request and response models of the HTTP API that are not the job records themselves."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any, Literal

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, field_validator

from vantage.capture.params import Preset
from vantage.capture.sources import parse_input
from vantage.errors import InvalidInputError
from vantage.jobs.records import EMAIL_PATTERN, JobRecord, NotifyTargets

PROBLEM_MEDIA_TYPE = "application/problem+json"

# PostgreSQL's INTEGER column bounds the priority.
_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1


class JobSubmit(BaseModel):
    """A request to run a pipeline."""

    model_config = ConfigDict(extra="forbid")

    pipeline: str = Field(description="Name of the pipeline to run (see GET /pipelines).")
    params: dict[str, Any] = Field(
        default_factory=dict, description="The pipeline's parameters; its defaults fill the rest."
    )
    dedupe_key: str | None = Field(
        None,
        min_length=1,
        max_length=255,
        description="Submitting the same key again returns the existing job instead of a new one "
        "(same pipeline and parameters), or fails with 409 (others).",
    )
    priority: int = Field(
        0, ge=_INT32_MIN, le=_INT32_MAX, description="Higher runs first among due jobs."
    )
    max_attempts: int | None = Field(
        None,
        ge=1,
        le=100,
        description="Attempts before the job fails for good; empty means jobs.max_attempts.",
    )
    notify: NotifyTargets | None = Field(
        None, description="Who hears when the job succeeds or fails for good."
    )


class StartJob(BaseModel):
    """The seeds' request: reconstruct the capture at a URL and tell someone when it is done."""

    model_config = ConfigDict(extra="forbid")

    s3_url: str = Field(
        alias="s3Url",
        min_length=1,
        description="The capture: s3://bucket/key-or-prefix (a video, or a prefix of photos), "
        "or an http(s):// URL such as a presigned S3 link.",
    )
    email: str = Field(
        max_length=254,
        pattern=EMAIL_PATTERN,
        description="Address that gets an e-mail when the job ends.",
    )
    preset: Preset = Field("balanced", description="Speed/quality trade-off.")
    webhook: AnyHttpUrl | None = Field(
        None, description="URL that gets a JSON POST when the job ends."
    )

    @field_validator("s3_url")
    @classmethod
    def _remote(cls, value: str) -> str:
        try:
            kind = parse_input(value).kind
        except InvalidInputError as exc:
            raise ValueError(str(exc)) from None
        if kind not in {"s3", "http"}:
            raise ValueError("must be an s3:// or http(s):// URL")
        return value

    def notify_targets(self) -> NotifyTargets:
        """Where the job's notices go."""
        return NotifyTargets(email=self.email, webhook=self.webhook)


class JobPage(BaseModel):
    """One page of jobs, newest first."""

    jobs: list[JobRecord] = Field(description="The jobs, without their stages.")
    next_before: str | None = Field(
        description="Pass as `before` to get the next page; null on the last page."
    )


class PipelineInfo(BaseModel):
    """A pipeline that jobs can run."""

    name: str = Field(description="The name to submit jobs with.")
    description: str = Field(description="What the pipeline does.")
    params: dict[str, Any] = Field(description="JSON schema of the pipeline's parameters.")


class Health(BaseModel):
    """Whether the service can do its work."""

    status: Literal["ok", "degraded"] = Field(
        description="ok: the database answers and a worker is alive; degraded: no live worker."
    )
    database: str = Field(description="ok, or why the database did not answer.")
    workers_alive: int = Field(description="Workers with a recent heartbeat.")
    jobs: dict[str, int] = Field(description="Number of jobs in each state.")
    version: str = Field(description="Vantage version of this server.")


class Problem(BaseModel):
    """An RFC 9457 problem: what went wrong, for people and for programs."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="URI naming the kind of problem.")
    title: str = Field(description="Short summary of the kind of problem.")
    status: int = Field(description="The HTTP status code.")
    detail: str = Field(description="What went wrong this time.")
    instance: str | None = Field(None, description="Path of the request that failed.")
    errors: list[str] | None = Field(None, description="Each invalid field and why.")


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries declaring problem+json bodies for ``statuses``."""
    content = {PROBLEM_MEDIA_TYPE: {"schema": Problem.model_json_schema()}}
    return {
        status: {"description": HTTPStatus(status).phrase, "content": content}
        for status in statuses
    }
