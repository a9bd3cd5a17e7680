"""The pieces under SOG against slow references: Morton codes, k-means, 1-D codebooks, texels."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vantage.capture.compress import kmeans as km
from vantage.capture.compress import sog_textures as tex
from vantage.capture.compress.morton import morton_codes, morton_order
from vantage.capture.compress.webp import decode_webp_rgba, encode_webp_lossless
from vantage.errors import InvalidInputError


def _morton_by_bits(x: int, y: int, z: int, bits: int) -> int:
    code = 0
    for bit in range(bits):
        code |= ((x >> bit) & 1) << (3 * bit)
        code |= ((y >> bit) & 1) << (3 * bit + 1)
        code |= ((z >> bit) & 1) << (3 * bit + 2)
    return code


def test_morton_codes_interleave_bits_like_the_reference() -> None:
    rng = np.random.default_rng(0)
    grid = rng.integers(0, 1 << 21, size=(300, 3), dtype=np.int64)
    grid[0] = (1 << 21) - 1
    grid[1] = 0
    codes = morton_codes(grid)
    assert codes.dtype == np.uint64
    expected = [_morton_by_bits(int(x), int(y), int(z), 21) for x, y, z in grid]
    assert [int(c) for c in codes] == expected


def test_morton_order_walks_the_grid_in_z_order() -> None:
    cells = np.array([[x, y, z] for z in range(2) for y in range(2) for x in range(2)])
    shuffled = cells[::-1]
    order = morton_order(shuffled)
    assert shuffled[order].tolist() == cells.tolist()
    ties = np.zeros((5, 3), dtype=np.uint16)
    assert morton_order(ties).tolist() == [0, 1, 2, 3, 4]  # stable


def _blobs(count: int, dims: int, centres: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    middle = rng.standard_normal((centres, dims)).astype(np.float32)
    noise = 0.05 * rng.standard_normal((count, dims)).astype(np.float32)
    return middle[rng.integers(0, centres, count)] + noise


def test_kmeans_labels_each_point_with_its_nearest_centroid() -> None:
    points = _blobs(2000, 9, 40, seed=1)
    clusters = km.kmeans(points, 64, iterations=8, seed=0)
    assert clusters.centroids.shape == (64, 9)
    distances = ((points[:, None, :] - clusters.centroids[None]) ** 2).sum(-1)  # [N, K]
    own = distances[np.arange(2000), clusters.labels]
    np.testing.assert_allclose(own, distances.min(axis=1), rtol=1e-4, atol=1e-5)
    # 40 well separated blobs: every point ends up near its blob's centre
    assert float(own.mean()) < 2 * 9 * 0.05**2


def test_kmeans_is_deterministic_and_seeded() -> None:
    points = _blobs(1500, 6, 200, seed=2)
    first = km.kmeans(points, 100, iterations=5, seed=4)
    again = km.kmeans(points, 100, iterations=5, seed=4)
    other = km.kmeans(points, 100, iterations=5, seed=5)
    np.testing.assert_array_equal(first.centroids, again.centroids)
    np.testing.assert_array_equal(first.labels, again.labels)
    assert not np.array_equal(first.centroids, other.centroids)


def test_kmeans_with_more_clusters_than_points_keeps_every_point() -> None:
    points = _blobs(30, 4, 3, seed=3)
    clusters = km.kmeans(points, 64, iterations=3)
    np.testing.assert_array_equal(clusters.centroids, points)
    np.testing.assert_array_equal(clusters.labels, np.arange(30))


def _distortion(points: np.ndarray, clusters: km.Clusters) -> float:
    return float(((points - clusters.centroids[clusters.labels]) ** 2).sum(-1).mean())


def test_grouped_kmeans_stays_close_to_flat_kmeans(monkeypatch: pytest.MonkeyPatch) -> None:
    points = _blobs(6000, 12, 600, seed=4)
    flat = km.kmeans(points, 1024, iterations=6, seed=0)
    monkeypatch.setattr(km, "FLAT_PAIRS_MAX", 0)
    grouped = km.kmeans(points, 1024, iterations=6, seed=0)
    assert grouped.point_groups.max() > 10  # it did split
    assert grouped.centroids.shape[0] == 1024
    assert np.bincount(grouped.labels, minlength=1024).sum() == 6000
    assert _distortion(points, grouped) < 1.15 * _distortion(points, flat)
    # within its group a point still gets the nearest centroid
    relabelled = km.reassign(points, grouped, grouped.centroids)
    np.testing.assert_array_equal(relabelled, grouped.labels)


def test_proportional_shares_fill_k_without_exceeding_sizes() -> None:
    sizes = np.array([0, 1, 5, 100, 7, 3])
    shares = km._proportional_shares(sizes, 50)
    assert shares.sum() == 50
    assert (shares <= sizes).all()
    assert shares[0] == 0 and (shares[1:] >= 1).all()


@pytest.mark.parametrize(
    "values",
    [
        np.random.default_rng(0).standard_normal(20000),
        np.random.default_rng(1).standard_cauchy(20000),
        np.concatenate([np.full(5000, 2.0), np.random.default_rng(2).normal(0, 1e-3, 50)]),
        np.random.default_rng(3).integers(0, 40, 3000).astype(float),
        np.random.default_rng(4).exponential(1.0, 700),
    ],
    ids=["normal", "cauchy", "spike", "integers", "few"],
)
def test_the_fast_codebook_search_matches_the_dense_reference(values: np.ndarray) -> None:
    ordered = np.sort(values.astype(np.float32)).astype(np.float64)
    centers, weights = km._histogram(ordered, 0.5)

    def cost(entries: np.ndarray) -> float:
        nearest = np.abs(centers[:, None] - entries[None, :]).min(axis=1)
        return float((weights * nearest**2).sum())

    dense = km._optimal_entries(centers, weights, 256, coarse_stride=None)
    fast = km._optimal_entries(centers, weights, 256)
    assert fast.size == dense.size
    assert cost(fast) <= cost(dense) * (1 + 1e-5) + 1e-12


def test_the_codebook_dp_is_optimal_on_a_tiny_histogram() -> None:
    # brute force over every way to cut 7 weighted bins into 3 runs
    centers = np.array([0.0, 0.1, 0.2, 1.0, 1.1, 5.0, 5.5])
    weights = np.array([1.0, 2.0, 1.0, 3.0, 1.0, 1.0, 2.0])

    def run_mean(first: int, last: int) -> float:
        w = weights[first : last + 1]
        return float((w * centers[first : last + 1]).sum() / w.sum())

    def cost(runs: list[tuple[int, int]]) -> float:
        return sum(
            float((weights[a : b + 1] * (centers[a : b + 1] - run_mean(a, b)) ** 2).sum())
            for a, b in runs
        )

    best = min(cost([(0, i), (i + 1, j), (j + 1, 6)]) for i in range(0, 5) for j in range(i + 1, 6))
    entries = km._optimal_entries(centers, weights, 3, coarse_stride=None)
    nearest = np.abs(centers[:, None] - entries[None, :]).min(axis=1)
    assert float((weights * nearest**2).sum()) == pytest.approx(best)


def test_quantize_1d_gives_sorted_entries_and_nearest_labels() -> None:
    values = np.random.default_rng(5).standard_normal((4000, 3)).astype(np.float32)
    codebook = km.quantize_1d(values)
    assert codebook.values.shape == (256,)
    assert (np.diff(codebook.values) >= 0).all()
    assert codebook.labels.shape == (4000, 3)
    decoded = codebook.values[codebook.labels]
    nearest = np.abs(values[..., None] - codebook.values).min(axis=-1)
    np.testing.assert_allclose(np.abs(decoded - values), nearest, atol=1e-7)
    assert float(np.abs(decoded - values).max()) < 0.05
    constant = km.quantize_1d(np.full(10, 3.5))
    assert (constant.values == 3.5).all() and (constant.labels == 0).all()
    with pytest.raises(ValueError, match="1 to 256"):
        km.quantize_1d(values, 300)


def test_quaternions_survive_the_smallest_three_packing() -> None:
    rng = np.random.default_rng(6)
    quats = rng.standard_normal((5000, 4)).astype(np.float32) * 3
    texels = tex.quat_texels(quats)
    assert set(np.unique(texels[:, 3])) <= {252, 253, 254, 255}
    decoded = tex.decode_quats(texels).astype(np.float64)
    unit = quats / np.linalg.norm(quats, axis=1, keepdims=True)
    # q and −q are one rotation: compare |⟨q, q'⟩|, which is 1 for the same rotation
    dots = np.abs((unit * decoded).sum(axis=1))
    assert float(dots.min()) > 1 - 1e-4
    # the dropped component is the largest one, and it decodes positive
    assert (np.argmax(np.abs(decoded), axis=1) == texels[:, 3] - 252).mean() > 0.99
    invalid = texels.copy()
    invalid[:3, 3] = 7
    np.testing.assert_array_equal(tex.decode_quats(invalid)[:3], [[1, 0, 0, 0]] * 3)


def test_means_are_on_a_16_bit_log_grid() -> None:
    rng = np.random.default_rng(7)
    means = (rng.standard_normal((1000, 3)) * [1.0, 10.0, 100.0]).astype(np.float32)
    quantised = tex.quantise_means(means)
    assert quantised.grid.min() == 0 and quantised.grid.max() == 65535
    low, high = tex.means_texels(quantised.grid)
    decoded = tex.decode_means(low, high, quantised.mins, quantised.maxs)
    steps = (np.array(quantised.maxs) - np.array(quantised.mins)) / 65535
    error = np.abs(tex.log_transform(decoded) - tex.log_transform(means))
    assert (error <= 0.5 * steps + 1e-6).all()
    assert (low[:, 3] == 255).all() and (high[:, 3] == 255).all()


def test_the_palette_texture_puts_64_entries_on_a_row() -> None:
    rng = np.random.default_rng(8)
    entries = rng.integers(0, 256, (100, 8, 3), dtype=np.uint8)
    codebook = np.linspace(-1, 1, 256).astype(np.float32)
    palette = tex.Palette(entries, codebook, np.zeros(1, dtype=np.int64))
    image = tex.palette_texture(palette)
    assert image.shape == (2, 64 * 8, 4)
    # entry 70, coefficient 5 sits at row 1, column (70 % 64)·8 + 5, as splat-transform reads
    np.testing.assert_array_equal(image[1, 6 * 8 + 5, :3], entries[70, 5])
    decoded = tex.decode_palette(image, 8, codebook, 100)
    np.testing.assert_array_equal(decoded, codebook[entries])
    labels = np.array([0, 1, 255, 256, 65535])
    np.testing.assert_array_equal(tex.decode_labels(tex.label_texels(labels)), labels)


def test_opacity_bytes_round_sigmoid() -> None:
    logits = np.array([-30.0, -2.0, 0.0, 2.0, 30.0], dtype=np.float32)
    alpha = tex.opacity_bytes(logits)
    assert alpha.tolist() == [0, 30, 128, 225, 255]
    back = 1 / (1 + np.exp(-tex.decode_opacities(alpha).astype(np.float64)))
    assert np.abs(back - alpha / 255).max() < 1e-6


def test_webp_round_trip_is_lossless_including_transparent_texels() -> None:
    rng = np.random.default_rng(9)
    image = rng.integers(0, 256, (12, 20, 4), dtype=np.uint8)
    image[0, :, 3] = 0  # colour under zero alpha must survive (sh0 keeps colour there)
    data = encode_webp_lossless(image)
    assert data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    np.testing.assert_array_equal(decode_webp_rgba(data, "x.webp"), image)
    with pytest.raises(InvalidInputError, match=r"x\.webp is not a readable WebP"):
        decode_webp_rgba(b"RIFF0000WEBPjunk", "x.webp")
    with pytest.raises(InvalidInputError, match="uint8"):
        encode_webp_lossless(image.astype(np.float32))  # type: ignore[arg-type]
    assert math.isfinite(float(len(data)))
