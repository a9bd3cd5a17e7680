"""When a job's notices go out, and sending them off the job's path.

A worker tells its `Notifier` about every job that reaches a final state; only ``succeeded``
and ``failed`` (after the last attempt: a failure that will be retried is not final) send
notices, to the targets stored with the job at submit. Notices are sent from a small thread
pool, so a slow SMTP server or a webhook being retried never holds up the next job; a failed
notice is logged and counted in ``vantage_notifications_total`` and never changes the job.

Notices are durable: a job owes them until ``jobs.notified_at`` is set. A sender first takes
the job's notice lease (``notice_lease_until``, long enough for every retry), delivers, then
sets ``notified_at``; if its worker dies on the way, the lease runs out and `sweep` — run by
every worker's reaper loop — sends them again (at least once; a crash between delivery and
the mark can repeat a notice, never lose it). Jobs owing notices are found through a partial
index, so the sweep costs nothing once every notice is out.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import Engine, Table, or_, select, update

from vantage.catalog.db import read_tx, write_tx
from vantage.catalog.models import Job, utcnow
from vantage.config import Settings
from vantage.jobs.queue import JobQueue
from vantage.jobs.records import JobState, NotifyTargets
from vantage.notify.mail import send_email
from vantage.notify.notice import JobNotice, notice_for
from vantage.notify.webhook import WebhookPolicy, post_webhook
from vantage.observe import metrics

log = logging.getLogger(__name__)

JOBS = cast(Table, Job.__table__)

#: Final states that send notices (a cancel was asked for by someone who knows already).
NOTIFY_STATES = frozenset({JobState.SUCCEEDED, JobState.FAILED})
#: States a job stays in for good.
FINAL_STATES = (JobState.SUCCEEDED.value, JobState.FAILED.value, JobState.CANCELLED.value)
#: Notices sent at once; more wait their turn.
SENDER_THREADS = 2
#: A finished job's own worker gets this long to send its notices before a sweep may.
SWEEP_GRACE_S = 10.0


def should_notify(state: JobState | str) -> bool:
    """Whether a job that reached ``state`` for good sends its notices."""
    return state in NOTIFY_STATES


class Notifier:
    """Sends the notices of finished jobs in the background."""

    def __init__(self, settings: Settings, engine: Engine) -> None:
        self.settings = settings
        self.engine = engine
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def job_finished(self, job_id: str, state: JobState, targets: Mapping[str, Any] | None) -> None:
        """``job_id`` reached final ``state``; notify ``targets`` (as stored) if it sends."""
        if targets and should_notify(state):
            self._submit(self._send, job_id, dict(targets))

    def job_reaped(self, job_id: str, state: JobState) -> None:
        """The reaper made ``job_id`` final; its targets are read from the catalog."""
        if should_notify(state):
            self._submit(self._send, job_id, None)

    def sweep(self, *, grace_s: float = SWEEP_GRACE_S, limit: int = 50) -> int:
        """Send the notices that finished jobs still owe and nobody holds; returns how many.

        Jobs that finished less than ``grace_s`` ago are left to the worker that ran them.
        """
        now = utcnow()
        owed = (
            select(JOBS.c.id, JOBS.c.state)
            .where(
                JOBS.c.notify.is_not(None),
                JOBS.c.notified_at.is_(None),
                JOBS.c.state.in_(FINAL_STATES),  # a failure that will be retried is not final
                JOBS.c.finished_at < now - timedelta(seconds=grace_s),
                or_(JOBS.c.notice_lease_until.is_(None), JOBS.c.notice_lease_until < now),
            )
            .order_by(JOBS.c.finished_at)
            .limit(limit)
        )
        with read_tx(self.engine) as conn:
            rows = conn.execute(owed).all()
        for row in rows:
            if should_notify(row.state):
                self._submit(self._send, row.id, None)
            else:  # cancelled: nothing to say
                self._mark_sent(row.id)
        return len(rows)

    def close(self) -> None:
        """Wait for the notices under way (each ends within its timeouts and retries)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)

    def _submit(self, send: Callable[..., None], *args: Any) -> None:
        # Called from the worker's job path: whatever happens here must not reach the job.
        try:
            with self._lock:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(SENDER_THREADS, thread_name_prefix="notify")
                self._pool.submit(send, *args)
        except Exception:
            log.exception("cannot queue the notices of job %s", args[0] if args else "?")
            metrics.NOTIFICATIONS.labels("any", "failed").inc()

    def _send(self, job_id: str, stored: dict[str, Any] | None) -> None:
        try:
            if not self._take_lease(job_id):
                return  # delivered already, or another sender holds it
        except Exception:
            log.exception("cannot take the notice lease of job %s", job_id)
            return
        try:
            self._deliver_all(job_id, stored)
        finally:
            try:
                self._mark_sent(job_id)
            except Exception:  # the lease runs out and a sweep sends them again
                log.exception("cannot mark the notices of job %s as sent", job_id)

    def _policy(self) -> WebhookPolicy:
        notify = self.settings.notify
        return WebhookPolicy(
            timeout_s=notify.webhook_timeout_s,
            attempts=notify.webhook_attempts,
            backoff_s=notify.webhook_backoff_s,
        )

    def _lease_s(self) -> float:
        """Long enough for an e-mail and every webhook try, with room to spare."""
        return 2.0 * (self.settings.notify.smtp_timeout_s + self._policy().longest_s) + 30.0

    def _take_lease(self, job_id: str) -> bool:
        now = utcnow()
        claim = (
            update(JOBS)
            .where(
                JOBS.c.id == job_id,
                JOBS.c.notified_at.is_(None),
                or_(JOBS.c.notice_lease_until.is_(None), JOBS.c.notice_lease_until < now),
            )
            .values(notice_lease_until=now + timedelta(seconds=self._lease_s()))
        )
        with write_tx(self.engine) as conn:
            return conn.execute(claim).rowcount == 1

    def _mark_sent(self, job_id: str) -> None:
        done = (
            update(JOBS)
            .where(JOBS.c.id == job_id)
            .values(notified_at=utcnow(), notice_lease_until=None)
        )
        with write_tx(self.engine) as conn:
            conn.execute(done)

    def _deliver_all(self, job_id: str, stored: dict[str, Any] | None) -> None:
        try:
            if stored is None:
                stored = self._stored_targets(job_id)
                if not stored:
                    return
            targets = NotifyTargets.model_validate(stored)
            notice = notice_for(JobQueue(self.engine).get(job_id), self.settings.public_url)
        except Exception:  # a notice must never take anything down
            log.exception("cannot build the notices of job %s", job_id)
            metrics.NOTIFICATIONS.labels("any", "failed").inc()
            return
        if targets.email:
            email = targets.email
            self._deliver("email", notice, lambda: send_email(self.settings.notify, email, notice))
        if targets.webhook:
            url = str(targets.webhook)
            policy = self._policy()
            self._deliver("webhook", notice, lambda: post_webhook(url, notice.payload(), policy))

    def _deliver(self, channel: str, notice: JobNotice, send: Callable[[], object]) -> None:
        try:
            send()
        except Exception as exc:
            metrics.NOTIFICATIONS.labels(channel, "failed").inc()
            log.warning("%s notice of job %s not sent: %s", channel, notice.job_id, exc)
            return
        metrics.NOTIFICATIONS.labels(channel, "sent").inc()
        log.info("%s notice of job %s sent (%s)", channel, notice.job_id, notice.state)

    def _stored_targets(self, job_id: str) -> dict[str, Any] | None:
        with read_tx(self.engine) as conn:
            stored = conn.scalar(select(JOBS.c.notify).where(JOBS.c.id == job_id))
        return cast(dict[str, Any] | None, stored)
