"""SOG's per-Gaussian encodings: Gaussian attributes to and from the bytes of SOG textures.

Pure functions on arrays, one pair per SOG texture, each the exact inverse of the reference
reader in PlayCanvas's splat-transform (see `vantage.capture.compress.sog` for the format).
Where the reference writer truncates to a byte we round, which halves the error and reads the
same.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from vantage.capture.compress.kmeans import kmeans, quantize_1d, reassign

Float32Array = NDArray[np.float32]
Bytes = NDArray[np.uint8]

#: Largest SH palette: labels are 16-bit.
MAX_PALETTE = 65536
#: Palette entries per row of the shN centroids texture.
PALETTE_ROW = 64
#: Alpha of a quats texel is this plus the index (w, x, y, z) of the dropped largest component.
QUAT_TAG = 252
_POSITION_STEPS = 65535


def texture_size(count: int) -> tuple[int, int]:
    """Width and height of the per-Gaussian textures for ``count`` Gaussians (as splat-transform
    sizes them: about square, both multiples of 4)."""
    width = math.ceil(math.sqrt(count) / 4) * 4
    height = math.ceil(count / width / 4) * 4
    return width, height


def to_texture(texels: Bytes, width: int, height: int) -> Bytes:
    """[N, 4] texels laid out row-major in a [height, width, 4] image, zero after the last."""
    image = np.zeros((height * width, 4), dtype=np.uint8)
    image[: texels.shape[0]] = texels
    return image.reshape(height, width, 4)


def log_transform(values: NDArray[np.floating]) -> NDArray[np.float64]:
    """sign(x)·ln(|x| + 1): positions spread so that detail near the origin keeps precision."""
    x = values.astype(np.float64)
    return np.sign(x) * np.log1p(np.abs(x))


@dataclass(frozen=True)
class QuantisedMeans:
    """Positions as 16-bit grid coordinates in log space.

    Attributes:
        grid: [N, 3] uint16 coordinates.
        mins: per-axis minimum of the log-transformed positions (grid value 0).
        maxs: per-axis maximum (grid value 65535).
    """

    grid: NDArray[np.uint16]
    mins: list[float]
    maxs: list[float]


def quantise_means(means: Float32Array) -> QuantisedMeans:
    """``means`` [N, 3] on the 16-bit log-space grid that means_l / means_u store."""
    logs = log_transform(means)  # [N, 3]
    low, high = logs.min(axis=0), logs.max(axis=0)
    span = high - low
    steps = np.divide(logs - low, span, out=np.zeros_like(logs), where=span > 0)
    grid = np.clip(np.rint(steps * _POSITION_STEPS), 0, _POSITION_STEPS).astype(np.uint16)
    return QuantisedMeans(grid, [float(v) for v in low], [float(v) for v in high])


def means_texels(grid: NDArray[np.uint16]) -> tuple[Bytes, Bytes]:
    """The means_l and means_u texels [N, 4] (low and high bytes, alpha 255) of ``grid``."""
    opaque = np.full((grid.shape[0], 1), 255, dtype=np.uint8)
    low = np.concatenate([(grid & 0xFF).astype(np.uint8), opaque], axis=1)
    high = np.concatenate([(grid >> 8).astype(np.uint8), opaque], axis=1)
    return low, high


def decode_means(low: Bytes, high: Bytes, mins: list[float], maxs: list[float]) -> Float32Array:
    """Positions [N, 3] from means_l / means_u texels [N, 4] and the meta's mins / maxs."""
    grid = low[:, :3].astype(np.float64) + high[:, :3].astype(np.float64) * 256.0  # [N, 3]
    low_end = np.asarray(mins, dtype=np.float64)
    span = np.asarray(maxs, dtype=np.float64) - low_end
    span[span == 0] = 1.0  # as the reference reader does
    logs = low_end + span * (grid / _POSITION_STEPS)
    return (np.sign(logs) * np.expm1(np.abs(logs))).astype(np.float32)


def quat_texels(quats: Float32Array) -> Bytes:
    """quats texels [N, 4]: smallest three of the normalised rotation, 252 + largest's index."""
    q = quats.astype(np.float64)  # [N, 4] wxyz
    norms = np.linalg.norm(q, axis=1, keepdims=True)
    q = np.where(norms > 0, q / np.where(norms > 0, norms, 1.0), [1.0, 0.0, 0.0, 0.0])
    largest = np.argmax(np.abs(q), axis=1)  # [N]
    rows = np.arange(q.shape[0])
    q *= np.where(q[rows, largest] < 0, -1.0, 1.0)[:, None]
    kept = np.ones_like(q, dtype=bool)
    kept[rows, largest] = False
    smallest = q[kept].reshape(-1, 3) * math.sqrt(2.0)  # each in [-1, 1]
    texels = np.empty((q.shape[0], 4), dtype=np.uint8)
    texels[:, :3] = np.clip(np.rint(255.0 * (smallest * 0.5 + 0.5)), 0, 255)
    texels[:, 3] = QUAT_TAG + largest
    return texels


def decode_quats(texels: Bytes) -> Float32Array:
    """Unit quaternions [N, 4] (wxyz, largest component positive) from quats texels [N, 4].

    A texel whose tag is not 252..255 decodes as the identity, as in the reference reader.
    """
    count = texels.shape[0]
    tags = texels[:, 3].astype(np.int64)
    valid = (tags >= QUAT_TAG) & (tags <= QUAT_TAG + 3)
    largest = np.where(valid, tags - QUAT_TAG, 0)
    smallest = (texels[:, :3].astype(np.float64) / 255.0 * 2.0 - 1.0) / math.sqrt(2.0)
    rows = np.arange(count)
    kept = np.ones((count, 4), dtype=bool)
    kept[rows, largest] = False
    q = np.zeros((count, 4), dtype=np.float64)
    q[kept] = smallest.reshape(-1)
    q[rows, largest] = np.sqrt(np.maximum(0.0, 1.0 - (q * q).sum(axis=1)))
    q[~valid] = [1.0, 0.0, 0.0, 0.0]
    return q.astype(np.float32)


def codebook_texels(labels: Bytes, alpha: Bytes | None = None) -> Bytes:
    """Texels [N, 4] holding three codebook indices [N, 3] and ``alpha`` [N] (255 if none)."""
    texels = np.empty((labels.shape[0], 4), dtype=np.uint8)
    texels[:, :3] = labels
    texels[:, 3] = 255 if alpha is None else alpha
    return texels


def decode_codebook(texels: Bytes, codebook: Float32Array) -> Float32Array:
    """Values [N, 3] that the RGB indices of ``texels`` [N, 4] pick from ``codebook``."""
    return codebook[texels[:, :3]].astype(np.float32)


def opacity_bytes(opacities: Float32Array) -> Bytes:
    """sigmoid(opacity)·255 as bytes (sh0's alpha)."""
    with np.errstate(over="ignore"):
        alpha = 1.0 / (1.0 + np.exp(-opacities.astype(np.float64)))
    return np.clip(np.rint(alpha * 255.0), 0, 255).astype(np.uint8)


def decode_opacities(alpha: Bytes) -> Float32Array:
    """Opacity logits from sh0's alpha bytes (clamped away from 0 and 1, as the reference)."""
    p = np.clip(alpha.astype(np.float64) / 255.0, 1e-6, 1.0 - 1e-6)
    return np.log(p / (1.0 - p)).astype(np.float32)


def default_palette_size(count: int) -> int:
    """The palette size splat-transform chooses for ``count`` Gaussians: a power of two, at most
    65536, about count / 1 to count / 2 below that."""
    return int(min(64.0, 2.0 ** math.floor(math.log2(count / 1024))) * 1024)


@dataclass(frozen=True)
class Palette:
    """Higher SH coefficients as a palette.

    Attributes:
        entries: [K, C, 3] codebook indices of each palette entry's coefficients.
        codebook: the 256 values the indices pick from.
        labels: [N] palette entry of each Gaussian.
    """

    entries: Bytes
    codebook: Float32Array
    labels: NDArray[np.int64]

    def decoded(self) -> Float32Array:
        """The palette's coefficients [K, C, 3]."""
        return self.codebook[self.entries]


def build_palette(
    shN: Float32Array,
    size: int,
    iterations: int,
    seed: int,
    progress: Callable[[float], None] | None = None,
) -> Palette:
    """A palette of at most ``size`` entries for ``shN`` [N, C, 3] (Gaussians in stored order).

    k-means finds the entries, a 1-D codebook quantises their values, and each Gaussian then
    takes the nearest quantised entry. Entries are numbered in order of first use, so that
    neighbouring Gaussians tend to have close labels (smaller label images); unused ones go.
    """
    count, coefficients, _ = shN.shape
    points = shN.reshape(count, coefficients * 3)  # [N, 3C]
    clusters = kmeans(points, min(size, count), iterations, seed, progress)
    quantised = quantize_1d(clusters.centroids)
    decoded = quantised.values[quantised.labels]  # [K, 3C]
    labels = reassign(points, clusters, decoded)
    used, first_use = np.unique(labels, return_index=True)
    by_first_use = used[np.argsort(first_use, kind="stable")]
    renumber = np.zeros(decoded.shape[0], dtype=np.int64)
    renumber[by_first_use] = np.arange(by_first_use.size)
    entries = quantised.labels[by_first_use].reshape(-1, coefficients, 3)
    return Palette(entries, quantised.values, renumber[labels])


def palette_texture(palette: Palette) -> Bytes:
    """The shN_centroids image: 64 entries per row, one texel (R, G, B indices) per coefficient."""
    count, coefficients, _ = palette.entries.shape
    rows = math.ceil(count / PALETTE_ROW)
    texels = np.zeros((rows * PALETTE_ROW, coefficients, 4), dtype=np.uint8)
    texels[:count, :, :3] = palette.entries
    texels[:count, :, 3] = 255
    return texels.reshape(rows, PALETTE_ROW * coefficients, 4)


def label_texels(labels: NDArray[np.int64]) -> Bytes:
    """shN_labels texels [N, 4]: the 16-bit palette index as low byte, high byte, 0, 255."""
    texels = np.zeros((labels.shape[0], 4), dtype=np.uint8)
    texels[:, 0] = labels & 0xFF
    texels[:, 1] = labels >> 8
    texels[:, 3] = 255
    return texels


def decode_palette(
    image: Bytes, coefficients: int, codebook: Float32Array, palette_count: int
) -> Float32Array:
    """Palette coefficients [P, C, 3] from the shN_centroids image [rows, 64·C, 4]."""
    rows = image.shape[0]
    entries = image.reshape(rows * PALETTE_ROW, coefficients, 4)[:palette_count, :, :3]
    return codebook[entries].astype(np.float32)


def decode_labels(texels: Bytes) -> NDArray[np.int64]:
    """Palette indices [N] from shN_labels texels [N, 4]."""
    return texels[:, 0].astype(np.int64) | (texels[:, 1].astype(np.int64) << 8)
