"""Seconds per CPU splat training step: our tile rasterizer, beside the dense reference.

A step is what `vantage.capture.splat.train` does per image: render one view with the CPU tile
rasterizer (4×4 tiles), (1 − λ)·L1 + λ·(1 − SSIM), backward, one Adam step per parameter group
and DefaultStrategy's gradient statistics. Scenes are random: Gaussians initialised like a real
run (3-NN scales, opacity 0.1, SH degree 3) from points on a sphere and a ground plane, seen by a
ring of cameras, with random target images.

The baseline is `rasterize_dense` (every Gaussian at every pixel) in the same step; it is only
feasible on small sizes, so the ratio is printed for those, and ours alone for the large ones.

    .venv/bin/python bench/splat_train_step.py [--steps 12] [--threads N] [--tile-size 4]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from gsplat.strategy import DefaultStrategy

from vantage.capture.splat.camera import SplatCamera
from vantage.capture.splat.gaussians import Gaussians
from vantage.capture.splat.metrics import splat_loss
from vantage.capture.splat.options import LearningRates
from vantage.capture.splat.rasterize_cpu import rasterize_tiles
from vantage.capture.splat.rasterize_dense import rasterize_dense
from vantage.capture.splat.synthetic import ring_cameras
from vantage.capture.splat.train import make_optimizers, scene_scale

Render = Callable[[Gaussians, SplatCamera], tuple[torch.Tensor, dict[str, Any]]]
LARGE = [(20_000, 160, 120), (50_000, 160, 120), (20_000, 320, 240), (50_000, 320, 240)]
SMALL = [(2_000, 80, 60), (5_000, 160, 120)]


def random_gaussians(count: int, seed: int = 0) -> Gaussians:
    """Gaussians as training starts them, on a unit sphere and a 4×4 ground plane."""
    rng = np.random.default_rng(seed)
    on_plane = count // 3
    directions = rng.normal(size=(count - on_plane, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    plane = np.c_[rng.uniform(-2.0, 2.0, (on_plane, 2)), np.full(on_plane, -1.0)]
    points = np.concatenate([directions, plane])
    return Gaussians.from_points(points, rng.uniform(0.0, 1.0, points.shape), sh_degree=3)


def tiles(tile_size: int) -> Render:
    def render(gaussians: Gaussians, camera: SplatCamera) -> tuple[torch.Tensor, dict[str, Any]]:
        return rasterize_tiles(
            *gaussians.activated(), camera, 3, torch.zeros(3), tile_size=tile_size
        )

    return render


def dense(gaussians: Gaussians, camera: SplatCamera) -> tuple[torch.Tensor, dict[str, Any]]:
    image = rasterize_dense(*gaussians.activated(), camera, 3, torch.zeros(3))
    return image, {}


def step_seconds(count: int, width: int, height: int, render: Render, steps: int) -> list[float]:
    """Wall seconds of ``steps`` training steps (after one warm-up step)."""
    gaussians = random_gaussians(count)
    cameras = ring_cameras(8, width, height, radius=3.2, elevation=1.0, focal_scale=0.9)
    targets = [
        torch.rand(height, width, 3, generator=torch.Generator().manual_seed(i)) for i in range(8)
    ]
    scale = scene_scale(cameras)
    optimizers = make_optimizers(gaussians.params, LearningRates(), scale)
    strategy = DefaultStrategy(refine_start_iter=10**9)  # statistics only, no densification
    state = strategy.initialize_state(scene_scale=scale)
    times = []
    for step in range(steps + 1):
        view = step % len(cameras)
        tic = time.perf_counter()
        image, info = render(gaussians, cameras[view])
        if info:
            strategy.step_pre_backward(gaussians.params, optimizers, state, step, info)
        loss = splat_loss(image, targets[view], 0.2)
        torch.autograd.backward(loss)
        for optimizer in optimizers.values():
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        if info:
            strategy.step_post_backward(gaussians.params, optimizers, state, step, info)
        times.append(time.perf_counter() - tic)
    return times[1:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=12, help="timed steps per case")
    parser.add_argument("--baseline-steps", type=int, default=2)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--tile-size", type=int, default=4, choices=(4, 8, 16))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(
        f"torch {torch.__version__}, {args.threads} threads, "
        f"{args.tile_size}×{args.tile_size} tiles"
    )
    print(
        f"{'gaussians':>9} {'image':>8} {'ours median s':>14} {'ours min s':>11} "
        f"{'dense s':>9} {'dense/ours':>10}"
    )
    for count, width, height in SMALL + LARGE:
        ours = step_seconds(count, width, height, tiles(args.tile_size), args.steps)
        line = (
            f"{count:>9} {width:>4}×{height:<3} {statistics.median(ours):>14.4f} {min(ours):>11.4f}"
        )
        if (count, width, height) in SMALL:
            baseline = statistics.median(
                step_seconds(count, width, height, dense, args.baseline_steps)
            )
            line += f" {baseline:>9.3f} {baseline / statistics.median(ours):>9.0f}×"
        print(line, flush=True)


if __name__ == "__main__":
    main()
