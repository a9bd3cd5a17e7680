"""Retry delays: exponential backoff with jitter, as a pure function."""

from __future__ import annotations

import random


def retry_delay_s(
    attempt: int, *, base_s: float, max_s: float, rng: random.Random | None = None
) -> float:
    """Seconds to wait before attempt ``attempt + 1`` after attempt ``attempt`` failed.

    The ceiling doubles per attempt (``base_s · 2^(attempt-1)``, capped at ``max_s``) and the
    delay is drawn from its upper half, so retries of many jobs that failed together spread out
    without ever retrying sooner than half the ceiling.
    """
    ceiling = min(max_s, base_s * 2.0 ** max(attempt - 1, 0))
    draw: float = (rng or random).random()
    return ceiling / 2 + draw * ceiling / 2
