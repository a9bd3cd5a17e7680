"""Every Prometheus metric Vantage exports, declared once, and the catalog collector.

Worker processes record into these; with ``PROMETHEUS_MULTIPROC_DIR`` set (``vantage serve`` and
``vantage worker`` set it before this module is imported) the API aggregates all processes.
Job counts by state, queue depth and live workers are read from the catalog at scrape time.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select

from vantage.catalog.db import read_tx
from vantage.catalog.models import Job, Worker, utcnow

JOBS_FINISHED = Counter(
    "vantage_jobs_finished_total", "Jobs that reached a final state.", ["pipeline", "state"]
)
JOBS_RETRIED = Counter(
    "vantage_jobs_retried_total", "Stage failures that scheduled a retry.", ["pipeline"]
)
STAGE_DURATION = Histogram(
    "vantage_stage_duration_seconds",
    "Wall time of one stage execution.",
    ["pipeline", "stage"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600),
)
LEASE_RENEWALS = Counter("vantage_lease_renewals_total", "Job leases renewed by heartbeats.")
LEASE_EXPIRIES = Counter(
    "vantage_lease_expiries_total", "Expired job leases returned to the queue or failed."
)
LEASES_LOST = Counter(
    "vantage_leases_lost_total", "Writes rejected because the worker no longer held the epoch."
)
NOTIFICATIONS = Counter(
    "vantage_notifications_total",
    "Job notices delivered or given up, by channel (email, webhook) and outcome (sent, failed).",
    ["channel", "outcome"],
)

OWN_METRICS: tuple[Collector, ...] = (
    JOBS_FINISHED,
    JOBS_RETRIED,
    STAGE_DURATION,
    LEASE_RENEWALS,
    LEASE_EXPIRIES,
    LEASES_LOST,
    NOTIFICATIONS,
)


class CatalogCollector(Collector):
    """Gauges read from the catalog at scrape time: jobs by state, queue depth, live workers."""

    def __init__(self, engine: Engine, worker_alive_s: float) -> None:
        self.engine = engine
        self.worker_alive = timedelta(seconds=worker_alive_s)

    def collect(self) -> Iterator[Metric]:
        jobs = Job.__table__
        workers = Worker.__table__
        now = utcnow()
        with read_tx(self.engine) as conn:
            by_state: dict[str, int] = dict(
                conn.execute(select(jobs.c.state, func.count()).group_by(jobs.c.state)).all()
            )
            due = conn.scalar(
                select(func.count()).where(jobs.c.state == "queued", jobs.c.run_after <= now)
            )
            alive = conn.scalar(
                select(func.count()).where(
                    workers.c.state != "stopped",
                    workers.c.last_heartbeat_at >= now - self.worker_alive,
                )
            )
        states = GaugeMetricFamily("vantage_jobs", "Jobs by state.", labels=["state"])
        for state in ("queued", "running", "succeeded", "failed", "cancelled"):
            states.add_metric([state], by_state.get(state, 0))
        yield states
        yield GaugeMetricFamily("vantage_queue_depth", "Queued jobs that are due now.", value=due)
        yield GaugeMetricFamily(
            "vantage_workers_alive", "Workers with a recent heartbeat.", value=alive
        )


def render_metrics(engine: Engine, worker_alive_s: float) -> bytes:
    """The exposition text of every metric (all processes when multiprocess mode is on)."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        for metric in OWN_METRICS:
            registry.register(metric)
    registry.register(CatalogCollector(engine, worker_alive_s))
    return generate_latest(registry)
