"""Gaussian splats as numpy arrays in the 3DGS PLY conventions: what every codec reads and writes.

The codecs (SOG, SPZ, compressed PLY) and the size reductions work on `Splats`, never on the
training tensors. Values are stored pre-activation, exactly as a 3DGS PLY holds them:

- ``means`` [N, 3] float32 positions;
- ``scales`` [N, 3] float32 log standard deviations;
- ``quats`` [N, 4] float32 rotations, w x y z (not necessarily normalised);
- ``opacities`` [N] float32 logits;
- ``sh0`` [N, 3] float32 degree-0 SH coefficients (``f_dc_0..2``; colour = 0.5 + C0 · sh0);
- ``shN`` [N, K, 3] float32 higher SH coefficients, K = (d + 1)² − 1, coefficient-major
  (the PLY's ``f_rest_*`` is channel-major: all R, then all G, then all B).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from numpy.typing import NDArray

from vantage.capture.splat.gaussians import Gaussians
from vantage.capture.splat.ply import export_ply, read_ply
from vantage.errors import InvalidInputError

Float32Array = NDArray[np.float32]


@dataclass(frozen=True)
class Splats:
    """A set of Gaussians as numpy arrays (see the module docstring for shapes and meaning)."""

    means: Float32Array
    scales: Float32Array
    quats: Float32Array
    opacities: Float32Array
    sh0: Float32Array
    shN: Float32Array

    def __post_init__(self) -> None:
        count = self.means.shape[0]
        expected = {
            "means": (count, 3),
            "scales": (count, 3),
            "quats": (count, 4),
            "opacities": (count,),
            "sh0": (count, 3),
        }
        for name, shape in expected.items():
            if getattr(self, name).shape != shape:
                raise InvalidInputError(
                    f"splat array {name} has shape {list(getattr(self, name).shape)}, "
                    f"expected {list(shape)}",
                    array=name,
                )
        if self.shN.ndim != 3 or self.shN.shape[0] != count or self.shN.shape[2] != 3:
            raise InvalidInputError(
                f"splat array shN has shape {list(self.shN.shape)}, expected [N, K, 3]",
                array="shN",
            )
        rest = self.shN.shape[1] + 1
        if math.isqrt(rest) ** 2 != rest:
            raise InvalidInputError("shN does not hold a whole SH degree", coefficients=rest)

    def __len__(self) -> int:
        return int(self.means.shape[0])

    @property
    def sh_degree(self) -> int:
        """Highest SH degree held (0 when shN is empty)."""
        return math.isqrt(self.shN.shape[1] + 1) - 1

    def take(self, index: NDArray[np.integer] | NDArray[np.bool_]) -> Splats:
        """The Gaussians at ``index`` (an index array or a boolean mask), in that order."""
        return Splats(
            means=self.means[index],
            scales=self.scales[index],
            quats=self.quats[index],
            opacities=self.opacities[index],
            sh0=self.sh0[index],
            shN=self.shN[index],
        )

    def with_sh_degree(self, degree: int) -> Splats:
        """The same Gaussians holding SH only up to ``degree`` (≤ the current degree)."""
        if not 0 <= degree <= self.sh_degree:
            raise InvalidInputError(
                f"cannot keep SH degree {degree} of a scene with degree {self.sh_degree}",
                degree=degree,
            )
        keep = (degree + 1) ** 2 - 1
        return Splats(
            self.means, self.scales, self.quats, self.opacities, self.sh0, self.shN[:, :keep]
        )


def splats_from_gaussians(gaussians: Gaussians) -> Splats:
    """`Splats` holding copies of the parameters of trained ``gaussians``."""
    with torch.no_grad():
        params = {
            name: p.detach().cpu().to(torch.float32).numpy().copy()
            for name, p in gaussians.params.items()
        }
    return Splats(
        means=np.ascontiguousarray(params["means"]),
        scales=np.ascontiguousarray(params["scales"]),
        quats=np.ascontiguousarray(params["quats"]),
        opacities=np.ascontiguousarray(params["opacities"]),
        sh0=np.ascontiguousarray(params["sh0"][:, 0, :]),
        shN=np.ascontiguousarray(params["shN"]),
    )


def splats_to_gaussians(splats: Splats) -> Gaussians:
    """`Gaussians` holding copies of ``splats`` (e.g. to render them with our rasterizer)."""
    return Gaussians.from_tensors(
        means=torch.from_numpy(splats.means.copy()),
        scales=torch.from_numpy(splats.scales.copy()),
        quats=torch.from_numpy(splats.quats.copy()),
        opacities=torch.from_numpy(splats.opacities.copy()),
        sh0=torch.from_numpy(splats.sh0.copy())[:, None, :],
        shN=torch.from_numpy(splats.shN.copy()),
    )


def read_ply_splats(path: Path) -> Splats:
    """`Splats` from a standard 3DGS PLY (as `vantage.capture.splat.ply.export_ply` writes)."""
    return splats_from_gaussians(read_ply(path))


def write_ply_splats(splats: Splats, path: Path) -> None:
    """Write ``splats`` as a standard 3DGS PLY (atomically)."""
    export_ply(splats_to_gaussians(splats), path)
