"""What notices say, when they are sent, and the public URL their links start with."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from vantage.config import ApiSettings, NotifySettings, load_settings
from vantage.errors import NotificationError
from vantage.formatting import format_duration
from vantage.jobs.records import JobRecord, JobState, NotifyTargets
from vantage.notify.dispatch import should_notify
from vantage.notify.mail import build_message, send_email
from vantage.notify.notice import notice_for

STARTED = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)


def job(state: JobState, error: str | None = None) -> JobRecord:
    return JobRecord(
        id="01a1f" + "0" * 27,
        pipeline="reconstruct",
        params={},
        state=state,
        priority=0,
        attempts=1,
        max_attempts=3,
        epoch=1,
        run_after=STARTED,
        cancel_requested=False,
        progress=100.0,
        message="",
        error=error,
        created_at=STARTED,
        updated_at=STARTED,
        started_at=STARTED,
        finished_at=STARTED + timedelta(minutes=4, seconds=5),
    )


def test_a_failure_notice_says_what_happened_and_where_to_look() -> None:
    notice = notice_for(job(JobState.FAILED, "sfm: 2 of 40 images registered"), "http://h:8000/")

    assert notice.subject() == f"Vantage: reconstruct job {notice.job_id} failed"
    text = notice.text()
    assert "Error:    sfm: 2 of 40 images registered" in text
    assert "Duration: 4 min 05 s" in text
    assert f"See the job: http://h:8000/jobs/{notice.job_id}/view" in text
    assert notice.payload() == {
        "event": "job.failed",
        "job_id": notice.job_id,
        "pipeline": "reconstruct",
        "state": "failed",
        "error": "sfm: 2 of 40 images registered",
        "url": f"http://h:8000/jobs/{notice.job_id}/view",
        "duration_s": 245.0,
        "finished_at": "2026-11-21T09:04:05+00:00",
    }


def test_the_email_is_plain_text_from_the_configured_sender() -> None:
    notice = notice_for(job(JobState.SUCCEEDED), "http://h")
    message = build_message(notice, "vantage@lab.example", "ada@example.com")
    assert message["To"] == "ada@example.com"
    assert message["From"] == "vantage@lab.example"
    assert message["Message-ID"].endswith("@lab.example>")
    assert message.get_content_type() == "text/plain"
    assert "succeeded" in message.get_content()


def test_no_smtp_host_means_no_email() -> None:
    with pytest.raises(NotificationError, match="smtp_host"):
        send_email(NotifySettings(), "a@b.io", notice_for(job(JobState.SUCCEEDED), "http://h"))


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.04, "40 ms"),
        (12.34, "12.3 s"),
        (60, "1 min 00 s"),
        (3599, "59 min 59 s"),
        (7380, "2 h 03 min"),
    ],
)
def test_durations_read_well(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_only_success_and_final_failure_notify() -> None:
    assert should_notify(JobState.SUCCEEDED)
    assert should_notify(JobState.FAILED)
    assert not should_notify(JobState.CANCELLED)
    assert not should_notify(JobState.QUEUED)


def test_targets_are_checked_and_stored_without_blanks() -> None:
    assert NotifyTargets().stored() is None
    assert NotifyTargets(email="a@b.io").stored() == {"email": "a@b.io"}
    for bad in ("a", "a@b", "a b@c.io", "a@b.io\r\nBcc: x@y.io"):
        with pytest.raises(ValueError, match="email"):
            NotifyTargets(email=bad)


@pytest.mark.parametrize(
    ("api", "url"),
    [
        ({}, "http://127.0.0.1:8000"),
        ({"port": 9000, "host": "0.0.0.0"}, "http://127.0.0.1:9000"),
        ({"host": "vantage.lan"}, "http://vantage.lan:8000"),
        ({"host": "::1"}, "http://[::1]:8000"),
        ({"public_url": "https://vantage.example/app/"}, "https://vantage.example/app"),
    ],
)
def test_links_start_at_the_public_url(api: dict[str, object], url: str) -> None:
    settings = load_settings(environ={}, api=ApiSettings.model_validate(api).model_dump())
    assert settings.public_url == url
