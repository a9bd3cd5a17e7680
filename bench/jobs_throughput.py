"""Job throughput on PostgreSQL: Vantage workers beside a bare SKIP LOCKED loop, same database.

Prints claimed+completed jobs per second with 1 and 8 worker processes for
  * Vantage: `LocalExecutor` processes running 1-stage ``diagnostic`` jobs (stage_s = 0) through
    the real queue: fenced claim, stage start/finish, events, heartbeats;
  * bare: processes looping ``UPDATE … WHERE id = (SELECT … FOR UPDATE SKIP LOCKED) RETURNING``
    then ``UPDATE … SET state = 'done'``, each its own transaction, with psycopg and no ORM;
and the ratio Vantage / bare. Jobs are queued before the clock starts (Vantage's jobs are held
back by ``run_after`` until every worker has sent a heartbeat, then released at once).

    .venv/bin/python bench/jobs_throughput.py [--jobs N] [--workers 1 8]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

import psycopg
from sqlalchemy import func, select, update

from vantage.catalog.db import create_catalog_engine
from vantage.catalog.migrate import upgrade
from vantage.catalog.models import Job, Worker, utcnow
from vantage.config import load_settings
from vantage.jobs.executors.local import LocalExecutor
from vantage.jobs.queue import JobQueue

ADMIN_DSN = os.environ.get("VANTAGE_BENCH_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


def _admin(sql: str) -> None:
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


def _dsn(database: str) -> str:
    return ADMIN_DSN.rsplit("/", 1)[0] + "/" + database


def vantage_rate(database: str, jobs: int, workers: int) -> float:
    """Jobs/s of `workers` Vantage worker processes draining `jobs` queued jobs."""
    url = _dsn(database).replace("postgresql://", "postgresql+psycopg://", 1)
    engine = create_catalog_engine(url)
    upgrade(engine)
    table, worker_table = Job.__table__, Worker.__table__
    with engine.begin() as conn:
        conn.execute(table.delete())
        conn.execute(worker_table.delete())
    queue = JobQueue(engine)
    held_until = utcnow() + timedelta(days=1)
    ids = [queue.submit("diagnostic", {"stages": 1, "stage_s": 0})[0].id for _ in range(jobs)]
    with engine.begin() as conn:
        conn.execute(update(table).where(table.c.id.in_(ids)).values(run_after=held_until))
    with tempfile.TemporaryDirectory() as data_dir:
        settings = load_settings(
            environ={},
            data_dir=Path(data_dir),
            db={"url": url},
            jobs={"poll_interval_s": 0.01, "heartbeat_interval_s": 1.0, "lease_ttl_s": 30.0},
            log={"level": "WARNING"},
        )
        executor = LocalExecutor(settings, workers)
        executor.start()
        try:
            _wait(lambda: _count(engine, select(func.count()).select_from(worker_table)) >= workers)
            started = time.perf_counter()
            with engine.begin() as conn:
                conn.execute(update(table).values(run_after=utcnow()))
            done = select(func.count()).where(table.c.state == "succeeded")
            _wait(lambda: _count(engine, done) >= jobs, interval_s=0.01)
            elapsed = time.perf_counter() - started
        finally:
            executor.stop()
    engine.dispose()
    return jobs / elapsed


def _count(engine: object, query: object) -> int:
    with engine.connect() as conn:  # type: ignore[attr-defined]
        return int(conn.scalar(query))


def _wait(condition: object, interval_s: float = 0.05, timeout_s: float = 600.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark did not finish in time")
        time.sleep(interval_s)


def _bare_worker(dsn: str, start: multiprocessing.synchronize.Event) -> None:  # type: ignore[name-defined]
    with psycopg.connect(dsn, autocommit=True) as conn:
        start.wait()
        while True:
            with conn.transaction():
                row = conn.execute(
                    "UPDATE bare_jobs SET state = 'running', owner = %s "
                    "WHERE id = (SELECT id FROM bare_jobs WHERE state = 'queued' "
                    "ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING id",
                    (os.getpid(),),
                ).fetchone()
            if row is None:
                return
            with conn.transaction():
                conn.execute("UPDATE bare_jobs SET state = 'done' WHERE id = %s", row)


def bare_rate(database: str, jobs: int, workers: int) -> float:
    """Jobs/s of `workers` processes running the bare SKIP LOCKED claim/complete loop."""
    dsn = _dsn(database)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bare_jobs")
        conn.execute(
            "CREATE TABLE bare_jobs (id bigserial PRIMARY KEY, state text NOT NULL, owner int)"
        )
        conn.execute("CREATE INDEX ON bare_jobs (state, id)")
        conn.execute(
            "INSERT INTO bare_jobs (state) SELECT 'queued' FROM generate_series(1, %s)", (jobs,)
        )
        conn.execute("ANALYZE bare_jobs")
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    processes = [context.Process(target=_bare_worker, args=(dsn, start)) for _ in range(workers)]
    for process in processes:
        process.start()
    time.sleep(1.0)  # let every process connect before the clock starts
    started = time.perf_counter()
    start.set()
    for process in processes:
        process.join()
    elapsed = time.perf_counter() - started
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT count(*) FROM bare_jobs WHERE state = 'done'").fetchone()
        assert row is not None and row[0] == jobs, "bare loop lost jobs"
    return jobs / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=4000, help="jobs per measurement")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 8])
    args = parser.parse_args()
    database = f"vantage_bench_{uuid.uuid4().hex[:8]}"
    _admin(f'CREATE DATABASE "{database}"')
    try:
        print(f"PostgreSQL, {args.jobs} jobs per run, {os.cpu_count()} CPU cores")
        print(f"{'workers':>8} {'vantage jobs/s':>15} {'bare jobs/s':>12} {'ratio':>7}")
        for workers in args.workers:
            ours = vantage_rate(database, args.jobs, workers)
            bare = bare_rate(database, args.jobs, workers)
            print(f"{workers:>8} {ours:>15.0f} {bare:>12.0f} {ours / bare:>7.2f}", flush=True)
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


if __name__ == "__main__":
    sys.exit(main())
