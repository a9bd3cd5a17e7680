"""The real ``splat-transform`` CLI (PlayCanvas, Node 20), as the interop tests run it.

``make setup`` installs it under ``webui/node_modules``.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

CLI = Path(__file__).resolve().parents[4] / "webui" / "node_modules" / ".bin" / "splat-transform"
TIMEOUT_S = 180


def splat_transform(*args: str | Path) -> None:
    """Run the CLI (overwriting outputs, on the CPU); fail the test with its output if it fails."""
    assert CLI.exists(), f"{CLI} is missing: run `make setup`"
    result = subprocess.run(
        [str(CLI), "-q", "-w", "-g", "cpu", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
