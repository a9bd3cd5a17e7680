"""Per-frame scores: sharpness falls with blur, clipping counts the right levels, change ignores
exposure and is zero for the same view."""

from __future__ import annotations

import cv2
import numpy as np
from skimage import data

from vantage.capture.frames.scoring import (
    THUMBNAIL_SIZE,
    analysis_grey,
    change,
    clipped_fraction,
    normalised,
    sharpness,
    thumbnail,
)


def grey_photo() -> np.ndarray:
    astronaut = data.astronaut()  # type: ignore[no-untyped-call]
    return np.asarray(cv2.cvtColor(astronaut, cv2.COLOR_RGB2GRAY), np.uint8)  # [512, 512]


def test_analysis_grey_caps_the_long_side() -> None:
    picture = np.zeros((480, 640), np.uint8)
    assert analysis_grey(picture, 320).shape == (240, 320)
    assert analysis_grey(picture, 1000) is picture


def test_sharpness_falls_with_blur() -> None:
    grey = grey_photo()
    blurred = [np.asarray(cv2.GaussianBlur(grey, (0, 0), s), np.uint8) for s in (0.3, 1, 2, 4)]
    values = [sharpness(picture) for picture in blurred]
    assert values == sorted(values, reverse=True)
    assert values[-1] < 0.1 * values[0]


def test_sharpness_is_the_laplacian_variance() -> None:
    grey = grey_photo()[:100, :120]
    reference = float(np.var(cv2.Laplacian(grey.astype(np.float64), cv2.CV_64F)))
    assert abs(sharpness(grey) - reference) < 1e-3 * reference


def test_clipped_fraction_full_and_limited_range() -> None:
    grey = np.full((10, 10), 128, np.uint8)
    grey[0, :] = 0
    grey[1, :] = 255
    grey[2, :] = 16
    grey[3, :] = 235
    assert clipped_fraction(grey, full_range=True) == 0.2
    assert clipped_fraction(grey, full_range=False) == 0.4


def test_change_is_zero_for_the_same_view_and_ignores_exposure() -> None:
    grey = grey_photo()
    base = thumbnail(grey)
    assert base.shape == (THUMBNAIL_SIZE[1], THUMBNAIL_SIZE[0])
    brighter = thumbnail(np.clip(grey.astype(np.int32) * 0.8 + 30, 0, 255).astype(np.uint8))
    shifted = thumbnail(np.roll(grey, 24, axis=1))
    assert change(normalised(base), normalised(base)) == 0.0
    assert change(normalised(base), normalised(brighter)) < 0.05
    assert change(normalised(base), normalised(shifted)) > 0.2


def test_normalised_does_not_magnify_noise_on_a_blank_wall() -> None:
    rng = np.random.default_rng(0)
    wall = [np.clip(rng.normal(200, 1, (48, 64)), 0, 255).astype(np.uint8) for _ in range(2)]
    assert change(normalised(wall[0]), normalised(wall[1])) < 0.3
