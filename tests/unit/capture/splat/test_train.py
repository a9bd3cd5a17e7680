"""Training on a synthetic scene: it learns, it resumes, its options and splits behave."""

from __future__ import annotations

import dataclasses
import importlib
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import Tensor

from vantage.capture.splat.backend import CpuRasterizer
from vantage.capture.splat.camera import SplatCamera
from vantage.capture.splat.checkpoint import load_checkpoint
from vantage.capture.splat.gaussians import Gaussians
from vantage.capture.splat.options import PRESETS, DensifyOptions, LearningRates, TrainOptions
from vantage.capture.splat.synthetic import synthetic_scene
from vantage.capture.splat.train import split_views, train
from vantage.errors import InvalidInputError, TooFewImagesError

TRAIN_MODULE = importlib.import_module("vantage.capture.splat.train")

#: A short CPU run: colours learn faster than gsplat's 30k-step default rates allow. One thread:
#: OpenMP threads stall badly when other processes share the cores, as on a busy test machine.
SHORT = TrainOptions(
    threads=1,
    iterations=300,
    max_side=None,
    sh_degree=1,
    sh_degree_every=150,
    max_gaussians=1500,
    lr=LearningRates(sh0=5e-3),
    densify=DensifyOptions(refine_start=100, refine_stop=250, refine_every=50),
    device="cpu",
    checkpoint_every=10,
)


def test_training_raises_held_out_psnr() -> None:
    scene, _ = synthetic_scene(blobs=300, views=12, width=80, height=60, seed=0)
    messages: list[tuple[float, str]] = []
    result = train(scene, SHORT, lambda fraction, text: messages.append((fraction, text)))
    assert result.backend == "cpu"
    assert result.iterations == 300 and result.resumed_from == 0
    assert result.test_views == 2  # views 0 and 8 of 12 are held out
    assert result.psnr_test - result.psnr_initial >= 8.0, result
    assert 0.0 < result.ssim_test <= 1.0
    assert len(result.gaussians) > 300  # densification grew the set
    assert len(result.gaussians) <= SHORT.max_gaussians
    assert result.step_s_mean > 0.0 and result.seconds > 0.0
    assert messages[0][1].startswith("step 1/300, loss ")
    assert messages[-1][0] == 1.0 and messages[-1][1].startswith("step 300/300")
    assert messages[-1][1].endswith(f"{len(result.gaussians)} gaussians")


def test_a_checkpoint_resumes_where_it_stopped(tmp_path: Path) -> None:
    scene, _ = synthetic_scene(blobs=120, views=6, width=40, height=30, seed=1)
    path = tmp_path / "train.ckpt"
    first = train(scene, dataclasses.replace(SHORT, iterations=30), checkpoint=path)
    saved = load_checkpoint(path, torch.device("cpu"), scene.names)
    assert saved is not None and saved.step == 30
    for name, param in first.gaussians.params.items():
        assert torch.equal(saved.params[name], param), name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train.ckpt"]

    steps: list[str] = []
    second = train(
        scene,
        dataclasses.replace(SHORT, iterations=45),
        lambda _, text: steps.append(text),
        checkpoint=path,
    )
    assert second.resumed_from == 30 and second.iterations == 45
    assert steps[0].startswith("step 31/45")  # no step was done twice
    assert second.psnr_initial == first.psnr_initial
    # Nothing left to do: the state is evaluated and returned.
    third = train(scene, dataclasses.replace(SHORT, iterations=45), checkpoint=path)
    assert third.resumed_from == 45 and third.step_s_mean == 0.0
    assert third.psnr_test == pytest.approx(second.psnr_test)


class _Interrupted(Exception):
    pass


def test_an_interrupted_run_resumes_to_the_same_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scene, _ = synthetic_scene(blobs=120, views=6, width=40, height=30, seed=2)
    options = dataclasses.replace(
        SHORT,
        iterations=40,
        densify=DensifyOptions(refine_start=15, refine_stop=35, refine_every=10),
    )
    straight = train(scene, options)

    def stop_at_25(fraction: float, _: str) -> None:
        if fraction >= 25 / 40:
            raise _Interrupted

    monkeypatch.setattr(TRAIN_MODULE, "PROGRESS_EVERY_S", 0.0)  # report every step
    with pytest.raises(_Interrupted):
        train(scene, options, stop_at_25, checkpoint=tmp_path / "c")
    resumed = train(scene, options, checkpoint=tmp_path / "c")
    assert resumed.resumed_from == 20  # the last checkpoint before the interruption
    assert len(resumed.gaussians) == len(straight.gaussians)
    for name, param in straight.gaussians.params.items():
        torch.testing.assert_close(resumed.gaussians.params[name], param, rtol=1e-5, atol=1e-6)


def test_a_checkpoint_of_other_images_is_refused(tmp_path: Path) -> None:
    scene, _ = synthetic_scene(blobs=60, views=4, width=32, height=24, seed=3)
    train(scene, dataclasses.replace(SHORT, iterations=2), checkpoint=tmp_path / "c")
    renamed = dataclasses.replace(scene, names=[f"other_{n}" for n in scene.names])
    with pytest.raises(InvalidInputError, match="other images"):
        train(renamed, dataclasses.replace(SHORT, iterations=4), checkpoint=tmp_path / "c")


def test_images_are_downscaled_to_max_side(monkeypatch: pytest.MonkeyPatch) -> None:
    scene, _ = synthetic_scene(blobs=60, views=4, width=64, height=48, seed=4)
    seen: list[tuple[int, int]] = []

    class Spy(CpuRasterizer):
        def render(
            self, gaussians: Gaussians, camera: SplatCamera, sh_degree: int, background: Tensor
        ) -> tuple[Tensor, dict[str, Any]]:
            seen.append((camera.width, camera.height))
            return super().render(gaussians, camera, sh_degree, background)

    monkeypatch.setattr(TRAIN_MODULE, "select_rasterizer", lambda *_, **__: Spy())
    train(scene, dataclasses.replace(SHORT, iterations=3, max_side=32))
    assert set(seen) == {(32, 24)}


def test_split_views() -> None:
    assert split_views(12, 8) == ([1, 2, 3, 4, 5, 6, 7, 9, 10, 11], [0, 8])
    assert split_views(3, 0) == ([0, 1, 2], [])
    with pytest.raises(TooFewImagesError):
        split_views(1, 8)


def test_presets_and_overrides() -> None:
    assert set(PRESETS) == {"fast", "balanced", "quality"}
    fast, quality = TrainOptions.preset("fast"), TrainOptions.preset("quality")
    assert fast.iterations < TrainOptions.preset("balanced").iterations < quality.iterations
    assert fast.ssim_lambda == 0.2 and fast.test_every == 8
    changed = fast.with_overrides(iterations=10, device="cpu")
    assert (changed.iterations, changed.device, changed.max_side) == (10, "cpu", fast.max_side)
    with pytest.raises(InvalidInputError):
        TrainOptions.preset("extreme")
    with pytest.raises(InvalidInputError):
        fast.with_overrides(iterationz=10)
    with pytest.raises(InvalidInputError, match="sh_degree"):
        fast.with_overrides(sh_degree=4)


def test_scene_data_is_validated() -> None:
    scene, _ = synthetic_scene(blobs=30, views=3, width=16, height=12, seed=5)
    with pytest.raises(InvalidInputError):
        dataclasses.replace(scene, names=scene.names[:2])
    with pytest.raises(InvalidInputError):
        dataclasses.replace(scene, images=[np.zeros((5, 5, 3), dtype=np.uint8)] * 3)
    with pytest.raises(InvalidInputError):
        dataclasses.replace(scene, colors=scene.colors[:, :2])


def test_training_uses_every_cpu_and_restores_the_thread_count() -> None:
    scene, _ = synthetic_scene(blobs=30, views=3, width=16, height=12, seed=6)
    before = torch.get_num_threads()
    during: list[int] = []
    options = dataclasses.replace(SHORT, iterations=2, threads=None)
    train(scene, options, lambda *_: during.append(torch.get_num_threads()))
    assert set(during) == {os.cpu_count()}
    assert torch.get_num_threads() == before
