"""``vantage demo``: render a sample capture, reconstruct it through `vantage serve`, stop.

It exercises the whole path a user takes: a video in, the server with an embedded worker, the
REST API, the server-sent event stream, the metrics endpoint, and the scene files out, on a
fresh data folder.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from vantage.cli.app import app, console
from vantage.cli.progress import follow_job
from vantage.errors import ServiceUnavailableError, VantageError
from vantage.jobs.records import JobRecord

#: How long the demo waits for the server to answer /health with a live worker.
STARTUP_TIMEOUT_S = 90.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(client: httpx.Client, server: subprocess.Popen[bytes], timeout_s: float) -> None:
    """Wait until the server answers /health with at least one live worker.

    Raises:
        ServiceUnavailableError: the server exited or did not become healthy in time.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise ServiceUnavailableError(f"vantage serve exited with code {server.returncode}")
        try:
            health = client.get("/health")
            if health.status_code == 200 and health.json().get("workers_alive", 0) > 0:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    raise ServiceUnavailableError(f"vantage serve was not healthy within {timeout_s:.0f} s")


def sse_events(client: httpx.Client, path: str) -> Iterator[dict[str, Any]]:
    """The JSON payloads of a server-sent event stream, until the server ends it."""
    with client.stream("GET", path, timeout=None) as response:
        response.raise_for_status()
        data: list[str] = []
        for line in response.iter_lines():
            if line.startswith("data:"):
                data.append(line[5:].strip())
            elif not line and data:
                yield json.loads("\n".join(data))
                data = []


@app.command()
def demo(
    preset: Annotated[str, typer.Option(help="Reconstruction preset.")] = "fast",
    seconds: Annotated[float, typer.Option(min=2, help="Length of the sample video.")] = 8.0,
    data_dir: Annotated[Path, typer.Option(help="Fresh folder for the demo.")] = Path(".demo"),
) -> None:
    """Render a sample capture and reconstruct it through `vantage serve`, the API and SSE."""
    from vantage.capture.synthetic import render_orbit_video

    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    data_dir = data_dir.resolve()
    sample = render_orbit_video(data_dir / "sample.mp4", seconds=seconds, fps=15)
    console.print(
        f"rendered a sample capture: {sample.path} ({sample.frame_count} frames, 320×240, "
        f"{len(sample.blurred_indices)} motion-blurred, {len(sample.static_indices)} paused)"
    )
    port = free_port()
    env = {**os.environ, "VANTAGE__DATA_DIR": str(data_dir), "VANTAGE__API__PORT": str(port)}
    env.pop("VANTAGE__DB__URL", None)
    log_path = data_dir / "serve.log"
    console.print(f"starting [bold]vantage serve[/] on http://127.0.0.1:{port} (log: {log_path})")
    with log_path.open("wb") as log_file:
        server = subprocess.Popen(
            [sys.executable, "-m", "vantage", "serve", "--workers", "1"],
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    output = data_dir / "scene"
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            wait_healthy(client, server, STARTUP_TIMEOUT_S)
            params = {"input": str(sample.path), "output": str(output), "preset": preset}
            _run_job(client, "reconstruct", params)
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    console.print("server stopped; outputs:")
    names = ("scene.ply", "scene.sog", "scene.spz", "viewer.html", "report.json", "sparse")
    for name in names:
        console.print(f"  {output / name}")
    console.print(
        f"see the scene: python3 -m http.server -b 127.0.0.1 -d {output}, then open "
        "http://127.0.0.1:8000/viewer.html (or run `vantage serve` and open /ui/jobs)"
    )


def _run_job(client: httpx.Client, pipeline: str, params: Mapping[str, object]) -> None:
    response = client.post("/jobs", json={"pipeline": pipeline, "params": dict(params)})
    if response.status_code >= 400:
        raise VantageError(f"POST /jobs failed: {response.text}")
    job_id = response.json()["id"]
    console.print(f"POST /jobs → job [bold]{job_id}[/]; following GET /jobs/{job_id}/events")
    events = sse_events(client, f"/jobs/{job_id}/events")
    seen: list[str] = []

    def latest() -> JobRecord:
        # Each SSE event moves the bar; the record itself comes from the REST API.
        event = next(events, None)
        if event is not None:
            seen.append(event["kind"])
        return JobRecord.model_validate(client.get(f"/jobs/{job_id}").json())

    job = follow_job(latest, console)
    seen.extend(event["kind"] for event in events)  # the stream ends after the final event
    console.print(f"{len(seen)} events: {' → '.join(dict.fromkeys(seen))}")
    for stage in job.stages:
        output = {k: v for k, v in (stage.output or {}).items() if not isinstance(v, list)}
        console.print(f"  {stage.name}: {stage.state.value} {json.dumps(output, default=str)}")
    metrics = client.get("/metrics").text
    wanted = ("vantage_jobs{", "vantage_stage_duration_seconds_sum", "vantage_workers_alive")
    shown = [line for line in metrics.splitlines() if line.startswith(wanted)]
    console.print("GET /metrics:\n  " + "\n  ".join(shown))
