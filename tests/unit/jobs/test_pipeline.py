"""Pipelines: parameter validation naming fields, the registry, planning rules."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict

from vantage.errors import InvalidParamsError, UnknownPipelineError
from vantage.jobs import pipeline as pipeline_module
from vantage.jobs.diagnostic import PIPELINE as DIAGNOSTIC
from vantage.jobs.diagnostic import DiagnosticParams
from vantage.jobs.pipeline import PIPELINES, Pipeline, Stage, get_pipeline


def test_get_pipeline_returns_the_registered_pipeline() -> None:
    assert get_pipeline("diagnostic") is DIAGNOSTIC
    assert DIAGNOSTIC.name == "diagnostic"


def test_unknown_pipeline_lists_known_ones() -> None:
    with pytest.raises(UnknownPipelineError) as caught:
        get_pipeline("reconstruct-everything")
    message = str(caught.value)
    assert "'reconstruct-everything'" in message
    for name in PIPELINES:
        assert name in message
    assert caught.value.fields["known"] == sorted(PIPELINES)
    assert caught.value.fields["pipeline"] == "reconstruct-everything"
    assert caught.value.exit_code == 65


def test_registry_entry_that_is_not_a_pipeline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(pipeline_module.PIPELINES, "broken", "vantage.jobs.diagnostic:_plan")
    with pytest.raises(TypeError, match="not a Pipeline"):
        get_pipeline("broken")


def test_validate_params_defaults() -> None:
    params = DIAGNOSTIC.validate_params({})
    assert isinstance(params, DiagnosticParams)
    assert (params.stages, params.stage_s, params.fail_rate) == (3, 1.0, 0.0)


def test_validate_params_names_every_bad_field() -> None:
    with pytest.raises(InvalidParamsError) as caught:
        DIAGNOSTIC.validate_params({"stages": 0, "stage_s": -1, "fail_rate": 2, "colour": "red"})
    error = caught.value
    problems = error.fields["errors"]
    assert {problem.split(":")[0] for problem in problems} == {
        "stages",
        "stage_s",
        "fail_rate",
        "colour",
    }
    for name in ("stages", "stage_s", "fail_rate", "colour"):
        assert name in str(error)
    assert error.fields["pipeline"] == "diagnostic"
    assert error.http_status == 422


def test_validate_params_wrong_type() -> None:
    with pytest.raises(InvalidParamsError, match="stages"):
        DIAGNOSTIC.validate_params({"stages": "three"})


def test_stages_for_plans_named_weighted_stages() -> None:
    stages = DIAGNOSTIC.stages_for(DIAGNOSTIC.validate_params({"stages": 4}))
    assert [stage.name for stage in stages] == ["step-1", "step-2", "step-3", "step-4"]
    assert all(stage.weight == 1.0 for stage in stages)


class _Empty(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _noop(_ctx: object) -> None:
    return None


@pytest.mark.parametrize(
    "planned",
    [[], [Stage("a", _noop), Stage("a", _noop)]],
    ids=["no stages", "duplicate names"],
)
def test_stages_for_rejects_bad_plans(planned: list[Stage]) -> None:
    broken = Pipeline(name="broken", description="", params_model=_Empty, plan=lambda _p: planned)
    with pytest.raises(InvalidParamsError, match="no or duplicate stages"):
        broken.stages_for(_Empty())
