"""Exactly once under load: many jobs, several worker processes, every stage run one time."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from vantage.catalog.db import create_catalog_engine, engine_from_settings, read_tx
from vantage.catalog.migrate import upgrade
from vantage.config import Settings, load_settings
from vantage.jobs.executors.local import LocalExecutor
from vantage.jobs.queue import JobQueue
from vantage.jobs.records import JobState

from .harness import EVENTS, JOBS, STAGES

#: Long leases so that no lease lapses merely because a loaded 2-core machine is slow.
LOAD_JOBS = {
    "lease_ttl_s": 30.0,
    "heartbeat_interval_s": 2.0,
    "poll_interval_s": 0.05,
    "reap_interval_s": 2.0,
}
DEADLINE_S = 300.0


def load_settings_for(data_dir: Path, db_url: str | None) -> Settings:
    return load_settings(
        environ={},
        data_dir=data_dir,
        db={"url": db_url} if db_url else {},
        jobs=LOAD_JOBS,
        log={"level": "WARNING"},
    )


def submit_mix(queue: JobQueue, count: int) -> dict[str, int]:
    """``count`` instant diagnostic jobs, every 10th with three stages; id → stage count."""
    submitted: dict[str, int] = {}
    for index in range(count):
        stages = 3 if index % 10 == 0 else 1
        job, created = queue.submit("diagnostic", {"stages": stages, "stage_s": 0})
        assert created
        submitted[job.id] = stages
    return submitted


def run_until_drained(settings: Settings, engine: Engine, processes: int) -> None:
    executor = LocalExecutor(settings, processes)
    executor.start()
    try:
        deadline = time.monotonic() + DEADLINE_S
        while True:
            with read_tx(engine) as conn:
                open_jobs = conn.scalar(
                    select(func.count())
                    .select_from(JOBS)
                    .where(JOBS.c.state.in_([JobState.QUEUED, JobState.RUNNING]))
                )
            if open_jobs == 0:
                break
            assert time.monotonic() < deadline, f"{open_jobs} jobs still open after {DEADLINE_S} s"
            assert executor.alive() > 0, "every worker process died"
            time.sleep(0.5)
    finally:
        executor.stop(timeout_s=60)
    assert executor.alive() == 0


def assert_exactly_once(engine: Engine, submitted: dict[str, int]) -> None:
    with read_tx(engine) as conn:
        jobs = conn.execute(
            select(JOBS.c.id, JOBS.c.state, JOBS.c.attempts, JOBS.c.epoch, JOBS.c.progress)
        ).all()
        stages = conn.execute(
            select(
                STAGES.c.job_id,
                STAGES.c.position,
                STAGES.c.state,
                STAGES.c.executions,
                STAGES.c.epoch,
                STAGES.c.output,
            )
        ).all()
        event_counts = conn.execute(
            select(EVENTS.c.job_id, EVENTS.c.kind, func.count())
            .where(EVENTS.c.kind.in_(["claimed", "succeeded", "lease_expired", "retry_scheduled"]))
            .group_by(EVENTS.c.job_id, EVENTS.c.kind)
        ).all()
        claimers = conn.scalar(
            select(func.count(EVENTS.c.worker_id.distinct())).where(EVENTS.c.kind == "claimed")
        )

    # The processes really competed for the jobs.
    assert claimers is not None and claimers >= 2
    assert {row.id for row in jobs} == set(submitted)
    assert [row.id for row in jobs if row.state != JobState.SUCCEEDED] == []
    assert [row.id for row in jobs if row.attempts != 1] == []
    assert [row.id for row in jobs if row.epoch != 1] == []
    assert [row.id for row in jobs if row.progress != 100.0] == []

    assert len(stages) == sum(submitted.values())
    assert [(r.job_id, r.position) for r in stages if r.executions != 1] == []
    assert [(r.job_id, r.position) for r in stages if r.state != "succeeded"] == []
    assert [(r.job_id, r.position) for r in stages if r.epoch != 1] == []
    wrong_output = [r for r in stages if (r.output or {}).get("position") != r.position]
    assert wrong_output == []

    per_kind: dict[str, dict[str, int]] = {}
    for job_id, kind, count in event_counts:
        per_kind.setdefault(kind, {})[job_id] = count
    assert per_kind.get("lease_expired", {}) == {}
    assert per_kind.get("retry_scheduled", {}) == {}
    assert per_kind["succeeded"] == dict.fromkeys(submitted, 1)
    assert per_kind["claimed"] == dict.fromkeys(submitted, 1)


@pytest.mark.postgres
def test_exactly_once_postgresql(tmp_path: Path, pg_database: str) -> None:
    settings = load_settings_for(tmp_path / "data", pg_database)
    engine = engine_from_settings(settings)
    try:
        submitted = submit_mix(JobQueue(engine), 2000)
        run_until_drained(settings, engine, processes=8)
        assert_exactly_once(engine, submitted)
    finally:
        engine.dispose()


def test_exactly_once_sqlite(tmp_path: Path) -> None:
    settings = load_settings_for(tmp_path / "data", None)
    engine = create_catalog_engine(settings.db_url)
    try:
        upgrade(engine)
        submitted = submit_mix(JobQueue(engine), 500)
        run_until_drained(settings, engine, processes=4)
        assert_exactly_once(engine, submitted)
    finally:
        engine.dispose()
