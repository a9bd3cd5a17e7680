"""Processes opening a brand-new SQLite catalog at the same moment all get a working connection.

A worker and a CLI started together both switch the new file to WAL; SQLite answers BUSY to one of
them without waiting, which used to surface as "database is locked" (a flaky CLI test in CI).
"""

from __future__ import annotations

import multiprocessing
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

from vantage.catalog.db import create_catalog_engine, write_tx

ROUNDS = 40  # the race hit about one round in 30 before the fix
OPENERS = 4


def _open_and_write(path: str, barrier: Barrier, out: Queue[Any]) -> None:
    barrier.wait()
    try:
        engine = create_catalog_engine(f"sqlite:///{path}", busy_timeout_s=30)
        with write_tx(engine) as connection:
            connection.exec_driver_sql("CREATE TABLE IF NOT EXISTS t (n INTEGER)")
            connection.exec_driver_sql("INSERT INTO t VALUES (1)")
        with engine.connect() as connection:
            out.put(str(connection.exec_driver_sql("PRAGMA journal_mode").scalar()))
        engine.dispose()
    except Exception as exc:  # reported to the parent, which fails the test
        out.put(f"error: {exc}")


def test_concurrent_first_opens_all_succeed_in_wal(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    for round_ in range(ROUNDS):
        path = str(tmp_path / f"catalog-{round_}.db")
        barrier, out = ctx.Barrier(OPENERS), ctx.Queue()
        procs = [
            ctx.Process(target=_open_and_write, args=(path, barrier, out)) for _ in range(OPENERS)
        ]
        for proc in procs:
            proc.start()
        results = [out.get(timeout=60) for _ in procs]
        for proc in procs:
            proc.join(timeout=30)
        assert results == ["wal"] * OPENERS, (round_, results)
        engine = create_catalog_engine(f"sqlite:///{path}")
        with engine.connect() as connection:
            assert connection.exec_driver_sql("SELECT count(*) FROM t").scalar() == OPENERS
        engine.dispose()
