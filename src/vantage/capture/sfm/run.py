"""`run_sfm`: a folder of images → the largest COLMAP model, written as ``sparse/`` and
``transforms.json``, or a `ReconstructionError` that says what to try.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from vantage.capture.sfm import colmap
from vantage.capture.sfm.cameras import group_by_camera
from vantage.capture.sfm.export import transforms_from_model, write_sparse
from vantage.capture.sfm.options import (
    ResolvedMatching,
    SfmOptions,
    resolve_matching,
    resolve_use_gpu,
)
from vantage.errors import InvalidInputError, ReconstructionError, TooFewImagesError
from vantage.storage.streaming import write_json_atomic

Progress = Callable[[float, str], None]

#: Fewest images structure from motion can work with.
MIN_IMAGES = 3
#: Share of the overall progress each phase starts at (export runs from "map"'s end to 1).
PHASE_START = {"extract": 0.0, "match": 0.35, "map": 0.65, "export": 0.97}
_PHASE_END = {"extract": 0.35, "match": 0.65, "map": 0.97, "export": 1.0}


def advice(strategy: ResolvedMatching, options: SfmOptions) -> str:
    """What to try after a failed reconstruction, leaving out what this run already did."""
    tips = [
        "more overlap between views (slower camera motion, more keyframes)",
        "sharper frames",
        "more textured surfaces",
    ]
    if strategy != "exhaustive":
        tips.append("matching='exhaustive'")
    tips.append("mapper='incremental'" if options.mapper == "global" else "mapper='global'")
    return "try " + ", ".join(tips[:-1]) + " or " + tips[-1]


@dataclass(frozen=True)
class SfmResult:
    """What an SfM run produced.

    Attributes:
        input_images: Images found in the input folder.
        registered_images: Images with a pose in the kept (largest) model.
        registered_names: Their names relative to the image folder, sorted.
        points3d: 3D points of the kept model.
        mean_reprojection_error_px: Mean reprojection error of the kept model.
        model_count: Models the mapper built (more than one: the scene fell apart).
        seconds: Wall time per phase: ``extract``, ``match``, ``map``, ``export``.
        matching: The matching strategy that ran (``"auto"`` resolved).
        use_gpu: Whether COLMAP ran on CUDA.
        sparse_dir: The binary COLMAP model (``out_dir/sparse``).
        transforms_path: nerfstudio's ``transforms.json``.
        options: The options the run used, as JSON values.
    """

    input_images: int
    registered_images: int
    registered_names: list[str]
    points3d: int
    mean_reprojection_error_px: float
    model_count: int
    seconds: dict[str, float]
    matching: ResolvedMatching
    use_gpu: bool
    sparse_dir: Path
    transforms_path: Path
    options: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON-ready values (paths as strings)."""
        values = asdict(self)
        values["sparse_dir"] = str(self.sparse_dir)
        values["transforms_path"] = str(self.transforms_path)
        return values


class _Reporter:
    """Maps (phase, share of phase done) onto the caller's overall fraction."""

    def __init__(self, progress: Progress | None) -> None:
        self._progress = progress

    def __call__(self, phase: str, done: float, message: str) -> None:
        if self._progress is None:
            return
        start, end = PHASE_START[phase], _PHASE_END[phase]
        self._progress(start + (end - start) * min(max(done, 0.0), 1.0), f"{phase}: {message}")


@contextmanager
def _timed(seconds: dict[str, float], phase: str) -> Iterator[None]:
    started = time.perf_counter()
    yield
    seconds[phase] = time.perf_counter() - started


def run_sfm(
    image_dir: Path,
    work_dir: Path,
    out_dir: Path,
    options: SfmOptions,
    *,
    ordered: bool,
    progress: Progress | None = None,
) -> SfmResult:
    """Reconstruct cameras and sparse points from the images in ``image_dir``.

    Features go to ``work_dir/database.db`` (replaced if present) and every model the mapper
    builds to ``work_dir/models``; the largest model is written to ``out_dir/sparse`` (COLMAP
    binary) and ``out_dir/transforms.json`` (nerfstudio, frame paths relative to ``out_dir``).

    Args:
        image_dir: Folder of images; names are sorted, so video frames need zero-padded numbers.
        work_dir: Scratch folder for the database and all models.
        out_dir: Folder for the outputs.
        options: How to extract, match and map.
        ordered: The names follow capture order (video frames): enables sequential matching
            under ``matching="auto"``.
        progress: Called with (overall fraction in [0, 1], message) during each phase; an
            exception it raises (a cancellation) stops the run.

    Raises:
        InvalidInputError: ``image_dir`` is not a folder.
        TooFewImagesError: Fewer than 3 images.
        ReconstructionError: No model, or the largest holds fewer than
            ``options.min_registered_fraction`` of the images.
    """
    names = _input_images(image_dir)
    use_gpu = resolve_use_gpu(options.use_gpu, cuda_available=colmap.cuda_available())
    report = _Reporter(progress)
    seconds: dict[str, float] = {}
    database, models_dir = work_dir / "database.db", work_dir / "models"
    work_dir.mkdir(parents=True, exist_ok=True)
    database.unlink(missing_ok=True)  # a stale database would mix in an earlier attempt
    shutil.rmtree(models_dir, ignore_errors=True)

    with colmap.quiet_colmap():
        with _timed(seconds, "extract"):
            _extract(database, image_dir, names, options, use_gpu, report)
        with _timed(seconds, "match"):
            strategy = resolve_matching(
                options.matching,
                ordered=ordered,
                num_images=len(names),
                num_position_priors=colmap.count_position_priors(database),
            )
            report("match", 0.0, strategy)
            colmap.match_features(database, strategy, options, use_gpu=use_gpu)
            report("match", 1.0, f"{strategy} done")
        with _timed(seconds, "map"):
            models = _map(database, image_dir, models_dir, len(names), options, use_gpu, report)

    model = colmap.largest_model(models)
    kept = 0 if model is None else int(model.num_reg_images())
    if model is None or kept < options.min_registered_fraction * len(names):
        built = "no model could be built" if model is None else f"{len(models)} model(s)"
        raise ReconstructionError(
            f"SfM registered {kept} of {len(names)} images ({built}; at least "
            f"{options.min_registered_fraction:.0%} needed): {advice(strategy, options)}",
            registered=kept,
            input=len(names),
            model_count=len(models),
        )

    sparse_dir, transforms_path = out_dir / "sparse", out_dir / "transforms.json"
    with _timed(seconds, "export"):
        report("export", 0.0, "writing sparse model and transforms.json")
        write_sparse(model, sparse_dir)
        write_json_atomic(transforms_path, transforms_from_model(model, image_dir, out_dir))
    report("export", 1.0, f"{kept}/{len(names)} images registered")

    return SfmResult(
        input_images=len(names),
        registered_images=kept,
        registered_names=sorted(model.images[i].name for i in model.reg_image_ids()),
        points3d=int(model.num_points3D()),
        mean_reprojection_error_px=float(model.compute_mean_reprojection_error()),
        model_count=len(models),
        seconds=seconds,
        matching=strategy,
        use_gpu=use_gpu,
        sparse_dir=sparse_dir,
        transforms_path=transforms_path,
        options=options.to_dict(),
    )


def _input_images(image_dir: Path) -> list[str]:
    if not image_dir.is_dir():
        raise InvalidInputError(f"image folder {image_dir} does not exist", path=str(image_dir))
    names = colmap.list_images(image_dir)
    if len(names) < MIN_IMAGES:
        raise TooFewImagesError(
            f"SfM needs at least {MIN_IMAGES} images, found {len(names)} in {image_dir}",
            path=str(image_dir),
            count=len(names),
        )
    return names


def _extract(
    database: Path,
    image_dir: Path,
    names: list[str],
    options: SfmOptions,
    use_gpu: bool,
    report: _Reporter,
) -> None:
    total = len(names)
    report("extract", 0.0, f"{total} images")
    colmap.extract_features(
        database,
        image_dir,
        group_by_camera(image_dir, names, exif=not options.single_camera),
        options,
        use_gpu=use_gpu,
        on_batch=lambda done: report("extract", done / total, f"{done}/{total}"),
    )


def _map(
    database: Path,
    image_dir: Path,
    models_dir: Path,
    total: int,
    options: SfmOptions,
    use_gpu: bool,
    report: _Reporter,
) -> dict[int, Any]:
    registered = 0

    def on_registered() -> None:
        nonlocal registered
        registered += 1
        report("map", registered / total, f"{registered}/{total} registered")

    report("map", 0.0, options.mapper)
    return colmap.map_reconstructions(
        database, image_dir, models_dir, options, use_gpu=use_gpu, on_registered=on_registered
    )
