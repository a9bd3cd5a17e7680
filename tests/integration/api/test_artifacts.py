"""Artifacts over HTTP: a running job publishes files; the API lists and streams them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from vantage.jobs import pipeline as pipelines
from vantage.jobs.pipeline import Pipeline, Stage, StageContext
from vantage.jobs.worker import JobWorker

from .support import submit, wait_for

SCENE = b"ply\n" + bytes(range(256)) * 2000  # 512 KB: streamed in chunks


def _publish(ctx: StageContext) -> dict[str, Any]:
    ctx.work_dir.mkdir(parents=True, exist_ok=True)
    scene = ctx.work_dir / "scene.ply"
    scene.write_bytes(SCENE)
    (ctx.work_dir / "report.json").write_text('{"psnr": 30}')
    ctx.publish("scene.ply", scene)
    ctx.publish("report.json", ctx.work_dir / "report.json")
    return {}


PUBLISHING = Pipeline(
    name="publishing",
    description="One stage that publishes two files.",
    params_model=pipelines.get_pipeline("diagnostic").params_model,
    plan=lambda params: [Stage("report", _publish)],
)


@pytest.fixture
def publishing(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setitem(pipelines.PIPELINES, "publishing", f"{__name__}:PUBLISHING")
    yield


def test_a_job_lists_and_serves_its_artifacts(
    publishing: None, client: httpx.Client, worker: JobWorker, tmp_path: Path
) -> None:
    job = submit(client, "publishing")
    wait_for(
        lambda: client.get(f"/jobs/{job['id']}").json()["state"] == "succeeded", "job to succeed"
    )
    listed = client.get(f"/jobs/{job['id']}/artifacts")
    assert listed.status_code == 200
    by_name = {entry["name"]: entry for entry in listed.json()}
    assert sorted(by_name) == ["report.json", "scene.ply"]
    assert by_name["scene.ply"]["size_bytes"] == len(SCENE)
    assert by_name["scene.ply"]["url"] == f"/jobs/{job['id']}/artifacts/scene.ply"

    download = client.get(by_name["scene.ply"]["url"])
    assert download.status_code == 200
    assert download.content == SCENE
    assert download.headers["content-length"] == str(len(SCENE))
    report = client.get(by_name["report.json"]["url"])
    assert report.headers["content-type"].startswith("application/json")
    assert report.json() == {"psnr": 30}


def test_missing_artifacts_and_jobs_are_404_problems(client: httpx.Client) -> None:
    job = submit(client)
    assert client.get(f"/jobs/{job['id']}/artifacts").json() == []
    missing = client.get(f"/jobs/{job['id']}/artifacts/scene.ply")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert "scene.ply" in missing.json()["detail"]
    assert client.get("/jobs/nope/artifacts").status_code == 404
    assert client.get("/jobs/nope/artifacts/scene.ply").status_code == 404
