"""The ``vantage`` command line in a subprocess: exit codes, one-line errors, a job end to end."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from vantage.catalog.migrate import head_revision

#: Fast job intervals, as a user would set them in the environment.
FAST_ENV = {
    "VANTAGE__JOBS__LEASE_TTL_S": "2",
    "VANTAGE__JOBS__HEARTBEAT_INTERVAL_S": "0.4",
    "VANTAGE__JOBS__POLL_INTERVAL_S": "0.05",
    "VANTAGE__JOBS__REAP_INTERVAL_S": "0.5",
    "VANTAGE__LOG__LEVEL": "WARNING",
}
COMMAND_TIMEOUT_S = 120


class Cli:
    """Runs ``python -m vantage`` with a private data folder."""

    def __init__(self, tmp_path: Path) -> None:
        self.cwd = tmp_path
        self.data_dir = tmp_path / "data"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("VANTAGE")}
        self.env.update(FAST_ENV, VANTAGE__DATA_DIR=str(self.data_dir))

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "vantage", *args]

    def run(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.argv(*args),
            capture_output=True,
            text=True,
            cwd=self.cwd,
            env={**self.env, **(env or {})},
            timeout=COMMAND_TIMEOUT_S,
            check=False,
        )

    def json(self, *args: str) -> Any:
        result = self.run(*args)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    @contextmanager
    def background(self, *args: str) -> Iterator[subprocess.Popen[bytes]]:
        """A long-running command, stopped with SIGTERM (then SIGKILL) at the end."""
        log = (self.cwd / "background.log").open("wb")
        process = subprocess.Popen(
            self.argv(*args), cwd=self.cwd, env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                os.kill(process.pid, signal.SIGTERM)
                try:
                    process.wait(60)
                except subprocess.TimeoutExpired:
                    os.kill(process.pid, signal.SIGKILL)
                    process.wait(10)
            log.close()


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path)


def assert_one_error_line(result: subprocess.CompletedProcess[str], exit_code: int) -> str:
    assert result.returncode == exit_code, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def test_bad_input_exits_with_codes_and_creates_nothing(cli: Cli) -> None:
    line = assert_one_error_line(cli.run("jobs", "submit", "nope"), 65)
    assert "'nope'" in line and "diagnostic" in line

    line = assert_one_error_line(cli.run("jobs", "submit", "diagnostic", "-p", "stages=-1"), 65)
    assert "stages" in line

    line = assert_one_error_line(cli.run("jobs", "submit", "diagnostic", "-p", "colour=red"), 65)
    assert "colour" in line

    line = assert_one_error_line(cli.run("jobs", "submit", "diagnostic", "--param", "novalue"), 65)
    assert "novalue" in line

    line = assert_one_error_line(cli.run("jobs", "show", "unknownid"), 66)
    assert "unknownid" in line
    assert_one_error_line(cli.run("jobs", "cancel", "unknownid"), 66)
    assert_one_error_line(cli.run("jobs", "retry", "unknownid"), 66)

    bad_setting = {"VANTAGE__JOBS__LEASE_TTL_S": "abc"}
    line = assert_one_error_line(cli.run("jobs", "submit", "diagnostic", env=bad_setting), 78)
    assert "jobs.lease_ttl_s" in line
    line = assert_one_error_line(cli.run("jobs", "list", env={"VANTAGE__JOBS__LEASE": "1"}), 78)
    assert "jobs.lease" in line

    assert cli.json("jobs", "list", "--json") == []


def test_job_lifecycle(cli: Cli) -> None:
    first = cli.json(
        "jobs", "submit", "diagnostic", "-p", "stages=2", "-p", "stage_s=0.2", "--json"
    )
    assert first["state"] == "queued"
    assert first["params"]["stages"] == 2
    assert [stage["name"] for stage in first["stages"]] == ["step-1", "step-2"]

    doomed = cli.json("jobs", "submit", "diagnostic", "-p", "stages=1", "--json")
    cancelled = cli.json("jobs", "cancel", doomed["id"], "--json")
    assert cancelled["state"] == "cancelled"
    line = assert_one_error_line(cli.run("jobs", "retry", first["id"]), 75)  # queued: conflict
    assert first["id"] in line

    deduped = cli.json(
        "jobs",
        "submit",
        "diagnostic",
        "-p",
        "stages=2",
        "-p",
        "stage_s=0.2",
        "--dedupe-key",
        "k1",
        "--json",
    )
    again = cli.json(
        "jobs",
        "submit",
        "diagnostic",
        "-p",
        "stages=2",
        "-p",
        "stage_s=0.2",
        "--dedupe-key",
        "k1",
        "--json",
    )
    assert again["id"] == deduped["id"]

    with cli.background("worker", "--concurrency", "1") as worker:
        waited = cli.run(
            "jobs", "submit", "diagnostic", "-p", "stages=2", "-p", "stage_s=0.2", "--wait"
        )
        assert waited.returncode == 0, waited.stderr
        assert "succeeded" in waited.stdout
        # --wait --json: stdout is exactly the final job, whatever the progress bar drew.
        followed = cli.json(
            "jobs",
            "submit",
            "diagnostic",
            "-p",
            "stages=2",
            "-p",
            "stage_s=0.2",
            "--wait",
            "--json",
        )
        assert (followed["state"], followed["progress"]) == ("succeeded", 100.0)
        final = cli.json("jobs", "show", followed["id"], "--json")
        assert (final["state"], final["progress"]) == ("succeeded", 100.0)
        assert worker.poll() is None, "the worker exited early"
        # One worker takes jobs oldest first, so the earlier jobs are done by now.
        shown = cli.json("jobs", "show", first["id"], "--json")
        assert shown["state"] == "succeeded"
        assert shown["progress"] == 100.0
        assert [stage["state"] for stage in shown["stages"]] == ["succeeded", "succeeded"]
        assert [stage["executions"] for stage in shown["stages"]] == [1, 1]
        os.kill(worker.pid, signal.SIGTERM)
        assert worker.wait(60) == 0

    listed = cli.json("jobs", "list", "--json")
    assert len(listed) == 5
    by_id = {job["id"]: job["state"] for job in listed}
    assert by_id[first["id"]] == "succeeded"
    assert by_id[doomed["id"]] == "cancelled"
    assert by_id[deduped["id"]] == "succeeded"
    assert sorted(by_id.values()) == ["cancelled", *["succeeded"] * 4]
    assert [job["id"] for job in listed] == sorted(by_id, reverse=True)  # newest first
    queued = cli.json("jobs", "list", "--state", "cancelled", "--json")
    assert [job["id"] for job in queued] == [doomed["id"]]

    retried = cli.json("jobs", "retry", doomed["id"], "--json")
    assert retried["state"] == "queued"


def test_wait_on_a_failing_job_exits_non_zero(cli: Cli) -> None:
    with cli.background("worker", "--concurrency", "1"):
        result = cli.run(
            "jobs",
            "submit",
            "diagnostic",
            "-p",
            "stages=1",
            "-p",
            "stage_s=0",
            "-p",
            "fail_rate=1",
            "--max-attempts",
            "1",
            "--wait",
        )
    line = assert_one_error_line(result, 1)
    assert "failed" in line


def test_db_upgrade_and_config_show(cli: Cli) -> None:
    result = cli.run("db", "upgrade")
    assert result.returncode == 0, result.stderr
    head = head_revision()
    assert f"revision {head}" in result.stdout
    assert "was empty" in result.stdout
    again = cli.run("db", "upgrade")
    assert f"revision {head} (was {head})" in again.stdout
    current = cli.run("db", "current")
    assert f"current {head}, newest {head}" in current.stdout

    shown = cli.json("config", "show")
    assert shown["data_dir"] == str(cli.data_dir)
    assert shown["jobs"]["lease_ttl_s"] == 2.0
    assert shown["db"]["resolved_url"].endswith("vantage.db")


def test_config_file_option(cli: Cli) -> None:
    config = cli.cwd / "custom.toml"
    config.write_text("[worker]\nconcurrency = 7\n\n[api]\nport = 70000\n")
    line = assert_one_error_line(cli.run("config", "show", "--config", str(config)), 78)
    assert "api.port" in line and f"{config}:5" in line
    config.write_text("[worker]\nconcurrency = 7\n")
    assert cli.json("config", "show", "--config", str(config))["worker"]["concurrency"] == 7


@pytest.mark.parametrize(
    "args",
    [("jobs", "frobnicate"), ("worker", "--concurrency", "0"), ("jobs", "submit"), ()],
    ids=["unknown command", "bad option value", "missing argument", "no arguments"],
)
def test_usage_errors_exit_2_without_a_traceback(cli: Cli, args: tuple[str, ...]) -> None:
    result = cli.run(*args)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "Usage: vantage" in result.stdout + result.stderr
