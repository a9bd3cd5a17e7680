"""The viewer page of a job over HTTP, and the viewer bundle under /static."""

from __future__ import annotations

import httpx

from vantage.web.viewer import BUNDLE_URL, bundle_path

from .support import submit


def test_job_viewer_page_shows_the_jobs_scene(client: httpx.Client) -> None:
    job = submit(client, params={"stages": 1, "stage_s": 0})

    response = client.get(f"/jobs/{job['id']}/viewer")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert f'data-scene-url="/jobs/{job["id"]}/artifacts/scene.sog"' in response.text
    assert f'<script type="module" src="{BUNDLE_URL}"></script>' in response.text
    assert job["id"] in response.text.split("<title>")[1].split("</title>")[0]


def test_viewer_of_an_unknown_job_is_a_404_problem(client: httpx.Client) -> None:
    response = client.get("/jobs/no-such-job/viewer")

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"].endswith("/job-not-found")
    assert problem["instance"] == "/jobs/no-such-job/viewer"


def test_static_serves_the_built_bundle_and_404s_the_rest(client: httpx.Client) -> None:
    response = client.get(BUNDLE_URL)

    assert response.status_code == 200, f"{bundle_path()} missing? run `make setup`"
    assert "javascript" in response.headers["content-type"]
    assert len(response.content) == bundle_path().stat().st_size
    missing = client.get("/static/dist/nothing.js")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
