"""The CPU tile rasterizer against the dense per-pixel reference: images, gradients, info."""

from __future__ import annotations

import pytest
import torch
from gsplat.strategy import DefaultStrategy

from vantage.capture.splat.projection import project
from vantage.capture.splat.rasterize_cpu import rasterize_tiles
from vantage.capture.splat.rasterize_dense import rasterize_dense

from .scenes import HEIGHT, WIDTH, activate, random_scene


@pytest.mark.parametrize("tile_size", [4, 8])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_tiles_match_the_dense_reference(tile_size: int, seed: int) -> None:
    scene = random_scene(150, seed)
    args = activate(scene.means, scene.quats, scene.log_scales, scene.opacity_logits, scene.sh)
    image, info = rasterize_tiles(*args, scene.camera, 3, scene.background, tile_size=tile_size)
    reference = rasterize_dense(*args, scene.camera, 3, scene.background)
    assert image.shape == (HEIGHT, WIDTH, 3)
    assert torch.max(torch.abs(image - reference)) <= 1e-3
    # The hard cases were really there: culled rows, clamped alphas, a busy image.
    visible = info["visible"]
    assert not visible[:8].any()  # behind the camera and off-screen
    assert visible[8:12].all()  # the nearly opaque ones
    assert not visible[12:16].any()  # too faint to reach 1/255 anywhere
    assert info["n_intersections"] > 2 * len(args[0])


@pytest.mark.parametrize("sh_degree", [0, 1, 3])
def test_sh_degrees_match_the_dense_reference(sh_degree: int) -> None:
    scene = random_scene(80, seed=7, sh_degree=3)
    args = activate(scene.means, scene.quats, scene.log_scales, scene.opacity_logits, scene.sh)
    image, _ = rasterize_tiles(*args, scene.camera, sh_degree, scene.background, tile_size=8)
    reference = rasterize_dense(*args, scene.camera, sh_degree, scene.background)
    assert torch.max(torch.abs(image - reference)) <= 1e-3


@pytest.mark.parametrize("tile_size", [4, 8])
def test_gradients_match_the_dense_reference(tile_size: int) -> None:
    scene = random_scene(60, seed=5, dtype=torch.float64)
    weights = torch.randn(HEIGHT, WIDTH, 3, generator=torch.Generator().manual_seed(1)).double()
    grads = []
    for render in ("tiles", "dense"):
        leaves = scene.leaves()
        args = activate(*leaves[:5])
        if render == "tiles":
            image, _ = rasterize_tiles(*args, scene.camera, 3, leaves[5], tile_size=tile_size)
        else:
            image = rasterize_dense(*args, scene.camera, 3, leaves[5])
        torch.autograd.backward((image * weights).sum())
        grads.append([leaf.grad for leaf in leaves])
    names = ("means", "quats", "log_scales", "opacity_logits", "sh", "background")
    for name, tiles, dense in zip(names, *grads, strict=True):
        assert tiles is not None and dense is not None
        assert float(dense.abs().max()) > 0.0, name
        # float64 both ways; what differs is float32 rounding in the camera's pose only.
        torch.testing.assert_close(tiles, dense, rtol=1e-5, atol=1e-6 * float(dense.abs().max()))


def test_gradcheck_of_the_tile_rasterizer() -> None:
    scene = random_scene(12, seed=3, sh_degree=1, dtype=torch.float64, max_opacity=0.9)
    fixed = activate(scene.means, scene.quats, scene.log_scales, scene.opacity_logits, scene.sh)

    def render(means: torch.Tensor, logits: torch.Tensor, sh: torch.Tensor) -> torch.Tensor:
        args = (means, fixed[1], fixed[2], torch.sigmoid(logits), sh)
        image, _ = rasterize_tiles(*args, scene.camera, 1, scene.background, tile_size=4)
        return image

    inputs = (
        scene.means.clone().requires_grad_(True),
        scene.opacity_logits.clone().requires_grad_(True),
        scene.sh.clone().requires_grad_(True),
    )
    assert torch.autograd.gradcheck(render, inputs, eps=1e-6, atol=1e-7, rtol=1e-5, fast_mode=True)


def test_float32_gradients_stay_close() -> None:
    scene = random_scene(60, seed=9)
    weights = torch.randn(HEIGHT, WIDTH, 3, generator=torch.Generator().manual_seed(2))
    grads = []
    for render in (rasterize_tiles, rasterize_dense):
        leaves = scene.leaves()
        image = render(*activate(*leaves[:5]), scene.camera, 3, leaves[5])
        image = image[0] if isinstance(image, tuple) else image
        torch.autograd.backward((image * weights).sum())
        grads.append([leaf.grad for leaf in leaves])
    for tiles, dense in zip(*grads, strict=True):
        assert tiles is not None and dense is not None
        torch.testing.assert_close(tiles, dense, rtol=1e-3, atol=1e-4 * float(dense.abs().max()))


def test_info_has_what_densification_reads() -> None:
    scene = random_scene(100, seed=4)
    leaves = scene.leaves()
    image, info = rasterize_tiles(*activate(*leaves[:5]), scene.camera, 3, leaves[5])
    count = len(scene.means)
    assert info["means2d"].shape == (1, count, 2)
    assert info["radii"].shape == (1, count, 2) and info["radii"].dtype == torch.int32
    assert torch.equal((info["radii"][0] > 0).all(-1), info["visible"])
    assert (info["width"], info["height"], info["n_cameras"]) == (WIDTH, HEIGHT, 1)
    torch.autograd.backward(image.sum())
    grad = info["means2d"].grad
    assert grad is not None and grad.shape == (1, count, 2)
    assert float(grad[0, ~info["visible"]].abs().max()) == 0.0
    assert float(grad[0, info["visible"]].abs().max()) > 0.0
    # gsplat's DefaultStrategy accumulates statistics from it as from its own rasterizer.
    strategy = DefaultStrategy()
    state = strategy.initialize_state(scene_scale=1.0)
    strategy._update_state({"means": leaves[0]}, state, info, packed=False)
    assert torch.equal(state["count"] > 0, info["visible"])
    assert float(state["grad2d"][info["visible"]].min()) >= 0.0


def test_means2d_are_the_pinhole_projection() -> None:
    scene = random_scene(40, seed=6)
    args = activate(scene.means, scene.quats, scene.log_scales, scene.opacity_logits, scene.sh)
    proj = project(*args, scene.camera, 0)
    cam = scene.camera
    world = torch.cat([scene.means, torch.ones(len(scene.means), 1)], dim=1)
    in_camera = (cam.viewmat @ world.T)[:3]
    pixels = (cam.K @ in_camera)[:2] / in_camera[2]
    front = proj.depths > 0.01
    torch.testing.assert_close(proj.means2d[:, front], pixels[:, front])


def test_nothing_visible_renders_the_background_and_backpropagates() -> None:
    scene = random_scene(30, seed=0)
    leaves = scene.leaves()
    with torch.no_grad():
        leaves[0][:, 1] = -10.0  # everything behind the camera
    image, info = rasterize_tiles(*activate(*leaves[:5]), scene.camera, 3, leaves[5])
    torch.testing.assert_close(image, scene.background.expand(HEIGHT, WIDTH, 3))
    torch.autograd.backward(image.sum())
    assert not info["visible"].any()
    assert info["means2d"].grad is not None
