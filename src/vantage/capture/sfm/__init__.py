"""Structure from motion with pycolmap: images → camera poses, sparse points, transforms.json.

`run_sfm` extracts SIFT features, matches them (sequential for video frames, exhaustive or
spatial for photo sets), maps with COLMAP's incremental or GLOMAP's global mapper, keeps the
largest model and writes it as COLMAP binary ``sparse/`` plus nerfstudio's ``transforms.json``.
Importing this package does not import pycolmap; `run_sfm` does on first call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vantage.capture.sfm.options import SfmOptions, resolve_matching, resolve_use_gpu
from vantage.capture.sfm.transforms import (
    Intrinsics,
    PosedImage,
    c2w_opengl_from_cam_from_world,
    cam_from_world_from_c2w_opengl,
    intrinsics_from_colmap,
    transforms_document,
)

if TYPE_CHECKING:
    from vantage.capture.sfm.run import SfmResult, run_sfm

__all__ = [
    "Intrinsics",
    "PosedImage",
    "SfmOptions",
    "SfmResult",
    "c2w_opengl_from_cam_from_world",
    "cam_from_world_from_c2w_opengl",
    "intrinsics_from_colmap",
    "resolve_matching",
    "resolve_use_gpu",
    "run_sfm",
    "transforms_document",
]


def __getattr__(name: str) -> Any:
    # pycolmap loads a large native library: defer it until SfM actually runs.
    if name in ("run_sfm", "SfmResult"):
        from vantage.capture.sfm import run

        return getattr(run, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
