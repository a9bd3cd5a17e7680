"""Per-frame scores on a small grey copy: sharpness, exposure clipping and change between frames.

Pure functions on arrays. Every decoded frame is scored, so each score costs well under a
millisecond at the default 320-pixel analysis size.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

#: Thumbnail (width, height) on which change between frames is measured.
THUMBNAIL_SIZE = (64, 48)
#: Contrast floor (grey levels) when normalising thumbnails, so sensor noise on a blank wall is
#: not magnified into change.
MIN_CONTRAST = 4.0
#: Luma levels within this many steps of black or white count as clipped.
CLIP_TOLERANCE = 2


def analysis_grey(luma: NDArray[np.uint8], analysis_side: int) -> NDArray[np.uint8]:
    """``luma`` [H, W] area-averaged down so its long side is at most ``analysis_side``."""
    height, width = luma.shape
    scale = analysis_side / max(height, width)
    if scale >= 1.0:
        return luma
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(cv2.resize(luma, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)


def sharpness(grey: NDArray[np.uint8]) -> float:
    """Variance of the Laplacian of ``grey`` [h, w]: high for crisp detail, low for blur."""
    laplacian = cv2.Laplacian(grey, cv2.CV_32F)  # [h, w]
    _, std = cv2.meanStdDev(laplacian)
    return float(std[0, 0]) ** 2


def clipped_fraction(grey: NDArray[np.uint8], *, full_range: bool) -> float:
    """Share of pixels of ``grey`` [h, w] at black or white (16/235 for limited-range video)."""
    black, white = (0, 255) if full_range else (16, 235)
    clipped = (grey <= black + CLIP_TOLERANCE) | (grey >= white - CLIP_TOLERANCE)
    return float(np.count_nonzero(clipped)) / grey.size


def thumbnail(grey: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """A [48, 64] area-averaged copy of ``grey``: the state kept per frame to measure change."""
    return np.asarray(cv2.resize(grey, THUMBNAIL_SIZE, interpolation=cv2.INTER_AREA), np.uint8)


def normalised(thumb: NDArray[np.uint8]) -> NDArray[np.float32]:
    """``thumb`` [48, 64] with zero mean and unit contrast, so exposure shifts are not change."""
    mean, std = cv2.meanStdDev(thumb)
    scale = 1.0 / max(float(std[0, 0]), MIN_CONTRAST)
    return (thumb.astype(np.float32) - np.float32(mean[0, 0])) * np.float32(scale)  # [48, 64]


def change(a: NDArray[np.float32], b: NDArray[np.float32]) -> float:
    """Mean absolute difference of two normalised thumbnails [48, 64]: 0 for the same view."""
    return float(cv2.norm(a, b, cv2.NORM_L1)) / a.size
