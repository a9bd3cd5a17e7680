"""3D Gaussian splat training: our CPU tile rasterizer or gsplat on CUDA, resumable, PLY out.

Importing this package imports torch (and the rest of the splat stack); nothing else in Vantage
imports it at module level. The trainer is ``vantage.capture.splat.train.train`` (not re-exported
here, where the name would shadow its module).
"""

from vantage.capture.splat.backend import (
    CpuRasterizer,
    GsplatRasterizer,
    Rasterizer,
    select_rasterizer,
)
from vantage.capture.splat.camera import SplatCamera
from vantage.capture.splat.colmap_scene import load_colmap_scene
from vantage.capture.splat.gaussians import Gaussians
from vantage.capture.splat.options import PRESETS, DensifyOptions, LearningRates, TrainOptions
from vantage.capture.splat.ply import export_ply, read_ply
from vantage.capture.splat.scene import SceneData
from vantage.capture.splat.train import TrainResult

__all__ = [
    "PRESETS",
    "CpuRasterizer",
    "DensifyOptions",
    "Gaussians",
    "GsplatRasterizer",
    "LearningRates",
    "Rasterizer",
    "SceneData",
    "SplatCamera",
    "TrainOptions",
    "TrainResult",
    "export_ply",
    "load_colmap_scene",
    "read_ply",
    "select_rasterizer",
]
