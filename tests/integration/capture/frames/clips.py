"""Test clips made on the spot with PyAV: a camera gliding over a photo mosaic, rotation tags,
audio-only files and damaged MP4s."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np
from av.audio.stream import AudioStream
from av.video.stream import VideoStream
from skimage import data

WIDTH, HEIGHT, FPS = 320, 240, 15


@functools.cache
def mosaic() -> np.ndarray:
    """A large photographic texture [1024, 2224, 3] (astronaut beside coffee, upscaled ×2)."""
    coffee = cv2.resize(data.coffee(), (600, 512))  # type: ignore[no-untyped-call]
    astronaut = data.astronaut()  # type: ignore[no-untyped-call]
    tiles = np.concatenate([astronaut, coffee], axis=1)  # [512, 1112, 3]
    return np.asarray(cv2.resize(tiles, None, fx=2.0, fy=2.0, interpolation=cv2.INTER_CUBIC))


@functools.cache
def strip() -> np.ndarray:
    """A long strip [512, ~4600, 3] of skimage's photos at their own scale: faces, food, a
    rocket, tissue, gravel, brick, grass, a cameraman — detail of many kinds side by side."""
    names = ("astronaut", "coffee", "rocket", "immunohistochemistry", "gravel", "brick", "grass")
    tiles = []
    for name in (*names, "camera"):
        image = getattr(data, name)()
        if image.ndim == 2:
            image = np.repeat(image[..., None], 3, axis=2)
        scale = 512 / image.shape[0]
        size = (round(image.shape[1] * scale), 512)
        tiles.append(
            cv2.resize(image, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
        )
    return np.concatenate(tiles, axis=1)


def window(
    step: float, size: tuple[int, int] = (WIDTH, HEIGHT), jitter: tuple[int, int] = (0, 0)
) -> np.ndarray:
    """The camera's view [h, w, 3] after ``step`` steps along a wavy path over the mosaic,
    nudged by ``jitter`` (dx, dy) pixels as by a trembling hand."""
    x = round(20 + step * 12) + jitter[0]
    y = round(300 + 120 * np.sin(step / 20)) + jitter[1]
    return np.ascontiguousarray(mosaic()[y : y + size[1], x : x + size[0]])


def motion_blur(picture: np.ndarray, length: int = 11) -> np.ndarray:
    """``picture`` smeared horizontally over ``length`` pixels, as by a fast pan."""
    kernel = np.zeros((length, length), np.float32)
    kernel[length // 2, :] = 1.0 / length
    return np.asarray(cv2.filter2D(picture, -1, kernel))


def encode(
    path: Path,
    pictures: Iterable[np.ndarray],
    *,
    fps: int = FPS,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    display_ccw_deg: float | None = None,
) -> Path:
    """Encode RGB pictures [h, w, 3] into ``path``; optionally tag a display rotation."""
    pictures = list(pictures)
    height, width = pictures[0].shape[:2]
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        assert isinstance(stream, VideoStream)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        if display_ccw_deg is not None:
            stream.set_display_rotation(display_ccw_deg)
        for picture in pictures:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")))
        container.mux(stream.encode())
    return path


@dataclass(frozen=True)
class MovingClip:
    """A 120-frame clip: steady motion, 4 motion-blurred frames, and a 1.5 s pause."""

    path: Path
    count: int
    blurred: frozenset[int]
    pause: range  # frames showing the same view; the first of them is a normal frame
    steps: tuple[float, ...]  # the camera's position in each frame

    def source(self, index: int) -> np.ndarray:
        """The un-blurred view of frame ``index`` [240, 320, 3]."""
        return window(self.steps[index])


@dataclass(frozen=True)
class RotatedClip:
    """A phone-style clip: stored landscape, displayed portrait (clockwise 90°)."""

    path: Path
    upright: tuple[np.ndarray, ...]  # the portrait views [320, 240, 3]


def make_audio_only(path: Path, codec: str) -> Path:
    """One second of silence in ``path`` with no video stream."""
    planar = codec != "pcm_s16le"
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=16000, layout="mono")
        assert isinstance(stream, AudioStream)
        samples = np.zeros((1, 16000), np.float32 if planar else np.int16)
        frame = av.AudioFrame.from_ndarray(
            samples, format="fltp" if planar else "s16", layout="mono"
        )
        frame.sample_rate = 16000
        container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


def overwrite_mdat(path: Path, target: Path, fill: Callable[[int], bytes]) -> Path:
    """A copy of MP4 ``path`` whose coded frames (the mdat payload) are replaced by ``fill(n)``."""
    payload = bytearray(path.read_bytes())
    start, end = payload.find(b"mdat") + 4, payload.find(b"moov") - 4
    assert 0 < start < end, "expected an MP4 with mdat before moov"
    payload[start + 16 : end] = fill(end - start - 16)  # keep the first NAL header bytes
    target.write_bytes(payload)
    return target
