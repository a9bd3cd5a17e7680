"""``vantage serve`` (API + embedded workers) and ``vantage worker`` (workers only)."""

from __future__ import annotations

import os
import shutil
import signal
import threading
from pathlib import Path
from typing import Annotated

import typer

from vantage.cli.app import ConfigOption, app, console, settings_from
from vantage.config import Settings


def _prepare(settings: Settings, *, wipe_metrics: bool) -> None:
    """Logging, multiprocess metrics folder and an up-to-date catalog, before anything runs."""
    from vantage.catalog.db import engine_from_settings
    from vantage.catalog.migrate import ensure_current
    from vantage.observe.logs import configure_logging

    metrics_dir = Path(settings.data_dir) / "metrics"
    if wipe_metrics:
        shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True, exist_ok=True)
    # Must be set before prometheus_client is first imported, here and in spawned workers.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir.resolve())
    configure_logging(settings.log.level, settings.log.json_format)
    engine = engine_from_settings(settings)
    ensure_current(engine, auto_upgrade=settings.db.url is None)
    engine.dispose()


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default api.host).")] = None,
    port: Annotated[int | None, typer.Option(help="TCP port (default api.port).")] = None,
    workers: Annotated[
        int | None, typer.Option(help="Embedded worker processes (default worker.concurrency).")
    ] = None,
    no_workers: Annotated[bool, typer.Option("--no-workers", help="API only.")] = False,
    config: ConfigOption = None,
) -> None:
    """Run the API and web UI, with embedded worker processes."""
    import uvicorn

    from vantage.api.app import create_app
    from vantage.cli.tokens import login_hint
    from vantage.jobs.executors import local_executor

    settings = settings_from(config)
    _prepare(settings, wipe_metrics=True)
    listen = {"host": host or settings.api.host, "port": port or settings.api.port}
    shown = settings.model_copy(update={"api": settings.api.model_copy(update=listen)})
    console.print(login_hint(settings, shown.public_url), soft_wrap=True, markup=False)
    executor = None
    if settings.api.embedded_workers and not no_workers:
        executor = local_executor(settings, workers)
        executor.start()
    # uvicorn re-raises the signal that stopped it once it has shut down; with a handler of
    # ours in place that does not kill the process, so the workers below get stopped.
    signal.signal(signal.SIGTERM, lambda *_: None)
    try:
        uvicorn.run(
            create_app(settings),
            host=host or settings.api.host,
            port=port if port is not None else settings.api.port,
            log_config=None,
            access_log=False,
        )
    finally:
        if executor is not None:
            executor.stop()


@app.command()
def worker(
    concurrency: Annotated[
        int | None, typer.Option(min=1, help="Worker processes (default worker.concurrency).")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Run worker processes until interrupted (Ctrl-C or SIGTERM)."""
    from vantage.jobs.executors import local_executor

    settings = settings_from(config)
    _prepare(settings, wipe_metrics=False)
    executor = local_executor(settings, concurrency)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    executor.start()
    console.print(f"{concurrency or settings.worker.concurrency} workers running; Ctrl-C stops")
    stop.wait()
    console.print("stopping: workers finish their current job")
    executor.stop()
