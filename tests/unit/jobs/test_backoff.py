"""Retry delays: within the upper half of a doubling, capped ceiling."""

from __future__ import annotations

import itertools
import random

import pytest

from vantage.jobs.backoff import retry_delay_s


def ceiling(attempt: int, base_s: float, max_s: float) -> float:
    return float(min(max_s, base_s * 2.0 ** max(attempt - 1, 0)))


@pytest.mark.parametrize("attempt", [0, 1, 2, 3, 4, 8, 20, 60])
def test_delay_within_upper_half_of_ceiling(attempt: int) -> None:
    rng = random.Random(1234 + attempt)
    top = ceiling(attempt, 2.0, 300.0)
    delays = [retry_delay_s(attempt, base_s=2.0, max_s=300.0, rng=rng) for _ in range(500)]
    assert all(top / 2 <= delay <= top for delay in delays)
    # The draws spread over the band rather than sticking to one end.
    assert max(delays) - min(delays) > top / 4


def test_ceiling_doubles_per_attempt() -> None:
    # The same draw on each attempt isolates the ceiling: each delay is twice the last.
    delays = [
        retry_delay_s(attempt, base_s=0.5, max_s=1000.0, rng=random.Random(7))
        for attempt in range(1, 8)
    ]
    for earlier, later in itertools.pairwise(delays):
        assert later == pytest.approx(2 * earlier)


def test_cap() -> None:
    rng = random.Random(3)
    for attempt in range(1, 40):
        assert retry_delay_s(attempt, base_s=1.0, max_s=10.0, rng=rng) <= 10.0
    # Past the cap, the band is [max/2, max] however many attempts failed.
    late = [retry_delay_s(30, base_s=1.0, max_s=10.0, rng=rng) for _ in range(200)]
    assert min(late) >= 5.0


def test_extremes_of_the_draw() -> None:
    class Fixed(random.Random):
        def __init__(self, value: float) -> None:
            super().__init__(0)
            self.value = value

        def random(self) -> float:
            return self.value

    assert retry_delay_s(3, base_s=1.0, max_s=100.0, rng=Fixed(0.0)) == 2.0
    assert retry_delay_s(3, base_s=1.0, max_s=100.0, rng=Fixed(0.999999)) == pytest.approx(4.0)


def test_seeded_rng_is_reproducible() -> None:
    first = [retry_delay_s(a, base_s=1, max_s=60, rng=random.Random(42)) for a in range(1, 6)]
    again = [retry_delay_s(a, base_s=1, max_s=60, rng=random.Random(42)) for a in range(1, 6)]
    assert first == again


def test_zero_base_means_no_delay() -> None:
    assert retry_delay_s(5, base_s=0.0, max_s=10.0, rng=random.Random(1)) == 0.0


def test_default_rng_stays_in_bounds() -> None:
    for _ in range(100):
        assert 4.0 <= retry_delay_s(3, base_s=2.0, max_s=300.0) <= 8.0
