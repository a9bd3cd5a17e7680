"""JSON logs, one object per line, carrying the ``job_id`` and ``worker_id`` in context."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

_job_id: ContextVar[str | None] = ContextVar("vantage_job_id", default=None)
_worker_id: ContextVar[str | None] = ContextVar("vantage_worker_id", default=None)


@contextmanager
def bind_job(job_id: str) -> Iterator[None]:
    """Tag every log record inside the block with ``job_id``."""
    token = _job_id.set(job_id)
    try:
        yield
    finally:
        _job_id.reset(token)


def bind_worker(worker_id: str) -> None:
    """Tag every later log record of this context with ``worker_id``."""
    _worker_id.set(worker_id)


class ContextFilter(logging.Filter):
    """Copies the bound correlation ids onto each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.job_id = _job_id.get()
        record.worker_id = _worker_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key in ("job_id", "worker_id"):
            value = getattr(record, key, None)
            if value:
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(level: str = "INFO", json_format: bool = True) -> None:
    """Send Vantage's logs to stderr, as JSON lines or plain text."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(ContextFilter())
    if json_format:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(job_id)s] %(message)s")
        )
    root = logging.getLogger("vantage")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
