"""Jobs over HTTP: submit, stream events, resume, dedupe, cancel, retry, list, pipelines."""

from __future__ import annotations

import fastapi.routing
import httpx
import pytest
from sqlalchemy import Engine
from starlette.types import ASGIApp, Receive, Scope, Send

from vantage.api.app import create_app
from vantage.config import Settings
from vantage.jobs.worker import JobWorker

from .support import drain, read_events, serve, submit, wait_for

LIFECYCLE = ["submitted", "claimed", "stage_started", "progress", "stage_succeeded", "succeeded"]


def _in_order(expected: list[str], kinds: list[str]) -> bool:
    remaining = iter(kinds)
    return all(kind in remaining for kind in expected)


def test_submit_then_stream_until_the_job_succeeds(client: httpx.Client, worker: JobWorker) -> None:
    response = client.post(
        "/jobs", json={"pipeline": "diagnostic", "params": {"stages": 2, "stage_s": 0.3}}
    )
    assert response.status_code == 201
    job = response.json()
    assert response.headers["location"].endswith(f"/jobs/{job['id']}")
    assert job["state"] == "queued"

    events = read_events(client, job["id"])  # returns only once the server ends the stream

    kinds = [event.event for event in events]
    assert kinds[0] == "submitted"
    assert kinds[-1] == "succeeded"
    assert _in_order(LIFECYCLE, kinds), kinds
    assert [event.id for event in events] == sorted(event.id for event in events)
    assert all(event.data["kind"] == event.event for event in events)
    assert all(event.data["id"] == event.id for event in events)
    progress = [event.data["progress"] for event in events]
    assert progress == sorted(progress)
    assert progress[-1] == 100.0
    final = client.get(response.headers["location"]).json()
    assert final["state"] == "succeeded"
    assert [stage["state"] for stage in final["stages"]] == ["succeeded", "succeeded"]


def test_last_event_id_and_after_resume_the_stream(
    client: httpx.Client, engine: Engine, settings: Settings
) -> None:
    job = submit(client, params={"stages": 2, "stage_s": 0})
    drain(engine, settings)
    everything = read_events(client, job["id"])
    assert everything[-1].event == "succeeded"
    seen = everything[2].id

    resumed = read_events(client, job["id"], headers={"Last-Event-ID": str(seen)})
    after = read_events(client, job["id"], params={"after": seen})

    assert resumed == everything[3:]
    assert after == everything[3:]
    # Resuming after the final event: nothing more will come, so the stream ends at once.
    assert read_events(client, job["id"], headers={"Last-Event-ID": str(everything[-1].id)}) == []


class _InFlight:
    """ASGI middleware that counts the HTTP requests the app is still handling."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.count = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # the lifespan call lasts as long as the server
            await self.app(scope, receive, send)
            return
        self.count += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.count -= 1


def test_stream_stops_when_the_client_leaves(settings: Settings, engine: Engine) -> None:
    in_flight = _InFlight(create_app(settings, engine=engine))
    with serve(in_flight) as live, httpx.Client(base_url=live.url, timeout=10) as client:
        job = submit(client, params={"stages": 1, "stage_s": 600})  # never runs: no worker
        with client.stream("GET", f"/jobs/{job['id']}/events") as response:
            lines = response.iter_lines()  # dropping it early would close the connection
            assert next(lines) == "event: submitted"
            assert in_flight.count >= 1  # the stream waits for more
        # Leaving the block closed the connection; the server must stop streaming.
        wait_for(lambda: in_flight.count == 0, "the event stream to stop")


def test_a_silent_stream_sends_keepalive_comments(
    client: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    # FastAPI's event streams send a comment after this many seconds without an event.
    monkeypatch.setattr(fastapi.routing, "_PING_INTERVAL", 0.2)
    job = submit(client)  # never runs: no worker
    with client.stream("GET", f"/jobs/{job['id']}/events") as response:
        lines = response.iter_lines()
        assert next(lines) == "event: submitted"
        assert any(line.startswith(":") for line in lines)


def test_dedupe_key_returns_the_same_job_or_conflicts(client: httpx.Client) -> None:
    body = {"pipeline": "diagnostic", "params": {"stages": 1}, "dedupe_key": "scan-42"}
    first = client.post("/jobs", json=body)
    again = client.post("/jobs", json=body)
    other = client.post("/jobs", json={**body, "params": {"stages": 2}})

    assert first.status_code == 201
    assert again.status_code == 200
    assert "location" not in again.headers
    assert again.json()["id"] == first.json()["id"]
    assert other.status_code == 409
    assert other.headers["content-type"] == "application/problem+json"
    assert other.json()["type"].endswith("/dedupe-conflict")
    assert other.json()["job_id"] == first.json()["id"]
    assert len(client.get("/jobs").json()["jobs"]) == 1


def test_cancel_a_running_job(client: httpx.Client, worker: JobWorker) -> None:
    job = submit(client, params={"stages": 1, "stage_s": 600})
    wait_for(lambda: client.get(f"/jobs/{job['id']}").json()["state"] == "running", "a claim")

    response = client.post(f"/jobs/{job['id']}/cancel")

    assert response.status_code == 200
    assert response.json()["cancel_requested"] is True
    events = read_events(client, job["id"])
    assert _in_order(["claimed", "cancel_requested", "cancelled"], [e.event for e in events])
    assert events[-1].event == "cancelled"
    assert events[-1].data["state"] == "cancelled"
    assert client.get(f"/jobs/{job['id']}").json()["state"] == "cancelled"


def test_retry_queues_a_failed_job_again(
    client: httpx.Client, engine: Engine, settings: Settings
) -> None:
    job = submit(client, params={"stages": 1, "stage_s": 0, "fail_rate": 1}, max_attempts=1)
    drain(engine, settings)
    assert client.get(f"/jobs/{job['id']}").json()["state"] == "failed"

    response = client.post(f"/jobs/{job['id']}/retry")

    assert response.status_code == 200
    assert response.json()["state"] == "queued"
    assert response.json()["error"] is None
    assert client.get(f"/jobs/{job['id']}").json()["state"] == "queued"
    events = read_events(client, job["id"], until="retried")
    assert [e.event for e in events][-2:] == ["failed", "retried"]


def test_list_jobs_pages_and_filters(
    client: httpx.Client, engine: Engine, settings: Settings
) -> None:
    ids = [submit(client, params={"stage_s": 0, "stages": 1})["id"] for _ in range(3)]
    client.post(f"/jobs/{ids[0]}/cancel")

    first = client.get("/jobs", params={"limit": 2}).json()
    second = client.get("/jobs", params={"limit": 2, "before": first["next_before"]}).json()
    cancelled = client.get("/jobs", params={"state": "cancelled"}).json()

    assert [j["id"] for j in first["jobs"]] == [ids[2], ids[1]]
    assert first["next_before"] == ids[1]
    assert [j["id"] for j in second["jobs"]] == [ids[0]]
    assert second["next_before"] is None
    assert [j["id"] for j in cancelled["jobs"]] == [ids[0]]
    assert client.get("/jobs", params={"pipeline": "other"}).json()["jobs"] == []


def test_pipelines_lists_diagnostic_with_its_params_schema(client: httpx.Client) -> None:
    pipelines = {p["name"]: p for p in client.get("/pipelines").json()}

    schema = pipelines["diagnostic"]["params"]
    assert {"stages", "stage_s", "fail_rate"} <= set(schema["properties"])
    assert schema["properties"]["stages"]["minimum"] == 1
