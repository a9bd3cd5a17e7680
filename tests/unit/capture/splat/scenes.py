"""Random Gaussian sets and a camera for rasterizer tests, with the hard cases built in."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from vantage.capture.splat.camera import SplatCamera, intrinsics, look_at

WIDTH, HEIGHT = 40, 30


@dataclass(frozen=True)
class RandomScene:
    """Pre-activation parameters (as trained) and the camera looking at them."""

    means: Tensor  # [N, 3]
    quats: Tensor  # [N, 4] unnormalised
    log_scales: Tensor  # [N, 3]
    opacity_logits: Tensor  # [N]
    sh: Tensor  # [N, K, 3]
    camera: SplatCamera
    background: Tensor  # [3]

    def leaves(self) -> list[Tensor]:
        """Copies of the parameters that require grad."""
        return [
            t.detach().clone().requires_grad_(True)
            for t in (
                self.means,
                self.quats,
                self.log_scales,
                self.opacity_logits,
                self.sh,
                self.background,
            )
        ]


def activate(
    means: Tensor, quats: Tensor, log_scales: Tensor, logits: Tensor, sh: Tensor
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """The arguments both rasterizers take, from pre-activation parameters."""
    return (
        means,
        torch.nn.functional.normalize(quats, dim=-1),
        torch.exp(log_scales),
        torch.sigmoid(logits),
        sh,
    )


def random_scene(
    count: int = 150,
    seed: int = 0,
    sh_degree: int = 3,
    dtype: torch.dtype = torch.float32,
    max_opacity: float = 0.999,
) -> RandomScene:
    """Overlapping Gaussians of many sizes and opacities in front of a 40×30 camera.

    Besides the random bulk: 4 behind the camera, 4 far off-screen, 4 nearly opaque (alpha
    clamps at 0.99), 4 too faint to draw, 4 tiny, 2 large.
    """
    g = torch.Generator().manual_seed(seed)

    def uniform(low: float, high: float, *shape: int) -> Tensor:
        return torch.rand(*shape, generator=g, dtype=torch.float64) * (high - low) + low

    means = torch.randn(count, 3, generator=g, dtype=torch.float64) * torch.tensor([1.4, 1.0, 1.1])
    log_scales = uniform(-3.5, -0.8, count, 3)
    opacity = uniform(0.05, min(max_opacity, 0.95), count)
    means[:4, 1] = -5.0 - uniform(0.0, 1.0, 4)  # behind the camera (it sits at y = -4)
    means[4:8] = torch.tensor(
        [[6.0, 0.0, 0.0], [-6.0, 0.5, 0.0], [0.0, 0.0, 5.0], [0.0, 1.0, -5.0]]
    )
    means[8:12] = uniform(-0.6, 0.6, 4, 3)  # in view, near the centre
    log_scales[8:12] = -1.2
    opacity[8:12] = max_opacity
    opacity[12:16] = 0.002
    log_scales[16:20] = -6.0
    log_scales[20:22] = -0.2
    quats = torch.randn(count, 4, generator=g, dtype=torch.float64)
    sh = torch.randn(count, (sh_degree + 1) ** 2, 3, generator=g, dtype=torch.float64) * 0.3
    camera = SplatCamera.from_numpy(
        intrinsics(36.0, WIDTH, HEIGHT), look_at([0.3, -4.0, 0.6], [0.0, 0.0, 0.0]), WIDTH, HEIGHT
    ).to("cpu", dtype)
    return RandomScene(
        means=means.to(dtype),
        quats=quats.to(dtype),
        log_scales=log_scales.to(dtype),
        opacity_logits=torch.logit(opacity).to(dtype),
        sh=sh.to(dtype),
        camera=camera,
        background=torch.tensor([0.1, 0.2, 0.3], dtype=dtype),
    )
