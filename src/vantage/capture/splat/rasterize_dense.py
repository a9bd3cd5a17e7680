"""Slow, obviously correct reference renderer: every Gaussian at every pixel, for tests only.

Deliberately independent of ``rasterize_cpu``: projection and SH come from gsplat's PyTorch
reference (``gsplat.cuda._torch_impl``), and compositing is a plain front-to-back loop over the
depth-sorted Gaussians with the 3DGS rules (alpha clamped to 0.99, skipped below 1/255). No tiles,
no bounds, no culling except the near plane. Memory is O(H·W) per Gaussian; keep images tiny.
"""

from __future__ import annotations

import torch
from gsplat.cuda._torch_impl import (
    _fully_fused_projection,
    _quat_scale_to_covar_preci,
    _spherical_harmonics,
)
from torch import Tensor

from vantage.capture.splat.camera import SplatCamera
from vantage.capture.splat.projection import ALPHA_MAX, ALPHA_MIN, LOW_PASS_PX2, NEAR_PLANE


def rasterize_dense(
    means: Tensor,
    quats: Tensor,
    scales: Tensor,
    opacities: Tensor,
    sh_coeffs: Tensor,
    camera: SplatCamera,
    sh_degree: int,
    background: Tensor,
) -> Tensor:
    """Render activated Gaussians (same arguments as ``rasterize_tiles``). → [H, W, 3]"""
    covars, _ = _quat_scale_to_covar_preci(quats, scales, compute_preci=False)
    assert covars is not None
    _, means2d, depths, conics, _ = _fully_fused_projection(
        means,
        covars,
        camera.viewmat[None],
        camera.K[None],
        camera.width,
        camera.height,
        eps2d=LOW_PASS_PX2,
        near_plane=NEAR_PLANE,
    )
    means2d, depths, conics = means2d[0], depths[0], conics[0]  # [N, 2], [N], [N, 3]
    camera_center = torch.linalg.inv(camera.viewmat)[:3, 3]
    colors = _spherical_harmonics(sh_degree, means - camera_center, sh_coeffs)
    colors = torch.clamp_min(colors + 0.5, 0.0)  # [N, 3]

    ys, xs = torch.meshgrid(
        torch.arange(camera.height, dtype=means.dtype, device=means.device) + 0.5,
        torch.arange(camera.width, dtype=means.dtype, device=means.device) + 0.5,
        indexing="ij",
    )
    xs, ys = xs.reshape(-1), ys.reshape(-1)  # [H·W]
    transmittance = torch.ones_like(xs)
    image = torch.zeros(len(xs), 3, dtype=means.dtype, device=means.device)
    front = torch.nonzero(depths > NEAR_PLANE).squeeze(1)
    for index in front[torch.argsort(depths[front])].tolist():
        dx = xs - means2d[index, 0]
        dy = ys - means2d[index, 1]
        a, b, c = conics[index]
        sigma = 0.5 * (a * dx * dx + c * dy * dy) + b * dx * dy
        alpha = torch.clamp(opacities[index] * torch.exp(-sigma), max=ALPHA_MAX)
        alpha = torch.where(alpha >= ALPHA_MIN, alpha, torch.zeros_like(alpha))
        image = image + (transmittance * alpha)[:, None] * colors[index]
        transmittance = transmittance * (1.0 - alpha)
    image = image + transmittance[:, None] * background
    return image.reshape(camera.height, camera.width, 3)
