"""The whole capture flow in a real browser against `vantage serve`.

Chromium opens the new-job page, uploads a rendered orbit video through the form, follows the job
page while the embedded worker reconstructs and compresses the scene, sees progress reach 100 %,
and opens the 3D viewer on the job's ``scene.sog``: the screenshot is not blank and no page
logged an error.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from vantage.capture.synthetic import render_orbit_video

from .browser import WatchedPage, screenshot_variance, wait_for_viewer

JOB_TIMEOUT_S = 600.0
STARTUP_S = 90.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """`vantage serve` with one embedded worker on a free port; stopped by SIGTERM."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("VANTAGE")}
    env.update(
        VANTAGE__DATA_DIR=str(tmp_path / "data"),
        VANTAGE__API__PORT=str(port),
        VANTAGE__JOBS__POLL_INTERVAL_S="0.1",
        VANTAGE__LOG__LEVEL="WARNING",
    )
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "vantage", "serve", "--workers", "1"],
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_S
        while True:
            assert process.poll() is None, log_path.read_text()
            try:
                if httpx.get(f"{url}/health", timeout=5).json().get("workers_alive", 0) >= 1:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "vantage serve never became healthy"
            time.sleep(0.2)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(30)


def test_upload_watch_progress_and_view_the_scene(
    server: str, browser_page: WatchedPage, tmp_path: Path
) -> None:
    video = render_orbit_video(tmp_path / "orbit.mp4", seconds=6.0, fps=12).path
    page = browser_page.page
    page.set_viewport_size({"width": 800, "height": 900})

    page.goto(f"{server}/ui/jobs/new")
    page.set_input_files("#upload-input", str(video))
    page.select_option("#preset-select", "fast")
    page.click("details summary")
    page.fill("#max-frames-input", "16")
    page.fill("#iterations-input", "250")
    page.click("#submit-job")
    page.wait_for_url(re.compile(r"/ui/jobs/[0-9a-f]+$"), timeout=60_000)
    job_id = page.url.rsplit("/", 1)[1]

    # The page follows the job live (SSE): progress climbs to 100 % and the state to succeeded.
    seen: set[str] = set()
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while (state := page.get_attribute("#job", "data-state")) != "succeeded":
        assert state in ("queued", "running"), page.inner_text("#job-error")
        stage = page.inner_text("#job-stage").strip()
        if stage:
            seen.add(stage)
        assert time.monotonic() < deadline, f"job still {state} at {stage}"
        time.sleep(1.0)
    assert page.get_attribute("#job-progress", "data-percent") == "100"
    assert len(seen) >= 2, seen  # stage names were shown while it ran
    rows = page.locator(".stage-row")
    assert [rows.nth(i).get_attribute("data-stage") for i in range(rows.count())] == [
        "input",
        "frames",
        "sfm",
        "train",
        "compress",
        "report",
    ]
    page.wait_for_selector("#downloads a[href$='scene.sog']", timeout=30_000)
    page.wait_for_selector("#viewer-frame[src]", timeout=30_000)

    # The viewer the job page embeds, opened on its own: it draws the reconstructed scene.
    viewer_url = page.get_attribute("#viewer-frame", "src")
    assert viewer_url == f"/jobs/{job_id}/viewer"
    page.set_viewport_size({"width": 320, "height": 240})
    page.goto(f"{server}{viewer_url}")
    state = wait_for_viewer(page, timeout_s=120)
    assert state["ready"] and not state["error"], state
    # It draws every Gaussian the job wrote into scene.sog (the count depends on the SfM run).
    report = httpx.get(f"{server}/jobs/{job_id}/artifacts/report.json", timeout=30).json()
    sog_gaussians = report["compress"]["formats"]["sog"]["gaussians"]
    assert sog_gaussians > 0
    assert state["splats"] == sog_gaussians
    assert screenshot_variance(page.screenshot()) > 500
    assert browser_page.errors == []
