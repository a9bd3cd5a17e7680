"""Catalog engines and transactions: SQLite (WAL, single writer) or PostgreSQL, same API.

SQLite transactions that write begin with ``BEGIN IMMEDIATE`` so a claim takes the write lock
before it reads, which makes read-then-update claims safe across processes; read-only
transactions stay deferred so readers never wait for writers (WAL).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from vantage.config import Settings
from vantage.errors import ConfigError, ServiceUnavailableError

_READ_ONLY = "vantage_read_only"


def create_catalog_engine(
    url: str, *, pool_size: int = 5, busy_timeout_s: float = 60.0, echo: bool = False
) -> Engine:
    """An engine for ``url`` with Vantage's connection settings applied.

    Raises:
        ConfigError: the URL is malformed or names an unsupported database.
    """
    try:
        parsed = make_url(url)
    except Exception as exc:
        raise ConfigError(f"invalid database URL: {exc}", field="db.url") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(url, parsed.database, busy_timeout_s, echo)
    if backend == "postgresql":
        # No pre-ping: it costs a round trip per transaction on the job hot path. A connection
        # that died raises, SQLAlchemy invalidates the pool, and callers retry.
        return create_engine(
            url, pool_size=pool_size, max_overflow=pool_size, pool_recycle=1800, echo=echo
        )
    raise ConfigError(f"unsupported database {backend!r}: use sqlite or postgresql", field="db.url")


def engine_from_settings(settings: Settings) -> Engine:
    """The catalog engine the settings describe (creating the data folder for SQLite)."""
    if not settings.db.url:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    return create_catalog_engine(
        settings.db_url,
        pool_size=settings.db.pool_size,
        busy_timeout_s=settings.db.sqlite_busy_timeout_s,
        echo=settings.db.echo_sql,
    )


def _sqlite_engine(url: str, database: str | None, busy_timeout_s: float, echo: bool) -> Engine:
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        echo=echo,
        connect_args={"timeout": busy_timeout_s, "check_same_thread": False},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
        _enable_wal(cursor, busy_timeout_s)
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        read_only = connection.get_execution_options().get(_READ_ONLY, False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


def _enable_wal(cursor: Any, busy_timeout_s: float) -> None:
    """Put the database in WAL mode (persistent in the file), waiting out concurrent openers.

    Switching the journal mode needs an exclusive lock, and SQLite answers BUSY at once — without
    its busy handler — while another connection converts the file or recovers its WAL, which is
    exactly what happens when a worker and a CLI open a new catalog together. So the mode is only
    changed when the file is not in WAL yet, and a BUSY answer is retried until the busy timeout.
    """
    deadline = time.monotonic() + busy_timeout_s
    delay = 0.005
    while True:
        try:
            mode = cursor.execute("PRAGMA journal_mode").fetchone()[0]
            if str(mode).lower() != "wal":
                cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            if time.monotonic() >= deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.2)


@contextmanager
def write_tx(engine: Engine) -> Iterator[Connection]:
    """A transaction that may write (takes SQLite's write lock at once)."""
    with _translate_outage(), engine.begin() as connection:
        yield connection


@contextmanager
def read_tx(engine: Engine) -> Iterator[Connection]:
    """A read-only transaction (never waits for SQLite writers)."""
    with (
        _translate_outage(),
        engine.connect().execution_options(**{_READ_ONLY: True}) as connection,
        connection.begin(),
    ):
        yield connection


@contextmanager
def _translate_outage() -> Iterator[None]:
    try:
        yield
    except OperationalError as exc:
        if "database is locked" in str(exc) or "connection" in str(exc).lower():
            raise ServiceUnavailableError(f"catalog unavailable: {exc.orig}") from exc
        raise
