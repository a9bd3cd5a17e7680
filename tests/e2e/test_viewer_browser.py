"""The 3D viewer in a real browser: scenes load, render and fail visibly.

A small synthetic scene is written as PLY by our exporter and converted to SOG and SPZ by
PlayCanvas's splat-transform CLI (from ``webui/``), so the viewer is checked against files a
third party wrote. Standalone pages are served over HTTP from a temp folder, as any static host
would; the API's page is served by the API with the bundle under /static.
"""

from __future__ import annotations

import io
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vantage.api.app import create_app
from vantage.capture.splat.ply import export_ply
from vantage.capture.splat.synthetic import blob_gaussians
from vantage.catalog.db import engine_from_settings
from vantage.catalog.migrate import upgrade
from vantage.config import load_settings
from vantage.jobs.queue import JobQueue
from vantage.web.viewer import write_standalone_viewer

from .browser import WatchedPage, live_app, screenshot_variance, static_server, wait_for_viewer

REPO = Path(__file__).resolve().parents[2]
SPLAT_TRANSFORM = REPO / "webui" / "node_modules" / ".bin" / "splat-transform"
SPLATS = 3000
#: A black page scores 0, the status line alone ~200, the test scene ~3400.
MIN_VARIANCE = 1000.0
#: The synthetic scene stands upright along +z.
Z_UP = (0.0, 0.0, 1.0)


@pytest.fixture(scope="module")
def scene_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with one colourful scene as scene.ply, scene.sog and scene.spz."""
    if not SPLAT_TRANSFORM.exists():
        pytest.fail(f"{SPLAT_TRANSFORM} is missing: run `make setup` (npm ci in webui/)")
    folder = tmp_path_factory.mktemp("scene")
    export_ply(blob_gaussians(SPLATS, seed=7), folder / "scene.ply")
    # Spark 2.2 reads SPZ version 3 (gzip); splat-transform writes version 4 unless told.
    for target, options in (("scene.sog", []), ("scene.spz", ["--spz-version", "3"])):
        subprocess.run(
            [str(SPLAT_TRANSFORM), "-w", *options, "scene.ply", target],
            cwd=folder,
            check=True,
            capture_output=True,
            timeout=120,
        )
    return folder


@pytest.fixture
def api_job(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A live API over a fresh catalog holding one job: (base URL, job id)."""
    settings = load_settings(environ={}, data_dir=tmp_path / "data")
    engine = engine_from_settings(settings)
    upgrade(engine)
    job, _ = JobQueue(engine).submit("diagnostic", {"stages": 1, "stage_s": 0})
    try:
        with live_app(create_app(settings, engine=engine)) as base_url:
            yield base_url, job.id
    finally:
        engine.dispose()


def _pixels(png: bytes) -> np.ndarray:
    """[H, W, 3] RGB values as floats."""
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.float64)


def _lit_pixels(png: bytes) -> np.ndarray:
    """[H, W] True where a pixel is clearly not the black background."""
    lit: np.ndarray = _pixels(png).max(axis=2) > 40
    return lit


def test_standalone_viewer_shows_the_scene_alike_in_every_format(
    browser_page: WatchedPage, scene_dir: Path
) -> None:
    page = browser_page.page
    shots: dict[str, bytes] = {}
    with static_server(scene_dir) as base_url:
        for scene_file in ("scene.ply", "scene.sog", "scene.spz"):
            write_standalone_viewer(scene_dir, scene_file, title="Blobs", up=Z_UP)
            page.goto(f"{base_url}/viewer.html?{scene_file}")  # a new URL: no cached page
            state = wait_for_viewer(page)
            assert state == {"ready": True, "error": None, "splats": SPLATS}, scene_file
            shots[scene_file] = page.screenshot()
    assert page.title() == "Blobs"

    for scene_file, png in shots.items():
        assert screenshot_variance(png) > MIN_VARIANCE, scene_file
        lit = _lit_pixels(png)
        assert lit.mean() > 0.1, scene_file  # the scene covers a good part of the view …
        rows, cols = np.nonzero(lit)
        height, width = lit.shape
        assert abs(rows.mean() / height - 0.5) < 0.2, scene_file  # … around its centre
        assert abs(cols.mean() / width - 0.5) < 0.2, scene_file
    # The lossy formats look like the PLY: same axes, same camera (SPZ upside down differs ~28).
    reference = _pixels(shots["scene.ply"])
    for scene_file in ("scene.sog", "scene.spz"):
        assert np.abs(_pixels(shots[scene_file]) - reference).mean() < 3.0, scene_file
    assert browser_page.errors == []


def test_the_api_viewer_page_shows_the_jobs_scene(
    browser_page: WatchedPage, scene_dir: Path, api_job: tuple[str, str]
) -> None:
    base_url, job_id = api_job
    page = browser_page.page
    # The scene stands in for the job's artifact: this checks the page and /static, not storage.
    scene = f"{base_url}/jobs/{job_id}/artifacts/scene.sog"
    page.route(scene, lambda route: route.fulfill(path=scene_dir / "scene.sog"))

    page.goto(f"{base_url}/jobs/{job_id}/viewer")
    state = wait_for_viewer(page)

    assert state == {"ready": True, "error": None, "splats": SPLATS}
    assert job_id in page.title()
    assert screenshot_variance(page.screenshot()) > MIN_VARIANCE
    assert browser_page.errors == []


def test_blank_and_status_only_pages_score_below_the_threshold(browser_page: WatchedPage) -> None:
    page = browser_page.page
    page.set_content("<body style='margin: 0; background: #000'></body>")
    assert screenshot_variance(page.screenshot()) < 1.0

    page.set_content(
        "<body style='margin: 0; background: #000'>"
        "<p style='color: #eee; font: 14px sans-serif; margin: 0.75rem'>Loading the scene…</p>"
        "</body>"
    )
    assert 1.0 < screenshot_variance(page.screenshot()) < MIN_VARIANCE


def test_a_missing_scene_shows_an_error_instead_of_hanging(
    browser_page: WatchedPage, tmp_path: Path
) -> None:
    write_standalone_viewer(tmp_path, "absent.sog", title="Nothing here")

    with static_server(tmp_path) as base_url:
        browser_page.page.goto(f"{base_url}/viewer.html")
        state = wait_for_viewer(browser_page.page)
        message = browser_page.page.locator(".vantage-status").inner_text()

    assert state["ready"] is False
    assert "absent.sog" in state["error"]
    assert "404" in state["error"]
    assert message.startswith("Cannot show the scene:")
    assert any("cannot show the scene" in error for error in browser_page.console_errors)
    assert browser_page.page_errors == []
