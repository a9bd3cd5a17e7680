"""Spherical harmonics: the 3DGS real basis against SciPy's complex harmonics."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.special import sph_harm_y

from vantage.capture.splat.sh import eval_sh, sh_basis
from vantage.errors import InvalidInputError


def _direct_basis(degree: int, dirs: np.ndarray) -> np.ndarray:
    """Real SH from SciPy's complex Yₗᵐ (Condon–Shortley phase), indexed l² + l + m."""
    polar = np.arccos(np.clip(dirs[:, 2], -1.0, 1.0))
    azimuth = np.arctan2(dirs[:, 1], dirs[:, 0])
    columns = []
    for l in range(degree + 1):  # noqa: E741
        for m in range(-l, l + 1):
            value = sph_harm_y(l, abs(m), polar, azimuth)
            if m < 0:
                columns.append(np.sqrt(2.0) * value.imag)
            elif m > 0:
                columns.append(np.sqrt(2.0) * value.real)
            else:
                columns.append(value.real)
    return np.stack(columns, axis=1)


@pytest.mark.parametrize("degree", [0, 1, 2, 3])
def test_basis_matches_the_direct_formula(degree: int) -> None:
    rng = np.random.default_rng(degree)
    dirs = rng.normal(size=(200, 3))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    ours = sh_basis(degree, torch.from_numpy(dirs)).numpy()
    np.testing.assert_allclose(ours, _direct_basis(degree, dirs), atol=1e-12)


@pytest.mark.parametrize("degree", [0, 1, 2, 3])
def test_eval_sh_is_the_basis_weighted_sum(degree: int) -> None:
    rng = np.random.default_rng(10 + degree)
    dirs = rng.normal(size=(50, 3))  # not unit: eval_sh normalises
    coeffs = rng.normal(size=(50, 16, 3))
    unit = dirs / np.linalg.norm(dirs, axis=1, keepdims=True)
    count = (degree + 1) ** 2
    expected = np.einsum("nk,nkc->nc", _direct_basis(degree, unit), coeffs[:, :count])
    got = eval_sh(degree, torch.from_numpy(dirs), torch.from_numpy(coeffs)).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-12)


def test_degree_out_of_range_is_refused() -> None:
    with pytest.raises(InvalidInputError):
        sh_basis(4, torch.zeros(1, 3))
    with pytest.raises(InvalidInputError):
        eval_sh(2, torch.ones(1, 3), torch.zeros(1, 4, 3))
