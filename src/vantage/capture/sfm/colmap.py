"""The three pycolmap phases of SfM — feature extraction, matching, mapping — behind plain calls.

Each function takes resolved options and paths and returns what COLMAP produced; policy (which
strategy, what counts as success) lives in `vantage.capture.sfm.run`. Reconstructions travel
as ``Any``: pycolmap's stubs are not part of the typed surface Vantage relies on.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pycolmap

from vantage.capture.sfm.options import ResolvedMatching, SfmOptions

#: Image files this pycolmap build reads (by extension, case-insensitive; not WebP or HEIC).
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff"})
#: Extraction is split into about this many batches so progress can be reported in between,
#: each of at least `EXTRACTION_MIN_BATCH` images (every call costs ~10 ms of set-up).
EXTRACTION_BATCHES = 10
EXTRACTION_MIN_BATCH = 8
#: glog level that keeps only errors (0 info, 1 warning, 2 error).
_GLOG_ERROR = 2


@contextmanager
def quiet_colmap() -> Iterator[None]:
    """Silence COLMAP's C++ log (info and warnings) inside the block, then restore it."""
    previous = pycolmap.logging.minloglevel
    pycolmap.logging.minloglevel = max(previous, _GLOG_ERROR)
    try:
        yield
    finally:
        pycolmap.logging.minloglevel = previous


def cuda_available() -> bool:
    """Whether this pycolmap build can use CUDA."""
    return bool(getattr(pycolmap, "has_cuda", False))


def list_images(image_dir: Path) -> list[str]:
    """Image names under ``image_dir`` (recursive, POSIX paths relative to it), sorted.

    Hidden files and folders (``.thumbnails/``, ``._IMG_1.jpg``) are left out.
    """
    names = (path.relative_to(image_dir) for path in image_dir.rglob("*") if path.is_file())
    return sorted(
        name.as_posix()
        for name in names
        if name.suffix.lower() in IMAGE_SUFFIXES
        and not any(part.startswith(".") for part in name.parts)
    )


def _device(use_gpu: bool) -> Any:
    return pycolmap.Device.cuda if use_gpu else pycolmap.Device.cpu


def extract_features(
    database: Path,
    image_dir: Path,
    camera_groups: list[list[str]],
    options: SfmOptions,
    *,
    use_gpu: bool,
    on_batch: Callable[[int], None] | None = None,
) -> None:
    """Detect SIFT features of the images into ``database``, one COLMAP camera per group.

    Images are read in batches, later batches of a group reusing the camera its first batch
    created, so ``on_batch(images_done)`` can report progress in between.
    """
    extraction = pycolmap.FeatureExtractionOptions()
    extraction.num_threads = options.num_threads
    extraction.max_image_size = options.max_image_size_px
    extraction.sift.max_num_features = options.max_num_features
    total = sum(len(group) for group in camera_groups)
    batch = max(math.ceil(total / EXTRACTION_BATCHES), EXTRACTION_MIN_BATCH)
    done = 0
    for group in camera_groups:
        reader = pycolmap.ImageReaderOptions()
        reader.camera_model = options.camera_model
        for start in range(0, len(group), batch):
            before = _camera_ids(database)
            pycolmap.extract_features(
                str(database),
                str(image_dir),
                image_names=group[start : start + batch],
                camera_mode=pycolmap.CameraMode.SINGLE,
                reader_options=reader,
                extraction_options=extraction,
                device=_device(use_gpu),
            )
            created = _camera_ids(database) - before
            if reader.existing_camera_id == -1 and created:
                reader.existing_camera_id = max(created)
            done += len(group[start : start + batch])
            if on_batch is not None:
                on_batch(done)


def _camera_ids(database: Path) -> set[int]:
    if not database.exists():
        return set()
    db = pycolmap.Database.open(str(database))
    try:
        return {int(camera.camera_id) for camera in db.read_all_cameras()}
    finally:
        db.close()


def count_position_priors(database: Path) -> int:
    """Images whose position prior (EXIF GPS) COLMAP stored during extraction."""
    db = pycolmap.Database.open(str(database))
    try:
        return int(db.num_pose_priors())
    finally:
        db.close()


def match_features(
    database: Path, strategy: ResolvedMatching, options: SfmOptions, *, use_gpu: bool
) -> None:
    """Match features between image pairs chosen by ``strategy`` and verify them geometrically."""
    matching = pycolmap.FeatureMatchingOptions()
    matching.num_threads = options.num_threads
    verification = pycolmap.TwoViewGeometryOptions()
    if options.random_seed is not None:
        verification.ransac.random_seed = options.random_seed
    common: dict[str, Any] = {
        "matching_options": matching,
        "verification_options": verification,
        "device": _device(use_gpu),
    }
    if strategy == "sequential":
        # Loop detection needs a vocabulary tree file; none is shipped, so it stays off.
        sequential = pycolmap.SequentialPairingOptions(overlap=options.sequential_overlap)
        sequential.loop_detection = False
        sequential.num_threads = options.num_threads
        pycolmap.match_sequential(str(database), pairing_options=sequential, **common)
    elif strategy == "spatial":
        spatial = pycolmap.SpatialPairingOptions()
        spatial.num_threads = options.num_threads
        pycolmap.match_spatial(str(database), pairing_options=spatial, **common)
    else:
        pycolmap.match_exhaustive(str(database), **common)


def map_reconstructions(
    database: Path,
    image_dir: Path,
    models_dir: Path,
    options: SfmOptions,
    *,
    use_gpu: bool,
    on_registered: Callable[[], None] | None = None,
) -> dict[int, Any]:
    """Run the mapper; returns every model it built, keyed by index (may be empty).

    ``on_registered`` is called each time the incremental mapper registers an image (the
    global mapper has no such hook). An exception it raises stops mapping and propagates.
    """
    models_dir.mkdir(parents=True, exist_ok=True)
    if options.mapper == "global":
        pipeline = pycolmap.GlobalPipelineOptions()
        pipeline.num_threads = options.num_threads
        pipeline.min_model_size = 3
        pipeline.mapper.global_positioning.use_gpu = use_gpu
        pipeline.mapper.bundle_adjustment.ceres.use_gpu = use_gpu
        if options.random_seed is not None:
            pipeline.random_seed = options.random_seed
        models = pycolmap.global_mapping(
            str(database), str(image_dir), str(models_dir), options=pipeline
        )
    else:
        incremental = pycolmap.IncrementalPipelineOptions()
        incremental.num_threads = options.num_threads
        # Keep small models too: the caller picks the largest and judges it by its size.
        incremental.min_model_size = 3
        incremental.ba_use_gpu = use_gpu
        if options.random_seed is not None:
            incremental.random_seed = options.random_seed
            incremental.mapper.random_seed = options.random_seed
            incremental.triangulation.random_seed = options.random_seed
        models = pycolmap.incremental_mapping(
            str(database),
            str(image_dir),
            str(models_dir),
            options=incremental,
            next_image_callback=on_registered or _ignore,
        )
    return dict(models)


def _ignore() -> None:
    pass


def largest_model(models: dict[int, Any]) -> Any | None:
    """The model with the most registered images (then the most points), or None."""
    if not models:
        return None
    return max(models.values(), key=lambda m: (m.num_reg_images(), m.num_points3D()))
