"""Choosing keyframes from per-frame scores: reject blurry and static frames, spread the rest.

Pure functions on score arrays, each relative to the clip itself rather than to fixed numbers:
blur against the local median sharpness, stillness against the clip's typical motion, and the
final choice evenly along the distance the camera travelled (cumulative change), sharpest first.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import NDArray

from vantage.capture.frames.scoring import change, normalised


def rolling_median(values: NDArray[np.float64], window: int) -> NDArray[np.float64]:
    """Median of ``values`` [N] over a centred window of ``window`` (odd) samples; [N].

    The ends are padded by reflection, so the first and last frames are judged against their
    real neighbours rather than against copies of themselves.
    """
    count = len(values)
    if count == 0:
        return values.copy()
    half = max(0, min(window // 2, count - 1))
    padded = np.pad(values, half, mode="reflect") if half else values
    windows = sliding_window_view(padded, 2 * half + 1)  # [N, window]
    return np.asarray(np.median(windows, axis=1), dtype=np.float64)


def blurry_mask(
    sharpness: NDArray[np.float64],
    *,
    window: int,
    min_ratio: float,
    distinct: NDArray[np.bool_] | None = None,
) -> NDArray[np.bool_]:
    """Frames [N] whose sharpness is below ``min_ratio`` × the median of their neighbourhood.

    The neighbourhood is the ``window`` nearest *distinct* frames (``distinct`` [N]: the view
    changed since the previous frame; all frames when None): during a pause the same view
    repeats, and its copies must not outvote the frames around it.
    """
    if distinct is None or not distinct.any():
        return sharpness < min_ratio * rolling_median(sharpness, window)
    members = np.flatnonzero(distinct)  # [D] frame indices
    medians = rolling_median(sharpness[members], window)  # [D]
    # Each frame takes the median of the nearest distinct frame at or before it.
    nearest = np.clip(
        np.searchsorted(members, np.arange(len(sharpness)), side="right") - 1, 0, None
    )
    return sharpness < min_ratio * medians[nearest]


def typical_change(consecutive: NDArray[np.float64]) -> float:
    """The clip's typical change between consecutive frames: the median of ``consecutive`` [N]."""
    return float(np.median(consecutive)) if len(consecutive) else 0.0


def drop_static(
    thumbnails: Sequence[NDArray[np.uint8]], threshold: float
) -> tuple[list[int], list[float]]:
    """Keep candidates that changed by more than ``threshold`` since the last kept candidate.

    Args:
        thumbnails: The candidates' thumbnails [48, 64], in time order.
        threshold: Minimum change (see `scoring.change`); the first candidate is always kept.

    Returns:
        The kept positions in ``thumbnails`` and each one's change since the previous kept one
        (0 for the first).
    """
    kept: list[int] = []
    novelty: list[float] = []
    reference: NDArray[np.float32] | None = None
    for position, thumb in enumerate(thumbnails):
        current = normalised(thumb)
        if reference is None:
            kept.append(position)
            novelty.append(0.0)
            reference = current
            continue
        moved = change(current, reference)
        if moved > threshold:
            kept.append(position)
            novelty.append(moved)
            reference = current
    return kept, novelty


def spread_by_distance(
    novelty: NDArray[np.float64], sharpness: NDArray[np.float64], max_frames: int
) -> NDArray[np.int64]:
    """Choose up to ``max_frames`` of the candidates, evenly along the path, sharpest first.

    The path [0, total] of cumulative ``novelty`` [K] is cut into equal segments and the
    sharpest candidate of each non-empty segment is chosen. A jump of the camera leaves
    segments empty, so the number of segments grows (binary search) until as many as possible
    of ``max_frames`` are filled.

    Returns:
        Sorted positions [M] of the chosen candidates, M ≤ max_frames.
    """
    count = len(novelty)
    if count <= max_frames:
        return np.arange(count, dtype=np.int64)
    distance = np.cumsum(novelty)  # [K]
    total = float(distance[-1])
    if total <= 0.0:
        return np.array([int(np.argmax(sharpness))], dtype=np.int64)

    def choose(segments: int) -> NDArray[np.int64]:
        segment = np.minimum((distance / total * segments).astype(np.int64), segments - 1)
        order = np.lexsort((-sharpness, segment))  # by segment, sharpest first within each
        first = np.ones(count, dtype=bool)
        first[1:] = segment[order][1:] != segment[order][:-1]
        return np.sort(order[first]).astype(np.int64)

    best = choose(max_frames)
    low, high = max_frames + 1, count
    while low <= high and len(best) < max_frames:
        middle = (low + high) // 2
        chosen = choose(middle)
        if len(chosen) <= max_frames:
            if len(chosen) >= len(best):
                best = chosen
            low = middle + 1
        else:
            high = middle - 1
    return best
