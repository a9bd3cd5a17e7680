"""The trainable 3D Gaussians: a dict of torch Parameters in gsplat's naming, and their init.

Parameters are stored pre-activation, as gsplat's strategies expect: ``means`` [N, 3],
``scales`` [N, 3] (log), ``quats`` [N, 4] (wxyz, unnormalised), ``opacities`` [N] (logit),
``sh0`` [N, 1, 3] and ``shN`` [N, (d+1)²-1, 3] (SH coefficients, colour = SH + 0.5).
The dict itself is handed to ``DefaultStrategy``, which replaces its entries when it densifies.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import torch
from scipy.spatial import cKDTree
from torch import Tensor

from vantage.errors import InvalidInputError

#: Y₀⁰ = 1 / (2√π): the degree-0 SH basis value.
SH_C0 = 0.28209479177387814
PARAM_NAMES = ("means", "scales", "quats", "opacities", "sh0", "shN")


def rgb_to_sh0(rgb: Tensor) -> Tensor:
    """Degree-0 SH coefficients that render as ``rgb`` (0..1). [..., 3] → [..., 3]"""
    return (rgb - 0.5) / SH_C0


def sh_coefficient_count(degree: int) -> int:
    """Number of SH coefficients per channel up to ``degree``: (d + 1)²."""
    return (degree + 1) ** 2


class Gaussians:
    """A set of 3D Gaussians whose tensors live in ``params`` (shared with the optimizers)."""

    def __init__(self, params: dict[str, torch.nn.Parameter]) -> None:
        missing = [name for name in PARAM_NAMES if name not in params]
        if missing:
            raise InvalidInputError("Gaussians need all their parameters", missing=missing)
        self.params = params
        count = params["means"].shape[0]
        if any(params[name].shape[0] != count for name in PARAM_NAMES):
            raise InvalidInputError(
                "Gaussian parameters disagree on the count",
                shapes={name: list(params[name].shape) for name in PARAM_NAMES},
            )
        rest = params["shN"].shape[1] + 1
        degree = math.isqrt(rest) - 1
        if (degree + 1) ** 2 != rest:
            raise InvalidInputError("shN does not hold a whole SH degree", coefficients=rest)
        self.sh_degree = degree

    @classmethod
    def from_tensors(
        cls,
        means: Tensor,
        scales: Tensor,
        quats: Tensor,
        opacities: Tensor,
        sh0: Tensor,
        shN: Tensor,
    ) -> Gaussians:
        """Gaussians holding (copies of) these pre-activation tensors as Parameters."""
        tensors = {
            "means": means,
            "scales": scales,
            "quats": quats,
            "opacities": opacities,
            "sh0": sh0,
            "shN": shN,
        }
        return cls(
            {
                name: torch.nn.Parameter(t.detach().clone().to(torch.float32))
                for name, t in tensors.items()
            }
        )

    @classmethod
    def from_points(
        cls,
        points: npt.ArrayLike,
        colors: npt.ArrayLike,
        sh_degree: int,
        *,
        init_opacity: float = 0.1,
        init_scale: float = 1.0,
    ) -> Gaussians:
        """One isotropic Gaussian per point, as in 3DGS / gsplat's trainer.

        Args:
            points: [M, 3] positions.
            colors: [M, 3] colours in 0..1.
            sh_degree: highest SH degree the Gaussians carry (shN starts at zero).
            init_opacity: opacity of every Gaussian.
            init_scale: factor on the mean distance to the 3 nearest neighbours.
        """
        xyz = np.asarray(points, dtype=np.float64)
        rgb = np.asarray(colors, dtype=np.float64)
        if xyz.ndim != 2 or xyz.shape[1] != 3 or rgb.shape != xyz.shape or len(xyz) < 2:
            raise InvalidInputError(
                "init needs at least 2 points [M, 3] and colours [M, 3]",
                points_shape=list(xyz.shape),
                colors_shape=list(rgb.shape),
            )
        if not 0.0 < init_opacity < 1.0:
            raise InvalidInputError("init_opacity must lie in (0, 1)", init_opacity=init_opacity)
        neighbours = min(3, len(xyz) - 1)
        distances, _ = cKDTree(xyz).query(xyz, k=neighbours + 1)  # [M, k+1], first is self
        mean_distance = np.asarray(distances, dtype=np.float64)[:, 1:].mean(axis=1)
        # Duplicate points would give a zero scale and a -inf log-scale.
        floor = max(float(np.median(mean_distance)) * 1e-3, 1e-7)
        scale = np.maximum(mean_distance, floor) * init_scale  # [M]

        count = len(xyz)
        means = torch.as_tensor(xyz, dtype=torch.float32)
        log_scales = torch.log(torch.as_tensor(scale, dtype=torch.float32))[:, None].repeat(1, 3)
        quats = torch.zeros(count, 4)
        quats[:, 0] = 1.0
        opacities = torch.full((count,), math.log(init_opacity / (1.0 - init_opacity)))
        sh0 = rgb_to_sh0(torch.as_tensor(rgb, dtype=torch.float32))[:, None, :]
        shN = torch.zeros(count, sh_coefficient_count(sh_degree) - 1, 3)
        return cls.from_tensors(means, log_scales, quats, opacities, sh0, shN)

    def __len__(self) -> int:
        return int(self.params["means"].shape[0])

    @property
    def means(self) -> Tensor:
        """Centres. [N, 3]"""
        return self.params["means"]

    @property
    def log_scales(self) -> Tensor:
        """Log standard deviations along the local axes. [N, 3]"""
        return self.params["scales"]

    @property
    def quats(self) -> Tensor:
        """Rotations as unnormalised wxyz quaternions. [N, 4]"""
        return self.params["quats"]

    @property
    def opacity_logits(self) -> Tensor:
        """Opacities before the sigmoid. [N]"""
        return self.params["opacities"]

    @property
    def sh0(self) -> Tensor:
        """Degree-0 SH coefficients. [N, 1, 3]"""
        return self.params["sh0"]

    @property
    def shN(self) -> Tensor:
        """Higher-degree SH coefficients. [N, (d+1)²-1, 3]"""
        return self.params["shN"]

    def sh_coeffs(self) -> Tensor:
        """All SH coefficients. [N, (d+1)², 3]"""
        return torch.cat([self.sh0, self.shN], dim=1)

    def activated(self) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        """``means``, unit ``quats``, ``scales``, ``opacities`` (0..1) and SH coefficients."""
        quats = torch.nn.functional.normalize(self.quats, dim=-1)
        return (
            self.means,
            quats,
            torch.exp(self.log_scales),
            torch.sigmoid(self.opacity_logits),
            self.sh_coeffs(),
        )

    def to(self, device: torch.device | str) -> Gaussians:
        """The same values as new Parameters on ``device``."""
        return Gaussians(
            {
                name: torch.nn.Parameter(self.params[name].detach().to(device))
                for name in PARAM_NAMES
            }
        )

    def detached_copy(self) -> Gaussians:
        """An independent copy of the current values (new Parameters, no optimizer state)."""
        return Gaussians(
            {name: torch.nn.Parameter(self.params[name].detach().clone()) for name in PARAM_NAMES}
        )
