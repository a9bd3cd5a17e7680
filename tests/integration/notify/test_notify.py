"""Job notices end to end on SQLite and PostgreSQL: a real SMTP server gets the e-mail, a local
receiver gets the webhook (with retries), and a notice that cannot be sent never fails the job."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import Engine, select, update

from integration.servers import Mailbox, free_port, smtp_server, webhook_receiver
from vantage.catalog.models import Job, utcnow
from vantage.config import ApiSettings, NotifySettings, Settings
from vantage.errors import NotificationError
from vantage.jobs.leases import JobLeases
from vantage.jobs.queue import JobQueue
from vantage.jobs.records import JobRecord, JobState, NotifyTargets
from vantage.jobs.worker import JobWorker
from vantage.notify.dispatch import Notifier
from vantage.notify.webhook import WebhookPolicy, post_webhook

PUBLIC_URL = "https://vantage.example"
QUICK = {"stages": 1, "stage_s": 0}


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with smtp_server() as mailbox:
        yield mailbox


@pytest.fixture
def notify_settings(settings: Settings, mailbox: Mailbox) -> Settings:
    """The catalog's settings, with the local SMTP server and quick webhook retries."""
    notify = NotifySettings(
        smtp_host=mailbox.host,
        smtp_port=mailbox.port,
        smtp_starttls=False,
        smtp_from="vantage@test.example",
        webhook_timeout_s=2,
        webhook_attempts=3,
        webhook_backoff_s=0.05,
    )
    api = ApiSettings(public_url=PUBLIC_URL + "/")
    return settings.model_copy(update={"notify": notify, "api": api})


@pytest.fixture
def queue(engine: Engine) -> JobQueue:
    return JobQueue(engine, default_max_attempts=3)


def run_until_final(engine: Engine, settings: Settings, job_id: str) -> JobRecord:
    """Run workers until the job is final; each run waits for its notices before returning."""
    queue = JobQueue(engine)
    deadline = time.monotonic() + 30
    while not (job := queue.get(job_id)).state.terminal:
        assert time.monotonic() < deadline, f"job {job_id} is still {job.state}"
        JobWorker(engine, settings).run(threading.Event(), exit_when_idle=True)
        time.sleep(0.05)
    return job


def counted(channel: str, outcome: str) -> float:
    labels = {"channel": channel, "outcome": outcome}
    return REGISTRY.get_sample_value("vantage_notifications_total", labels) or 0.0


def test_a_succeeded_job_sends_an_email_and_a_webhook(
    engine: Engine, notify_settings: Settings, queue: JobQueue, mailbox: Mailbox
) -> None:
    sent = counted("email", "sent"), counted("webhook", "sent")
    with webhook_receiver() as receiver:
        targets = NotifyTargets(email="ada@example.com", webhook=receiver.url)  # type: ignore[arg-type]
        job, _ = queue.submit("diagnostic", QUICK, notify=targets)
        final = run_until_final(engine, notify_settings, job.id)

    assert final.state == JobState.SUCCEEDED
    [mail] = mailbox.messages
    assert mailbox.recipients == [["ada@example.com"]]
    assert mail["From"] == "vantage@test.example"
    assert mail["Subject"] == f"Vantage: diagnostic job {job.id} succeeded"
    text = mail.get_payload(decode=True).decode()
    assert f"Job:      {job.id}" in text
    assert "State:    succeeded" in text
    assert "Duration: " in text
    assert f"{PUBLIC_URL}/jobs/{job.id}/view" in text
    assert "Error" not in text
    [payload] = receiver.bodies
    assert payload == {
        "event": "job.succeeded",
        "job_id": job.id,
        "pipeline": "diagnostic",
        "state": "succeeded",
        "error": None,
        "url": f"{PUBLIC_URL}/jobs/{job.id}/view",
        "duration_s": payload["duration_s"],
        "finished_at": payload["finished_at"],
    }
    assert payload["duration_s"] >= 0
    assert (counted("email", "sent"), counted("webhook", "sent")) == (sent[0] + 1, sent[1] + 1)


def test_a_failing_job_notifies_once_after_its_last_attempt(
    engine: Engine, notify_settings: Settings, queue: JobQueue, mailbox: Mailbox
) -> None:
    with webhook_receiver() as receiver:
        targets = NotifyTargets(email="ada@example.com", webhook=receiver.url)  # type: ignore[arg-type]
        job, _ = queue.submit(
            "diagnostic", {**QUICK, "fail_rate": 1.0}, max_attempts=2, notify=targets
        )
        final = run_until_final(engine, notify_settings, job.id)

    assert final.state == JobState.FAILED
    assert final.attempts == 2
    [mail] = mailbox.messages  # not one for the attempt that was retried
    assert mail["Subject"] == f"Vantage: diagnostic job {job.id} failed"
    assert "failed on purpose" in mail.get_payload(decode=True).decode()
    [payload] = receiver.bodies
    assert payload["event"] == "job.failed"
    assert "failed on purpose" in payload["error"]


def test_the_webhook_is_retried_with_backoff_until_it_answers(
    engine: Engine, notify_settings: Settings, queue: JobQueue
) -> None:
    sent, failed = counted("webhook", "sent"), counted("webhook", "failed")
    with webhook_receiver([500, 503]) as receiver:
        job, _ = queue.submit("diagnostic", QUICK, notify=NotifyTargets(webhook=receiver.url))  # type: ignore[arg-type]
        run_until_final(engine, notify_settings, job.id)

    assert receiver.answered == [500, 503, 200]
    assert [body["job_id"] for body in receiver.bodies] == [job.id] * 3
    assert counted("webhook", "sent") == sent + 1
    assert counted("webhook", "failed") == failed


def test_notices_that_cannot_be_sent_never_fail_the_job(
    engine: Engine, notify_settings: Settings, queue: JobQueue
) -> None:
    closed = notify_settings.notify.model_copy(update={"smtp_port": free_port()})
    settings = notify_settings.model_copy(update={"notify": closed})
    failed = counted("email", "failed"), counted("webhook", "failed")
    with webhook_receiver([500] * 10) as receiver:
        targets = NotifyTargets(email="ada@example.com", webhook=receiver.url)  # type: ignore[arg-type]
        job, _ = queue.submit("diagnostic", QUICK, notify=targets)
        final = run_until_final(engine, settings, job.id)

    assert final.state == JobState.SUCCEEDED
    assert receiver.answered == [500, 500, 500]  # webhook_attempts, then given up
    assert (counted("email", "failed"), counted("webhook", "failed")) == (
        failed[0] + 1,
        failed[1] + 1,
    )


def test_jobs_without_targets_and_cancelled_jobs_send_nothing(
    engine: Engine, notify_settings: Settings, queue: JobQueue, mailbox: Mailbox
) -> None:
    plain, _ = queue.submit("diagnostic", QUICK)
    cancelled, _ = queue.submit("diagnostic", QUICK, notify=NotifyTargets(email="a@b.io"))
    queue.cancel(cancelled.id)

    run_until_final(engine, notify_settings, plain.id)

    assert mailbox.messages == []


def test_a_job_the_reaper_fails_notifies_too(
    engine: Engine, notify_settings: Settings, queue: JobQueue, mailbox: Mailbox
) -> None:
    job, _ = queue.submit(
        "diagnostic", QUICK, max_attempts=1, notify=NotifyTargets(email="ada@example.com")
    )
    leases = JobLeases(engine, lease_ttl_s=30)
    try:
        assert leases.claim("gone-worker") is not None  # a worker that then died
    finally:
        leases.close()
    with engine.begin() as conn:
        conn.execute(update(Job).values(lease_expires_at=utcnow()).where(Job.id == job.id))

    worker = JobWorker(engine, notify_settings)
    assert worker.reap() == 1
    worker.notifier.close()

    assert queue.get(job.id).state == JobState.FAILED
    [mail] = mailbox.messages
    assert mail["Subject"] == f"Vantage: diagnostic job {job.id} failed"


def test_a_webhook_answer_that_will_not_change_is_not_retried() -> None:
    with webhook_receiver([404]) as receiver:
        waits: list[float] = []
        with pytest.raises(NotificationError, match="HTTP 404"):
            post_webhook(receiver.url, {"x": 1}, WebhookPolicy(attempts=4), sleep=waits.append)
    assert receiver.answered == [404]
    assert waits == []


def test_backoff_doubles_between_tries() -> None:
    with webhook_receiver([500, 429, 502, 500]) as receiver:
        waits: list[float] = []
        with pytest.raises(NotificationError, match="after 4 tries: HTTP 500"):
            post_webhook(
                receiver.url, {}, WebhookPolicy(attempts=4, backoff_s=0.5), sleep=waits.append
            )
    assert waits == [0.5, 1.0, 2.0]
    assert len(receiver.bodies) == 4


def finish_then_die(
    engine: Engine, settings: Settings, job_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker finishes the job and "dies" before its notices leave the process."""
    with monkeypatch.context() as patch:
        patch.setattr(Notifier, "job_finished", lambda *args: None)
        run_until_final(engine, settings, job_id)


def _notice_columns(engine: Engine, job_id: str) -> tuple[object, object]:
    with engine.connect() as conn:
        row = conn.execute(
            select(Job.notified_at, Job.notice_lease_until).where(Job.id == job_id)
        ).one()
    return row.notified_at, row.notice_lease_until


def test_delivered_notices_are_marked_and_not_sent_again(
    engine: Engine, notify_settings: Settings, queue: JobQueue, mailbox: Mailbox
) -> None:
    job, _ = queue.submit("diagnostic", QUICK, notify=NotifyTargets(email="ada@example.com"))
    run_until_final(engine, notify_settings, job.id)
    notified_at, lease = _notice_columns(engine, job.id)
    assert notified_at is not None and lease is None
    notifier = Notifier(notify_settings, engine)
    assert notifier.sweep(grace_s=0) == 0
    notifier.close()
    assert len(mailbox.messages) == 1


def test_notices_a_dead_worker_owed_are_sent_by_a_sweep(
    engine: Engine,
    notify_settings: Settings,
    queue: JobQueue,
    mailbox: Mailbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with webhook_receiver() as receiver:
        targets = NotifyTargets(email="ada@example.com", webhook=receiver.url)  # type: ignore[arg-type]
        job, _ = queue.submit("diagnostic", QUICK, notify=targets)
        finish_then_die(engine, notify_settings, job.id, monkeypatch)
        assert mailbox.messages == [] and receiver.bodies == []
        assert _notice_columns(engine, job.id) == (None, None)  # still owed

        notifier = Notifier(notify_settings, engine)
        assert notifier.sweep(grace_s=60) == 0  # it just finished: its own worker's turn
        assert notifier.sweep(grace_s=0) == 1
        notifier.close()
        assert notifier.sweep(grace_s=0) == 0  # delivered once, marked
        notifier.close()

    assert [m["Subject"] for m in mailbox.messages] == [
        f"Vantage: diagnostic job {job.id} succeeded"
    ]
    assert [body["job_id"] for body in receiver.bodies] == [job.id]
    assert _notice_columns(engine, job.id)[0] is not None


def test_a_held_lease_keeps_a_sweep_away_until_it_runs_out(
    engine: Engine,
    notify_settings: Settings,
    queue: JobQueue,
    mailbox: Mailbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    job, _ = queue.submit("diagnostic", QUICK, notify=NotifyTargets(email="ada@example.com"))
    finish_then_die(engine, notify_settings, job.id, monkeypatch)
    held = utcnow() + timedelta(minutes=5)
    with engine.begin() as conn:
        conn.execute(update(Job).where(Job.id == job.id).values(notice_lease_until=held))
    notifier = Notifier(notify_settings, engine)
    assert notifier.sweep(grace_s=0) == 0  # another sender is on it
    with engine.begin() as conn:
        expired = utcnow() - timedelta(seconds=1)
        conn.execute(update(Job).where(Job.id == job.id).values(notice_lease_until=expired))
    assert notifier.sweep(grace_s=0) == 1  # that sender died: its lease ran out
    notifier.close()
    assert len(mailbox.messages) == 1


def test_a_cancelled_job_owes_nothing(
    engine: Engine, notify_settings: Settings, queue: JobQueue, mailbox: Mailbox
) -> None:
    job, _ = queue.submit("diagnostic", QUICK, notify=NotifyTargets(email="ada@example.com"))
    queue.cancel(job.id)
    with engine.begin() as conn:  # as if it had finished a while ago
        past = utcnow() - timedelta(minutes=1)
        conn.execute(update(Job).where(Job.id == job.id).values(finished_at=past))
    notifier = Notifier(notify_settings, engine)
    assert notifier.sweep(grace_s=0) == 1
    notifier.close()
    assert mailbox.messages == []
    assert _notice_columns(engine, job.id)[0] is not None


def test_a_failure_that_will_be_retried_owes_nothing_yet(
    engine: Engine, notify_settings: Settings, queue: JobQueue, mailbox: Mailbox
) -> None:
    targets = NotifyTargets(email="ada@example.com")
    job, _ = queue.submit("diagnostic", {**QUICK, "fail_rate": 1.0}, max_attempts=2, notify=targets)
    slow_retry = notify_settings.model_copy(
        update={"jobs": notify_settings.jobs.model_copy(update={"retry_backoff_base_s": 60})}
    )
    JobWorker(engine, slow_retry).run(threading.Event(), exit_when_idle=True)
    assert queue.get(job.id).state == JobState.QUEUED  # waiting for its second attempt
    with engine.begin() as conn:
        past = utcnow() - timedelta(minutes=1)
        conn.execute(update(Job).where(Job.id == job.id).values(finished_at=past))
    notifier = Notifier(notify_settings, engine)
    assert notifier.sweep(grace_s=0) == 0
    notifier.close()
    assert mailbox.messages == []
    assert _notice_columns(engine, job.id) == (None, None)
