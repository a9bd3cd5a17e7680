"""Real spherical harmonics up to degree 3 in the 3DGS convention, for view-dependent colour.

The basis is the real SH with the Condon–Shortley phase, ordered by l then m = -l..l (index
l² + l + m), exactly as the original 3DGS code and gsplat evaluate it; a test compares it with
SciPy's complex harmonics.
"""

from __future__ import annotations

import torch
from torch import Tensor

from vantage.errors import InvalidInputError

MAX_SH_DEGREE = 3
_C0 = 0.28209479177387814
_C1 = 0.4886025119029199
_C2 = (
    1.0925484305920792,
    -1.0925484305920792,
    0.31539156525252005,
    -1.0925484305920792,
    0.5462742152960396,
)
_C3 = (
    -0.5900435899266435,
    2.890611442640554,
    -0.4570457994644658,
    0.3731763325901154,
    -0.4570457994644658,
    1.445305721320277,
    -0.5900435899266435,
)


def _basis_rows(degree: int, x: Tensor, y: Tensor, z: Tensor) -> list[Tensor]:
    """The (degree + 1)² basis functions at unit directions given by their coordinates."""
    if not 0 <= degree <= MAX_SH_DEGREE:
        raise InvalidInputError("SH degree must be 0..3", degree=degree)
    rows = [torch.full_like(x, _C0)]
    if degree >= 1:
        rows += [-_C1 * y, _C1 * z, -_C1 * x]
    if degree >= 2:
        xx, yy, zz = x * x, y * y, z * z
        rows += [
            _C2[0] * x * y,
            _C2[1] * y * z,
            _C2[2] * (2.0 * zz - xx - yy),
            _C2[3] * x * z,
            _C2[4] * (xx - yy),
        ]
    if degree >= 3:
        rows += [
            _C3[0] * y * (3.0 * xx - yy),
            _C3[1] * x * y * z,
            _C3[2] * y * (4.0 * zz - xx - yy),
            _C3[3] * z * (2.0 * zz - 3.0 * xx - 3.0 * yy),
            _C3[4] * x * (4.0 * zz - xx - yy),
            _C3[5] * z * (xx - yy),
            _C3[6] * x * (xx - 3.0 * yy),
        ]
    return rows


def sh_basis(degree: int, dirs: Tensor) -> Tensor:
    """The SH basis at unit directions. [..., 3] → [..., (degree + 1)²]"""
    x, y, z = dirs.unbind(-1)
    return torch.stack(_basis_rows(degree, x, y, z), dim=-1)


def eval_sh(degree: int, dirs: Tensor, coeffs: Tensor) -> Tensor:
    """Colour (before the +0.5 offset) seen along ``dirs``, from the first (d+1)² coefficients.

    Args:
        degree: SH degree to use, at most what ``coeffs`` holds.
        dirs: [N, 3] viewing directions (camera → Gaussian); normalised here.
        coeffs: [N, K, 3] SH coefficients per colour channel, K ≥ (degree + 1)².

    Returns:
        [N, 3] the SH sum per channel.
    """
    return eval_sh_rows(degree, dirs.T, coeffs).T


def eval_sh_rows(degree: int, dirs_rows: Tensor, coeffs: Tensor) -> Tensor:
    """``eval_sh`` on directions given as rows [3, N]; returns rows [3, N].

    Rows over N: ops on tiny trailing dimensions ([N, 16, 3]) are several times slower on CPU
    than the same work on long contiguous rows.
    """
    count = (degree + 1) ** 2
    if coeffs.shape[-2] < count:
        raise InvalidInputError(
            "fewer SH coefficients than the degree needs", degree=degree, available=coeffs.shape[-2]
        )
    if degree == 0:
        return _C0 * coeffs[:, 0, :].T
    unit = dirs_rows / torch.linalg.vector_norm(dirs_rows, dim=0).clamp_min(1e-12)  # [3, N]
    basis = torch.stack(_basis_rows(degree, unit[0], unit[1], unit[2]))  # [K, N]
    rows = coeffs[:, :count, :].permute(1, 2, 0).contiguous()  # [K, 3, N]
    return (basis[:, None, :] * rows).sum(0)  # [3, N]
