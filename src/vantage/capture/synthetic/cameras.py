"""Pinhole cameras of the synthetic scene: intrinsics, look-at poses, orbit and nadir paths.

Conventions follow OpenCV and COLMAP: ``cam_from_world`` maps world points into a camera whose
x axis points right, y down and z forward; pixel centres sit at integer coordinates, so the
principal point of a W×H image is ((W-1)/2, (H-1)/2). The world is z-up, the ground is z = 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from vantage.capture.synthetic.scene import Scene

FloatArray = npt.NDArray[np.float64]

# Overlap of neighbouring nadir images, as survey planners state it.
_FORWARD_OVERLAP = 0.7
_SIDE_OVERLAP = 0.6
# Gimbal wobble of a nadir camera. Perfectly parallel optical axes leave focal length and
# depth scale interchangeable (an exact ambiguity for self-calibrating SfM); a few degrees of
# tilt, as real flights have, breaks it.
_TILT_JITTER_DEG = 2.0


@dataclass(frozen=True, eq=False)
class Camera:
    """A pinhole camera with its pose; ``eq=False`` because arrays do not compare to a bool."""

    K: FloatArray  # [3, 3]
    cam_from_world: FloatArray  # [4, 4] world → camera
    width: int
    height: int

    @property
    def center(self) -> FloatArray:  # [3]
        """Camera centre in world coordinates."""
        rotation = self.cam_from_world[:3, :3]
        return np.asarray(-rotation.T @ self.cam_from_world[:3, 3], dtype=np.float64)

    @property
    def optical_axis(self) -> FloatArray:  # [3]
        """Unit viewing direction (camera +z) in world coordinates."""
        return np.array(self.cam_from_world[2, :3], dtype=np.float64)

    def project(self, points: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
        """Projects world points to pixels.

        Args:
            points: World points, shape [N, 3] or [3].

        Returns:
            Pixel coordinates [N, 2] and depths along the optical axis [N] (negative = behind).
        """
        world = np.atleast_2d(np.asarray(points, dtype=np.float64))  # [N, 3]
        cam = world @ self.cam_from_world[:3, :3].T + self.cam_from_world[:3, 3]  # [N, 3]
        depth = cam[:, 2]  # [N]
        with np.errstate(divide="ignore", invalid="ignore"):
            pixels = (cam @ self.K.T)[:, :2] / depth[:, None]  # [N, 2]
        return pixels, depth


def intrinsics(width: int, height: int, fov_deg: float) -> FloatArray:  # [3, 3]
    """Square-pixel intrinsics with horizontal field of view ``fov_deg`` and a centred axis."""
    if width <= 0 or height <= 0 or not 0.0 < fov_deg < 180.0:
        raise ValueError(f"bad image size {width}x{height} or field of view {fov_deg}°")
    focal = 0.5 * width / math.tan(math.radians(fov_deg) / 2.0)
    return np.array(
        [[focal, 0.0, (width - 1) / 2.0], [0.0, focal, (height - 1) / 2.0], [0.0, 0.0, 1.0]]
    )


def pose_from_axes(
    eye: npt.ArrayLike, forward: npt.ArrayLike, down_hint: npt.ArrayLike
) -> FloatArray:  # [4, 4]
    """cam_from_world for a camera at ``eye`` looking along ``forward``.

    ``down_hint`` is the world direction that should point down the image; only its part
    orthogonal to ``forward`` is used.
    """
    eye_w = np.asarray(eye, dtype=np.float64)  # [3]
    z_axis = np.asarray(forward, dtype=np.float64)
    z_axis = z_axis / np.linalg.norm(z_axis)
    hint = np.asarray(down_hint, dtype=np.float64)
    y_axis = hint - float(hint @ z_axis) * z_axis
    norm = float(np.linalg.norm(y_axis))
    if norm < 1e-9:
        raise ValueError("down_hint is parallel to the viewing direction")
    y_axis = y_axis / norm
    x_axis = np.cross(y_axis, z_axis)
    rotation = np.stack([x_axis, y_axis, z_axis])  # [3, 3] rows are camera axes in world
    pose = np.eye(4)
    pose[:3, :3] = rotation
    pose[:3, 3] = -rotation @ eye_w
    return pose


def look_at(eye: npt.ArrayLike, target: npt.ArrayLike) -> FloatArray:  # [4, 4]
    """cam_from_world for a camera at ``eye`` looking at ``target`` with world z up the image."""
    forward = np.asarray(target, dtype=np.float64) - np.asarray(eye, dtype=np.float64)
    return pose_from_axes(eye, forward, (0.0, 0.0, -1.0))


def orbit_camera_at(
    scene: Scene,
    angle_deg: float,
    width: int,
    height: int,
    *,
    radius: float | None = None,
    height_m: float | None = None,
    fov_deg: float = 60.0,
    look_at_point: npt.ArrayLike | None = None,
) -> Camera:
    """The orbit camera at azimuth ``angle_deg`` (0° = +x side of the target, counter-clockwise).

    Defaults: radius 1.1 × scene size, camera height 0.45 × radius, target the scene centre.
    """
    target = scene.centre if look_at_point is None else np.asarray(look_at_point, np.float64)
    radius_m = 1.1 * scene.size if radius is None else radius
    eye_z = 0.45 * radius_m if height_m is None else height_m
    angle = math.radians(angle_deg)
    eye = np.array(
        [target[0] + radius_m * math.cos(angle), target[1] + radius_m * math.sin(angle), eye_z]
    )
    return Camera(intrinsics(width, height, fov_deg), look_at(eye, target), width, height)


def orbit_cameras(
    scene: Scene,
    n: int,
    width: int,
    height: int,
    *,
    radius: float | None = None,
    height_m: float | None = None,
    fov_deg: float = 60.0,
    look_at: npt.ArrayLike | None = None,
    arc_deg: float = 360.0,
) -> list[Camera]:
    """``n`` cameras on a circle (or an arc of ``arc_deg``) around the scene, facing its centre.

    A full circle spaces the cameras evenly without repeating the first; a partial arc includes
    both ends. See `orbit_camera_at` for the defaults.
    """
    if n <= 0:
        raise ValueError(f"n must be positive, got {n}")
    if arc_deg >= 360.0:
        angles = np.linspace(0.0, 360.0, n, endpoint=False)
    else:
        angles = np.linspace(0.0, arc_deg, n)
    return [
        orbit_camera_at(
            scene,
            float(angle),
            width,
            height,
            radius=radius,
            height_m=height_m,
            fov_deg=fov_deg,
            look_at_point=look_at,
        )
        for angle in angles
    ]


def nadir_cameras(
    scene: Scene,
    n: int,
    width: int,
    height: int,
    *,
    altitude: float | None = None,
    fov_deg: float = 60.0,
    seed: int = 0,
) -> list[Camera]:
    """A drone survey: ``n`` straight-down images on a lawnmower grid over the scene centre.

    Flight lines run along world y and alternate direction (the image top faces the flight
    direction); spacing gives 70 % forward and 60 % side overlap on the ground. Position, height,
    yaw and tilt (σ 2°) get a small seeded jitter, as a real drone's would. Default altitude:
    0.9 × scene size.
    """
    if n <= 0:
        raise ValueError(f"n must be positive, got {n}")
    altitude_m = 0.9 * scene.size if altitude is None else altitude
    footprint_w = 2.0 * altitude_m * math.tan(math.radians(fov_deg) / 2.0)
    footprint_h = footprint_w * height / width
    side_step = (1.0 - _SIDE_OVERLAP) * footprint_w
    forward_step = (1.0 - _FORWARD_OVERLAP) * footprint_h
    lines = max(1, round(math.sqrt(n * forward_step / side_step)))
    per_line = math.ceil(n / lines)
    rng = np.random.default_rng(seed)
    centre = scene.centre
    cameras: list[Camera] = []
    for line in range(lines):
        x = centre[0] + (line - (lines - 1) / 2.0) * side_step
        ys = centre[1] + (np.arange(per_line) - (per_line - 1) / 2.0) * forward_step
        heading = 1.0 if line % 2 == 0 else -1.0
        for y in ys if heading > 0 else ys[::-1]:
            if len(cameras) == n:
                return cameras
            jitter = rng.normal(0.0, 1.0, size=6)
            eye = (
                x + 0.04 * forward_step * jitter[0],
                y + 0.04 * forward_step * jitter[1],
                altitude_m * (1.0 + 0.01 * jitter[2]),
            )
            yaw = math.radians(90.0 if heading > 0 else -90.0) + math.radians(2.0) * jitter[3]
            down = (-math.cos(yaw), -math.sin(yaw), 0.0)  # image top faces the heading
            tilt = np.tan(np.radians(_TILT_JITTER_DEG) * jitter[4:6])
            pose = pose_from_axes(eye, (tilt[0], tilt[1], -1.0), down)
            cameras.append(Camera(intrinsics(width, height, fov_deg), pose, width, height))
    return cameras


def camera_centres(cameras: Sequence[Camera]) -> FloatArray:  # [N, 3]
    """Centres of ``cameras`` stacked into one array."""
    return np.stack([camera.center for camera in cameras]) if cameras else np.zeros((0, 3))
