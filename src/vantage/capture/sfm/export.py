"""Writing a chosen COLMAP model: binary ``sparse/`` and nerfstudio ``transforms.json``, atomically.

Readers (the splat trainer, a viewer, a retried job) either see the previous complete output or
the new complete one: each is written beside its destination, then renamed into place.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from vantage.capture.sfm.transforms import (
    Intrinsics,
    PosedImage,
    intrinsics_from_colmap,
    transforms_document,
)


def write_sparse(model: Any, sparse_dir: Path) -> None:
    """Write ``model`` in COLMAP binary format (cameras.bin, images.bin, points3D.bin …).

    The files go to a temporary sibling folder that then replaces ``sparse_dir``.
    """
    sparse_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{sparse_dir.name}-", dir=sparse_dir.parent))
    try:
        model.write_binary(str(staging))
        _replace_dir(staging, sparse_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _replace_dir(source: Path, destination: Path) -> None:
    # rename() cannot replace a non-empty folder: move the old one aside first.
    old: Path | None = None
    if destination.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{destination.name}-old-", dir=destination.parent))
        os.replace(destination, old / destination.name)
    os.replace(source, destination)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def transforms_from_model(model: Any, image_dir: Path, out_dir: Path) -> dict[str, Any]:
    """The nerfstudio ``transforms.json`` body for the registered images of ``model``.

    Frame paths are relative to ``out_dir`` (where ``transforms.json`` lives), so images under
    ``out_dir/frames`` appear as ``frames/<name>``.
    """
    base = Path(os.path.relpath(image_dir.resolve(), out_dir.resolve()))
    cameras: dict[int, Intrinsics] = {
        int(camera_id): intrinsics_from_colmap(
            camera.model.name, list(camera.params), int(camera.width), int(camera.height)
        )
        for camera_id, camera in model.cameras.items()
    }
    images = [
        PosedImage(
            file_path=(base / image.name).as_posix(),
            camera_id=int(image.camera_id),
            cam_from_world=np.asarray(image.cam_from_world().matrix(), dtype=np.float64),
        )
        for image in model.images.values()
        if image.has_pose
    ]
    return transforms_document(cameras, images)
