"""Worker heartbeats: the latest state of each worker plus a bounded history, in the catalog."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Engine, Table, delete, insert, select, update

from vantage.catalog.db import write_tx
from vantage.catalog.models import Worker, WorkerHeartbeat, utcnow

WORKERS = cast(Table, Worker.__table__)
HEARTBEATS = cast(Table, WorkerHeartbeat.__table__)


@dataclass(frozen=True)
class WorkerIdentity:
    """Who a worker is; fixed for the worker's life."""

    worker_id: str
    kind: str
    hostname: str
    pid: int
    started_at: datetime


def record_heartbeat(
    engine: Engine,
    worker: WorkerIdentity,
    *,
    state: str,
    jobs_done: int,
    current_job_id: str | None,
    history_keep: int,
) -> None:
    """Record that ``worker`` is alive: upsert its row, append history, trim the history."""
    now = utcnow()
    values = {
        "state": state,
        "last_heartbeat_at": now,
        "jobs_done": jobs_done,
        "current_job_id": current_job_id,
    }
    with write_tx(engine) as conn:
        updated = conn.execute(
            update(WORKERS).where(WORKERS.c.id == worker.worker_id).values(values)
        ).rowcount
        if not updated:
            conn.execute(
                insert(WORKERS).values(
                    id=worker.worker_id,
                    kind=worker.kind,
                    hostname=worker.hostname,
                    pid=worker.pid,
                    started_at=worker.started_at,
                    **values,
                )
            )
        conn.execute(
            insert(HEARTBEATS).values(
                worker_id=worker.worker_id,
                at=now,
                state=state,
                jobs_done=jobs_done,
                current_job_id=current_job_id,
            )
        )
        oldest_kept = (
            select(HEARTBEATS.c.id)
            .where(HEARTBEATS.c.worker_id == worker.worker_id)
            .order_by(HEARTBEATS.c.id.desc())
            .offset(history_keep)
            .limit(1)
            .scalar_subquery()
        )
        conn.execute(
            delete(HEARTBEATS).where(
                HEARTBEATS.c.worker_id == worker.worker_id, HEARTBEATS.c.id <= oldest_kept
            )
        )
