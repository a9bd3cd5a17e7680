"""A COLMAP sparse model and its images as a `SceneData` for splat training (via pycolmap).

Every registered image (sorted by name) becomes a view: K from the camera's focal length and
principal point (pinhole, simple/radial and OpenCV models; their distortion is small for the
photos and video frames this takes and is ignored), the world → camera pose from
``Image.cam_from_world()``, the pixels from ``image_dir``. The 3D points and their colours seed
the Gaussians.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

from vantage.capture.splat.camera import SplatCamera
from vantage.capture.splat.scene import SceneData, downscale_view
from vantage.errors import InvalidInputError, NotFoundError, ReconstructionError

#: Camera models whose focal length and principal point are used as a pinhole.
SUPPORTED_MODELS = ("SIMPLE_PINHOLE", "PINHOLE", "SIMPLE_RADIAL", "RADIAL", "OPENCV")


def _intrinsics(camera: Any) -> npt.NDArray[np.float64]:
    """K [3, 3] of a pycolmap camera of a supported model."""
    model = str(camera.model_name)
    if model not in SUPPORTED_MODELS:
        raise InvalidInputError(
            f"camera model {model} is not supported for splat training",
            model=model,
            supported=list(SUPPORTED_MODELS),
        )
    return np.array(
        [
            [camera.focal_length_x, 0.0, camera.principal_point_x],
            [0.0, camera.focal_length_y, camera.principal_point_y],
            [0.0, 0.0, 1.0],
        ]
    )


def _read_rgb(path: Path) -> npt.NDArray[np.uint8]:
    if not path.is_file():
        raise NotFoundError("an image of the COLMAP model is missing", path=str(path))
    try:
        with Image.open(path) as opened:
            return np.asarray(opened.convert("RGB"), dtype=np.uint8)
    except OSError as error:
        raise InvalidInputError(f"cannot read image: {error}", path=str(path)) from error


def load_colmap_scene(sparse_dir: Path, image_dir: Path, *, max_side: int | None) -> SceneData:
    """The registered views and 3D points of the COLMAP model in ``sparse_dir``.

    Args:
        sparse_dir: folder with cameras/images/points3D (.bin or .txt).
        image_dir: folder the model's image names are relative to.
        max_side: longest image side after loading (images and K shrink to fit), None to keep.
    """
    import pycolmap

    if not sparse_dir.is_dir():
        raise NotFoundError("the COLMAP model folder does not exist", path=str(sparse_dir))
    try:
        reconstruction = pycolmap.Reconstruction(str(sparse_dir))
    except Exception as error:  # pycolmap raises plain RuntimeError/ValueError
        raise ReconstructionError(
            f"cannot read the COLMAP model: {error}", path=str(sparse_dir)
        ) from error
    registered = sorted(
        (image for image in reconstruction.images.values() if image.has_pose),
        key=lambda image: str(image.name),
    )
    if not registered:
        raise ReconstructionError("the COLMAP model has no registered images", path=str(sparse_dir))
    images: list[npt.NDArray[np.uint8]] = []
    cameras: list[SplatCamera] = []
    for image in registered:
        colmap_camera = reconstruction.cameras[image.camera_id]
        camera = SplatCamera.from_numpy(
            _intrinsics(colmap_camera),
            np.asarray(image.cam_from_world().matrix(), dtype=np.float64),  # [3, 4]
            int(colmap_camera.width),
            int(colmap_camera.height),
        )
        pixels = _read_rgb(image_dir / str(image.name))
        height, width = pixels.shape[:2]
        if (width, height) != (camera.width, camera.height):
            # Frames stored at another size than the model's camera: same view, rescaled K.
            camera = camera.scaled(width, height)
        pixels, camera = downscale_view(pixels, camera, max_side)
        images.append(pixels)
        cameras.append(camera)
    points3d = list(reconstruction.points3D.values())
    if not points3d:
        raise ReconstructionError("the COLMAP model has no 3D points", path=str(sparse_dir))
    points = np.array([point.xyz for point in points3d], dtype=np.float64).reshape(-1, 3)
    colors = np.array([point.color for point in points3d], dtype=np.float64).reshape(-1, 3)
    return SceneData(
        images=images,
        cameras=cameras,
        points=points,
        colors=colors / 255.0,
        names=[str(image.name) for image in registered],
    )
