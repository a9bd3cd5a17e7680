"""Progress throttling: first and forced updates pass, the rest at most every interval."""

from __future__ import annotations

from vantage.capture.frames.progress import ProgressThrottle


def test_throttle() -> None:
    seen: list[tuple[float, str]] = []
    throttle = ProgressThrottle(lambda f, m: seen.append((f, m)), interval_s=3600)
    throttle(0.1, "a")
    throttle(0.2, "b")
    throttle(1.5, "done", force=True)
    assert seen == [(0.1, "a"), (1.0, "done")]


def test_no_callback_is_fine() -> None:
    ProgressThrottle(None)(0.5, "x", force=True)
