"""Local worker processes: N spawned processes, each a `JobWorker`, supervised and restarted.

Processes are spawned (not forked) so each opens its own database connections and nothing the
parent holds leaks into them. A worker that dies is restarted by the supervisor thread; the job
it held is reaped once its lease expires and resumes at its unfinished stage elsewhere.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.context
import multiprocessing.process
import signal
import threading
from typing import Any

from vantage.config import Settings

log = logging.getLogger(__name__)

#: How often the supervisor checks that every worker process is alive.
SUPERVISE_INTERVAL_S = 1.0


def worker_process_main(settings_data: dict[str, Any], worker_id: str | None = None) -> None:
    """Entry point of one worker process: run jobs until SIGTERM or the parent's death.

    Stopping is by signal, not by a shared multiprocessing event: waking a process that waits
    on such an event blocks forever if that process was killed, so one OOM-killed worker could
    hang the whole executor. SIGTERM sets a process-local event through a short-lived thread,
    because setting an event inside a signal handler can deadlock on a lock the interrupted
    main thread holds.
    """
    stop = threading.Event()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when we stop
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=stop.set, daemon=True).start())
    parent = multiprocessing.parent_process()
    if parent is not None:  # never outlive the parent, even if it was killed
        threading.Thread(target=_stop_with, args=(parent, stop), daemon=True).start()
    from vantage.catalog.db import engine_from_settings
    from vantage.jobs.worker import JobWorker
    from vantage.observe.logs import configure_logging

    settings = Settings(**settings_data)
    configure_logging(settings.log.level, settings.log.json_format)
    engine = engine_from_settings(settings)
    try:
        JobWorker(engine, settings, worker_id=worker_id).run(stop)
    finally:
        engine.dispose()


def _stop_with(parent: multiprocessing.process.BaseProcess, stop: threading.Event) -> None:
    parent.join()
    stop.set()


class LocalExecutor:
    """Runs ``concurrency`` worker processes on this machine."""

    def __init__(self, settings: Settings, concurrency: int) -> None:
        self.settings = settings
        self.concurrency = concurrency
        self._context: multiprocessing.context.SpawnContext = multiprocessing.get_context("spawn")
        self._processes: list[multiprocessing.context.SpawnProcess] = []
        self._supervisor: threading.Thread | None = None
        self._stopping = threading.Event()

    def _spawn(self) -> multiprocessing.context.SpawnProcess:
        process = self._context.Process(
            target=worker_process_main,
            args=(self.settings.model_dump(mode="json"),),
            name="vantage-worker",
            daemon=False,
        )
        process.start()
        return process

    def start(self) -> None:
        """Start the worker processes and their supervisor."""
        self._processes = [self._spawn() for _ in range(self.concurrency)]
        self._supervisor = threading.Thread(target=self._supervise, daemon=True)
        self._supervisor.start()
        log.info("started %d worker processes", self.concurrency)

    def _supervise(self) -> None:
        while not self._stopping.wait(SUPERVISE_INTERVAL_S):
            for index, process in enumerate(self._processes):
                if not process.is_alive() and not self._stopping.is_set():
                    log.warning(
                        "worker pid %s exited (%s); restarting", process.pid, process.exitcode
                    )
                    self._processes[index] = self._spawn()

    def stop(self, timeout_s: float = 30.0) -> None:
        """Let each worker finish its current job, then stop; kill stragglers."""
        self._stopping.set()
        if self._supervisor is not None:
            self._supervisor.join()
        for process in self._processes:
            process.terminate()  # SIGTERM: finish the job in hand, then exit
        for process in self._processes:
            process.join(timeout_s)
        for process in self._processes:
            if process.is_alive():
                log.warning("worker pid %s did not stop in %.0f s; killing", process.pid, timeout_s)
                process.kill()
                process.join(5)

    def alive(self) -> int:
        """How many worker processes are running."""
        return sum(process.is_alive() for process in self._processes)

    @property
    def pids(self) -> list[int]:
        """Process ids of the workers (for tests and diagnostics)."""
        return [process.pid for process in self._processes if process.pid is not None]
