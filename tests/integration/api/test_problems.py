"""Bad requests get problem+json with the right status, and write nothing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, create_engine

from vantage.api.app import create_app
from vantage.config import Settings

from .support import drain, row_counts, serve, submit

PROBLEM = "application/problem+json"
UNKNOWN_ID = "0" * 32


def _assert_problem(response: httpx.Response, status: int, kind: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["type"].endswith(kind), body
    assert body["title"]
    assert body["detail"]
    return body


@pytest.mark.parametrize(
    ("request_kwargs", "kind"),
    [
        ({"json": {"pipeline": "nope"}}, "/unknown-pipeline"),
        ({"json": {"pipeline": "diagnostic", "params": {"stages": -1}}}, "/invalid-params"),
        ({"json": {"pipeline": "diagnostic", "params": {"colour": "red"}}}, "/invalid-params"),
        ({"json": {"pipeline": "diagnostic", "urgent": True}}, "/invalid-request"),
        ({"json": {"pipeline": "diagnostic", "priority": "high"}}, "/invalid-request"),
        ({"json": {"pipeline": "diagnostic", "max_attempts": 0}}, "/invalid-request"),
        ({"json": {"params": {}}}, "/invalid-request"),
        (
            {"content": b'{"pipeline": ', "headers": {"content-type": "application/json"}},
            "/invalid-request",
        ),
    ],
    ids=[
        "unknown-pipeline",
        "negative-stages",
        "unknown-param",
        "unknown-field",
        "bad-priority",
        "zero-attempts",
        "no-pipeline",
        "malformed-json",
    ],
)
def test_bad_submissions_are_422_and_write_nothing(
    client: httpx.Client, engine: Engine, request_kwargs: dict[str, Any], kind: str
) -> None:
    submit(client, params={"stages": 1})  # something to leave alone
    before = row_counts(engine)

    response = client.post("/jobs", **request_kwargs)

    body = _assert_problem(response, 422, kind)
    assert body["instance"] == "/jobs"
    assert row_counts(engine) == before


def test_field_errors_are_listed(client: httpx.Client) -> None:
    response = client.post("/jobs", json={"pipeline": "diagnostic", "params": {"stages": -1}})
    invalid = client.post("/jobs", json={"pipeline": 7, "extra": 1})

    assert any(error.startswith("stages:") for error in response.json()["errors"])
    errors = invalid.json()["errors"]
    assert any(error.startswith("body.pipeline:") for error in errors)
    assert any(error.startswith("body.extra:") for error in errors)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", f"/jobs/{UNKNOWN_ID}"),
        ("POST", f"/jobs/{UNKNOWN_ID}/cancel"),
        ("POST", f"/jobs/{UNKNOWN_ID}/retry"),
        ("GET", f"/jobs/{UNKNOWN_ID}/events"),
    ],
)
def test_unknown_job_is_404(client: httpx.Client, engine: Engine, method: str, path: str) -> None:
    before = row_counts(engine)

    body = _assert_problem(client.request(method, path), 404, "/job-not-found")

    assert body["job_id"] == UNKNOWN_ID
    assert body["instance"] == path
    assert row_counts(engine) == before


def test_cancel_of_a_succeeded_job_is_409(
    client: httpx.Client, engine: Engine, settings: Settings
) -> None:
    job = submit(client, params={"stages": 1, "stage_s": 0})
    drain(engine, settings)
    before = row_counts(engine)

    body = _assert_problem(client.post(f"/jobs/{job['id']}/cancel"), 409, "/invalid-transition")

    assert body["state"] == "succeeded"
    assert row_counts(engine) == before
    assert client.get(f"/jobs/{job['id']}").json()["state"] == "succeeded"


def test_retry_of_a_queued_job_is_409(client: httpx.Client) -> None:
    job = submit(client)

    _assert_problem(client.post(f"/jobs/{job['id']}/retry"), 409, "/invalid-transition")


def test_bad_query_and_header_values_are_422(client: httpx.Client) -> None:
    job = submit(client)

    _assert_problem(client.get("/jobs", params={"limit": 0}), 422, "/invalid-request")
    _assert_problem(client.get("/jobs", params={"state": "asleep"}), 422, "/invalid-request")
    _assert_problem(
        client.get(f"/jobs/{job['id']}/events", headers={"Last-Event-ID": "x"}),
        422,
        "/invalid-request",
    )


def test_unknown_route_and_method_are_problems(client: httpx.Client) -> None:
    _assert_problem(client.get("/no/such/thing"), 404, "about:blank")
    not_allowed = _assert_problem(client.delete("/jobs"), 405, "about:blank")

    assert not_allowed["title"] == "Method Not Allowed"


def test_unexpected_errors_are_500_without_a_traceback(settings: Settings, engine: Engine) -> None:
    app = create_app(settings, engine=engine)

    def explode() -> None:
        raise RuntimeError("secret internals")

    app.add_api_route("/explode", explode)
    with serve(app) as live, httpx.Client(base_url=live.url, timeout=10) as client:
        response = client.get("/explode")

    body = _assert_problem(response, 500, "/internal")
    assert "secret" not in response.text
    assert "Traceback" not in response.text
    assert body["instance"] == "/explode"


def _unreachable_app(settings: Settings, folder: str) -> FastAPI:
    # A directory is not a database file: every connection attempt fails.
    return create_app(settings, engine=create_engine(f"sqlite:///{folder}"))


def test_health_is_503_when_the_database_does_not_answer(settings: Settings, tmp_path: Any) -> None:
    app = _unreachable_app(settings, str(tmp_path))
    with serve(app) as live, httpx.Client(base_url=live.url, timeout=10) as client:
        response = client.get("/health")

    body = _assert_problem(response, 503, "/unavailable")
    assert "unable to open database file" in body["database"]
    assert body["version"]
