"""Train 3D Gaussian splats on posed images: Adam, gsplat's DefaultStrategy, resumable.

The loop is gsplat's ``simple_trainer`` reduced to one image per step: render a training view
with the selected rasterizer, loss (1 − λ)·L1 + λ·(1 − SSIM), backward, one Adam step per
parameter group, then densify/prune with ``DefaultStrategy`` (capped at ``max_gaussians``). Every
``test_every``-th view is held out; PSNR/SSIM on those views are measured before and after.
With a checkpoint path the state (parameters, optimizers, strategy, RNG, step) is saved
atomically every ``checkpoint_every`` steps and at the end, and a later call resumes from it.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from gsplat.strategy import DefaultStrategy
from gsplat.strategy.ops import remove
from torch import Tensor

from vantage.capture.splat.backend import Rasterizer, resolve_device, select_rasterizer
from vantage.capture.splat.camera import SplatCamera
from vantage.capture.splat.checkpoint import load_checkpoint, save_checkpoint
from vantage.capture.splat.gaussians import Gaussians
from vantage.capture.splat.metrics import psnr, splat_loss, ssim
from vantage.capture.splat.options import PRESETS, LearningRates, TrainOptions
from vantage.capture.splat.scene import SceneData, downscale_scene
from vantage.errors import TooFewImagesError

__all__ = ["PRESETS", "SceneData", "TrainOptions", "TrainResult", "train"]

ProgressFn = Callable[[float, str], None]
PROGRESS_EVERY_S = 0.5


@dataclass(frozen=True)
class TrainResult:
    """What a training run produced and how well it does on the held-out views."""

    iterations: int  # steps the model has been trained for in total
    gaussians: Gaussians
    backend: str  # "cpu" or "gsplat"
    psnr_initial: float  # held-out PSNR (dB) of the initial Gaussians
    psnr_test: float  # held-out PSNR (dB) after training
    ssim_test: float
    seconds: float  # wall time of this call
    step_s_mean: float  # mean seconds per training step in this call
    test_views: int  # held-out views measured (0: the training views were measured instead)
    resumed_from: int = 0  # the checkpoint step this call started from

    @property
    def gaussian_count(self) -> int:
        """Number of Gaussians in the result."""
        return len(self.gaussians)


def split_views(count: int, test_every: int) -> tuple[list[int], list[int]]:
    """Training and held-out view indices: every ``test_every``-th view (0, n, 2n …) is held out."""
    if count < 2 and test_every > 0:
        raise TooFewImagesError("splat training needs at least 2 images", images=count)
    if count < 1:
        raise TooFewImagesError("splat training needs at least 1 image", images=count)
    test = [i for i in range(count) if test_every > 0 and i % test_every == 0]
    return [i for i in range(count) if i not in set(test)], test


def scene_scale(cameras: list[SplatCamera]) -> float:
    """1.1 × the largest distance of a camera centre from their mean (gsplat's scene scale)."""
    centres = torch.stack([camera.center.double().cpu() for camera in cameras])  # [C, 3]
    extent = float(torch.linalg.vector_norm(centres - centres.mean(0), dim=1).max())
    return 1.1 * extent if extent > 1e-9 else 1.0


def make_optimizers(
    params: dict[str, torch.nn.Parameter], rates: LearningRates, scale: float
) -> dict[str, torch.optim.Optimizer]:
    """One Adam per parameter, as ``DefaultStrategy`` requires."""
    per_name = {
        "means": rates.means * scale,
        "scales": rates.scales,
        "quats": rates.quats,
        "opacities": rates.opacities,
        "sh0": rates.sh0,
        "shN": rates.shN,
    }
    return {
        name: torch.optim.Adam([{"params": [params[name]], "lr": lr, "name": name}], eps=1e-15)
        for name, lr in per_name.items()
    }


def _strategy(options: TrainOptions) -> DefaultStrategy:
    settings = options.densify
    return DefaultStrategy(
        prune_opa=settings.prune_opa,
        grow_grad2d=settings.grow_grad2d,
        grow_scale3d=settings.grow_scale3d,
        prune_scale3d=settings.prune_scale3d,
        refine_start_iter=settings.refine_start,
        refine_stop_iter=settings.refine_stop,
        refine_every=settings.refine_every,
        reset_every=settings.reset_every,
    )


@torch.no_grad()
def evaluate(
    rasterizer: Rasterizer,
    gaussians: Gaussians,
    views: list[tuple[SplatCamera, Tensor]],
    sh_degree: int,
    background: Tensor,
) -> tuple[float, float]:
    """Mean PSNR (dB) and SSIM of renders of ``views`` (camera, target [H, W, 3] in 0..1)."""
    scores = []
    for camera, target in views:
        image, _ = rasterizer.render(gaussians, camera, sh_degree, background)
        image = image.clamp(0.0, 1.0)
        scores.append((psnr(image, target), float(ssim(image, target))))
    return float(np.mean([s[0] for s in scores])), float(np.mean([s[1] for s in scores]))


@torch.no_grad()
def _cap(
    gaussians: Gaussians,
    optimizers: dict[str, torch.optim.Optimizer],
    state: dict[str, Any],
    limit: int,
) -> None:
    """Prune the faintest Gaussians beyond ``limit``."""
    excess = len(gaussians) - limit
    if excess <= 0:
        return
    faintest = torch.topk(gaussians.opacity_logits, excess, largest=False).indices
    mask = torch.zeros(len(gaussians), dtype=torch.bool, device=faintest.device)
    mask[faintest] = True
    remove(params=gaussians.params, optimizers=optimizers, state=state, mask=mask)


class _Progress:
    """Calls ``progress`` at most every 0.5 s (and always for the last step)."""

    def __init__(self, progress: ProgressFn | None) -> None:
        self.progress = progress
        self.last = -math.inf

    def __call__(self, step: int, total: int, loss: float, count: int, force: bool) -> None:
        now = time.monotonic()
        if self.progress is None or (not force and now - self.last < PROGRESS_EVERY_S):
            return
        self.last = now
        self.progress(step / total, f"step {step}/{total}, loss {loss:.4f}, {count} gaussians")


@dataclass
class _Run:
    """The mutable state of a training run."""

    gaussians: Gaussians
    optimizers: dict[str, torch.optim.Optimizer]
    strategy: DefaultStrategy
    strategy_state: dict[str, Any]
    first_step: int
    psnr_initial: float

    def save(self, path: Path, step: int, names: list[str]) -> None:
        """Checkpoint the run after ``step`` steps."""
        save_checkpoint(
            path,
            step,
            self.gaussians,
            self.optimizers,
            self.strategy_state,
            self.psnr_initial,
            names,
        )


def _start(
    scene: SceneData,
    options: TrainOptions,
    rasterizer: Rasterizer,
    eval_views: list[tuple[SplatCamera, Tensor]],
    checkpoint: Path | None,
    device: torch.device,
) -> _Run:
    """Fresh Gaussians from the scene's points, or the state saved in ``checkpoint``."""
    scale = scene_scale(scene.cameras)
    resumed = load_checkpoint(checkpoint, device, scene.names) if checkpoint else None
    if resumed is None:
        torch.manual_seed(options.seed)
        gaussians = Gaussians.from_points(
            scene.points,
            scene.colors,
            options.sh_degree,
            init_opacity=options.init_opacity,
            init_scale=options.init_scale,
        ).to(device)
        background = torch.tensor(options.background, device=device)
        psnr_initial, _ = evaluate(rasterizer, gaussians, eval_views, 0, background)
    else:
        gaussians = Gaussians(resumed.params)
        psnr_initial = resumed.psnr_initial
        torch.set_rng_state(resumed.rng_state)
        if resumed.cuda_rng_states and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(resumed.cuda_rng_states)
    optimizers = make_optimizers(gaussians.params, options.lr, scale)
    strategy = _strategy(options)
    strategy.check_sanity(gaussians.params, optimizers)
    strategy_state = strategy.initialize_state(scene_scale=scale)
    if resumed is not None:
        for name, optimizer in optimizers.items():
            optimizer.load_state_dict(resumed.optimizers[name])
        strategy_state.update(resumed.strategy_state)
    first_step = resumed.step if resumed else 0
    return _Run(gaussians, optimizers, strategy, strategy_state, first_step, psnr_initial)


def _step(
    run: _Run,
    step: int,
    camera: SplatCamera,
    target: Tensor,
    rasterizer: Rasterizer,
    options: TrainOptions,
    background: Tensor,
) -> float:
    """One optimisation step on one view; returns the loss."""
    sh_degree = min(step // options.sh_degree_every, options.sh_degree)
    params, optimizers, state = run.gaussians.params, run.optimizers, run.strategy_state
    image, info = rasterizer.render(run.gaussians, camera, sh_degree, background)
    run.strategy.step_pre_backward(params, optimizers, state, step, info)
    loss = splat_loss(image, target, options.ssim_lambda)
    torch.autograd.backward(loss)
    for optimizer in optimizers.values():
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    # After the optimizer, as gsplat's trainer does: densification replaces the Parameters.
    run.strategy.step_post_backward(params, optimizers, state, step, info, packed=False)
    _cap(run.gaussians, optimizers, state, options.max_gaussians)
    return float(loss.detach())


def train(
    scene: SceneData,
    options: TrainOptions,
    progress: ProgressFn | None = None,
    *,
    checkpoint: Path | None = None,
) -> TrainResult:
    """Train Gaussians on ``scene``; resume from ``checkpoint`` if it exists, save it as it goes.

    Args:
        scene: posed images and the initial point cloud.
        options: the training options (see `TrainOptions.preset`).
        progress: called with (fraction done, message) at most every 0.5 s.
        checkpoint: file to resume from and save to (atomically), or None.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(options.threads or os.cpu_count() or 1)
    try:
        return _train(scene, options, progress, checkpoint)
    finally:
        torch.set_num_threads(threads)


def _views(scene: SceneData, device: torch.device) -> tuple[list[SplatCamera], list[Tensor]]:
    cameras = [camera.to(device) for camera in scene.cameras]
    targets = [
        torch.tensor(image, dtype=torch.float32, device=device) / 255.0 for image in scene.images
    ]
    return cameras, targets


def evaluation_views(
    scene: SceneData, options: TrainOptions
) -> tuple[list[tuple[SplatCamera, Tensor]], Tensor]:
    """The held-out (camera, target) pairs `train` scores on, on the CPU, and the background.

    The same views at the same size as training's PSNR/SSIM, so a compressed copy of the trained
    Gaussians can be scored against the same figures.
    """
    scene = downscale_scene(scene, options.max_side)
    train_ids, test_ids = split_views(len(scene.images), options.test_every)
    cameras, targets = _views(scene, torch.device("cpu"))
    background = torch.tensor(options.background, dtype=torch.float32)
    return [(cameras[i], targets[i]) for i in (test_ids or train_ids)], background


def _train(
    scene: SceneData,
    options: TrainOptions,
    progress: ProgressFn | None,
    checkpoint: Path | None,
) -> TrainResult:
    started = time.perf_counter()
    device = resolve_device(options.device)
    rasterizer = select_rasterizer(device, tile_size=options.tile_size)
    scene = downscale_scene(scene, options.max_side)
    train_ids, test_ids = split_views(len(scene.images), options.test_every)
    cameras, targets = _views(scene, device)
    eval_views = [(cameras[i], targets[i]) for i in (test_ids or train_ids)]
    background = torch.tensor(options.background, dtype=torch.float32, device=device)
    run = _start(scene, options, rasterizer, eval_views, checkpoint, device)
    means_lr = options.lr.means * scene_scale(scene.cameras)
    decay = options.lr.means_final_ratio ** (1.0 / options.iterations)
    report = _Progress(progress)
    step_times: list[float] = []
    for step in range(run.first_step, options.iterations):
        tic = time.perf_counter()
        view = _view_for_step(step, train_ids, options.seed)
        run.optimizers["means"].param_groups[0]["lr"] = means_lr * decay**step
        loss = _step(run, step, cameras[view], targets[view], rasterizer, options, background)
        step_times.append(time.perf_counter() - tic)
        done = step + 1
        last = done == options.iterations
        if checkpoint is not None and (done % options.checkpoint_every == 0 or last):
            run.save(checkpoint, done, scene.names)
        # After the checkpoint: a callback that raises (a cancelled job) loses no saved step.
        report(done, options.iterations, loss, len(run.gaussians), last)

    trained = max(options.iterations, run.first_step)
    degree = min((trained - 1) // options.sh_degree_every, options.sh_degree)
    psnr_test, ssim_test = evaluate(rasterizer, run.gaussians, eval_views, degree, background)
    return TrainResult(
        iterations=trained,
        gaussians=run.gaussians.detached_copy(),
        backend=rasterizer.name,
        psnr_initial=run.psnr_initial,
        psnr_test=psnr_test,
        ssim_test=ssim_test,
        seconds=time.perf_counter() - started,
        step_s_mean=float(np.mean(step_times)) if step_times else 0.0,
        test_views=len(test_ids),
        resumed_from=run.first_step,
    )


def _view_for_step(step: int, train_ids: list[int], seed: int) -> int:
    """The training view of ``step``: a fresh shuffle of the views each epoch (resumable)."""
    epoch, offset = divmod(step, len(train_ids))
    order = np.random.default_rng([seed, epoch]).permutation(len(train_ids))
    return train_ids[int(order[offset])]
