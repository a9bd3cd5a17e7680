"""The error hierarchy: documented, mapped to HTTP and exit codes, problem+json, picklable."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

import vantage.jobs.diagnostic  # noqa: F401  (defines an error subclass of its own)
from vantage import errors
from vantage.errors import JobNotFoundError, VantageError


def all_subclasses(cls: type[VantageError]) -> list[type[VantageError]]:
    found: list[type[VantageError]] = []
    for sub in cls.__subclasses__():
        found.append(sub)
        found.extend(all_subclasses(sub))
    return found


ERRORS: list[type[VantageError]] = [VantageError, *all_subclasses(VantageError)]


def test_the_hierarchy_is_found() -> None:
    names = {cls.__name__ for cls in ERRORS}
    assert {"ConfigError", "JobNotFoundError", "LeaseLostError", "DiagnosticFailureError"} <= names
    declared = {
        obj for obj in vars(errors).values() if isinstance(obj, type) and issubclass(obj, Exception)
    }
    assert declared <= set(ERRORS)


@pytest.mark.parametrize("cls", ERRORS, ids=[cls.__name__ for cls in ERRORS])
def test_error_class_contract(cls: type[VantageError]) -> None:
    assert cls.__doc__ and cls.__doc__.strip(), "the docstring is the default message"
    if cls is not VantageError:
        assert "__doc__" in vars(cls), "a subclass must say what it means, not inherit it"
    assert 400 <= cls.http_status <= 599
    assert cls.exit_code != 0
    assert 0 < cls.exit_code < 256
    assert cls.code and cls.code == cls.code.strip().lower()
    default = cls()
    assert str(default) == cls.__doc__.strip().splitlines()[0]


def test_codes_are_unique() -> None:
    codes = [cls.code for cls in ERRORS]
    assert len(codes) == len(set(codes))


def test_problem_shape() -> None:
    error = JobNotFoundError("no job with id 'abc'", job_id="abc", path=Path("/x"), attempt=2)
    body = error.problem(instance="/jobs/abc")
    assert body == {
        "type": "https://vantage.dev/problems/job-not-found",
        "title": "No job has that id.",
        "status": 404,
        "detail": "no job with id 'abc'",
        "instance": "/jobs/abc",
        "job_id": "abc",
        "attempt": 2,
        # ``path`` is not JSON-ready and is left out.
    }


def test_problem_without_instance_uses_default_message() -> None:
    body = errors.LeaseLostError().problem()
    assert "instance" not in body
    assert body["detail"] == body["title"]
    assert body["status"] == 409


@pytest.mark.parametrize("cls", ERRORS, ids=[cls.__name__ for cls in ERRORS])
def test_pickle_round_trip_keeps_fields(cls: type[VantageError]) -> None:
    error = cls("went wrong", job_id="j1", epoch=3, errors=["a: bad"])
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is cls
    assert copy.message == "went wrong"
    assert str(copy) == "went wrong"
    assert copy.fields == {"job_id": "j1", "epoch": 3, "errors": ["a: bad"]}
    assert copy.problem() == error.problem()


def test_subclass_relationships_drive_handling() -> None:
    assert issubclass(errors.UnknownPipelineError, errors.InvalidInputError)
    assert issubclass(errors.InvalidParamsError, errors.InvalidInputError)
    assert issubclass(errors.LeaseLostError, errors.ConflictError)
    assert issubclass(errors.CatalogOutdatedError, errors.ServiceUnavailableError)
    assert errors.InvalidParamsError.exit_code == 65
    assert errors.JobNotFoundError.exit_code == 66
    assert errors.ConfigError.exit_code == 78
