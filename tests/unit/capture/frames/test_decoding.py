"""Decoding helpers: rotation parsing, the luma fast path against swscale, upright output."""

from __future__ import annotations

import av
import numpy as np
import pytest

from vantage.capture.frames.decoding import clockwise_rotation, luma, upright_bgr


@pytest.mark.parametrize(
    ("display_ccw", "tag", "expected"),
    [
        (0, None, 0),
        (90, None, 270),  # display matrix turns 90° counter-clockwise = 270° clockwise
        (-90, None, 90),  # a phone held upright
        (180, None, 180),
        (-180, None, 180),
        (-89.6, None, 90),
        (0, "90", 90),  # the legacy tag is already clockwise
        (0, "-90", 270),
        (0, "270", 270),
        (0, "sideways", 0),
        (0, "nan", 0),
        (-90, "180", 90),  # the display matrix wins
    ],
)
def test_clockwise_rotation(display_ccw: float, tag: str | None, expected: int) -> None:
    assert clockwise_rotation(display_ccw, tag) == expected


def picture(height: int = 48, width: int = 64) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (height, width, 3), dtype=np.uint8)


@pytest.mark.parametrize("pix_fmt", ["yuv420p", "yuvj420p", "nv12", "yuv444p", "gray"])
def test_luma_fast_path_matches_the_y_plane(pix_fmt: str) -> None:
    frame = av.VideoFrame.from_ndarray(picture(), format="rgb24").reformat(format=pix_fmt)
    got, full = luma(frame)
    # Reference: PyAV's own copy of the planes, in a same-range planar format (no range change).
    same_range = {"gray": "gray", "yuvj420p": "yuvj444p"}.get(pix_fmt, "yuv444p")
    reference = frame.reformat(format=same_range).to_ndarray()
    reference_y = reference[0] if reference.ndim == 3 else reference
    np.testing.assert_array_equal(got, reference_y)
    assert full == (pix_fmt in ("yuvj420p", "gray"))


def test_luma_fallback_for_rgb_frames() -> None:
    rgb = np.zeros((32, 48, 3), np.uint8)
    rgb[:, 24:] = 255
    got, full = luma(av.VideoFrame.from_ndarray(rgb, format="rgb24"))
    assert full
    assert got.shape == (32, 48)
    assert got[:, :24].max() <= 1
    assert got[:, 24:].min() >= 254


@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
def test_upright_bgr_turns_clockwise(rotation: int) -> None:
    rgb = picture()
    frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
    got = upright_bgr(frame, rotation, None)
    expected = np.rot90(rgb[..., ::-1], -rotation // 90)  # clockwise by `rotation`
    np.testing.assert_array_equal(got, expected)


def test_upright_bgr_caps_the_long_side() -> None:
    frame = av.VideoFrame.from_ndarray(picture(120, 200), format="rgb24")
    assert upright_bgr(frame, 90, 100).shape == (100, 60, 3)
    assert upright_bgr(frame, 0, 500).shape == (120, 200, 3)
