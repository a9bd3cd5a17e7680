"""EWA projection of 3D Gaussians into one view: 2D means, conics, depths, colours, culling.

Follows 3DGS / gsplat: Σ = R S Sᵀ Rᵀ, Σ' = J W Σ Wᵀ Jᵀ with J the Jacobian of the perspective
projection at the (frustum-clamped) camera-space mean, plus a 0.3 px² low-pass on the diagonal.
The screen bound of a Gaussian is where its alpha would fall below 1/255: the ellipse
dᵀ Σ'⁻¹ d ≤ 2 ln(255 · opacity) (3.33 σ at opacity 1, less when fainter), whose axis-aligned box
is ± sqrt(2 ln(255 · opacity) · Σ'_xx) by ± sqrt(… Σ'_yy). Pixels outside it are skipped by the
rasterizer's 1/255 rule anyway, so culling by it changes nothing in the image.

Per-Gaussian quantities are computed and returned as rows over N ([3, N] …, "structure of
arrays"): elementwise ops on long contiguous rows are several times faster on CPU than the same
work on [N, 3] tensors or as batched 3×3 matmuls.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from vantage.capture.splat.camera import SplatCamera
from vantage.capture.splat.sh import eval_sh_rows

NEAR_PLANE = 0.01
LOW_PASS_PX2 = 0.3
ALPHA_MIN = 1.0 / 255.0
ALPHA_MAX = 0.99


@dataclass(frozen=True)
class Projection:
    """Screen-space quantities of one view for all N Gaussians (culled ones included), as rows."""

    means2d: Tensor  # [2, N] pixel x, y (differentiable)
    conics: Tensor  # [3, N] a, b, c of Σ'⁻¹ = [[a, b], [b, c]] (differentiable)
    depths: Tensor  # [N] camera-space z
    colors: Tensor  # [3, N] SH colour for this view, ≥ 0 (differentiable)
    extents: Tensor  # [2, N] half size in px of the alpha ≥ 1/255 box (no grad)
    visible: Tensor  # [N] bool: in front of the near plane, bright enough, box on screen


def quat_to_rotmat(quats: Tensor) -> Tensor:
    """Rotation matrices of unit wxyz quaternions. [N, 4] → [N, 3, 3]"""
    return _rotation_rows(quats.T).permute(2, 0, 1)


def _rotation_rows(quats_rows: Tensor) -> Tensor:
    """Rotation matrices laid out as rows over N. [4, N] → [3, 3, N]"""
    w, x, y, z = quats_rows
    entries = [
        1 - 2 * (y * y + z * z),
        2 * (x * y - w * z),
        2 * (x * z + w * y),
        2 * (x * y + w * z),
        1 - 2 * (x * x + z * z),
        2 * (y * z - w * x),
        2 * (x * z - w * y),
        2 * (y * z + w * x),
        1 - 2 * (x * x + y * y),
    ]
    return torch.stack(entries).reshape(3, 3, -1)


def project(
    means: Tensor,
    quats: Tensor,
    scales: Tensor,
    opacities: Tensor,
    sh_coeffs: Tensor,
    camera: SplatCamera,
    sh_degree: int,
) -> Projection:
    """Project activated Gaussians into ``camera``.

    Args:
        means: [N, 3] world positions.
        quats: [N, 4] unit wxyz quaternions.
        scales: [N, 3] standard deviations (after exp).
        opacities: [N] opacities in 0..1.
        sh_coeffs: [N, K, 3] SH coefficients.
        camera: the view (tensors on the same device and dtype as ``means``).
        sh_degree: SH degree to evaluate.
    """
    rotation_view = camera.viewmat[:3, :3]  # [3, 3]
    means_rows = means.T  # [3, N]
    means_cam = rotation_view @ means_rows + camera.viewmat[:3, 3:4]  # [3, N]
    depths = means_cam[2]
    in_front = depths > NEAR_PLANE
    # Rows behind the camera are culled; a safe depth keeps their (unused) values finite so
    # no NaN reaches the gradients through the masked-out branch.
    inv_z = 1.0 / torch.where(in_front, depths, torch.ones_like(depths))
    fx, fy = camera.K[0, 0], camera.K[1, 1]
    cx, cy = camera.K[0, 2], camera.K[1, 2]
    u = means_cam[0] * inv_z
    v = means_cam[1] * inv_z
    means2d = torch.stack([fx * u + cx, fy * v + cy])  # [2, N]

    # Jacobian at a mean clamped to 1.3× the field of view, as 3DGS does, so Gaussians far
    # outside the image do not get huge screen footprints.
    lim_x_pos = (camera.width - cx) / fx + 0.3 * camera.width / (2 * fx)
    lim_x_neg = cx / fx + 0.3 * camera.width / (2 * fx)
    lim_y_pos = (camera.height - cy) / fy + 0.3 * camera.height / (2 * fy)
    lim_y_neg = cy / fy + 0.3 * camera.height / (2 * fy)
    uc = torch.clamp(u, min=-lim_x_neg, max=lim_x_pos)
    vc = torch.clamp(v, min=-lim_y_neg, max=lim_y_pos)

    # Σ' = (J W R S)(J W R S)ᵀ; the rows of J W are (f/z)·(W₀ or W₁ − u·W₂).
    row_x = (fx * inv_z) * (rotation_view[0][:, None] - rotation_view[2][:, None] * uc)  # [3, N]
    row_y = (fy * inv_z) * (rotation_view[1][:, None] - rotation_view[2][:, None] * vc)
    rotation = _rotation_rows(quats.T)  # [3, 3, N]
    scales_rows = scales.T  # [3, N]
    axes_x = (row_x[:, None, :] * rotation).sum(0) * scales_rows  # [3, N] row of J W R S
    axes_y = (row_y[:, None, :] * rotation).sum(0) * scales_rows
    sxx = (axes_x * axes_x).sum(0) + LOW_PASS_PX2
    sxy = (axes_x * axes_y).sum(0)
    syy = (axes_y * axes_y).sum(0) + LOW_PASS_PX2
    inv_det = 1.0 / (sxx * syy - sxy * sxy).clamp_min(1e-12)
    conics = torch.stack([syy * inv_det, -sxy * inv_det, sxx * inv_det])  # [3, N]

    with torch.no_grad():
        level = 2.0 * torch.log((opacities / ALPHA_MIN).clamp_min(1.0))  # [N], r² of the bound
        extents = torch.stack([torch.sqrt(level * sxx), torch.sqrt(level * syy)])  # [2, N]
        on_screen = (
            (means2d[0] + extents[0] > 0)
            & (means2d[0] - extents[0] < camera.width)
            & (means2d[1] + extents[1] > 0)
            & (means2d[1] - extents[1] < camera.height)
        )
        visible = in_front & (opacities >= ALPHA_MIN) & on_screen

    camera_center = -(rotation_view.T @ camera.viewmat[:3, 3])  # [3]
    colors = eval_sh_rows(sh_degree, means_rows - camera_center[:, None], sh_coeffs)
    return Projection(
        means2d=means2d,
        conics=conics,
        depths=depths,
        colors=torch.clamp_min(colors + 0.5, 0.0),
        extents=extents,
        visible=visible,
    )
