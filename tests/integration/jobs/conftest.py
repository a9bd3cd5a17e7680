"""Fixtures for job tests: the queue and a lease holder on the parametrized catalog."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from vantage.jobs.leases import JobLeases
from vantage.jobs.queue import JobQueue


@pytest.fixture
def queue(engine: Engine) -> JobQueue:
    return JobQueue(engine, default_max_attempts=3)


@pytest.fixture
def leases(engine: Engine) -> Iterator[JobLeases]:
    leases = JobLeases(engine, lease_ttl_s=30.0)
    yield leases
    leases.close()
