"""Random `Splats` and the error bounds each codec's quantisation allows, shared by codec tests.

Every bound is derived from the format (comments give the derivation) plus a float32 epsilon;
a decoder that is off by one step, a flipped axis or a swapped component fails them.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from vantage.capture.compress.compressed_ply import CHUNK_SIZE, SH_C0
from vantage.capture.compress.splats import Splats

EPS = 1e-6


def random_splats(count: int, degree: int, seed: int = 0) -> Splats:
    """``count`` Gaussians with values spread over the range every codec represents."""
    rng = np.random.default_rng(seed)
    coefficients = (degree + 1) ** 2 - 1
    return Splats(
        means=rng.uniform(-50.0, 50.0, (count, 3)).astype(np.float32),
        scales=rng.uniform(-9.0, 5.0, (count, 3)).astype(np.float32),
        quats=(rng.normal(size=(count, 4)) * rng.uniform(0.2, 3.0, (count, 1))).astype(np.float32),
        opacities=rng.normal(0.0, 3.0, count).astype(np.float32),
        sh0=rng.uniform(-3.0, 3.0, (count, 3)).astype(np.float32),
        shN=rng.uniform(-0.9, 0.9, (count, coefficients, 3)).astype(np.float32),
    )


def sigmoid(logits: NDArray[np.float32]) -> NDArray[np.float64]:
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))


def aligned_quats(
    original: NDArray[np.float32], decoded: NDArray[np.float32]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The unit ``original`` quaternions and ``decoded`` ones flipped to the same hemisphere."""
    unit = original.astype(np.float64)
    unit /= np.linalg.norm(unit, axis=1, keepdims=True)
    other = decoded.astype(np.float64)
    sign = np.where(np.sum(unit * other, axis=1, keepdims=True) < 0, -1.0, 1.0)
    return unit, other * sign


def smallest_three_bound(component_error: float) -> float:
    """Per-component error of a smallest-three quaternion whose three stored parts err ≤ δ.

    The stored parts err ≤ δ each; the largest, rebuilt as √(1 − Σa²), errs by
    |Σ(a'² − a²)| / (m + m') ≤ ‖a' − a‖·‖a' + a‖ / (m + m') ≤ √3δ · 2·√(3/4) / 1 = 3δ, as the
    largest of four unit components is ≥ ½; a tenth more covers δ² terms and rounding.
    """
    return 3.1 * component_error


def assert_spz_close(
    original: Splats, decoded: Splats, *, version: int, fractional_bits: int = 12
) -> None:
    """``decoded`` is ``original`` within SPZ's quantisation steps (for |shN| ≤ 0.9)."""
    assert len(decoded) == len(original)
    assert decoded.sh_degree == original.sh_degree
    # 24-bit fixed point: round to the nearest 2^-bits.
    step = 2.0**-fractional_bits
    assert np.abs(decoded.means - original.means).max(initial=0) <= 0.5 * step * (1 + EPS)
    # Scales: round((s + 10) · 16).
    assert np.abs(decoded.scales - original.scales).max(initial=0) <= 0.5 / 16 + EPS
    # Alpha: round(sigmoid · 255).
    alpha_error = np.abs(sigmoid(decoded.opacities) - sigmoid(original.opacities))
    assert alpha_error.max(initial=0) <= 0.5 / 255 + EPS
    # Colour: round(f_dc · 0.15 · 255 + 127.5).
    assert np.abs(decoded.sh0 - original.sh0).max(initial=0) <= 0.5 / (0.15 * 255) + EPS
    # SH: round(x · 128) to a multiple of 8 (band 1) or 16 (bands 2+): 0.5 + 4 or 8 units.
    sh_error = np.abs(decoded.shN - original.shN)
    assert sh_error[:, :3].max(initial=0) <= 4.5 / 128 + EPS
    assert sh_error[:, 3:].max(initial=0) <= 8.5 / 128 + EPS
    unit, other = aligned_quats(original.quats, decoded.quats)
    if version >= 3:
        # 9-bit magnitudes of |q| / √½: error ≤ ½ · √½ / 511 per stored part.
        bound = smallest_three_bound(0.5 * math.sqrt(0.5) / 511)
        assert np.abs(other - unit).max(initial=0) <= bound
    else:
        # x y z of the w-positive quaternion in 8 bits: error ≤ 1/255 each; w = √(1 − |v'|²)
        # errs by ≤ |w² − w'²| / w and ≤ √|w² − w'²|, with |w² − w'²| ≤ √3/255 · (2 + √3/255).
        unit = unit * np.where(unit[:, :1] < 0, -1.0, 1.0)
        other = decoded.quats.astype(np.float64)
        assert np.abs(other[:, 1:] - unit[:, 1:]).max(initial=0) <= 1 / 255 + EPS
        squares = math.sqrt(3) / 255 * (2 + math.sqrt(3) / 255)
        w_bound = np.minimum(math.sqrt(squares), squares / np.maximum(unit[:, 0], 1e-9))
        assert np.all(np.abs(other[:, 0] - unit[:, 0]) <= w_bound + EPS)


def chunk_spans(values: NDArray[np.float32]) -> NDArray[np.float64]:
    """For each row of ``values`` [N, D] (in file order), the max − min of its chunk of 256."""
    count = len(values)
    spans = np.zeros(values.shape, dtype=np.float64)
    for start in range(0, count, CHUNK_SIZE):
        block = values[start : start + CHUNK_SIZE].astype(np.float64)
        spans[start : start + CHUNK_SIZE] = block.max(axis=0) - block.min(axis=0)
    return spans


def assert_compressed_ply_close(ordered: Splats, decoded: Splats) -> None:
    """``decoded`` is ``ordered`` (the original in file order) within compressed PLY's steps."""
    assert len(decoded) == len(ordered)
    assert decoded.sh_degree == ordered.sh_degree
    # 11/10/11-bit fractions of the chunk's range: error ≤ ½ · span / (2^bits − 1).
    levels = np.array([2047.0, 1023.0, 2047.0])
    for name in ("means", "scales"):
        values = getattr(ordered, name)
        bound = 0.5 * chunk_spans(values) / levels + 1e-5
        assert np.all(np.abs(getattr(decoded, name) - values) <= bound), name
    # Colour 0.5 + C0 · f_dc in 8-bit fractions of the chunk's colour range.
    colors = ordered.sh0.astype(np.float64) * SH_C0 + 0.5
    bound = (0.5 * chunk_spans(colors.astype(np.float32)) / 255 + EPS) / SH_C0
    assert np.all(np.abs(decoded.sh0 - ordered.sh0) <= bound)
    alpha_error = np.abs(sigmoid(decoded.opacities) - sigmoid(ordered.opacities))
    assert alpha_error.max(initial=0) <= 0.5 / 255 + EPS
    # 10-bit q · √½ + ½: error ≤ ½ · √2 / 1023 per stored part.
    unit, other = aligned_quats(ordered.quats, decoded.quats)
    assert np.abs(other - unit).max(initial=0) <= smallest_three_bound(0.5 * math.sqrt(2) / 1023)
    # SH bytes trunc((x / 8 + ½) · 256), decoded at the bin centre: error ≤ 8 / 512.
    assert np.abs(decoded.shN - ordered.shN).max(initial=0) <= 8 / 512 + EPS
