"""Executors run job workers somewhere: local worker processes now, a Ray cluster later.

An executor is chosen through the explicit `EXECUTORS` table; every executor satisfies the
`Executor` protocol, so `vantage serve` and `vantage worker` do not care where stages run.
"""

from __future__ import annotations

from typing import Protocol

from vantage.config import Settings


class Executor(Protocol):
    """Starts and stops the workers that run jobs."""

    def start(self) -> None:
        """Start the workers (returns at once)."""

    def stop(self, timeout_s: float = 30.0) -> None:
        """Ask the workers to finish their current job and stop; kill them after the timeout."""

    def alive(self) -> int:
        """How many workers are running."""


def local_executor(settings: Settings, concurrency: int | None = None) -> Executor:
    """Worker processes on this machine."""
    from vantage.jobs.executors.local import LocalExecutor

    return LocalExecutor(settings, concurrency or settings.worker.concurrency)


EXECUTORS = {"local": local_executor}
