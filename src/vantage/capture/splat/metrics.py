"""Image losses and quality metrics in torch: SSIM with a Gaussian window, PSNR, the 3DGS loss.

SSIM follows Wang et al. 2004 as scikit-image computes it with ``gaussian_weights=True``: an
11×11 Gaussian window (σ = 1.5), C₁ = (0.01 L)², C₂ = (0.03 L)², population statistics, and the
mean over the valid region only (no padded borders), averaged over channels.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

SSIM_SIGMA = 1.5
SSIM_RADIUS = 5  # window 11 = 2·5 + 1, as skimage's truncate=3.5 gives for σ = 1.5


def _window_1d(radius: int) -> list[float]:
    weights = [
        math.exp(-(offset**2) / (2.0 * SSIM_SIGMA**2)) for offset in range(-radius, radius + 1)
    ]
    total = sum(weights)
    return [weight / total for weight in weights]


class _Correlate(torch.autograd.Function):
    """Valid-mode correlation of a tensor with a short 1D window along one dimension.

    As a sum of shifted slices with in-place adds, forward and backward (the adjoint: the same
    adds into the shifted input positions). ``conv2d`` with one channel and an 11-tap kernel is
    10-30× slower on CPU.
    """

    @staticmethod
    def forward(ctx: Any, planes: Tensor, window: list[float], dim: int) -> Tensor:
        length = planes.shape[dim] - len(window) + 1
        out = planes.narrow(dim, 0, length) * window[0]
        for shift, weight in enumerate(window[1:], start=1):
            out.add_(planes.narrow(dim, shift, length), alpha=weight)
        ctx.window, ctx.dim, ctx.size = window, dim, planes.shape[dim]
        return out

    @staticmethod
    def backward(ctx: Any, grad_out: Tensor) -> tuple[Tensor, None, None]:
        shape = list(grad_out.shape)
        shape[ctx.dim] = ctx.size
        grad = grad_out.new_zeros(shape)
        length = grad_out.shape[ctx.dim]
        for shift, weight in enumerate(ctx.window):
            grad.narrow(ctx.dim, shift, length).add_(grad_out, alpha=weight)
        return grad, None, None


def _blur(planes: Tensor, window: list[float]) -> Tensor:
    """Separable valid-mode Gaussian filter of [B, H, W] planes."""
    rows: Tensor = _Correlate.apply(planes, window, 2)  # type: ignore[no-untyped-call]
    out: Tensor = _Correlate.apply(rows, window, 1)  # type: ignore[no-untyped-call]
    return out


def ssim(image: Tensor, target: Tensor, data_range: float = 1.0) -> Tensor:
    """Mean SSIM of two images [H, W, C] (differentiable in both). → scalar"""
    height, width = image.shape[:2]
    radius = min(SSIM_RADIUS, (min(height, width) - 1) // 2)
    window = _window_1d(radius)
    x = image.permute(2, 0, 1)  # [C, H, W]
    y = target.permute(2, 0, 1)
    stats = _blur(torch.cat([x, y, x * x, y * y, x * y]), window)
    mu_x, mu_y, xx, yy, xy = stats.chunk(5)
    var_x = xx - mu_x * mu_x
    var_y = yy - mu_y * mu_y
    cov = xy - mu_x * mu_y
    c1 = (0.01 * data_range) ** 2
    c2 = (0.03 * data_range) ** 2
    numerator = (2.0 * mu_x * mu_y + c1) * (2.0 * cov + c2)
    denominator = (mu_x * mu_x + mu_y * mu_y + c1) * (var_x + var_y + c2)
    return (numerator / denominator).mean()


def psnr(image: Tensor, target: Tensor) -> float:
    """Peak signal-to-noise ratio in dB of images in 0..1 (``image`` is clamped first)."""
    mse = float(torch.mean((image.clamp(0.0, 1.0) - target) ** 2))
    return 10.0 * math.log10(1.0 / max(mse, 1e-12))


def splat_loss(image: Tensor, target: Tensor, ssim_lambda: float) -> Tensor:
    """The 3DGS photometric loss (1 − λ)·L1 + λ·(1 − SSIM). → scalar"""
    l1 = torch.abs(image - target).mean()
    if ssim_lambda == 0.0:
        return l1
    return (1.0 - ssim_lambda) * l1 + ssim_lambda * (1.0 - ssim(image, target))
