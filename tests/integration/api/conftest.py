"""Fixtures: a fresh SQLite catalog, a live API server over it, a client, a worker thread."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from vantage.api.app import create_app
from vantage.catalog.db import engine_from_settings
from vantage.catalog.migrate import upgrade
from vantage.config import Settings, load_settings
from vantage.jobs.worker import JobWorker

from .support import DEADLINE_S, LiveServer, serve


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(
        data_dir=tmp_path,
        jobs={
            "lease_ttl_s": 2,
            "heartbeat_interval_s": 0.5,
            "poll_interval_s": 0.05,
            "retry_backoff_base_s": 0.1,
            "retry_backoff_max_s": 0.5,
        },
        api={"sse_poll_interval_s": 0.05},
    )


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    engine = engine_from_settings(settings)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def live(settings: Settings, engine: Engine) -> Iterator[LiveServer]:
    with serve(create_app(settings, engine=engine)) as live:
        yield live


@pytest.fixture
def client(live: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.url, timeout=10) as client:
        yield client


@pytest.fixture
def worker(settings: Settings, engine: Engine) -> Iterator[JobWorker]:
    """A worker running jobs in a background thread for the whole test."""
    stop = threading.Event()
    worker = JobWorker(engine, settings)
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    yield worker
    stop.set()
    thread.join(timeout=DEADLINE_S)
