"""Synthetic splat scenes with known ground truth, for tests and benchmarks.

Ground-truth Gaussians are coloured blobs on a sphere and a ground plane; a ring of cameras looks
at them; the images are rendered with our CPU rasterizer; the point cloud that seeds training is
the blob centres, jittered and grey, so training has geometry and colour to recover.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import torch

from vantage.capture.splat.camera import SplatCamera, intrinsics, look_at
from vantage.capture.splat.gaussians import Gaussians, rgb_to_sh0
from vantage.capture.splat.rasterize_cpu import rasterize_tiles
from vantage.capture.splat.scene import SceneData


def ring_cameras(
    count: int,
    width: int,
    height: int,
    *,
    radius: float = 3.6,
    elevation: float = 1.3,
    focal_scale: float = 1.0,
) -> list[SplatCamera]:
    """``count`` cameras evenly spaced on a horizontal ring, all looking at the origin."""
    cameras = []
    for index in range(count):
        angle = 2.0 * math.pi * index / count
        eye = (radius * math.cos(angle), radius * math.sin(angle), elevation)
        cameras.append(
            SplatCamera.from_numpy(
                intrinsics(focal_scale * width, width, height),
                look_at(eye, (0.0, 0.0, -0.2)),
                width,
                height,
            )
        )
    return cameras


def _as_tensor(values: npt.NDArray[np.float64]) -> torch.Tensor:
    return torch.as_tensor(values, dtype=torch.float32)


def blob_gaussians(count: int, seed: int, sh_degree: int = 0) -> Gaussians:
    """``count`` opaque coloured blobs: two thirds on a unit sphere, the rest on the ground."""
    rng = np.random.default_rng(seed)
    on_sphere = count * 2 // 3
    directions = rng.normal(size=(on_sphere, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    ground = np.c_[rng.uniform(-2.0, 2.0, (count - on_sphere, 2)), np.full(count - on_sphere, -1.0)]
    means = np.concatenate([directions, ground])
    # Smooth colours of position, so neighbouring blobs agree and views constrain each other.
    colors = 0.5 + 0.45 * np.sin(np.array([1.7, 2.3, 2.9]) * means + np.array([0.0, 1.0, 2.0]))
    scales = rng.uniform(0.1, 0.2, (count, 3))
    quats = rng.normal(size=(count, 4))
    quats /= np.linalg.norm(quats, axis=1, keepdims=True)
    return Gaussians.from_tensors(
        means=_as_tensor(means),
        scales=torch.log(_as_tensor(scales)),
        quats=_as_tensor(quats),
        opacities=torch.full((count,), math.log(0.9 / 0.1)),
        sh0=rgb_to_sh0(_as_tensor(colors))[:, None, :],
        shN=torch.zeros(count, (sh_degree + 1) ** 2 - 1, 3),
    )


@torch.no_grad()
def render_views(
    gaussians: Gaussians, cameras: list[SplatCamera], background: tuple[float, float, float]
) -> list[npt.NDArray[np.uint8]]:
    """uint8 images [H, W, 3] of ``gaussians`` seen by ``cameras``."""
    means, quats, scales, opacities, coeffs = gaussians.activated()
    images = []
    for camera in cameras:
        image, _ = rasterize_tiles(
            means,
            quats,
            scales,
            opacities,
            coeffs,
            camera,
            gaussians.sh_degree,
            torch.tensor(background),
        )
        images.append(np.round(image.clamp(0.0, 1.0).numpy() * 255.0).astype(np.uint8))
    return images


def synthetic_scene(
    *,
    blobs: int = 300,
    views: int = 12,
    width: int = 80,
    height: int = 60,
    point_noise: float = 0.05,
    seed: int = 0,
) -> tuple[SceneData, Gaussians]:
    """A rendered ring of views of blob Gaussians, seeded with jittered grey points.

    Returns the scene and the ground-truth Gaussians.
    """
    truth = blob_gaussians(blobs, seed)
    cameras = ring_cameras(views, width, height)
    images = render_views(truth, cameras, (0.0, 0.0, 0.0))
    rng = np.random.default_rng(seed + 1)
    points = truth.means.detach().numpy().astype(np.float64)
    points = points + rng.normal(scale=point_noise, size=points.shape)
    scene = SceneData(
        images=images,
        cameras=cameras,
        points=points,
        colors=np.full(points.shape, 0.5),
        names=[f"view_{index:03d}.png" for index in range(views)],
    )
    return scene, truth
