"""Initialising Gaussians from a point cloud."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from vantage.capture.splat.gaussians import SH_C0, Gaussians
from vantage.errors import InvalidInputError


def test_init_from_points() -> None:
    # Points on a grid with spacing 0.5 (x) and 2.0 (y): the 3 nearest neighbours of an
    # interior point of a row are at 0.5, 0.5 and 1.0.
    xs, ys = np.meshgrid(np.arange(5) * 0.5, np.arange(4) * 2.0)
    points = np.c_[xs.ravel(), ys.ravel(), np.zeros(xs.size)]
    colors = np.random.default_rng(0).uniform(0.0, 1.0, points.shape)
    gaussians = Gaussians.from_points(points, colors, sh_degree=2)
    assert len(gaussians) == 20 and gaussians.sh_degree == 2
    interior = 6  # (x = 0.5, y = 2.0)
    expected = math.log((0.5 + 0.5 + 1.0) / 3.0)
    np.testing.assert_allclose(gaussians.log_scales[interior].detach(), [expected] * 3, rtol=1e-6)
    torch.testing.assert_close(torch.sigmoid(gaussians.opacity_logits), torch.full((20,), 0.1))
    torch.testing.assert_close(gaussians.quats, torch.tensor([[1.0, 0.0, 0.0, 0.0]]).repeat(20, 1))
    rendered = gaussians.sh0[:, 0, :] * SH_C0 + 0.5  # the colour SH degree 0 gives
    torch.testing.assert_close(rendered, torch.as_tensor(colors, dtype=torch.float32))
    assert gaussians.shN.shape == (20, 8, 3) and not gaussians.shN.any()
    assert all(p.requires_grad for p in gaussians.params.values())


def test_duplicate_points_get_a_finite_scale() -> None:
    points = np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    gaussians = Gaussians.from_points(points, np.full((4, 3), 0.5), sh_degree=0)
    assert torch.isfinite(gaussians.log_scales).all()


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(InvalidInputError):
        Gaussians.from_points(np.zeros((1, 3)), np.zeros((1, 3)), 0)
    with pytest.raises(InvalidInputError):
        Gaussians.from_points(np.zeros((5, 3)), np.zeros((5, 4)), 0)
    with pytest.raises(InvalidInputError):
        Gaussians.from_points(np.random.rand(5, 3), np.zeros((5, 3)), 0, init_opacity=1.0)
