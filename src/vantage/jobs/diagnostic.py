"""The built-in ``diagnostic`` pipeline: N timed stages that may fail at random.

Load tests, health checks and the demo use it to exercise claiming, progress, retries and
cancellation without touching media.
"""

from __future__ import annotations

import functools
import os
import random
import time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from vantage.errors import StageFailedError
from vantage.jobs.pipeline import Pipeline, Stage, StageContext

#: How often a sleeping stage reports progress (and so notices a cancel).
REPORT_INTERVAL_S = 0.1


class DiagnosticParams(BaseModel):
    """Parameters of the diagnostic pipeline."""

    model_config = ConfigDict(extra="forbid")

    stages: int = Field(3, ge=1, le=100, description="Number of stages.")
    stage_s: float = Field(1.0, ge=0, le=3600, description="Seconds each stage takes.")
    fail_rate: float = Field(
        0.0, ge=0, le=1, description="Probability that a stage execution fails (transiently)."
    )


class DiagnosticFailureError(StageFailedError):
    """The diagnostic stage failed on purpose (fail_rate)."""

    code = "diagnostic-failure"


def _step(position: int, ctx: StageContext) -> dict[str, Any]:
    params = ctx.params
    assert isinstance(params, DiagnosticParams)  # the pipeline validated them
    started = time.monotonic()
    deadline = started + params.stage_s
    while (now := time.monotonic()) < deadline:
        ctx.progress((now - started) / params.stage_s, f"stage {position + 1}/{params.stages}")
        time.sleep(min(REPORT_INTERVAL_S, deadline - now))
    if params.fail_rate and random.random() < params.fail_rate:
        raise DiagnosticFailureError(
            f"stage {position + 1} failed on purpose (fail_rate={params.fail_rate})",
            job_id=ctx.job_id,
        )
    return {
        "position": position,
        "slept_s": round(time.monotonic() - started, 3),
        "pid": os.getpid(),
    }


def _plan(params: DiagnosticParams) -> list[Stage]:
    return [
        Stage(name=f"step-{i + 1}", run=functools.partial(_step, i), weight=1.0)
        for i in range(params.stages)
    ]


PIPELINE = Pipeline(
    name="diagnostic",
    description="Timed no-op stages for load tests, health checks and demos.",
    params_model=DiagnosticParams,
    plan=_plan,
)
