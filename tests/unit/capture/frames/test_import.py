"""Importing vantage.capture.frames is cheap: no PyAV, OpenCV or Pillow until a function is used."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import json, sys
import vantage.capture.frames as frames
heavy = ("av", "cv2", "PIL", "pillow_heif", "torch", "skimage")
before = sorted(m for m in heavy if m in sys.modules)
frames.probe_video  # the lazy attribute pulls in its module
after = sorted(m for m in ("av", "cv2") if m in sys.modules)
print(json.dumps([before, after]))
"""


def test_package_import_is_light_and_functions_resolve() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120, check=True
    )
    before, after = json.loads(result.stdout)
    assert before == []
    assert "av" in after
