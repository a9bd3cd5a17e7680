"""What splat training consumes: posed images and a coloured point cloud, and its resizing.

A `SceneData` is plain data (numpy images, `SplatCamera`s, points) so any source can build one:
a COLMAP model (`colmap_scene`), a synthetic test scene, a future capture format.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PIL import Image

from vantage.capture.splat.camera import SplatCamera
from vantage.errors import InvalidInputError


@dataclass(frozen=True)
class SceneData:
    """Posed images and an initial point cloud."""

    images: list[npt.NDArray[np.uint8]]  # each [H, W, 3]
    cameras: list[SplatCamera]  # one per image, sized like it
    points: npt.NDArray[np.float64]  # [M, 3]
    colors: npt.NDArray[np.float64]  # [M, 3] in 0..1
    names: list[str]

    def __post_init__(self) -> None:
        if not (len(self.images) == len(self.cameras) == len(self.names)):
            raise InvalidInputError(
                "a scene needs one camera and one name per image",
                images=len(self.images),
                cameras=len(self.cameras),
                names=len(self.names),
            )
        for name, image, camera in zip(self.names, self.images, self.cameras, strict=True):
            if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
                raise InvalidInputError(
                    "scene images must be uint8 [H, W, 3]", name=name, shape=list(image.shape)
                )
            if image.shape[:2] != (camera.height, camera.width):
                raise InvalidInputError(
                    "an image and its camera disagree on the size",
                    name=name,
                    image=[image.shape[1], image.shape[0]],
                    camera=[camera.width, camera.height],
                )
        points_ok = self.points.ndim == 2 and self.points.shape[1] == 3
        if not points_ok or self.colors.shape != self.points.shape:
            raise InvalidInputError(
                "scene points and colours must both be [M, 3]",
                points=list(self.points.shape),
                colors=list(self.colors.shape),
            )


def fit_size(width: int, height: int, max_side: int | None) -> tuple[int, int]:
    """The size of a ``width`` × ``height`` image shrunk (never grown) to ``max_side``."""
    if max_side is None or max(width, height) <= max_side:
        return width, height
    scale = max_side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def downscale_view(
    image: npt.NDArray[np.uint8], camera: SplatCamera, max_side: int | None
) -> tuple[npt.NDArray[np.uint8], SplatCamera]:
    """The image and camera resampled so the longest side is at most ``max_side``."""
    width, height = fit_size(camera.width, camera.height, max_side)
    if (width, height) == (camera.width, camera.height):
        return image, camera
    resized = Image.fromarray(image).resize((width, height), Image.Resampling.LANCZOS)
    return np.asarray(resized, dtype=np.uint8), camera.scaled(width, height)


def downscale_scene(scene: SceneData, max_side: int | None) -> SceneData:
    """``scene`` with every view shrunk to ``max_side`` (itself when nothing changes)."""
    views = [
        downscale_view(image, camera, max_side)
        for image, camera in zip(scene.images, scene.cameras, strict=True)
    ]
    if all(new is old for (new, _), old in zip(views, scene.images, strict=True)):
        return scene
    return SceneData(
        images=[image for image, _ in views],
        cameras=[camera for _, camera in views],
        points=scene.points,
        colors=scene.colors,
        names=scene.names,
    )
