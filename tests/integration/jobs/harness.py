"""Helpers for job tests: deadline polling, in-thread workers, row counts and stage rows."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import Engine, func, select

from vantage.catalog.db import read_tx
from vantage.config import Settings, load_settings
from vantage.jobs.queue import EVENTS, JOBS, STAGES
from vantage.jobs.worker import JobWorker

T = TypeVar("T")

__all__ = ["EVENTS", "JOBS", "STAGES"]


def wait_for(
    predicate: Callable[[], T | None], *, timeout_s: float, what: str, interval_s: float = 0.05
) -> T:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(interval_s)


def with_jobs(settings: Settings, **jobs: Any) -> Settings:
    """``settings`` with some ``jobs.*`` values replaced (same catalog)."""
    data = settings.model_dump()
    data["jobs"] = {**data["jobs"], **jobs}
    return load_settings(environ={}, **data)


@contextmanager
def worker_thread(
    engine: Engine, settings: Settings, worker_id: str | None = None
) -> Iterator[JobWorker]:
    """A `JobWorker` running in a thread until the block ends (then stopped and joined)."""
    worker = JobWorker(engine, settings, worker_id=worker_id)
    stop = threading.Event()
    failures: list[BaseException] = []

    def run() -> None:
        try:
            worker.run(stop)
        except BaseException as exc:  # surfaced in the test below
            failures.append(exc)

    thread = threading.Thread(target=run, name=f"worker-{worker.worker_id}", daemon=True)
    thread.start()
    try:
        yield worker
    finally:
        stop.set()
        thread.join(60)
    assert not thread.is_alive(), "worker thread did not stop"
    assert not failures, f"worker crashed: {failures[0]!r}"


def row_counts(engine: Engine) -> dict[str, int]:
    """Rows in jobs, job_stages and job_events."""
    with read_tx(engine) as conn:
        return {
            table.name: conn.scalar(select(func.count()).select_from(table)) or 0
            for table in (JOBS, STAGES, EVENTS)
        }


def stage_rows(engine: Engine, job_id: str) -> list[dict[str, Any]]:
    """The job's stage rows as dicts, in order."""
    with read_tx(engine) as conn:
        query = select(STAGES).where(STAGES.c.job_id == job_id).order_by(STAGES.c.position)
        return [dict(row._mapping) for row in conn.execute(query)]


def job_row(engine: Engine, job_id: str) -> dict[str, Any]:
    """The job's row as a dict."""
    with read_tx(engine) as conn:
        return dict(conn.execute(select(JOBS).where(JOBS.c.id == job_id)).one()._mapping)
