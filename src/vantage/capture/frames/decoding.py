"""Decoding video with PyAV: opening, tolerant threaded decoding, luma access and upright output.

Frames are scored on their luma plane read straight from the decoder's buffer, which skips the
YUV → RGB conversion that dominates decoding cost; only frames that are written are converted,
scaled and turned upright.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import av.container
import cv2
import numpy as np
from av.video.frame import VideoFrame
from av.video.stream import VideoStream
from numpy.typing import NDArray

from vantage.errors import InvalidMediaError

#: 8-bit pixel formats whose plane 0 is the luma (Y) plane, one byte per pixel.
LUMA_PLANE_FORMATS = frozenset(
    {
        "gray",
        "nv12",
        "nv21",
        "yuv410p",
        "yuv411p",
        "yuv420p",
        "yuv422p",
        "yuv440p",
        "yuv444p",
        "yuva420p",
        "yuvj411p",
        "yuvj420p",
        "yuvj422p",
        "yuvj440p",
        "yuvj444p",
    }
)
_JPEG_COLOR_RANGE = 2  # AVCOL_RANGE_JPEG: full-range (0–255) luma


@dataclass
class DecodeTally:
    """Counts what a decode loop met: frames out and packets the decoder refused."""

    frames: int = 0
    errors: int = 0


def open_input(path: Path) -> av.container.InputContainer:
    """Open ``path`` for reading with PyAV.

    Raises:
        InvalidMediaError: FFmpeg cannot open it as a media container (``reason="not-media"``).
    """
    try:
        return av.open(str(path), mode="r", metadata_errors="ignore")
    except av.FFmpegError as exc:
        raise InvalidMediaError(
            _unopenable_message(path, exc), path=str(path), reason="not-media"
        ) from exc


def _unopenable_message(path: Path, exc: av.FFmpegError) -> str:
    why = exc.strerror or str(exc)
    try:
        with open(path, "rb") as handle:
            head = handle.read(12)
    except OSError:
        head = b""
    if head[4:8] == b"ftyp":
        return f"{path.name}: looks like an MP4/MOV file but cannot be opened: truncated or damaged"
    if head[:4] in (b"\x1a\x45\xdf\xa3", b"RIFF"):
        return f"{path.name}: looks like a video container but cannot be opened ({why})"
    return f"{path.name}: not a video file FFmpeg can read ({why})"


def iter_frames(
    container: av.container.InputContainer, stream: VideoStream, tally: DecodeTally
) -> Iterator[VideoFrame]:
    """Decode every frame of ``stream``, skipping packets the decoder rejects.

    A damaged packet costs the frames that depend on it, not the whole video; ``tally`` counts
    both. The final empty packet from `demux` flushes the decoder's delayed frames.
    """
    for packet in container.demux(stream):
        try:
            frames = stream.decode(packet)
        except av.FFmpegError:
            tally.errors += 1
            continue
        for frame in frames:
            tally.frames += 1
            yield frame


def luma(frame: VideoFrame) -> tuple[NDArray[np.uint8], bool]:
    """The frame's luma as an 8-bit picture and whether it is full range (0–255, not 16–235).

    For common 8-bit formats this is a view of the decoder's buffer (no copy, no colour
    conversion); other formats (10-bit, RGB, palettes) go through swscale to full-range grey.
    """
    name = frame.format.name
    if name in LUMA_PLANE_FORMATS:
        plane = frame.planes[0]
        rows = np.frombuffer(memoryview(plane), np.uint8, count=plane.line_size * plane.height)
        picture = rows.reshape(plane.height, plane.line_size)[:, : plane.width]  # [H, W]
        full = name == "gray" or name.startswith("yuvj") or frame.color_range == _JPEG_COLOR_RANGE
        return picture, full
    grey = frame.reformat(format="gray", dst_color_range="JPEG").to_ndarray()  # [H, W]
    return np.asarray(grey, dtype=np.uint8), True


def upright_bgr(frame: VideoFrame, rotation_deg: int, max_side: int | None) -> NDArray[np.uint8]:
    """The frame in BGR (OpenCV's order), scaled so its long side ≤ ``max_side``, upright.

    ``rotation_deg`` is the clockwise rotation that makes the decoded picture upright.
    """
    width, height = frame.width, frame.height
    scale = 1.0 if max_side is None else min(1.0, max_side / max(width, height))
    if scale < 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        picture = frame.reformat(
            width=size[0], height=size[1], format="bgr24", interpolation="AREA"
        ).to_ndarray()
    else:
        picture = frame.to_ndarray(format="bgr24")  # [H, W, 3]
    return _upright(np.asarray(picture, dtype=np.uint8), rotation_deg)


#: Colour spaces (AVColorSpace) whose YUV → RGB matrix is BT.601's, as OpenCV converts: BT470BG,
#: SMPTE170M, and unspecified (which swscale also treats as BT.601).
_BT601_COLORSPACES = frozenset({2, 5, 6})


def opencv_convertible(name: str, color_range: int, colorspace: int) -> bool:
    """Whether a picture of this pixel format and colour description converts with OpenCV.

    OpenCV's I420 conversion is BT.601 limited range, the same as swscale gives such frames.
    """
    limited = color_range != _JPEG_COLOR_RANGE
    return name == "yuv420p" and limited and colorspace in _BT601_COLORSPACES


def i420_upright_bgr(
    planes: NDArray[np.uint8], rotation_deg: int, max_side: int | None
) -> NDArray[np.uint8]:
    """Like `upright_bgr`, for a yuv420p picture as `VideoFrame.to_ndarray` gives it [H·3/2, W].

    OpenCV converts without the Python lock held, so several of these run at once on threads.
    """
    picture = np.asarray(cv2.cvtColor(planes, cv2.COLOR_YUV2BGR_I420), dtype=np.uint8)  # [H, W, 3]
    height, width = picture.shape[:2]
    scale = 1.0 if max_side is None else min(1.0, max_side / max(width, height))
    if scale < 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        picture = np.asarray(cv2.resize(picture, size, interpolation=cv2.INTER_AREA), np.uint8)
    return _upright(picture, rotation_deg)


def _upright(picture: NDArray[np.uint8], rotation_deg: int) -> NDArray[np.uint8]:
    turns = (-(rotation_deg // 90)) % 4  # np.rot90 turns counter-clockwise
    upright = np.rot90(picture, turns) if turns else picture
    return np.ascontiguousarray(upright, dtype=np.uint8)


def clockwise_rotation(display_ccw_deg: float, rotate_tag: str | None) -> int:
    """The clockwise turn (0, 90, 180, 270) that shows a decoded picture upright.

    Args:
        display_ccw_deg: The counter-clockwise angle of the stream's display matrix, as FFmpeg
            reports it in frame side data (`VideoFrame.rotation`); 0 when there is none.
        rotate_tag: The legacy ``rotate`` stream tag (clockwise degrees) that some containers
            still carry; used only when there is no display matrix.
    """
    if display_ccw_deg:
        return _quarter_turns(-display_ccw_deg)
    if rotate_tag:
        try:
            return _quarter_turns(float(rotate_tag))
        except ValueError:
            return 0
    return 0


def _quarter_turns(clockwise_deg: float) -> int:
    if not math.isfinite(clockwise_deg):
        return 0
    return (round(clockwise_deg / 90.0) % 4) * 90
