"""JSON log lines carry the bound job and worker ids, and nothing leaks out of a job's block."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from vantage.observe.logs import bind_job, bind_worker, configure_logging


@pytest.fixture(autouse=True)
def _restore_vantage_logger() -> Iterator[None]:
    """configure_logging changes the process-wide "vantage" logger: put it back afterwards."""
    logger = logging.getLogger("vantage")
    saved = (logger.handlers[:], logger.level, logger.propagate)
    yield
    logger.handlers[:], logger.level, logger.propagate = saved[0], saved[1], saved[2]


def _lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    return [json.loads(line) for line in capsys.readouterr().err.splitlines()]


def test_json_lines_carry_job_and_worker_ids(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", json_format=True)
    log = logging.getLogger("vantage.test")
    bind_worker("worker-7")
    with bind_job("job-42"):
        log.info("stage %s done", "step-1")
    log.warning("between jobs")
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("failed")

    inside, outside, failed = _lines(capsys)
    assert inside["msg"] == "stage step-1 done"
    assert (inside["job_id"], inside["worker_id"], inside["level"]) == (
        "job-42",
        "worker-7",
        "info",
    )
    assert "job_id" not in outside and outside["worker_id"] == "worker-7"
    assert "ValueError: boom" in str(failed["exc"])


def test_level_filters_and_plain_format(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("WARNING", json_format=False)
    log = logging.getLogger("vantage.test")
    with bind_job("job-1"):
        log.info("hidden")
        log.warning("shown")
    err = capsys.readouterr().err
    assert "hidden" not in err
    assert "shown" in err and "[job-1]" in err
