"""reduce_splats: what it prunes and drops, what it keeps bit for bit, and what it reports."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from vantage.capture.compress.reduce import (
    ReduceOptions,
    reduce_splats,
    scene_extent,
    sh_band_rms,
)
from vantage.capture.compress.splats import Splats
from vantage.capture.splat.sh import sh_basis
from vantage.errors import InvalidInputError

from .samples import random_splats


def _with(splats: Splats, **arrays: np.ndarray) -> Splats:
    fields = {
        name: getattr(splats, name)
        for name in ("means", "scales", "quats", "opacities", "sh0", "shN")
    }
    fields.update(arrays)
    return Splats(**fields)


def _assert_same(kept: Splats, expected: Splats) -> None:
    for name in ("means", "scales", "quats", "opacities", "sh0", "shN"):
        assert np.array_equal(getattr(kept, name), getattr(expected, name)), name


def test_prunes_transparent_and_invalid_and_keeps_the_rest_exactly() -> None:
    splats = random_splats(3000, 2, seed=1)
    rng = np.random.default_rng(2)
    opacities = rng.uniform(-5.0, 8.0, 3000).astype(np.float32)  # alpha ≥ 0.0067
    transparent = rng.choice(np.arange(20, 3000), 400, replace=False)  # not 3, 7 or 11
    opacities[transparent] = rng.uniform(-30.0, math.log(0.9 / 254.1), 400)  # alpha < 1/255
    opacities[transparent[:5]] = -np.inf
    opacities[7] = np.inf  # fully opaque is valid
    means = splats.means.copy()
    shN = splats.shN.copy()
    invalid = [3, 11, int(transparent[10])]  # one both transparent and invalid: counted once
    means[3, 2] = np.nan
    shN[11, 4, 1] = np.inf
    shN[invalid[2], 0, 0] = np.nan
    splats = _with(splats, opacities=opacities, means=means, shN=shN)

    kept, report = reduce_splats(splats, ReduceOptions(drop_sh_bands=False))

    dropped = np.zeros(3000, dtype=bool)
    dropped[transparent] = True
    dropped[invalid] = True
    _assert_same(kept, splats.take(np.flatnonzero(~dropped)))
    assert report.input_count == 3000
    assert report.output_count == len(kept) == 3000 - 400 - 2
    assert report.pruned_invalid == 3
    assert report.pruned_transparent == 399
    assert report.pruned_tiny == 0
    assert report.sh_degree_in == report.sh_degree_out == 2
    assert report.dropped_sh_bands == []


def test_alpha_just_at_the_threshold_is_kept() -> None:
    splats = random_splats(4, 0)
    logit = math.log((1 / 255) / (1 - 1 / 255))
    opacities = np.float32([logit - 1e-3, logit + 1e-3, 5.0, -20.0])
    kept, report = reduce_splats(_with(splats, opacities=opacities))
    assert report.pruned_transparent == 2
    _assert_same(kept, _with(splats, opacities=opacities).take(np.array([1, 2])))


def _band_value(rms: float, band: int) -> float:
    """The coefficient that, on every coefficient and channel of ``band``, gives that RMS."""
    # mean square = (2l + 1) · 3 · c² / (3 · 4π)
    return rms / math.sqrt((2 * band + 1) / (4 * math.pi))


def _sh_bands(count: int, rms: list[float]) -> np.ndarray:
    bands = [np.full((count, 2 * b + 1, 3), _band_value(r, b)) for b, r in enumerate(rms, 1)]
    return np.concatenate(bands, axis=1).astype(np.float32)


@pytest.mark.parametrize(
    ("band_rms", "degree_out"),
    [
        ([0.1, 0.05, 0.0], 2),  # band 3 empty: dropped
        ([0.1, 0.0, 0.0], 1),  # bands 2 and 3 empty
        ([0.0, 0.0, 0.0], 0),
        ([0.1, 0.05, 0.02], 3),  # every band matters
        ([0.1, 0.05, 0.5 / 255], 2),  # band 3 below 1/255: dropped
        ([0.1, 0.6 / 255, 0.6 / 255], 1),  # bands 2 + 3 together 0.85/255: dropped
        ([0.1, 0.8 / 255, 0.8 / 255], 2),  # together 1.13/255: only band 3 goes
        ([0.1, 0.0, 2 / 255], 3),  # a real top band keeps an empty band below it
    ],
)
def test_drops_weak_top_sh_bands(band_rms: list[float], degree_out: int) -> None:
    splats = random_splats(500, 3, seed=6)
    splats = _with(splats, opacities=np.full(500, 8.0, dtype=np.float32))
    splats = _with(splats, shN=_sh_bands(500, band_rms))

    kept, report = reduce_splats(splats)

    np.testing.assert_allclose(report.sh_band_rms, band_rms, rtol=1e-3, atol=1e-7)
    assert report.sh_degree_in == 3
    assert report.sh_degree_out == kept.sh_degree == degree_out
    assert report.dropped_sh_bands == list(range(degree_out + 1, 4))
    _assert_same(kept, splats.with_sh_degree(degree_out))


def test_band_energy_is_weighted_by_opacity() -> None:
    splats = random_splats(2, 1)
    shN = np.zeros((2, 3, 3), dtype=np.float32)
    shN[0] = _band_value(0.2, 1)
    alphas = np.array([0.25, 0.75])
    splats = _with(splats, shN=shN, opacities=np.log(alphas / (1 - alphas)).astype(np.float32))
    # mean square 0.04 with weight 0.25 of 1.0 → RMS √0.01.
    np.testing.assert_allclose(sh_band_rms(splats), [0.1], rtol=1e-5)


def test_sh_band_measure_matches_a_sampled_sphere_average() -> None:
    # The closed form Σc² / 4π against the SH colour averaged over many view directions.
    rng = np.random.default_rng(8)
    coefficients = rng.normal(0.0, 0.3, (16, 3))
    coefficients[:4] = 0.0  # only bands 2 and 3
    directions = rng.normal(size=(200_000, 3))
    basis = sh_basis(3, torch.as_tensor(directions / np.linalg.norm(directions, axis=1)[:, None]))
    colors = basis.numpy() @ coefficients  # [M, 3]
    sampled = math.sqrt(float(np.mean(colors**2)))
    splats = _with(
        random_splats(1, 3),
        shN=coefficients[None, 1:].astype(np.float32),
        opacities=np.float32([5.0]),
    )
    closed = math.sqrt(float(np.sum(sh_band_rms(splats) ** 2)))
    assert closed == pytest.approx(sampled, rel=0.02)


def test_prunes_tiny_gaussians_relative_to_the_scene() -> None:
    splats = random_splats(2000, 0, seed=9)  # means in a 100-wide cube: extent ≈ 170
    scales = np.full((2000, 3), math.log(1.0), dtype=np.float32)
    tiny = np.arange(0, 2000, 10)
    scales[tiny] = math.log(0.01)
    scales[tiny[:3], 1] = math.log(0.5)  # one large axis is enough to stay
    splats = _with(splats, scales=scales, opacities=np.full(2000, 5.0, dtype=np.float32))

    kept, report = reduce_splats(splats, ReduceOptions(min_screen_size=1e-3))

    assert report.scene_extent == pytest.approx(scene_extent(splats.means))
    assert 150 < report.scene_extent < 175
    assert report.pruned_tiny == len(tiny) - 3
    keep = np.ones(2000, dtype=bool)
    keep[tiny[3:]] = False
    _assert_same(kept, splats.take(np.flatnonzero(keep)))
    # Off by default.
    _, default = reduce_splats(splats)
    assert default.pruned_tiny == 0
    assert default.scene_extent is None


def test_scene_extent_ignores_a_few_far_floaters() -> None:
    means = np.random.default_rng(3).uniform(-1, 1, (1000, 3)).astype(np.float32)
    means[:5] = 1000.0
    assert scene_extent(means) < 4.0


def test_report_is_plain_json() -> None:
    splats = random_splats(100, 3, seed=2)
    _, report = reduce_splats(splats, ReduceOptions(min_screen_size=0.01))
    document = json.loads(json.dumps(report.to_dict()))
    assert document["input_count"] == 100
    assert document["sh_degree_out"] == 3
    assert len(document["sh_band_rms"]) == 3
    assert document["dropped_sh_bands"] == []


def test_empty_and_all_transparent_inputs() -> None:
    empty, report = reduce_splats(random_splats(0, 2))
    assert len(empty) == 0
    assert report.output_count == 0
    assert report.sh_degree_out == 0  # nothing left to colour
    gone = _with(random_splats(10, 1), opacities=np.full(10, -50.0, dtype=np.float32))
    kept, report = reduce_splats(gone, ReduceOptions(min_screen_size=0.1))
    assert len(kept) == 0
    assert report.pruned_transparent == 10


@pytest.mark.parametrize(
    "options",
    [
        {"min_opacity": 1.5},
        {"min_opacity": -0.1},
        {"min_screen_size": 2.0},
        {"max_sh_rms_error": -1.0},
    ],
)
def test_invalid_options_are_typed_errors(options: dict[str, float]) -> None:
    with pytest.raises(InvalidInputError, match=next(iter(options))):
        ReduceOptions(**options)  # type: ignore[arg-type]
