"""A claim's view of its stages: resume position and weighted progress."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from vantage.jobs.leases import Claim, StageSlot
from vantage.jobs.records import JobState, StageState


def make_claim(weights: list[float], states: list[StageState] | None = None) -> Claim:
    states = states or [StageState.PENDING] * len(weights)
    return Claim(
        job_id="j",
        pipeline="diagnostic",
        params={},
        epoch=1,
        attempt=1,
        max_attempts=3,
        owner="w",
        stages=[
            StageSlot(position, f"s{position}", weight, state, None)
            for position, (weight, state) in enumerate(zip(weights, states, strict=True))
        ],
        lease_expires_at=datetime(2030, 1, 1, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    ("position", "fraction", "expected"),
    [
        (0, 0.0, 0.0),
        (0, 0.5, 10.0),  # half of a 2-of-10 stage
        (0, 1.0, 20.0),
        (1, 0.0, 20.0),
        (1, 0.25, 35.0),  # 2 + 0.25·6 = 3.5 of 10
        (2, 0.0, 80.0),
        (2, 1.0, 100.0),
        (1, 3.0, 80.0),  # fractions are clamped to [0, 1]
        (1, -1.0, 20.0),
    ],
)
def test_job_progress_is_weighted(position: int, fraction: float, expected: float) -> None:
    claim = make_claim([2.0, 6.0, 2.0])
    assert claim.job_progress(position, fraction) == pytest.approx(expected)


def test_job_progress_equal_weights() -> None:
    claim = make_claim([1.0, 1.0, 1.0])
    assert claim.job_progress(1, 0.5) == pytest.approx(50.0)
    assert claim.job_progress(2, 1.0) == 100.0


def test_job_progress_zero_weights_does_not_divide_by_zero() -> None:
    claim = make_claim([0.0, 0.0])
    assert claim.job_progress(1, 1.0) == 0.0


def test_next_position_is_first_unfinished_stage() -> None:
    done, pending = StageState.SUCCEEDED, StageState.PENDING
    assert make_claim([1, 1, 1], [done, pending, pending]).next_position == 1
    assert make_claim([1, 1, 1], [done, StageState.FAILED, pending]).next_position == 1
    assert make_claim([1, 1], [done, done]).next_position is None
    assert make_claim([1, 1], [pending, pending]).next_position == 0


def test_terminal_states() -> None:
    assert {state for state in JobState if state.terminal} == {
        JobState.SUCCEEDED,
        JobState.FAILED,
        JobState.CANCELLED,
    }
