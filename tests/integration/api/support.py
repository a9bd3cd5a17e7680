"""Helpers for API tests: a live uvicorn server, an SSE reader, polling, row counts."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import Engine, func, select
from starlette.types import ASGIApp

from vantage.catalog.models import Job, JobEvent
from vantage.config import Settings
from vantage.jobs.worker import JobWorker

DEADLINE_S = 30.0


@dataclass(frozen=True)
class LiveServer:
    """A uvicorn server running in a thread."""

    url: str
    server: uvicorn.Server


@dataclass(frozen=True)
class SseEvent:
    """One server-sent event as a client parsed it."""

    id: int
    event: str
    data: dict[str, Any]


@contextmanager
def serve(app: ASGIApp) -> Iterator[LiveServer]:
    """Run ``app`` on a free 127.0.0.1 port until the block ends."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    # Off the main thread uvicorn installs no signal handlers; should_exit stops it.
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=5))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    wait_for(lambda: server.started or not thread.is_alive(), "the server to start")
    assert server.started, "the server did not start"
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", server)
    finally:
        server.should_exit = True
        thread.join(timeout=DEADLINE_S)


def wait_for(condition: Callable[[], Any], what: str, deadline_s: float = DEADLINE_S) -> Any:
    """Poll ``condition`` until it is truthy (returned) or the deadline passes (test fails)."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    pytest.fail(f"timed out waiting for {what}")


def read_events(
    client: httpx.Client, job_id: str, *, until: str | None = None, **request: Any
) -> list[SseEvent]:
    """The job's event stream until the server ends it (or an ``until`` event was read)."""
    events: list[SseEvent] = []
    fields: dict[str, str] = {}
    with client.stream("GET", f"/jobs/{job_id}/events", **request) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith(":"):  # keepalive comment
                continue
            if line:
                name, _, value = line.partition(": ")
                fields[name] = value
                continue
            events.append(SseEvent(int(fields["id"]), fields["event"], json.loads(fields["data"])))
            fields = {}
            if events[-1].event == until:
                break
    return events


def row_counts(engine: Engine) -> tuple[int, int]:
    """How many jobs and job events the catalog holds."""
    with engine.connect() as conn:
        jobs = conn.scalar(select(func.count()).select_from(Job.__table__))
        events = conn.scalar(select(func.count()).select_from(JobEvent.__table__))
    return jobs or 0, events or 0


def drain(engine: Engine, settings: Settings) -> None:
    """Run every due job to a stop in this thread, then return."""
    stop = threading.Event()
    try:
        JobWorker(engine, settings).run(stop, exit_when_idle=True)
    finally:
        stop.set()  # ends the worker's heartbeat thread


def submit(client: httpx.Client, pipeline: str = "diagnostic", **body: Any) -> dict[str, Any]:
    """Submit a job and return it (expecting 201)."""
    response = client.post("/jobs", json={"pipeline": pipeline, **body})
    assert response.status_code == 201, response.text
    job: dict[str, Any] = response.json()
    return job
