"""Local worker processes: started, supervised, stopped, and robust to a killed sibling."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select

from vantage.catalog.db import engine_from_settings, read_tx
from vantage.catalog.migrate import upgrade
from vantage.catalog.models import Worker, WorkerHeartbeat
from vantage.config import Settings, load_settings
from vantage.jobs.executors import EXECUTORS
from vantage.jobs.executors.local import LocalExecutor, worker_process_main

from .harness import wait_for

WORKERS = Worker.__table__
HEARTBEATS = WorkerHeartbeat.__table__
DEADLINE_S = 60.0
#: How long a stop of idle workers may take before we call it hung (normally well under 2 s).
STOP_DEADLINE_S = 10.0


@pytest.fixture
def idle_settings(tmp_path: Path) -> Settings:
    """A migrated SQLite catalog; idle workers that sleep in ``stop.wait`` almost all the time
    (the main loop polls every 10 s; the heartbeat thread beats every 0.5 s)."""
    settings = load_settings(
        environ={},
        data_dir=tmp_path / "data",
        log={"level": "WARNING"},
        jobs={"lease_ttl_s": 30, "heartbeat_interval_s": 0.5, "poll_interval_s": 10},
    )
    engine = engine_from_settings(settings)
    upgrade(engine)
    engine.dispose()
    return settings


def settled_workers(settings: Settings) -> set[int]:
    """Pids of the workers whose heartbeat thread has beaten at least once.

    The main loop writes the first heartbeat and then looks for work once; a second heartbeat
    comes from the heartbeat thread, by which time the main loop sleeps in ``stop.wait``.
    """
    engine = engine_from_settings(settings)
    try:
        with read_tx(engine) as conn:
            rows = conn.execute(
                select(WORKERS.c.pid)
                .join(HEARTBEATS, HEARTBEATS.c.worker_id == WORKERS.c.id)
                .group_by(WORKERS.c.pid)
                .having(func.count() >= 2)
            )
            return set(rows.scalars())
    finally:
        engine.dispose()


def kill_all(executor: LocalExecutor) -> None:
    """SIGKILL the executor's processes (they were started by this test)."""
    executor._stopping.set()  # keep the supervisor from replacing what we kill
    for pid in executor.pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def stop_or_kill(executor: LocalExecutor) -> bool:
    """Stop the executor; if that hangs, SIGKILL its processes. True if stop returned."""
    stopper = threading.Thread(target=executor.stop, kwargs={"timeout_s": 10}, daemon=True)
    stopper.start()
    stopper.join(STOP_DEADLINE_S)
    if stopper.is_alive():
        kill_all(executor)
    return not stopper.is_alive()


def test_executor_table_builds_a_local_executor(idle_settings: Settings) -> None:
    executor = EXECUTORS["local"](idle_settings, 3)
    assert isinstance(executor, LocalExecutor)
    assert executor.concurrency == 3
    assert executor.alive() == 0


def test_start_and_stop(idle_settings: Settings) -> None:
    executor = LocalExecutor(idle_settings, 2)
    executor.start()
    try:
        pids = set(executor.pids)
        assert len(pids) == 2
        wait_for(
            lambda: settled_workers(idle_settings) >= pids,
            timeout_s=DEADLINE_S,
            what="both workers to record a heartbeat",
        )
    finally:
        stopped = stop_or_kill(executor)
    assert stopped
    assert executor.alive() == 0


def test_supervisor_replaces_a_killed_worker(idle_settings: Settings) -> None:
    executor = LocalExecutor(idle_settings, 2)
    executor.start()
    try:
        wait_for(
            lambda: settled_workers(idle_settings) >= set(executor.pids),
            timeout_s=DEADLINE_S,
            what="both workers to start",
        )
        victim = executor.pids[0]
        os.kill(victim, signal.SIGKILL)
        wait_for(
            lambda: executor.alive() == 2 and victim not in executor.pids,
            timeout_s=DEADLINE_S,
            what="the supervisor to replace the killed worker",
        )
    finally:
        assert stop_or_kill(executor)


def test_executor_stops_after_a_worker_was_killed(idle_settings: Settings) -> None:
    executor = LocalExecutor(idle_settings, 2)
    executor.start()
    try:
        wait_for(
            lambda: settled_workers(idle_settings) >= set(executor.pids),
            timeout_s=DEADLINE_S,
            what="both workers to start",
        )
        os.kill(executor.pids[0], signal.SIGKILL)  # e.g. the OOM killer
        wait_for(lambda: executor.alive() == 2, timeout_s=DEADLINE_S, what="a replacement")
    finally:
        stopped = stop_or_kill(executor)
    assert stopped, f"executor.stop() still blocked after {STOP_DEADLINE_S} s"


def test_worker_process_exits_on_sigterm(idle_settings: Settings) -> None:
    context = multiprocessing.get_context("spawn")
    process = context.Process(
        target=worker_process_main,
        args=(idle_settings.model_dump(mode="json"), "sigterm-worker"),
    )
    process.start()
    try:
        wait_for(
            lambda: process.pid in settled_workers(idle_settings),
            timeout_s=DEADLINE_S,
            what="the worker to start",
        )
        assert process.pid is not None
        os.kill(process.pid, signal.SIGTERM)
        process.join(STOP_DEADLINE_S)
        exited = not process.is_alive()
    finally:
        if process.is_alive():
            process.kill()
            process.join(10)
    assert exited, f"worker ignored SIGTERM for {STOP_DEADLINE_S} s"
    assert process.exitcode == 0
