"""A pinhole camera for splat rendering: intrinsics, world→camera pose, image size.

Conventions follow COLMAP and gsplat: OpenCV axes (x right, y down, z forward), pixel (i, j)
covers [i, i+1) × [j, j+1) so its centre is at (i + 0.5, j + 0.5) and the principal point is in
the same continuous coordinates. Rescaling an image by s therefore scales K's first two rows by s.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch
from torch import Tensor

from vantage.errors import InvalidInputError


@dataclass(frozen=True)
class SplatCamera:
    """One view: ``K`` [3, 3] and ``viewmat`` [4, 4] (world → camera) as float32 tensors."""

    K: Tensor  # [3, 3]
    viewmat: Tensor  # [4, 4]
    width: int
    height: int

    def __post_init__(self) -> None:
        if tuple(self.K.shape) != (3, 3) or tuple(self.viewmat.shape) != (4, 4):
            raise InvalidInputError(
                "a camera needs K [3, 3] and viewmat [4, 4]",
                k_shape=list(self.K.shape),
                viewmat_shape=list(self.viewmat.shape),
            )
        if self.width < 1 or self.height < 1:
            raise InvalidInputError(
                "a camera needs a positive image size", width=self.width, height=self.height
            )

    @classmethod
    def from_numpy(
        cls,
        K: npt.ArrayLike,
        viewmat: npt.ArrayLike,
        width: int,
        height: int,
    ) -> SplatCamera:
        """A camera from array-likes; ``viewmat`` may be [3, 4] (the last row is implied)."""
        view = np.asarray(viewmat, dtype=np.float64)
        if view.shape == (3, 4):
            view = np.vstack([view, [0.0, 0.0, 0.0, 1.0]])
        return cls(
            K=torch.as_tensor(np.asarray(K, dtype=np.float32)),
            viewmat=torch.as_tensor(view.astype(np.float32)),
            width=int(width),
            height=int(height),
        )

    @property
    def center(self) -> Tensor:
        """The camera centre in world coordinates. [3]"""
        rotation = self.viewmat[:3, :3]
        return -(rotation.T @ self.viewmat[:3, 3])

    def to(self, device: torch.device | str, dtype: torch.dtype = torch.float32) -> SplatCamera:
        """The same camera with its tensors on ``device``."""
        return SplatCamera(
            K=self.K.to(device=device, dtype=dtype),
            viewmat=self.viewmat.to(device=device, dtype=dtype),
            width=self.width,
            height=self.height,
        )

    def scaled(self, width: int, height: int) -> SplatCamera:
        """The camera of this view resampled to ``width`` × ``height`` pixels."""
        sx = width / self.width
        sy = height / self.height
        scale = torch.tensor([sx, sy, 1.0], dtype=self.K.dtype, device=self.K.device)
        return SplatCamera(
            K=self.K * scale[:, None], viewmat=self.viewmat, width=width, height=height
        )


def look_at(
    eye: npt.ArrayLike,
    target: npt.ArrayLike,
    up: npt.ArrayLike = (0.0, 0.0, 1.0),
) -> npt.NDArray[np.float64]:
    """World → camera [4, 4] for a camera at ``eye`` looking at ``target`` (OpenCV axes).

    ``up`` is the world direction that appears upwards in the image (camera −y).
    """
    eye_w = np.asarray(eye, dtype=np.float64)
    forward = np.asarray(target, dtype=np.float64) - eye_w
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, np.asarray(up, dtype=np.float64))
    norm = np.linalg.norm(right)
    if norm < 1e-9:
        raise InvalidInputError("look_at: 'up' is parallel to the viewing direction")
    right /= norm
    down = np.cross(forward, right)
    rotation = np.stack([right, down, forward])  # rows: camera axes in world coordinates
    view = np.eye(4)
    view[:3, :3] = rotation
    view[:3, 3] = -rotation @ eye_w
    return view


def intrinsics(focal_px: float, width: int, height: int) -> npt.NDArray[np.float64]:
    """K [3, 3] of a square-pixel camera with its principal point at the image centre."""
    return np.array([[focal_px, 0.0, width / 2.0], [0.0, focal_px, height / 2.0], [0.0, 0.0, 1.0]])
