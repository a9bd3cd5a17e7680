"""Service endpoints: health, Prometheus metrics and the OpenAPI document."""

from __future__ import annotations

import httpx
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import Engine

from vantage import __version__
from vantage.config import Settings
from vantage.jobs.worker import JobWorker

from .support import drain, submit, wait_for


def test_health_counts_live_workers_and_jobs(client: httpx.Client, worker: JobWorker) -> None:
    submit(client, params={"stages": 1, "stage_s": 0})

    health = wait_for(
        lambda: (
            (body := client.get("/health").json())["jobs"]["succeeded"] == 1
            and body["workers_alive"] >= 1
            and body
        ),
        "the job to succeed with a live worker",
    )

    assert health["status"] == "ok"
    assert health["database"] == "ok"
    assert health["version"] == __version__
    assert set(health["jobs"]) == {"queued", "running", "succeeded", "failed", "cancelled"}


def test_health_without_workers_is_degraded_but_up(client: httpx.Client) -> None:
    response = client.get("/health")

    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert response.json()["workers_alive"] == 0


def test_metrics_show_jobs_by_state_and_stage_durations(
    client: httpx.Client, engine: Engine, settings: Settings
) -> None:
    submit(client, params={"stages": 1, "stage_s": 0})
    drain(engine, settings)

    response = client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"] == CONTENT_TYPE_LATEST
    assert 'vantage_jobs{state="succeeded"} 1.0' in response.text
    assert "vantage_stage_duration_seconds_count" in response.text


def test_openapi_lists_the_routes_and_their_problems(client: httpx.Client) -> None:
    schema = client.get("/openapi.json").json()

    assert schema["info"] == schema["info"] | {"title": "Vantage", "version": __version__}
    paths = schema["paths"]
    assert {"/jobs", "/jobs/{job_id}", "/jobs/{job_id}/events", "/health", "/metrics"} <= set(paths)
    assert {"/start-job", "/uploads", "/login", "/logout"} <= set(paths)
    assert "multipart/form-data" in paths["/uploads"]["post"]["requestBody"]["content"]
    events = paths["/jobs/{job_id}/events"]["get"]["responses"]
    assert "text/event-stream" in events["200"]["content"]
    assert "application/problem+json" in events["404"]["content"]
    submit_responses = paths["/jobs"]["post"]["responses"]
    assert {"201", "200", "409", "422"} <= set(submit_responses)
    assert set(submit_responses["422"]["content"]) == {"application/problem+json"}
