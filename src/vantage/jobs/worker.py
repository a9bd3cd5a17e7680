"""One worker: claims jobs, runs their stages in order, reports progress, renews its lease.

A background heartbeat thread renews the lease of the job in hand, records the worker's
heartbeat, and reaps jobs whose lease expired. A stage learns about a cancel, or about a lost
lease, at its next progress report (an exception ends the stage); the job's state is then
written by whoever holds the current epoch.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any, Protocol

import psycopg
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from vantage.catalog.models import utcnow
from vantage.config import Settings
from vantage.errors import (
    InvalidInputError,
    JobCancelledError,
    LeaseLostError,
    ServiceUnavailableError,
    VantageError,
)
from vantage.jobs.artifacts import record_artifacts
from vantage.jobs.backoff import retry_delay_s
from vantage.jobs.claims import Claim
from vantage.jobs.heartbeats import WorkerIdentity, record_heartbeat
from vantage.jobs.leases import JobLeases
from vantage.jobs.pipeline import StageContext, get_pipeline
from vantage.jobs.queue import worker_identity
from vantage.jobs.records import JobState
from vantage.notify.dispatch import Notifier
from vantage.observe import metrics
from vantage.observe.logs import bind_job, bind_worker
from vantage.storage import open_store

log = logging.getLogger(__name__)

#: Progress is written at most this often per stage (the final report always goes through).
PROGRESS_MIN_INTERVAL_S = 0.25
#: How long a worker waits before it tries the catalog again after an error.
CATALOG_RETRY_S = 2.0


class StopSignal(Protocol):
    """Anything with ``is_set`` and ``wait`` (threading or multiprocessing Event)."""

    def is_set(self) -> bool: ...

    def wait(self, timeout: float | None = None) -> bool: ...


@dataclass
class _InHand:
    claim: Claim
    lost: threading.Event


class JobWorker:
    """Runs jobs from the catalog until told to stop."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        *,
        worker_id: str | None = None,
        pipelines: Collection[str] | None = None,
        kind: str = "local",
    ) -> None:
        self.settings = settings
        self.leases = JobLeases(engine, lease_ttl_s=settings.jobs.lease_ttl_s)
        self.worker_id = worker_id or worker_identity()
        self.pipelines = pipelines
        self.jobs_done = 0
        self.engine = engine
        self.identity = WorkerIdentity(
            self.worker_id, kind, socket.gethostname(), os.getpid(), utcnow()
        )
        self.store = open_store(settings)
        self.notifier = Notifier(settings, engine)
        self._in_hand: _InHand | None = None
        self._next: Claim | None = None
        self._lock = threading.Lock()

    # -- main loop ---------------------------------------------------------------------------

    def run(
        self, stop: StopSignal, *, max_jobs: int | None = None, exit_when_idle: bool = False
    ) -> int:
        """Claim and run jobs until ``stop`` is set (or the limits are reached); returns count."""
        bind_worker(self.worker_id)
        beat_stop = threading.Event()
        beat = threading.Thread(target=self._heartbeat_loop, args=(beat_stop,), daemon=True)
        self._heartbeat("idle")
        beat.start()
        done = 0

        def may_take_next() -> bool:
            return not stop.is_set() and (max_jobs is None or done + 1 < max_jobs)

        try:
            # A job claimed together with the previous finish is run even after a stop.
            while (not stop.is_set() or self._next) and (max_jobs is None or done < max_jobs):
                try:
                    claimed = self.run_one(take_next=may_take_next)
                except (SQLAlchemyError, psycopg.Error, ServiceUnavailableError):
                    # The catalog is unreachable: the job in hand (if any) is reaped once its
                    # lease expires; keep trying instead of dying.
                    log.exception("catalog error; retrying in %.1f s", CATALOG_RETRY_S)
                    stop.wait(CATALOG_RETRY_S)
                    continue
                if claimed:
                    done += 1
                elif exit_when_idle:
                    break
                else:
                    stop.wait(self.settings.jobs.poll_interval_s)
        finally:
            beat_stop.set()
            beat.join()
            self._settle_heartbeat("stopped")
            self.leases.close()
            self.notifier.close()
        return done

    def run_one(self, take_next: Callable[[], bool] = lambda: False) -> bool:
        """Claim one job and run it to a stop; False when nothing was due.

        When ``take_next()`` holds as the job's last stage finishes, the next job is claimed in
        the same write (one round trip per job on PostgreSQL) and run by the next call.
        """
        claim, self._next = self._next, None
        if claim is None:
            claim = self.leases.claim(self.worker_id, self.pipelines)
        if claim is None:
            return False
        with bind_job(claim.job_id):
            in_hand = _InHand(claim, threading.Event())
            with self._lock:
                self._in_hand = in_hand
            try:
                self._execute(in_hand, take_next)
            finally:
                with self._lock:
                    self._in_hand = None
                self.jobs_done += 1
        return True

    # -- one job -----------------------------------------------------------------------------

    def _execute(self, in_hand: _InHand, take_next: Callable[[], bool]) -> None:
        claim = in_hand.claim
        position = claim.next_position
        log.info("claimed %s attempt %d epoch %d", claim.pipeline, claim.attempt, claim.epoch)
        try:
            pipeline = get_pipeline(claim.pipeline)
            params = pipeline.validate_params(claim.params)
            stages = pipeline.stages_for(params)
            while position is not None:
                stage = stages[position]
                ctx = StageContext(
                    job_id=claim.job_id,
                    attempt=claim.attempt,
                    stage=stage.name,
                    params=params,
                    outputs=dict(claim.outputs),
                    work_dir=self.settings.data_dir / "jobs" / claim.job_id,
                    progress=self._reporter(in_hand, position),
                    store=self.store,
                    settings=self.settings,
                )
                started = time.perf_counter()
                output = _json_output(stage.run(ctx))
                metrics.STAGE_DURATION.labels(claim.pipeline, stage.name).observe(
                    time.perf_counter() - started
                )
                if in_hand.lost.is_set():
                    raise LeaseLostError(f"job {claim.job_id}: lease lost", job_id=claim.job_id)
                record_artifacts(self.engine, claim.job_id, stage.name, ctx.published)
                if position == len(stages) - 1 and take_next():
                    fenced, self._next = self.leases.finish_last_and_claim(
                        claim, output, self.pipelines
                    )
                    if not fenced:
                        raise LeaseLostError(f"job {claim.job_id}: lease lost", job_id=claim.job_id)
                    position = None
                else:
                    position = self.leases.finish_stage(claim, position, output)
            metrics.JOBS_FINISHED.labels(claim.pipeline, JobState.SUCCEEDED).inc()
            log.info("succeeded")
            self.notifier.job_finished(claim.job_id, JobState.SUCCEEDED, claim.notify)
        except LeaseLostError as exc:
            metrics.LEASES_LOST.inc()
            log.warning("abandoning job: %s", exc)
        except JobCancelledError:
            self._settle(lambda: self.leases.cancel_stage(claim, _at(position)))
            metrics.JOBS_FINISHED.labels(claim.pipeline, JobState.CANCELLED).inc()
            log.info("cancelled")
        except Exception as exc:
            self._record_failure(claim, _at(position), exc)

    def _record_failure(self, claim: Claim, position: int, exc: Exception) -> None:
        permanent = isinstance(exc, InvalidInputError)
        error = str(exc) if isinstance(exc, VantageError) else f"{type(exc).__name__}: {exc}"
        retry_in = (
            None
            if permanent
            else retry_delay_s(
                claim.attempt,
                base_s=self.settings.jobs.retry_backoff_base_s,
                max_s=self.settings.jobs.retry_backoff_max_s,
            )
        )
        log.warning("stage failed: %s", error, exc_info=not isinstance(exc, VantageError))
        state = self._settle(lambda: self.leases.fail_stage(claim, position, error, retry_in))
        if state == JobState.QUEUED:
            metrics.JOBS_RETRIED.labels(claim.pipeline).inc()
        elif state == JobState.FAILED:
            metrics.JOBS_FINISHED.labels(claim.pipeline, JobState.FAILED).inc()
            self.notifier.job_finished(claim.job_id, JobState.FAILED, claim.notify)

    def _settle(self, write: Any) -> Any:
        """Run a final fenced write; a lost lease there means someone newer owns the job."""
        try:
            return write()
        except LeaseLostError as exc:
            metrics.LEASES_LOST.inc()
            log.warning("final write rejected: %s", exc)
            return None

    def _reporter(self, in_hand: _InHand, position: int) -> Any:
        last = 0.0

        def report(fraction: float, message: str = "") -> None:
            nonlocal last
            if in_hand.lost.is_set():
                raise LeaseLostError(
                    f"job {in_hand.claim.job_id}: lease lost", job_id=in_hand.claim.job_id
                )
            now = time.monotonic()
            if now - last < PROGRESS_MIN_INTERVAL_S and fraction < 1.0:
                return
            last = now
            if self.leases.report_progress(in_hand.claim, position, fraction, message):
                raise JobCancelledError(job_id=in_hand.claim.job_id)

        return report

    # -- heartbeats --------------------------------------------------------------------------

    def _settle_heartbeat(self, state: str) -> None:
        try:
            self._heartbeat(state)
        except (SQLAlchemyError, psycopg.Error, ServiceUnavailableError):
            log.warning("could not record the final heartbeat")

    def _heartbeat_loop(self, stop: threading.Event) -> None:
        interval = self.settings.jobs.heartbeat_interval_s
        next_reap = 0.0
        next_sweep = time.monotonic() + self.settings.uploads.sweep_interval_s
        while not stop.wait(interval):
            try:
                self._renew()
                self._heartbeat("busy" if self._in_hand else "idle")
                if time.monotonic() >= next_reap:
                    next_reap = time.monotonic() + self.settings.jobs.reap_interval_s
                    self.reap()
                    self.notifier.sweep()  # notices a dead worker still owed
                if time.monotonic() >= next_sweep:
                    next_sweep = time.monotonic() + self.settings.uploads.sweep_interval_s
                    # Listing a large store may take a while: never in the way of renewals.
                    threading.Thread(
                        target=self._sweep_uploads_logged, name="upload-sweep", daemon=True
                    ).start()
            except Exception:  # a heartbeat must never kill the worker
                log.exception("heartbeat failed")

    def _renew(self) -> None:
        with self._lock:
            in_hand = self._in_hand
        if in_hand is None:
            return
        if self.leases.renew(in_hand.claim):
            metrics.LEASE_RENEWALS.inc()
        else:
            in_hand.lost.set()

    def _sweep_uploads_logged(self) -> None:
        try:
            self.sweep_uploads()
        except Exception:  # a sweep must never kill the worker
            log.exception("sweeping abandoned uploads failed")

    def sweep_uploads(self) -> list[str]:
        """Delete the files of uploads abandoned before their manifest; returns their ids."""
        from vantage.storage.uploads import sweep_abandoned_uploads

        swept = sweep_abandoned_uploads(
            self.store, older_than_s=self.settings.uploads.abandoned_after_s
        )
        for upload_id in swept:
            log.warning("deleted the files of abandoned upload %s", upload_id)
        return swept

    def reap(self) -> int:
        """Requeue (or fail) jobs whose lease expired; returns how many."""
        reaped = self.leases.reap()
        for job_id, state in reaped:
            metrics.LEASE_EXPIRIES.inc()
            log.warning("lease of job %s expired; now %s", job_id, state)
            self.notifier.job_reaped(job_id, state)
        return len(reaped)

    def _heartbeat(self, state: str) -> None:
        with self._lock:
            current = self._in_hand.claim.job_id if self._in_hand else None
        record_heartbeat(
            self.engine,
            self.identity,
            state=state,
            jobs_done=self.jobs_done,
            current_job_id=current,
            history_keep=self.settings.worker.heartbeat_history_keep,
        )


def _at(position: int | None) -> int:
    if position is None:  # failures happen while a stage is in hand
        raise RuntimeError("no stage in hand")
    return position


def _json_output(value: dict[str, Any] | None) -> dict[str, Any]:
    """A stage's output, checked to be a JSON object."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInputError(f"a stage must return a dict or None, not {type(value).__name__}")
    try:
        return dict(json.loads(json.dumps(value)))
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"stage output is not JSON: {exc}") from None
