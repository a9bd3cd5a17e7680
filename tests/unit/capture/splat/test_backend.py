"""Rasterizer backends: each available one renders what the dense reference renders."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from vantage.capture.splat.backend import (
    CpuRasterizer,
    GsplatRasterizer,
    available_backends,
    select_rasterizer,
)
from vantage.capture.splat.gaussians import Gaussians
from vantage.capture.splat.rasterize_dense import rasterize_dense
from vantage.errors import ConfigError

from .scenes import HEIGHT, WIDTH, activate, random_scene

#: gsplat's kernel clamps alpha at 0.999 and stops at transmittance 1e-4; the scene keeps
#: opacities below both limits, which leaves float32 and fast-math differences.
TOLERANCE = {"cpu": 1e-3, "cuda": 5e-3}


@pytest.mark.parametrize("device", available_backends())
def test_backend_renders_the_reference_image(device: str) -> None:
    scene = random_scene(120, seed=11, max_opacity=0.95)
    gaussians = Gaussians.from_tensors(
        scene.means,
        scene.log_scales,
        scene.quats,
        scene.opacity_logits,
        scene.sh[:, :1],
        scene.sh[:, 1:],
    ).to(device)
    rasterizer = select_rasterizer(device)
    image, info = rasterizer.render(
        gaussians, scene.camera.to(device), 3, scene.background.to(device)
    )
    args = activate(scene.means, scene.quats, scene.log_scales, scene.opacity_logits, scene.sh)
    reference = rasterize_dense(*args, scene.camera, 3, scene.background)
    assert image.shape == (HEIGHT, WIDTH, 3)
    assert float(torch.max(torch.abs(image.detach().cpu() - reference))) <= TOLERANCE[device]
    assert info["means2d"].shape == (1, len(gaussians), 2)
    assert info["radii"].shape == (1, len(gaussians), 2)
    assert (info["width"], info["height"], info["n_cameras"]) == (WIDTH, HEIGHT, 1)


def test_selection_table() -> None:
    assert isinstance(select_rasterizer("cpu"), CpuRasterizer)
    assert select_rasterizer("cpu", tile_size=8).tile_size == 8  # type: ignore[attr-defined]
    with pytest.raises(ConfigError):
        select_rasterizer("meta")
    if torch.cuda.is_available():
        assert isinstance(select_rasterizer("cuda"), GsplatRasterizer)
        assert isinstance(select_rasterizer("auto"), GsplatRasterizer)
    else:
        with pytest.raises(ConfigError):
            select_rasterizer("cuda")
        assert isinstance(select_rasterizer("auto"), CpuRasterizer)


def test_capture_package_does_not_import_torch() -> None:
    probe = (
        "import json, sys; import vantage, vantage.capture; "
        "print(json.dumps([m for m in ('torch', 'gsplat') if m in sys.modules]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert json.loads(result.stdout) == []
