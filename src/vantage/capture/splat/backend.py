"""Rasterizer backends behind one protocol: our CPU tile rasterizer, or gsplat's CUDA kernels.

Both render a `Gaussians` set into one `SplatCamera` and return the image [H, W, 3] with the info
dict gsplat's ``DefaultStrategy`` reads (``packed=False`` layout, one camera). The backend is
chosen by device through an explicit table, never by probing subclasses.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import torch
from torch import Tensor

from vantage.capture.splat.camera import SplatCamera
from vantage.capture.splat.gaussians import Gaussians
from vantage.capture.splat.rasterize_cpu import rasterize_tiles
from vantage.errors import ConfigError


class Rasterizer(Protocol):
    """Renders Gaussians into one view."""

    #: Short name recorded with results ("cpu", "gsplat").
    name: str

    def render(
        self,
        gaussians: Gaussians,
        camera: SplatCamera,
        sh_degree: int,
        background: Tensor,
    ) -> tuple[Tensor, dict[str, Any]]:
        """The image [H, W, 3] and the densification info of ``gaussians`` seen from ``camera``."""
        ...


class CpuRasterizer:
    """Our pure-PyTorch tile rasterizer (`rasterize_cpu`); works on any device, made for CPU."""

    name = "cpu"

    def __init__(self, tile_size: int = 4) -> None:
        self.tile_size = tile_size

    def render(
        self,
        gaussians: Gaussians,
        camera: SplatCamera,
        sh_degree: int,
        background: Tensor,
    ) -> tuple[Tensor, dict[str, Any]]:
        """The image [H, W, 3] and the densification info of ``gaussians`` seen from ``camera``."""
        means, quats, scales, opacities, coeffs = gaussians.activated()
        return rasterize_tiles(
            means,
            quats,
            scales,
            opacities,
            coeffs,
            camera,
            sh_degree,
            background,
            tile_size=self.tile_size,
        )


class GsplatRasterizer:
    """gsplat's fused CUDA rasterizer (``packed=False``); needs a CUDA device."""

    name = "gsplat"

    def render(
        self,
        gaussians: Gaussians,
        camera: SplatCamera,
        sh_degree: int,
        background: Tensor,
    ) -> tuple[Tensor, dict[str, Any]]:
        """The image [H, W, 3] and the densification info of ``gaussians`` seen from ``camera``."""
        from gsplat import rasterization

        renders, _, info = rasterization(
            means=gaussians.means,
            quats=gaussians.quats,
            scales=torch.exp(gaussians.log_scales),
            opacities=torch.sigmoid(gaussians.opacity_logits),
            colors=gaussians.sh_coeffs(),
            viewmats=camera.viewmat[None],
            Ks=camera.K[None],
            width=camera.width,
            height=camera.height,
            sh_degree=sh_degree,
            packed=False,
            backgrounds=background[None],
        )
        image: Tensor = renders[0]
        return image, info


def _cpu(tile_size: int) -> Rasterizer:
    return CpuRasterizer(tile_size)


def _cuda(tile_size: int) -> Rasterizer:
    # gsplat's kernels use their own 16 px tiles; the CPU tile size does not apply.
    if not torch.cuda.is_available():
        raise ConfigError("device 'cuda' was asked for but torch sees no CUDA device")
    return GsplatRasterizer()


#: Device type → backend factory (taking the CPU tile size).
BACKENDS: dict[str, Callable[[int], Rasterizer]] = {"cpu": _cpu, "cuda": _cuda}


def resolve_device(device: str) -> torch.device:
    """``"auto"`` → CUDA when torch sees one, else CPU; other names are taken as given."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def select_rasterizer(device: str | torch.device, *, tile_size: int = 4) -> Rasterizer:
    """The backend for ``device`` ("auto", "cpu", "cuda", "cuda:1", …)."""
    resolved = resolve_device(device) if isinstance(device, str) else device
    factory = BACKENDS.get(resolved.type)
    if factory is None:
        raise ConfigError(
            f"no rasterizer for device {str(resolved)!r}",
            device=str(resolved),
            known=list(BACKENDS),
        )
    return factory(tile_size)


def available_backends() -> list[str]:
    """Device types whose backend can run here ("cpu" always, "cuda" with a GPU)."""
    return [name for name in BACKENDS if name == "cpu" or torch.cuda.is_available()]
