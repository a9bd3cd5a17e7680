"""What a structure-from-motion run is asked to do, and how "auto" choices are resolved.

`SfmOptions` is the one config object of `run_sfm`. Two choices are made from the input rather
than fixed: the matching strategy (`resolve_matching`) and the device (`resolve_use_gpu`); both
are pure functions so the policy is testable without images.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from vantage.errors import InvalidParamsError

Matching = Literal["auto", "sequential", "exhaustive", "spatial"]
ResolvedMatching = Literal["sequential", "exhaustive", "spatial"]
Mapper = Literal["incremental", "global"]

#: COLMAP camera models whose parameters map onto nerfstudio's OPENCV model without loss.
SUPPORTED_CAMERA_MODELS = frozenset(
    {"SIMPLE_PINHOLE", "PINHOLE", "SIMPLE_RADIAL", "RADIAL", "OPENCV"}
)

#: Unordered sets up to this size are matched exhaustively (n·(n-1)/2 pairs: 4,950 at 100).
EXHAUSTIVE_MAX_IMAGES = 100
#: Above `EXHAUSTIVE_MAX_IMAGES`, spatial matching is used when at least this share of the
#: images carries a position prior (EXIF GPS, read by COLMAP during feature extraction).
SPATIAL_MIN_PRIOR_FRACTION = 0.9


@dataclass(frozen=True)
class SfmOptions:
    """How to extract, match and map.

    Attributes:
        camera_model: COLMAP camera model fitted to the images (one of
            `SUPPORTED_CAMERA_MODELS`).
        single_camera: All images of one size share one camera (true for a video's frames:
            an odd-sized image gets its own instead of being rejected). When false,
            images are grouped by size and EXIF make, model and focal length, one camera per
            group (see `vantage.capture.sfm.cameras`), not COLMAP's one camera per image.
        max_num_features: SIFT features kept per image.
        max_image_size_px: Images are downscaled to this longest side before SIFT.
        matching: ``"sequential"`` matches each image with its ``sequential_overlap`` successors
            in name order (video frames); ``"exhaustive"`` matches all pairs; ``"spatial"``
            matches GPS neighbours; ``"auto"`` picks one, see `resolve_matching`.
        sequential_overlap: Successors each image is matched with in sequential matching
            (loop detection stays off: it needs a vocabulary tree file, which is not shipped).
        mapper: ``"incremental"`` (COLMAP, robust) or ``"global"`` (GLOMAP, faster on large
            sets, less reliable on small ones).
        min_registered_fraction: The run fails when the best model holds fewer of the input
            images than this.
        num_threads: CPU threads for every phase; -1 uses all cores.
        use_gpu: None picks CUDA when this pycolmap build has it; True requires it.
        random_seed: Seed for COLMAP's RANSAC and mapper; None leaves them unseeded.
    """

    camera_model: str = "SIMPLE_RADIAL"
    single_camera: bool = True
    max_num_features: int = 4096
    max_image_size_px: int = 3200
    matching: Matching = "auto"
    sequential_overlap: int = 10
    mapper: Mapper = "incremental"
    min_registered_fraction: float = 0.5
    num_threads: int = -1
    use_gpu: bool | None = None
    random_seed: int | None = None

    def __post_init__(self) -> None:
        if self.camera_model not in SUPPORTED_CAMERA_MODELS:
            raise InvalidParamsError(
                f"camera_model {self.camera_model!r} is not one of "
                f"{sorted(SUPPORTED_CAMERA_MODELS)}",
                field="camera_model",
            )
        checks: list[tuple[str, bool]] = [
            ("max_num_features", self.max_num_features >= 64),
            ("max_image_size_px", self.max_image_size_px >= 64),
            ("matching", self.matching in ("auto", "sequential", "exhaustive", "spatial")),
            ("sequential_overlap", self.sequential_overlap >= 1),
            ("mapper", self.mapper in ("incremental", "global")),
            ("min_registered_fraction", 0.0 < self.min_registered_fraction <= 1.0),
            ("num_threads", self.num_threads == -1 or self.num_threads >= 1),
        ]
        for name, ok in checks:
            if not ok:
                raise InvalidParamsError(
                    f"SfM option {name}={getattr(self, name)!r} is out of range", field=name
                )

    def to_dict(self) -> dict[str, Any]:
        """The options as plain JSON-ready values."""
        return asdict(self)


def resolve_matching(
    matching: Matching, *, ordered: bool, num_images: int, num_position_priors: int
) -> ResolvedMatching:
    """The matching strategy to run.

    ``"auto"``: ordered frames (a video) → sequential, since neighbours in time overlap most and
    the cost grows linearly. Unordered photos → exhaustive up to `EXHAUSTIVE_MAX_IMAGES` images,
    the most robust choice. Larger unordered sets → spatial when (nearly) every image has a GPS
    prior; otherwise still exhaustive, because the alternative that needs no priors, vocabulary
    tree retrieval, requires a tree file that cannot be fetched offline — exhaustive stays
    correct, only quadratic in time.

    Args:
        matching: The requested strategy.
        ordered: Whether image names follow capture order (video frames).
        num_images: Images in the set.
        num_position_priors: Images with a position prior in the database.
    """
    if matching != "auto":
        return matching
    if ordered:
        return "sequential"
    if num_images <= EXHAUSTIVE_MAX_IMAGES:
        return "exhaustive"
    if num_position_priors >= SPATIAL_MIN_PRIOR_FRACTION * num_images:
        return "spatial"
    return "exhaustive"


def resolve_use_gpu(use_gpu: bool | None, *, cuda_available: bool) -> bool:
    """Whether to run on the GPU: CUDA when asked or, for None, when available."""
    if use_gpu is None:
        return cuda_available
    if use_gpu and not cuda_available:
        raise InvalidParamsError(
            "use_gpu=True but this pycolmap build has no CUDA support", field="use_gpu"
        )
    return use_gpu
