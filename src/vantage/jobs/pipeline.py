"""Pipelines: ordered stages with declared resources and progress weights, and their registry.

A stage is a plain function of a `StageContext`; it knows nothing about processes, databases or
executors, so the same function runs in a local worker process or a Ray task. Pipelines are
found through the explicit `PIPELINES` table (name → ``module:attribute``), imported on first use
so that heavy libraries load only where a stage needs them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel, ValidationError

from vantage.errors import InvalidParamsError, UnknownPipelineError

if TYPE_CHECKING:
    from vantage.config import Settings
    from vantage.jobs.artifacts import PublishedArtifact
    from vantage.storage.base import BlobStore

#: Every pipeline Vantage can run. Domains add theirs here.
PIPELINES: dict[str, str] = {
    "diagnostic": "vantage.jobs.diagnostic:PIPELINE",
    "reconstruct": "vantage.capture.pipeline:PIPELINE",
}


@dataclass(frozen=True)
class Resources:
    """What one execution of a stage needs (executors schedule by it)."""

    cpus: float = 1.0
    gpus: float = 0.0
    memory_mb: int = 0


class ProgressReporter(Protocol):
    """Receives a stage's progress; raises if the job was cancelled or the lease was lost."""

    def __call__(self, fraction: float, message: str = "") -> None: ...


@dataclass(frozen=True)
class StageContext:
    """What a stage function gets: its job, parameters, earlier outputs and a progress callback.

    ``progress`` raises `JobCancelledError` once the job is cancelled and `LeaseLostError` once
    another worker owns it, so a long stage stops at its next report.
    """

    job_id: str
    attempt: int
    stage: str
    params: BaseModel
    outputs: Mapping[str, dict[str, Any]]
    work_dir: Path
    progress: ProgressReporter
    store: BlobStore | None = None  # where a stage keeps results that outlive the machine
    settings: Settings | None = None  # the worker's settings (limits, endpoints of inputs)
    #: What `publish` put in the store during this run; the worker records it in the catalog.
    published: list[PublishedArtifact] = field(default_factory=list)

    def publish(self, name: str, path: Path) -> str | None:
        """Keep the file at ``path`` as this job's artifact ``name``; returns its blob key.

        The file is copied to the blob store under ``jobs/<job id>/<name>`` (None when the
        stage runs without a store, e.g. in a unit test) and listed by the API once the stage
        finishes. Publishing a name again replaces the earlier file.
        """
        if self.store is None:
            return None
        from vantage.jobs.artifacts import PublishedArtifact, artifact_key, guess_content_type

        key = artifact_key(self.job_id, name)
        kind = guess_content_type(name)
        info = self.store.put_file(key, path, content_type=kind)
        self.published.append(
            PublishedArtifact(name, key, info.size_bytes, info.sha256, info.content_type or kind)
        )
        return key


StageFunction = Callable[[StageContext], dict[str, Any] | None]


@dataclass(frozen=True)
class Stage:
    """One step of a pipeline."""

    name: str
    run: StageFunction
    weight: float = 1.0
    resources: Resources = field(default_factory=Resources)


@dataclass(frozen=True)
class Pipeline:
    """A named, parameterised list of stages."""

    name: str
    description: str
    params_model: type[BaseModel]
    plan: Callable[[Any], Sequence[Stage]]
    #: Checks at submit time that need the blob store (an upload exists); raises
    #: InvalidParamsError. The API runs it; params syntax belongs in ``params_model``.
    preflight: Callable[[Any, BlobStore], None] | None = None

    def validate_params(self, raw: Mapping[str, Any]) -> BaseModel:
        """Parse raw parameters with the pipeline's model.

        Raises:
            InvalidParamsError: naming each bad field and why.
        """
        try:
            return self.params_model.model_validate(dict(raw))
        except ValidationError as exc:
            problems = [
                f"{'.'.join(str(p) for p in err['loc']) or 'params'}: {err['msg']}"
                for err in exc.errors()
            ]
            raise InvalidParamsError(
                f"invalid parameters for pipeline {self.name!r}: {'; '.join(problems)}",
                pipeline=self.name,
                errors=problems,
            ) from None

    def stages_for(self, params: BaseModel) -> list[Stage]:
        """The stages this pipeline runs for ``params`` (names must be unique)."""
        stages = list(self.plan(params))
        names = [stage.name for stage in stages]
        if len(set(names)) != len(names) or not stages:
            raise InvalidParamsError(f"pipeline {self.name!r} planned no or duplicate stages")
        return stages


def get_pipeline(name: str) -> Pipeline:
    """The pipeline registered under ``name``.

    Raises:
        UnknownPipelineError: no pipeline has that name (the message lists those that exist).
    """
    target = PIPELINES.get(name)
    if target is None:
        known = ", ".join(sorted(PIPELINES))
        raise UnknownPipelineError(
            f"unknown pipeline {name!r} (known: {known})", pipeline=name, known=sorted(PIPELINES)
        )
    module_name, _, attribute = target.partition(":")
    pipeline = getattr(importlib.import_module(module_name), attribute)
    if not isinstance(pipeline, Pipeline):
        raise TypeError(f"{target} is not a Pipeline")
    return pipeline
