"""The viewer's starting camera for a capture: one of its own registered views.

Framing a reconstructed scene by its bounds often puts the eye inside it (floaters and the
background stretch the bounds); the views the capture was filmed from are known to show it.
The start is the registered camera halfway through the capture, looking where it looked,
orbiting a target at the median depth of the sparse points in front of it, with "up" the mean of
every camera's up (the way people hold cameras), all in the scene's own (COLMAP) axes.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from vantage.capture.splat.camera import SplatCamera
from vantage.web.viewer import ViewerCamera


def _pose(camera: SplatCamera) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Camera centre [3] and camera-to-world rotation [3, 3] (columns: x right, y down, z ahead)."""
    viewmat = camera.viewmat.detach().cpu().double().numpy()
    rotation = viewmat[:3, :3].T
    return -rotation @ viewmat[:3, 3], rotation


def start_camera(cameras: list[SplatCamera], points: npt.ArrayLike) -> ViewerCamera | None:
    """The viewer's start for a scene seen by ``cameras`` with sparse ``points`` [M, 3].

    None when there is no camera or no point in front of the chosen one.
    """
    if not cameras:
        return None
    poses = [_pose(camera) for camera in cameras]
    ups = np.array([-rotation[:, 1] for _, rotation in poses])  # [C, 3] (OpenCV y points down)
    up = ups.mean(axis=0)
    if not np.linalg.norm(up) > 1e-9:
        up = ups[0]
    up = up / np.linalg.norm(up)

    middle = len(cameras) // 2
    centre, rotation = poses[middle]
    ahead = rotation[:, 2]
    xyz = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    depths = (xyz - centre) @ ahead  # [M]
    depths = depths[np.isfinite(depths) & (depths > 0)]
    if depths.size == 0:
        return None
    target = centre + float(np.median(depths)) * ahead
    chosen = cameras[middle]
    fy = float(chosen.K[1, 1])
    fov_deg = math.degrees(2.0 * math.atan(chosen.height / (2.0 * fy)))
    return ViewerCamera(
        position=_triple(centre), target=_triple(target), up=_triple(up), fov_deg=fov_deg
    )


def _triple(values: npt.NDArray[np.float64]) -> tuple[float, float, float]:
    return float(values[0]), float(values[1]), float(values[2])
