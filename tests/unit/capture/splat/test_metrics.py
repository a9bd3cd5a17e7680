"""SSIM, PSNR and the training loss."""

from __future__ import annotations

import math

import numpy as np
import torch
from skimage.metrics import structural_similarity

from vantage.capture.splat.metrics import psnr, splat_loss, ssim


def _pair(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    image = rng.uniform(0.0, 1.0, (60, 80, 3))
    noisy = np.clip(image + rng.normal(0.0, 0.1, image.shape), 0.0, 1.0)
    return image, noisy


def test_ssim_of_identical_images_is_one() -> None:
    image, _ = _pair(0)
    assert float(ssim(torch.from_numpy(image), torch.from_numpy(image))) == 1.0


def test_ssim_matches_scikit_image() -> None:
    image, noisy = _pair(1)
    expected = structural_similarity(  # type: ignore[no-untyped-call]
        image,
        noisy,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        data_range=1.0,
        channel_axis=-1,
    )
    got = float(ssim(torch.from_numpy(image), torch.from_numpy(noisy)))
    assert abs(got - expected) < 1e-9
    assert got < 0.99


def test_ssim_is_differentiable() -> None:
    image, noisy = _pair(2)
    rendered = torch.from_numpy(noisy).float().requires_grad_(True)
    torch.autograd.backward(1.0 - ssim(rendered, torch.from_numpy(image).float()))
    assert rendered.grad is not None and float(rendered.grad.abs().sum()) > 0.0


def test_ssim_gradient_passes_gradcheck() -> None:
    image, noisy = _pair(4)
    target = torch.from_numpy(image[:14, :16])
    rendered = torch.from_numpy(noisy[:14, :16]).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: ssim(x, target), (rendered,), eps=1e-6, atol=1e-7)


def test_psnr_of_a_known_error() -> None:
    target = torch.zeros(10, 10, 3)
    assert math.isclose(psnr(target + 0.1, target), 20.0, rel_tol=1e-6)


def test_loss_mixes_l1_and_ssim() -> None:
    image, noisy = _pair(3)
    a, b = torch.from_numpy(noisy), torch.from_numpy(image)
    l1 = float(torch.abs(a - b).mean())
    dssim = 1.0 - float(ssim(a, b))
    assert math.isclose(float(splat_loss(a, b, 0.2)), 0.8 * l1 + 0.2 * dssim, rel_tol=1e-9)
    assert math.isclose(float(splat_loss(a, b, 0.0)), l1, rel_tol=1e-9)
