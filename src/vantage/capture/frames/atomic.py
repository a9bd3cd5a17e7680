"""Atomic file writes: write a temporary file beside the target, then rename it into place.

A reader (a worker resuming a job, the web UI listing frames) sees either the old file or the
whole new one, never a half-written JPEG or JSON document.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path


def write_bytes_atomic(path: Path, data: bytes, *, durable: bool = False) -> None:
    """Write ``data`` to ``path`` through a temporary file and `os.replace`.

    Args:
        path: The target; its folder must exist.
        data: The whole new content.
        durable: Also fsync the file before the rename (for manifests; frames skip it for speed).
    """
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
