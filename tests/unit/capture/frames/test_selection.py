"""Choosing keyframes from scores: relative blur, stillness since the last kept frame, spread."""

from __future__ import annotations

import numpy as np
import pytest

from vantage.capture.frames.selection import (
    blurry_mask,
    drop_static,
    rolling_median,
    spread_by_distance,
    typical_change,
)


def reference_rolling_median(values: np.ndarray, window: int) -> np.ndarray:
    """Slow reference: the median of each reflected, centred window, one element at a time."""
    count, half = len(values), min(window // 2, len(values) - 1)
    out = np.empty(count)
    for i in range(count):
        picks = [
            abs(j) if j < count else 2 * (count - 1) - j for j in range(i - half, i + half + 1)
        ]
        out[i] = np.median(values[picks])
    return out


@pytest.mark.parametrize(("count", "window"), [(1, 5), (2, 5), (7, 5), (40, 31), (200, 9)])
def test_rolling_median_matches_reference(count: int, window: int) -> None:
    values = np.random.default_rng(count).gamma(2.0, 50.0, size=count)
    np.testing.assert_allclose(
        rolling_median(values, window), reference_rolling_median(values, window)
    )


def test_blur_is_relative_to_the_neighbourhood_not_absolute() -> None:
    # A dull stretch (sharpness ~40) then a busy one (~900); blur dips at 30 % in each.
    rng = np.random.default_rng(3)
    sharp = np.concatenate([rng.normal(40, 3, 60), rng.normal(900, 60, 60)])
    dips = [10, 35, 75, 100]
    sharp[dips] *= 0.3
    flagged = np.flatnonzero(blurry_mask(sharp, window=15, min_ratio=0.5))
    assert flagged.tolist() == dips


def test_a_pause_does_not_outvote_its_neighbours() -> None:
    # Low-detail views (frames 10–14) run into a pause that repeats one detailed view 20 times
    # and go on after it: counted 20 times, that view makes the low-detail frames look blurry.
    sharp = np.array([100.0] * 10 + [40.0] * 5 + [100.0] * 20 + [40.0] * 10 + [100.0] * 10)
    distinct = np.ones(len(sharp), dtype=bool)
    distinct[16:35] = False  # the repeats after the pause's first frame (15)
    assert blurry_mask(sharp, window=11, min_ratio=0.5)[12:15].all()
    fair = blurry_mask(sharp, window=11, min_ratio=0.5, distinct=distinct)
    assert not fair[11:].any()  # (frame 10 sits on the edge of a step, judged by the frames before)


def test_typical_change_is_the_median() -> None:
    assert typical_change(np.array([0.0, 0.0, 1.0, 2.0, 3.0])) == 1.0
    assert typical_change(np.array([])) == 0.0


def thumb(value: float, shift: int = 0) -> np.ndarray:
    """A textured [48, 64] thumbnail; ``shift`` slides the texture, ``value`` sets brightness."""
    xs = np.arange(64) + shift
    row = 100 + 60 * np.sin(xs / 3.0)
    return np.clip(np.tile(row, (48, 1)) + value, 0, 255).astype(np.uint8)


def test_drop_static_keeps_first_and_moving_frames() -> None:
    thumbs = [thumb(0, 0), thumb(0, 0), thumb(0, 0), thumb(0, 2), thumb(0, 2), thumb(0, 4)]
    kept, novelty = drop_static(thumbs, threshold=0.05)
    assert kept == [0, 3, 5]
    assert novelty[0] == 0.0
    assert all(n > 0.05 for n in novelty[1:])


def test_drop_static_ignores_exposure_changes() -> None:
    thumbs = [thumb(0), thumb(20), thumb(-20), thumb(0, 3)]
    kept, _ = drop_static(thumbs, threshold=0.05)
    assert kept == [0, 3]


def test_drop_static_compares_with_the_last_kept_frame() -> None:
    # A slow drift: each step alone is below the threshold, but it adds up.
    thumbs = [thumb(0, shift) for shift in range(10)]
    kept, _ = drop_static(thumbs, threshold=0.5)
    assert kept[0] == 0
    assert 1 < len(kept) < len(thumbs)


def test_spread_keeps_all_when_few() -> None:
    chosen = spread_by_distance(np.ones(5), np.arange(5.0), max_frames=10)
    assert chosen.tolist() == [0, 1, 2, 3, 4]


def test_spread_is_even_along_the_path_and_sharpest_in_each_segment() -> None:
    count, max_frames = 100, 10
    sharp = np.full(count, 10.0)
    best = [5 + 10 * k for k in range(max_frames)]
    sharp[best] = 50.0
    chosen = spread_by_distance(np.ones(count), sharp, max_frames)
    assert chosen.tolist() == best


def test_spread_fills_max_frames_across_a_jump() -> None:
    # Half the path is one huge step: equal segments would leave most of them empty.
    novelty = np.ones(60)
    novelty[30] = 60.0
    chosen = spread_by_distance(novelty, np.ones(60), max_frames=20)
    assert len(chosen) == 20
    assert len(set(chosen.tolist())) == 20


def test_spread_of_a_still_path_is_the_sharpest_frame() -> None:
    chosen = spread_by_distance(np.zeros(30), np.arange(30.0) % 7, max_frames=5)
    assert chosen.tolist() == [6]


@pytest.mark.parametrize("seed", range(5))
def test_spread_never_exceeds_max_frames(seed: int) -> None:
    rng = np.random.default_rng(seed)
    novelty = rng.exponential(1.0, 500) * (rng.random(500) < 0.3)
    chosen = spread_by_distance(novelty, rng.random(500), max_frames=37)
    assert 0 < len(chosen) <= 37
    assert np.all(np.diff(chosen) > 0)
