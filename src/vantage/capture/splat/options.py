"""Training options of the splat trainer and its three presets (fast, balanced, quality).

Learning rates and densification defaults are gsplat's ``simple_trainer`` defaults (the means'
rate is scaled by the scene extent and decays 100× over the run); the presets trade iterations,
resolution, SH degree and the Gaussian budget for time.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from vantage.errors import InvalidInputError

DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class LearningRates:
    """Adam learning rates per parameter group."""

    means: float = 1.6e-4  # × scene scale
    means_final_ratio: float = 0.01  # the means' rate decays exponentially to this fraction
    scales: float = 5e-3
    quats: float = 1e-3
    opacities: float = 5e-2
    sh0: float = 2.5e-3
    shN: float = 2.5e-3 / 20


@dataclass(frozen=True)
class DensifyOptions:
    """gsplat ``DefaultStrategy`` settings (steps count from 0)."""

    refine_start: int = 500
    refine_stop: int = 15_000
    refine_every: int = 100
    reset_every: int = 3000
    grow_grad2d: float = 2e-4
    grow_scale3d: float = 0.01
    prune_opa: float = 0.005
    prune_scale3d: float = 0.1


@dataclass(frozen=True)
class TrainOptions:
    """How to train; `TrainOptions.preset` gives the named presets."""

    iterations: int = 7000
    max_side: int | None = 640  # longest image side in px (images and K are downscaled)
    sh_degree: int = 3  # highest SH degree, reached by +1 every `sh_degree_every` steps
    sh_degree_every: int = 1000
    max_gaussians: int = 300_000  # the faintest are pruned beyond this
    lr: LearningRates = field(default_factory=LearningRates)
    densify: DensifyOptions = field(default_factory=DensifyOptions)
    ssim_lambda: float = 0.2
    test_every: int = 8  # every n-th image is held out for evaluation; 0 holds none out
    seed: int = 0
    device: str = "auto"  # "auto", "cpu" or "cuda"
    threads: int | None = None  # torch CPU threads; None: all CPUs (os.cpu_count())
    tile_size: int = 4  # CPU rasterizer tile edge in px
    background: tuple[float, float, float] = (0.0, 0.0, 0.0)
    checkpoint_every: int = 500  # steps between checkpoints when a checkpoint path is given
    init_opacity: float = 0.1
    init_scale: float = 1.0

    def __post_init__(self) -> None:
        checks = {
            "iterations": self.iterations >= 1,
            "max_side": self.max_side is None or self.max_side >= 16,
            "sh_degree": 0 <= self.sh_degree <= 3,
            "sh_degree_every": self.sh_degree_every >= 1,
            "max_gaussians": self.max_gaussians >= 1,
            "ssim_lambda": 0.0 <= self.ssim_lambda <= 1.0,
            "test_every": self.test_every >= 0,
            "device": self.device in DEVICES or self.device.startswith("cuda:"),
            "threads": self.threads is None or self.threads >= 1,
            "tile_size": self.tile_size in (4, 8, 16),
            "checkpoint_every": self.checkpoint_every >= 1,
            "init_opacity": 0.0 < self.init_opacity < 1.0,
            "init_scale": self.init_scale > 0.0,
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise InvalidInputError(
                f"invalid training option {bad[0]}={getattr(self, bad[0])!r}", field=bad[0]
            )

    @classmethod
    def preset(cls, name: str) -> TrainOptions:
        """The options of preset ``name`` ("fast", "balanced" or "quality")."""
        try:
            return PRESETS[name]
        except KeyError:
            raise InvalidInputError(
                f"unknown training preset {name!r}", preset=name, known=sorted(PRESETS)
            ) from None

    def with_overrides(self, **changes: Any) -> TrainOptions:
        """A copy with some top-level fields changed (validated like the original)."""
        names = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - names)
        if unknown:
            raise InvalidInputError(f"unknown training option {unknown[0]!r}", field=unknown[0])
        return dataclasses.replace(self, **changes)


PRESETS: dict[str, TrainOptions] = {
    # fast: minutes on a 2-core laptop (about 0.1 s per step at 30k Gaussians, 320×240).
    "fast": TrainOptions(
        iterations=1500,
        max_side=320,
        sh_degree=1,
        sh_degree_every=500,
        max_gaussians=30_000,
        densify=DensifyOptions(refine_start=300, refine_stop=1000),
        checkpoint_every=250,
    ),
    "balanced": TrainOptions(
        iterations=7000,
        max_side=640,
        sh_degree=3,
        sh_degree_every=1000,
        max_gaussians=300_000,
        densify=DensifyOptions(refine_start=500, refine_stop=5000),
    ),
    "quality": TrainOptions(
        iterations=30_000,
        max_side=1600,
        sh_degree=3,
        sh_degree_every=1000,
        max_gaussians=1_000_000,
        densify=DensifyOptions(refine_start=500, refine_stop=15_000),
        checkpoint_every=1000,
    ),
}
