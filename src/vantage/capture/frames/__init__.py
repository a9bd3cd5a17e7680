"""Frames for reconstruction: keyframes from a video or uniform photos, and frames.json.

* `probe_video` — what a video holds, or an `InvalidMediaError` saying what is wrong with it;
* `select_keyframes` — score every frame, reject blurry, static and badly exposed ones, write a
  spread of the best as JPEGs;
* `load_photos` — JPEG/PNG/HEIC photos turned upright, scaled and written as JPEGs;
* `write_frames_json` / `read_frames_json` — the shared record of what was written.

Importing this package loads only the plain records; PyAV, OpenCV and Pillow are imported on
first use of a function (each lives in its own submodule).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from vantage.capture.frames.records import (
    FrameManifest,
    FrameRecord,
    KeyframeOptions,
    KeyframeResult,
    PhotoResult,
    ProgressCallback,
    VideoInfo,
)

if TYPE_CHECKING:
    from vantage.capture.frames.keyframes import select_keyframes
    from vantage.capture.frames.manifest import read_frames_json, write_frames_json
    from vantage.capture.frames.photos import load_photos
    from vantage.capture.frames.probe import probe_video

_LAZY = {
    "probe_video": "vantage.capture.frames.probe",
    "select_keyframes": "vantage.capture.frames.keyframes",
    "load_photos": "vantage.capture.frames.photos",
    "write_frames_json": "vantage.capture.frames.manifest",
    "read_frames_json": "vantage.capture.frames.manifest",
}

__all__ = [
    "FrameManifest",
    "FrameRecord",
    "KeyframeOptions",
    "KeyframeResult",
    "PhotoResult",
    "ProgressCallback",
    "VideoInfo",
    "load_photos",
    "probe_video",
    "read_frames_json",
    "select_keyframes",
    "write_frames_json",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
