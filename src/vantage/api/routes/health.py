"""Service health (database, live workers, job counts) and Prometheus metrics."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import SQLAlchemyError

from vantage import __version__
from vantage.api.deps import EngineDep, QueueDep, SettingsDep
from vantage.api.schemas import Health, problem_responses
from vantage.catalog.db import read_tx
from vantage.catalog.models import Worker, utcnow
from vantage.config import Settings
from vantage.errors import ServiceUnavailableError, VantageError
from vantage.observe.metrics import render_metrics

router = APIRouter(tags=["service"])


def worker_alive_s(settings: Settings) -> float:
    """How recent a heartbeat must be for its worker to count as alive."""
    return 3 * settings.jobs.heartbeat_interval_s


def count_alive_workers(engine: Engine, alive_s: float) -> int:
    """Workers not stopped whose last heartbeat is at most ``alive_s`` old."""
    workers = Worker.__table__
    query = select(func.count()).where(
        workers.c.state != "stopped",
        workers.c.last_heartbeat_at >= utcnow() - timedelta(seconds=alive_s),
    )
    with read_tx(engine) as conn:
        return conn.scalar(query) or 0


@router.get("/health", responses=problem_responses(503))
def health(engine: EngineDep, queue: QueueDep, settings: SettingsDep) -> Health:
    """200 while the database answers (degraded when no worker is alive), else 503."""
    try:
        workers_alive = count_alive_workers(engine, worker_alive_s(settings))
        jobs = queue.counts_by_state()
    except (SQLAlchemyError, VantageError) as exc:
        reason = str(getattr(exc, "orig", None) or exc)
        raise ServiceUnavailableError(
            f"the database does not answer: {reason}", database=reason, version=__version__
        ) from exc
    return Health(
        status="ok" if workers_alive else "degraded",
        database="ok",
        workers_alive=workers_alive,
        jobs=jobs,
        version=__version__,
    )


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}, **problem_responses(503)},
)
def metrics(engine: EngineDep, settings: SettingsDep) -> Response:
    """Prometheus metrics of this server, its workers and the catalog."""
    return Response(
        render_metrics(engine, worker_alive_s(settings)), media_type=CONTENT_TYPE_LATEST
    )
