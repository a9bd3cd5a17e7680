"""Shared fixtures: settings on a temp data folder, migrated SQLite and PostgreSQL catalogs.

PostgreSQL tests get a fresh database per test, created from a template database that was
migrated once per session (procrastinate's habit), so each test starts from the real schema
in a few milliseconds.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine

from vantage.catalog.db import create_catalog_engine
from vantage.catalog.migrate import upgrade
from vantage.config import Settings, load_settings

PG_ADMIN_DSN = os.environ.get(
    "VANTAGE_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"
)
PG_TEMPLATE = f"vantage_tpl_{os.getpid()}"

#: Small intervals so lease expiry, retries and polling happen within a test.
FAST_JOBS = {
    "lease_ttl_s": 2.0,
    "heartbeat_interval_s": 0.4,
    "poll_interval_s": 0.05,
    "reap_interval_s": 0.5,
    "retry_backoff_base_s": 0.1,
    "retry_backoff_max_s": 0.4,
}


def pg_url(database: str) -> str:
    """SQLAlchemy URL of a database on the test server."""
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    return f"{base}/{database}"


def _admin(sql: str) -> None:
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A migrated template database, dropped at the end of the session."""
    _admin(f'DROP DATABASE IF EXISTS "{PG_TEMPLATE}"')
    _admin(f'CREATE DATABASE "{PG_TEMPLATE}"')
    engine = create_catalog_engine(pg_url(PG_TEMPLATE))
    upgrade(engine)
    engine.dispose()
    yield PG_TEMPLATE
    _admin(f'DROP DATABASE IF EXISTS "{PG_TEMPLATE}" WITH (FORCE)')


@pytest.fixture
def pg_database(pg_template: str) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for one test; its SQLAlchemy URL."""
    name = f"vantage_t_{uuid.uuid4().hex[:12]}"
    _admin(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"')
    yield pg_url(name)
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def empty_pg_database() -> Iterator[str]:
    """A fresh, empty PostgreSQL database (for migration tests)."""
    name = f"vantage_e_{uuid.uuid4().hex[:12]}"
    _admin(f'CREATE DATABASE "{name}"')
    yield pg_url(name)
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def make_settings(data_dir: Path, db_url: str | None = None, **overrides: Any) -> Settings:
    """Settings on ``data_dir`` with fast job intervals (and a database URL, if given)."""
    jobs = {**FAST_JOBS, **overrides.pop("jobs", {})}
    db = {"url": db_url} if db_url else {}
    return load_settings(environ={}, data_dir=data_dir, jobs=jobs, db=db, **overrides)


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    """Settings with a migrated SQLite catalog in a temp folder."""
    settings = make_settings(tmp_path / "data")
    engine = create_catalog_engine(settings.db_url)
    upgrade(engine)
    engine.dispose()
    return settings


@pytest.fixture
def pg_settings(tmp_path: Path, pg_database: str) -> Settings:
    """Settings with a fresh migrated PostgreSQL catalog."""
    return make_settings(tmp_path / "data", pg_database)


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request: pytest.FixtureRequest) -> Settings:
    """Both catalogs, one after the other."""
    name = "sqlite_settings" if request.param == "sqlite" else "pg_settings"
    value: Settings = request.getfixturevalue(name)
    return value


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    """The catalog engine of ``settings``."""
    from vantage.catalog.db import engine_from_settings

    eng = engine_from_settings(settings)
    yield eng
    eng.dispose()
