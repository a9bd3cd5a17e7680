"""The diagnostic pipeline's stages: progress reports, outputs, deliberate failures."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from vantage.jobs.diagnostic import PIPELINE, DiagnosticFailureError
from vantage.jobs.pipeline import StageContext


def run_stage(
    params: dict[str, float], position: int, tmp_path: Path
) -> tuple[dict[str, Any] | None, list[tuple[float, str]]]:
    validated = PIPELINE.validate_params(params)
    stage = PIPELINE.stages_for(validated)[position]
    reports: list[tuple[float, str]] = []
    ctx = StageContext(
        job_id="j",
        attempt=1,
        stage=stage.name,
        params=validated,
        outputs={},
        work_dir=tmp_path,
        progress=lambda fraction, message="": reports.append((fraction, message)),
    )
    return stage.run(ctx), reports


def test_instant_stage_returns_its_position(tmp_path: Path) -> None:
    output, reports = run_stage({"stages": 3, "stage_s": 0}, 1, tmp_path)
    assert output == {"position": 1, "slept_s": pytest.approx(0, abs=0.05), "pid": os.getpid()}
    assert reports == []


def test_timed_stage_reports_rising_fractions(tmp_path: Path) -> None:
    _, reports = run_stage({"stages": 2, "stage_s": 0.35}, 1, tmp_path)
    fractions = [fraction for fraction, _ in reports]
    assert len(fractions) >= 2
    assert fractions == sorted(fractions)
    assert all(0.0 <= fraction < 1.0 for fraction in fractions)
    assert all(message == "stage 2/2" for _, message in reports)


def test_fail_rate_one_always_fails(tmp_path: Path) -> None:
    with pytest.raises(DiagnosticFailureError, match="stage 1 failed on purpose") as caught:
        run_stage({"stages": 1, "stage_s": 0, "fail_rate": 1}, 0, tmp_path)
    assert caught.value.fields["job_id"] == "j"


def test_a_raising_reporter_stops_the_stage(tmp_path: Path) -> None:
    validated = PIPELINE.validate_params({"stages": 1, "stage_s": 30})
    stage = PIPELINE.stages_for(validated)[0]

    def cancelled(fraction: float, message: str = "") -> None:
        raise KeyboardInterrupt  # any exception: the stage must not swallow it

    ctx = StageContext("j", 1, stage.name, validated, {}, tmp_path, cancelled)
    with pytest.raises(KeyboardInterrupt):
        stage.run(ctx)
