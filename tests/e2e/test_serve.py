"""`vantage serve` end to end: API and embedded workers up, a job through HTTP, clean stop."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from .test_cli import FAST_ENV

DEADLINE_S = 90.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); its state in /proc says it has exited.
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "State:\tZ" not in status.read_text()


def test_serve_runs_jobs_and_stops_its_workers_on_sigterm(tmp_path: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("VANTAGE")}
    env.update(FAST_ENV, VANTAGE__DATA_DIR=str(tmp_path / "data"), VANTAGE__API__PORT=str(port))
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "vantage", "serve", "--workers", "2"],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    worker_pids: set[int] = set()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            deadline = time.monotonic() + DEADLINE_S
            while True:
                assert server.poll() is None, (tmp_path / "serve.log").read_text()
                try:
                    health = client.get("/health").json()
                    if health.get("workers_alive", 0) >= 2:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "serve never became healthy"
                time.sleep(0.2)
            job = client.post("/jobs", json={"pipeline": "diagnostic", "params": {"stage_s": 0}})
            assert job.status_code == 201
            while (state := client.get(f"/jobs/{job.json()['id']}").json()["state"]) != "succeeded":
                assert state in ("queued", "running")
                assert time.monotonic() < deadline, "job did not finish"
                time.sleep(0.1)
        children = subprocess.run(
            ["pgrep", "-P", str(server.pid)], capture_output=True, text=True, check=False
        )
        worker_pids = {int(pid) for pid in children.stdout.split()}
        assert len(worker_pids) >= 2

        server.send_signal(signal.SIGTERM)
        assert server.wait(60) == 0
        deadline = time.monotonic() + 30
        while any(_alive(pid) for pid in worker_pids) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(_alive(pid) for pid in worker_pids), "workers outlived vantage serve"
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(10)
        for pid in worker_pids:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        log.close()
