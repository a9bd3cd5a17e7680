"""POST /start-job in the seeds' shape, and job inputs and notices checked at submit time."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import httpx
import pytest
from sqlalchemy import Engine, select

from integration.servers import Mailbox, Receiver, moto_s3, smtp_server, webhook_receiver
from vantage.api.app import create_app
from vantage.catalog.models import Job
from vantage.config import InputsSettings, NotifySettings, Settings
from vantage.jobs.worker import JobWorker

from .forms import CONTENT_TYPE, body
from .support import DEADLINE_S, serve, wait_for

PROBLEM = "application/problem+json"
UPLOAD_ID = "0" * 32


def stored_notify(engine: Engine, job_id: str) -> Any:
    with engine.connect() as conn:
        return conn.scalar(select(Job.__table__.c.notify).where(Job.__table__.c.id == job_id))


def test_start_job_queues_a_reconstruction_with_notices(
    client: httpx.Client, engine: Engine
) -> None:
    response = client.post(
        "/start-job",
        json={
            "s3Url": "s3://captures/scan-17/video.mp4",
            "email": "ada@example.com",
            "preset": "fast",
            "webhook": "https://hooks.example.com/vantage?key=1",
        },
    )

    assert response.status_code == 201, response.text
    job = response.json()
    assert response.headers["location"].endswith(f"/jobs/{job['id']}")
    assert job["pipeline"] == "reconstruct"
    assert job["state"] == "queued"
    assert job["params"]["input"] == "s3://captures/scan-17/video.mp4"
    assert job["params"]["preset"] == "fast"
    assert job["params"]["output"] is None  # the job's own folder
    assert job["stages"][0]["name"] == "input"
    assert stored_notify(engine, job["id"]) == {
        "email": "ada@example.com",
        "webhook": "https://hooks.example.com/vantage?key=1",
    }
    assert "notify" not in job  # addresses are not shown to every reader


def test_start_job_takes_an_http_url_and_defaults_the_preset(
    client: httpx.Client, engine: Engine
) -> None:
    response = client.post(
        "/start-job",
        json={
            "s3Url": "https://bucket.s3.amazonaws.com/v.mp4?X-Amz-Signature=abc",
            "email": "a@b.io",
        },
    )
    assert response.status_code == 201, response.text
    assert response.json()["params"]["preset"] == "balanced"
    assert stored_notify(engine, response.json()["id"]) == {"email": "a@b.io"}


@pytest.mark.parametrize(
    "payload",
    [
        {"email": "a@b.io"},
        {"s3Url": "s3://bucket/v.mp4"},
        {"s3Url": "/srv/captures/v.mp4", "email": "a@b.io"},
        {"s3Url": f"upload://{UPLOAD_ID}", "email": "a@b.io"},
        {"s3Url": "ftp://host/v.mp4", "email": "a@b.io"},
        {"s3Url": "s3://Not_A_Bucket/v.mp4", "email": "a@b.io"},
        {"s3Url": "s3://bucket/v.mp4", "email": "not-an-address"},
        {"s3Url": "s3://bucket/v.mp4", "email": "a@b.io\nBcc: all@example.com"},
        {"s3Url": "s3://bucket/v.mp4", "email": "a@b.io", "webhook": "not a url"},
        {"s3Url": "s3://bucket/v.mp4", "email": "a@b.io", "preset": "best"},
        {"s3Url": "s3://bucket/v.mp4", "email": "a@b.io", "priority": 3},
    ],
    ids=[
        "no-url",
        "no-email",
        "server-path",
        "upload",
        "ftp",
        "bad-bucket",
        "bad-email",
        "header-injection",
        "bad-webhook",
        "bad-preset",
        "unknown-field",
    ],
)
def test_bad_start_requests_are_422_and_queue_nothing(
    client: httpx.Client, payload: dict[str, Any]
) -> None:
    response = client.post("/start-job", json=payload)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    assert client.get("/jobs").json()["jobs"] == []


def test_jobs_take_notify_targets(client: httpx.Client, engine: Engine) -> None:
    notify = {"email": "ops@example.com", "webhook": "http://127.0.0.1:9/hook"}
    job = client.post("/jobs", json={"pipeline": "diagnostic", "notify": notify}).json()
    assert stored_notify(engine, job["id"]) == notify

    bad = client.post("/jobs", json={"pipeline": "diagnostic", "notify": {"email": "x"}})
    assert bad.status_code == 422
    extra = client.post("/jobs", json={"pipeline": "diagnostic", "notify": {"sms": "+1"}})
    assert extra.status_code == 422


def test_upload_inputs_are_checked_at_submit(client: httpx.Client) -> None:
    upload = client.post(
        "/uploads",
        content=body(("file", "clip.mp4", b"not really a video")),
        headers={"content-type": CONTENT_TYPE},
    ).json()

    ok = client.post(
        "/jobs", json={"pipeline": "reconstruct", "params": {"input": upload["input"]}}
    )
    missing = client.post(
        "/jobs", json={"pipeline": "reconstruct", "params": {"input": f"upload://{UPLOAD_ID}"}}
    )
    malformed = client.post(
        "/jobs", json={"pipeline": "reconstruct", "params": {"input": "upload://../etc"}}
    )

    assert ok.status_code == 201, ok.text
    assert ok.json()["params"] == ok.json()["params"] | {"input": upload["input"], "output": None}
    assert missing.status_code == 422
    assert missing.json()["type"].endswith("/invalid-params")
    assert f"no upload with id '{UPLOAD_ID}'" in missing.json()["detail"]
    assert malformed.status_code == 422
    assert "upload id" in malformed.json()["detail"]
    assert len(client.get("/jobs").json()["jobs"]) == 1


# -- end to end: a start-job whose S3 object is missing fails, and both notices say so ---------


@pytest.fixture
def moto_endpoint() -> Iterator[str]:
    with moto_s3() as endpoint:
        yield endpoint


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with smtp_server() as mailbox:
        yield mailbox


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as receiver:
        yield receiver


def test_a_failed_start_job_sends_its_notices(
    settings: Settings, engine: Engine, moto_endpoint: str, mailbox: Mailbox, receiver: Receiver
) -> None:
    boto3.client("s3", endpoint_url=moto_endpoint).create_bucket(Bucket="captures")
    settings = settings.model_copy(
        update={
            "inputs": InputsSettings(s3_endpoint_url=moto_endpoint),
            "notify": NotifySettings(
                smtp_host=mailbox.host, smtp_port=mailbox.port, smtp_starttls=False
            ),
        }
    )
    worker = JobWorker(engine, settings)
    with (
        serve(create_app(settings, engine=engine)) as live,
        httpx.Client(base_url=live.url) as client,
    ):
        job = client.post(
            "/start-job",
            json={
                "s3Url": "s3://captures/missing/",
                "email": "ada@example.com",
                "webhook": receiver.url,
            },
        ).json()
        assert worker.run_one()  # the input stage finds nothing: a permanent failure

        final = client.get(f"/jobs/{job['id']}").json()
    worker.notifier.close()  # waits for the notices under way

    assert final["state"] == "failed"
    assert final["attempts"] == 1
    assert "holds nothing" in final["error"]
    wait_for(lambda: mailbox.messages and receiver.bodies, "both notices", DEADLINE_S)
    [mail] = mailbox.messages
    assert mailbox.recipients == [["ada@example.com"]]
    assert job["id"] in mail["Subject"]
    assert "failed" in mail["Subject"]
    text = mail.get_payload(decode=True).decode()
    assert "holds nothing" in str(text)
    assert f"/jobs/{job['id']}/view" in str(text)
    [payload] = receiver.bodies
    assert payload | {"event": "job.failed", "job_id": job["id"], "state": "failed"} == payload
    assert payload["pipeline"] == "reconstruct"
    assert "holds nothing" in payload["error"]
