"""Codebooks for quantising codecs: k-means for vectors, optimal 1-D codebooks for scalars.

`kmeans` clusters [N, D] points (SOG's spherical-harmonics palette): k-means++ seeds, then a
fixed number of Lloyd iterations whose distances come from one matrix product per cache-sized
tile, so memory stays bounded. When N × K is large the points are first split into about √K
coarse groups and each group gets its own share of the K centroids, which divides the cost by
about √K for a few per cent more distortion (measured on SH-like data: +2 %, 35x faster).

`quantize_1d` builds a 256-entry codebook for a pool of scalars (SOG's scales, colours and
palette values) the way PlayCanvas's splat-transform does: a 1024-bin histogram placed
between value and rank space, bins weighted by count^½ so sparse tails keep some entries,
and dynamic programming for the codebook of least weighted squared error on that histogram.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import NDArray

Float32Array = NDArray[np.float32]
IndexArray = NDArray[np.int64]

#: Above this many point-centroid pairs, k-means clusters within coarse groups.
FLAT_PAIRS_MAX = 1 << 24
#: Distances computed per tile (point rows × centroid columns).
_TILE_ELEMENTS = 1 << 18
_TILE_COLUMNS = 4096
#: Points per coarse group used to fit the coarse centroids.
_COARSE_SAMPLE_PER_GROUP = 256


@dataclass(frozen=True)
class Clusters:
    """The result of `kmeans`.

    Attributes:
        centroids: [K, D] cluster centres.
        labels: [N] index of each point's centroid (its nearest, within its group).
        point_groups: [N] coarse group of each point (all 0 when clustering was flat).
        centroid_groups: [K] coarse group of each centroid.
    """

    centroids: Float32Array
    labels: IndexArray
    point_groups: IndexArray
    centroid_groups: IndexArray


def kmeans(
    points: Float32Array,
    k: int,
    iterations: int,
    seed: int = 0,
    progress: Callable[[float], None] | None = None,
) -> Clusters:
    """Cluster ``points`` [N, D] into at most ``k`` clusters with ``iterations`` Lloyd steps.

    Deterministic for a given ``seed``. With k ≥ N every point is its own centroid.
    """
    count = points.shape[0]
    if k < 1:
        raise ValueError(f"k must be positive, got {k}")
    if k >= count:
        zeros = np.zeros(count, dtype=np.int64)
        return Clusters(points.astype(np.float32), np.arange(count), zeros, zeros.copy())
    rng = np.random.default_rng(seed)
    x = torch.from_numpy(np.ascontiguousarray(points, dtype=np.float32))  # [N, D]
    report = progress or (lambda _fraction: None)
    with _one_thread():
        if count * k > FLAT_PAIRS_MAX:
            return _grouped_kmeans(x, k, iterations, rng, report)
        centroids, labels = _lloyd(x, k, iterations, rng, report)
    zeros = np.zeros(count, dtype=np.int64)
    return Clusters(centroids.numpy(), labels.numpy(), zeros, np.zeros(k, dtype=np.int64))


def reassign(points: Float32Array, clusters: Clusters, centroids: Float32Array) -> IndexArray:
    """Labels [N] of the nearest of ``centroids`` [K, D] (e.g. quantised ``clusters.centroids``).

    The search stays within each point's coarse group, as `kmeans` did.
    """
    x = torch.from_numpy(np.ascontiguousarray(points, dtype=np.float32))
    c = torch.from_numpy(np.ascontiguousarray(centroids, dtype=np.float32))
    with _one_thread():
        if not clusters.point_groups.any():
            return nearest(x, c)[0].numpy()
        labels = np.empty(points.shape[0], dtype=np.int64)
        for group, members in enumerate(_split_by_group(clusters.point_groups)):
            owned = np.flatnonzero(clusters.centroid_groups == group)
            if members.size == 0:
                continue
            local = nearest(x[torch.from_numpy(members)], c[torch.from_numpy(owned)])[0]
            labels[members] = owned[local.numpy()]
    return labels


@contextmanager
def _one_thread() -> Iterator[None]:
    """Run torch's CPU ops on one thread for a while.

    k-means issues many small ops; on a machine whose cores are all busy, OpenMP's barriers
    made each of them 10-40x slower with two threads than with one (measured).
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def nearest(x: torch.Tensor, centroids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Index [N] of the nearest of ``centroids`` [K, D] to each row of ``x`` [N, D], and its
    squared distance [N]."""
    k = centroids.shape[0]
    squared_norms = (centroids * centroids).sum(1)  # [K]
    labels = torch.empty(x.shape[0], dtype=torch.int64)
    distances = torch.empty(x.shape[0], dtype=torch.float32)
    # tiles of ~1 MiB of scores stay in cache between the product and the minimum
    columns = min(k, _TILE_COLUMNS)
    rows = max(1, _TILE_ELEMENTS // columns)
    for start in range(0, x.shape[0], rows):
        block = x[start : start + rows]  # [B, D]
        best = torch.full((block.shape[0],), math.inf)
        index = torch.zeros(block.shape[0], dtype=torch.int64)
        for first in range(0, k, columns):
            part = centroids[first : first + columns]
            # ||c||² − 2 x·c: the ||x||² term does not change the argmin
            scores = torch.addmm(
                squared_norms[None, first : first + columns], block, part.T, alpha=-2.0
            )  # [B, C]
            part_best, part_index = scores.min(1)
            better = part_best < best
            best = torch.where(better, part_best, best)
            index = torch.where(better, part_index + first, index)
        labels[start : start + rows] = index
        distances[start : start + rows] = (best + (block * block).sum(1)).clamp_min(0.0)
    return labels, distances


def _lloyd(
    x: torch.Tensor,
    k: int,
    iterations: int,
    rng: np.random.Generator,
    report: Callable[[float], None],
) -> tuple[torch.Tensor, torch.Tensor]:
    """Centroids [k, D] and labels [N] after ``iterations`` Lloyd steps from k-means++ seeds."""
    count = x.shape[0]
    if k >= count:
        return x.clone(), torch.arange(count)
    centroids = _plus_plus_seeds(x, k, rng)  # [k, D]
    for step in range(iterations):
        labels, distances = nearest(x, centroids)
        sums = torch.zeros_like(centroids).index_add_(0, labels, x)
        sizes = torch.bincount(labels, minlength=k)
        filled = sizes > 0
        centroids[filled] = sums[filled] / sizes[filled, None].to(torch.float32)
        empty = torch.nonzero(~filled).flatten()
        if empty.numel():
            # re-seed empty clusters at the points their centroids serve worst
            worst = torch.topk(distances, empty.numel()).indices
            centroids[empty] = x[worst]
        report((step + 1) / (iterations + 1))
    labels, _ = nearest(x, centroids)
    report(1.0)
    return centroids, labels


def _plus_plus_seeds(x: torch.Tensor, k: int, rng: np.random.Generator) -> torch.Tensor:
    """k-means++ seeds [k, D]: each next seed drawn with probability ∝ squared distance to the
    nearest seed so far, which spreads seeds over every cluster of points.

    One seed per step, so the steps run in numpy, whose calls cost less than torch's on the
    small arrays of a group.
    """
    points = x.numpy()  # [N, D]
    count = points.shape[0]
    squared_norms = np.einsum("ij,ij->i", points, points)  # [N]

    def squared_distances(index: int) -> Float32Array:
        # ||x||² − 2 x·c + ||c||²: one matrix-vector product, clamped against rounding
        seed = points[index]
        distances: Float32Array = squared_norms - 2.0 * (points @ seed) + squared_norms[index]
        return np.maximum(distances, 0.0)

    chosen = np.empty(k, dtype=np.int64)
    chosen[0] = rng.integers(count)
    closest = squared_distances(int(chosen[0]))  # [N]
    draws = rng.random(k)
    for i in range(1, k):
        cumulative = np.cumsum(closest, dtype=np.float64)
        if cumulative[-1] <= 0:  # the rest duplicate a seed: Lloyd re-seeds empty clusters
            chosen[i:] = rng.choice(count, size=k - i, replace=False)
            break
        pick = min(int(np.searchsorted(cumulative, draws[i] * cumulative[-1])), count - 1)
        chosen[i] = pick
        np.minimum(closest, squared_distances(pick), out=closest)
    return x[torch.from_numpy(chosen)].clone()


def _grouped_kmeans(
    x: torch.Tensor,
    k: int,
    iterations: int,
    rng: np.random.Generator,
    report: Callable[[float], None],
) -> Clusters:
    """k-means within about √k coarse groups, each given centroids in proportion to its size."""
    count = x.shape[0]
    group_count = max(2, round(math.sqrt(k)))
    sample_size = min(count, group_count * _COARSE_SAMPLE_PER_GROUP)
    sample = x[torch.from_numpy(np.sort(rng.choice(count, size=sample_size, replace=False)))]
    coarse, _ = _lloyd(sample, group_count, iterations, rng, lambda _fraction: None)
    point_groups = nearest(x, coarse)[0].numpy()
    members_of = _split_by_group(point_groups, group_count)
    shares = _proportional_shares(np.array([m.size for m in members_of]), k)

    centroids: list[torch.Tensor] = []
    centroid_groups: list[NDArray[np.int64]] = []
    labels = np.empty(count, dtype=np.int64)
    offset = 0
    done = 0
    for group, (members, share) in enumerate(zip(members_of, shares, strict=True)):
        if share == 0:
            continue
        local_centroids, local_labels = _lloyd(
            x[torch.from_numpy(members)], int(share), iterations, rng, lambda _fraction: None
        )
        centroids.append(local_centroids)
        centroid_groups.append(np.full(local_centroids.shape[0], group, dtype=np.int64))
        labels[members] = local_labels.numpy() + offset
        offset += local_centroids.shape[0]
        done += members.size
        report(done / count)
    return Clusters(
        torch.cat(centroids).numpy(),
        labels,
        point_groups.astype(np.int64),
        np.concatenate(centroid_groups),
    )


def _split_by_group(groups: NDArray[np.int64], group_count: int | None = None) -> list[IndexArray]:
    """Indices of the points in each group, in group order (empty groups included)."""
    total = int(groups.max()) + 1 if group_count is None else group_count
    order = np.argsort(groups, kind="stable")
    bounds = np.cumsum(np.bincount(groups, minlength=total))[:-1]
    return [part.astype(np.int64) for part in np.split(order, bounds)]


def _proportional_shares(sizes: NDArray[np.int64], k: int) -> NDArray[np.int64]:
    """``k`` split in proportion to ``sizes`` (largest remainders), none above its size."""
    exact = sizes * (k / sizes.sum())
    shares: NDArray[np.int64] = np.minimum(np.floor(exact).astype(np.int64), sizes)
    shares[(sizes > 0) & (shares == 0)] = 1
    remainder = exact - shares
    while shares.sum() < k:
        room = shares < sizes
        candidates = np.flatnonzero(room)
        best = candidates[np.argsort(-remainder[candidates], kind="stable")]
        take = best[: k - int(shares.sum())]
        shares[take] += 1
        remainder[take] -= 1
    while shares.sum() > k:
        largest = int(np.argmax(shares))
        shares[largest] -= 1
    return shares


@dataclass(frozen=True)
class Codebook:
    """A scalar codebook and the index of each quantised value.

    Attributes:
        values: [k] float32 entries, ascending.
        labels: uint8 indices into ``values``, shaped like the quantised input.
    """

    values: Float32Array
    labels: NDArray[np.uint8]


def quantize_1d(
    values: NDArray[np.floating], k: int = 256, density_exponent: float = 0.5
) -> Codebook:
    """A ``k``-entry codebook (k ≤ 256) for all of ``values`` and each value's nearest entry.

    Args:
        values: any shape; every element is pooled into one distribution.
        k: codebook entries.
        density_exponent: bins weigh count**exponent: 1 minimises the squared error, 0 treats
            every occupied bin alike, ½ (splat-transform's choice) lets sparse tails keep entries.
    """
    if not 1 <= k <= 256:
        raise ValueError(f"a byte codebook has 1 to 256 entries, got {k}")
    flat = np.asarray(values, dtype=np.float32).ravel()
    if flat.size == 0:
        return Codebook(np.zeros(k, np.float32), np.zeros(np.shape(values), np.uint8))
    ordered = np.sort(flat)
    low, high = float(ordered[0]), float(ordered[-1])
    if high - low < 1e-20:
        return Codebook(np.full(k, low, np.float32), np.zeros(np.shape(values), np.uint8))
    centers, weights = _histogram(ordered.astype(np.float64), density_exponent)
    entries = _optimal_entries(centers, weights, k)
    codebook = np.empty(k, dtype=np.float32)
    codebook[: entries.size] = np.sort(entries).astype(np.float32)
    codebook[entries.size :] = codebook[entries.size - 1]
    labels = encode_with_codebook(flat, codebook)
    return Codebook(codebook, labels.reshape(np.shape(values)))


def encode_with_codebook(values: NDArray[np.floating], codebook: Float32Array) -> NDArray[np.uint8]:
    """Index of the nearest entry of the ascending ``codebook`` for each of ``values``."""
    entries = codebook.astype(np.float64)
    midpoints = (entries[:-1] + entries[1:]) * 0.5
    return np.searchsorted(midpoints, values, side="right").astype(np.uint8)


def _histogram(
    ordered: NDArray[np.float64], density_exponent: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Bin centres [H] and weights [H] of the sorted values, bins placed between value and
    rank space (more rank space the heavier the tails)."""
    count = ordered.size
    bins = min(1024, count)
    low, span = ordered[0], ordered[-1] - ordered[0]
    quartile_gap = ordered[int(count * 0.75)] - ordered[int(count * 0.25)]
    rank_share = min(0.999, max(0.5, 1.0 - quartile_gap / span))
    position = rank_share * (np.arange(count) / count) + (1 - rank_share) * (ordered - low) / span
    index = np.minimum(bins - 1, np.floor(bins * position).astype(np.int64))
    counts = np.bincount(index, minlength=bins).astype(np.float64)
    sums = np.bincount(index, weights=ordered, minlength=bins)
    fallback = low + (np.arange(bins) + 0.5) / bins * span
    centers = np.where(counts > 0, sums / np.maximum(counts, 1), fallback)
    return centers, np.where(counts > 0, counts**density_exponent, 0.0)


def _optimal_entries(
    centers: NDArray[np.float64],
    weights: NDArray[np.float64],
    k: int,
    coarse_stride: int | None = 32,
) -> NDArray[np.float64]:
    """The ≤ k codebook entries of least weighted squared error for the weighted bin centres
    (dynamic programming over contiguous runs of bins).

    ``coarse_stride`` None searches every split point for every bin (the slow reference);
    otherwise `_best_splits` narrows the search, with the same result.
    """
    bins = centers.size
    w_sum, wx_sum, wxx_sum = (
        np.concatenate([[0.0], np.cumsum(a)])
        for a in (weights, weights * centers, weights * centers * centers)
    )
    # run_cost[b, a]: weighted squared error of bins a..b around their weighted mean (a ≤ b),
    # laid out by end bin so that the minimum over split points runs along contiguous rows
    run_w = w_sum[1:, None] - w_sum[None, :-1]  # [H, H]
    run_wx = wx_sum[1:, None] - wx_sum[None, :-1]
    run_wxx = wxx_sum[1:, None] - wxx_sum[None, :-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        run_cost = np.where(run_w > 0, run_wxx - run_wx * run_wx / run_w, 0.0)
    run_cost[np.triu_indices(bins, k=1)] = np.inf
    # float32 from here: the sums above needed float64, the comparisons below do not
    after = np.ascontiguousarray(run_cost[:, 1:], dtype=np.float32)  # [H, H − 1]
    best = run_cost[:, 0].astype(np.float32)  # best[b]: least cost of bins 0..b in m runs
    entries_used = min(k, int((weights > 0).sum()))
    splits = np.full((entries_used + 1, bins), -1, dtype=np.int64)
    for m in range(2, entries_used + 1):
        if coarse_stride is None or bins <= 2 * coarse_stride:
            totals = best[None, :-1] + after  # [H, H − 1]: m − 1 runs to s, then one to b
            splits[m] = totals.argmin(axis=1)
            best = totals[np.arange(bins), splits[m]]
        else:
            splits[m], best = _best_splits(best, after, m - 2, coarse_stride)
    entries = []
    end = bins - 1
    for m in range(entries_used, 0, -1):
        first = int(splits[m, end]) + 1 if m > 1 else 0
        weight = w_sum[end + 1] - w_sum[first]
        if weight > 0:
            entries.append((wx_sum[end + 1] - wx_sum[first]) / weight)
        else:
            entries.append(0.5 * (centers[first] + centers[end]))
        end = first - 1
    return np.array(entries, dtype=np.float64)


def _best_splits(
    best: Float32Array, after: Float32Array, first_split: int, stride: int
) -> tuple[NDArray[np.int64], Float32Array]:
    """One DP step: for each end bin b, the split s ≥ ``first_split`` minimising
    best[s] + after[b, s], and that minimum.

    The best split never moves left as b grows (squared error satisfies the quadrangle
    inequality), so it is found exactly for every ``stride``-th b (and the last) first, and
    for the bins in between only between their neighbours' splits: ~H²/stride + H·gap work
    instead of H².
    """
    bins = best.size
    coarse = np.append(np.arange(0, bins - 1, stride), bins - 1)  # [C]
    coarse_splits = (best[None, :-1] + after[coarse]).argmin(axis=1)  # [C]
    block = np.arange(bins) // stride
    low = np.maximum(coarse_splits[block], first_split)
    high = np.maximum(coarse_splits[block + 1], low)
    width = int((high - low).max()) + 1
    candidates = np.minimum(low[:, None] + np.arange(width)[None, :], bins - 2)  # [H, W]
    rows = np.arange(bins)
    flat = candidates + (rows * (bins - 1))[:, None]
    totals = np.take(best, candidates) + np.take(after, flat)
    np.putmask(totals, candidates > high[:, None], np.float32(np.inf))
    pick = totals.argmin(axis=1)
    return candidates[rows, pick], totals[rows, pick]
