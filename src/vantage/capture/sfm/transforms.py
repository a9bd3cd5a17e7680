"""COLMAP poses and intrinsics → nerfstudio's ``transforms.json``, as pure functions.

COLMAP stores world-to-camera poses with the camera looking down +z, y down (OpenCV axes).
nerfstudio, like OpenGL, wants camera-to-world matrices with the camera looking down -z, y up.
The conversion inverts the pose and flips the camera's y and z axes; the world frame is left
as COLMAP's, so the sparse model's points line up with the cameras in ``transforms.json``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vantage.errors import InvalidInputError

#: Camera-axis flip between OpenCV (x right, y down, z forward) and OpenGL (y up, z backward).
OPENCV_TO_OPENGL = np.diag([1.0, -1.0, -1.0])  # [3, 3]


@dataclass(frozen=True)
class Intrinsics:
    """A pinhole camera with OpenCV distortion, as nerfstudio's OPENCV model reads it."""

    width: int
    height: int
    fl_x: float
    fl_y: float
    cx: float
    cy: float
    k1: float = 0.0
    k2: float = 0.0
    p1: float = 0.0
    p2: float = 0.0

    def to_dict(self) -> dict[str, float | int]:
        """The nerfstudio keys: ``fl_x, fl_y, cx, cy, w, h, k1, k2, p1, p2``."""
        return {
            "fl_x": self.fl_x,
            "fl_y": self.fl_y,
            "cx": self.cx,
            "cy": self.cy,
            "w": self.width,
            "h": self.height,
            "k1": self.k1,
            "k2": self.k2,
            "p1": self.p1,
            "p2": self.p2,
        }


@dataclass(frozen=True)
class PosedImage:
    """One registered image: its path relative to ``transforms.json`` and its COLMAP pose."""

    file_path: str
    camera_id: int
    cam_from_world: NDArray[np.float64]  # [3, 4] world → camera, OpenCV axes


def intrinsics_from_colmap(
    model_name: str, params: Sequence[float], width: int, height: int
) -> Intrinsics:
    """Intrinsics of a COLMAP camera in nerfstudio's OPENCV terms.

    Raises:
        InvalidInputError: The model has no exact OPENCV equivalent (fisheye, spherical …).
    """
    p = [float(v) for v in params]
    match model_name:
        case "SIMPLE_PINHOLE":  # f, cx, cy
            return Intrinsics(width, height, p[0], p[0], p[1], p[2])
        case "PINHOLE":  # fx, fy, cx, cy
            return Intrinsics(width, height, p[0], p[1], p[2], p[3])
        case "SIMPLE_RADIAL":  # f, cx, cy, k
            return Intrinsics(width, height, p[0], p[0], p[1], p[2], k1=p[3])
        case "RADIAL":  # f, cx, cy, k1, k2
            return Intrinsics(width, height, p[0], p[0], p[1], p[2], k1=p[3], k2=p[4])
        case "OPENCV":  # fx, fy, cx, cy, k1, k2, p1, p2
            return Intrinsics(width, height, p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7])
    raise InvalidInputError(
        f"COLMAP camera model {model_name} has no nerfstudio OPENCV equivalent",
        field="camera_model",
    )


def c2w_opengl_from_cam_from_world(
    cam_from_world: NDArray[np.floating[Any]],
) -> NDArray[np.float64]:
    """Camera-to-world in OpenGL camera axes from a COLMAP world-to-camera pose.

    Args:
        cam_from_world: [3, 4] ``[R | t]`` with ``x_cam = R @ x_world + t`` (OpenCV axes).

    Returns:
        [4, 4] rigid matrix whose columns are the camera's x, y (up), z (backward) axes and its
        centre ``-Rᵀ t``, in world coordinates.
    """
    pose = np.asarray(cam_from_world, dtype=np.float64)
    if pose.shape != (3, 4):
        raise InvalidInputError(f"cam_from_world must be [3, 4], got {list(pose.shape)}")
    rotation, translation = pose[:, :3], pose[:, 3]
    c2w = np.eye(4)
    c2w[:3, :3] = rotation.T @ OPENCV_TO_OPENGL
    c2w[:3, 3] = -rotation.T @ translation
    return c2w


def cam_from_world_from_c2w_opengl(c2w: NDArray[np.floating[Any]]) -> NDArray[np.float64]:
    """The inverse of `c2w_opengl_from_cam_from_world`: [4, 4] OpenGL c2w → [3, 4] COLMAP pose."""
    matrix = np.asarray(c2w, dtype=np.float64)
    if matrix.shape != (4, 4):
        raise InvalidInputError(f"c2w must be [4, 4], got {list(matrix.shape)}")
    rotation = (matrix[:3, :3] @ OPENCV_TO_OPENGL).T  # [3, 3] world → camera
    return np.concatenate([rotation, (-rotation @ matrix[:3, 3])[:, None]], axis=1)


def transforms_document(
    cameras: Mapping[int, Intrinsics], images: Sequence[PosedImage]
) -> dict[str, Any]:
    """The ``transforms.json`` body for nerfstudio.

    With one camera its intrinsics sit at the top level; with several, every frame carries its
    own (nerfstudio reads per-frame intrinsics before top-level ones). Frames are sorted by path.
    """
    used = sorted({image.camera_id for image in images})
    document: dict[str, Any] = {"camera_model": "OPENCV"}
    shared = len(used) == 1
    if shared:
        document.update(cameras[used[0]].to_dict())
    frames: list[dict[str, Any]] = []
    for image in sorted(images, key=lambda i: i.file_path):
        c2w = c2w_opengl_from_cam_from_world(image.cam_from_world)
        frame: dict[str, Any] = {
            "file_path": image.file_path,
            "transform_matrix": c2w.tolist(),
        }
        if not shared:
            frame.update(cameras[image.camera_id].to_dict())
        frames.append(frame)
    document["frames"] = frames
    return document
