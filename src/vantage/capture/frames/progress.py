"""Rate-limited progress reporting: forward at most one update per interval to a callback."""

from __future__ import annotations

import time

from vantage.capture.frames.records import ProgressCallback


class ProgressThrottle:
    """Calls ``callback(fraction, message)`` at most every ``interval_s`` seconds.

    The first update and every ``force=True`` update (the final one) always go through, so a
    listener sees the start and the end of the work however fast it is.
    """

    def __init__(self, callback: ProgressCallback | None, interval_s: float = 0.2) -> None:
        self._callback = callback
        self._interval_s = interval_s
        self._last_at: float | None = None

    def __call__(self, fraction: float, message: str, *, force: bool = False) -> None:
        if self._callback is None:
            return
        now = time.monotonic()
        if not force and self._last_at is not None and now - self._last_at < self._interval_s:
            return
        self._last_at = now
        self._callback(min(max(fraction, 0.0), 1.0), message)
