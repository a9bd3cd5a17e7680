"""Importing Vantage is cheap and inert: no heavy library is loaded and no setting is read."""

from __future__ import annotations

import json
import os
import subprocess
import sys

HEAVY = ("torch", "cv2", "pycolmap")

#: Modules a CLI command, the queue client or a worker imports before any stage runs.
LIGHT_MODULES = (
    "vantage",
    "vantage.errors",
    "vantage.config",
    "vantage.catalog.models",
    "vantage.catalog.db",
    "vantage.catalog.migrate",
    "vantage.jobs.records",
    "vantage.jobs.pipeline",
    "vantage.jobs.backoff",
    "vantage.jobs.queue",
    "vantage.jobs.leases",
    "vantage.jobs.diagnostic",
    "vantage.jobs.worker",
    "vantage.jobs.executors",
    "vantage.jobs.executors.local",
    "vantage.cli",
)

# Imports each module in turn and reports which watched modules each one newly pulled in.
_PROBE = """
import importlib, json, sys
watched = json.loads(sys.argv[1])
report = {}
for name in json.loads(sys.argv[2]):
    before = {m for m in watched if m in sys.modules}
    importlib.import_module(name)
    report[name] = sorted(m for m in watched if m in sys.modules and m not in before)
print(json.dumps(report))
"""


def _probe(modules: tuple[str, ...], watched: tuple[str, ...]) -> dict[str, list[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VANTAGE")}
    # A broken setting must not matter: nothing may read settings at import time.
    env["VANTAGE__JOBS__LEASE_TTL_S"] = "not-a-number"
    env["VANTAGE__NO_SUCH_SECTION__KEY"] = "1"
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(watched), json.dumps(modules)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report: dict[str, list[str]] = json.loads(result.stdout)
    return report


def test_import_vantage_alone_loads_nothing_heavy() -> None:
    report = _probe(("vantage",), (*HEAVY, "prometheus_client", "sqlalchemy", "pydantic"))
    assert report == {"vantage": []}


def test_core_modules_do_not_import_heavy_libraries() -> None:
    report = _probe(LIGHT_MODULES, HEAVY)
    offenders = {module: heavy for module, heavy in report.items() if heavy}
    assert offenders == {}
    assert set(report) == set(LIGHT_MODULES)
