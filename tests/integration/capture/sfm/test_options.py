"""SfM options: validation and the "auto" policies for matching and device."""

from __future__ import annotations

import pytest

from vantage.capture.sfm import SfmOptions, resolve_matching, resolve_use_gpu
from vantage.errors import InvalidInputError


@pytest.mark.parametrize(
    ("ordered", "num_images", "priors", "expected"),
    [
        (True, 500, 0, "sequential"),
        (False, 30, 0, "exhaustive"),
        (False, 100, 100, "exhaustive"),
        (False, 400, 400, "spatial"),
        (False, 400, 10, "exhaustive"),
    ],
)
def test_auto_matching(ordered: bool, num_images: int, priors: int, expected: str) -> None:
    chosen = resolve_matching(
        "auto", ordered=ordered, num_images=num_images, num_position_priors=priors
    )
    assert chosen == expected


def test_explicit_matching_is_kept() -> None:
    chosen = resolve_matching("exhaustive", ordered=True, num_images=10, num_position_priors=0)
    assert chosen == "exhaustive"


def test_gpu_policy() -> None:
    assert resolve_use_gpu(None, cuda_available=False) is False
    assert resolve_use_gpu(None, cuda_available=True) is True
    assert resolve_use_gpu(False, cuda_available=True) is False
    with pytest.raises(InvalidInputError, match="CUDA"):
        resolve_use_gpu(True, cuda_available=False)


@pytest.mark.parametrize(
    "bad",
    [
        {"camera_model": "OPENCV_FISHEYE"},
        {"min_registered_fraction": 0.0},
        {"sequential_overlap": 0},
        {"matching": "vocab"},
        {"num_threads": 0},
    ],
)
def test_invalid_options_name_the_field(bad: dict[str, object]) -> None:
    with pytest.raises(InvalidInputError) as caught:
        SfmOptions(**bad)  # type: ignore[arg-type]
    assert caught.value.fields["field"] == next(iter(bad))


def test_options_serialise() -> None:
    assert SfmOptions().to_dict()["camera_model"] == "SIMPLE_RADIAL"
