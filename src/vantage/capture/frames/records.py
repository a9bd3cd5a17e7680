"""The plain records of frame extraction: video facts, options, frame records and results.

Nothing here imports more than the standard library, so `vantage.capture.frames` stays cheap to
import; the modules that decode and score (PyAV, OpenCV, Pillow) are loaded only when used.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from vantage.errors import InvalidInputError

#: ``progress(fraction, message)``: ``fraction`` in [0, 1], rising; called at most every ~0.2 s.
ProgressCallback = Callable[[float, str], None]


@dataclass(frozen=True, slots=True)
class VideoInfo:
    """What a video file holds, as far as extraction needs it.

    ``width`` and ``height`` are the *displayed* size, after ``rotation_deg`` is applied.
    ``rotation_deg`` is the clockwise rotation (0, 90, 180 or 270) that turns a decoded picture
    upright — the convention of the legacy ``rotate`` tag and of phones (a portrait clip from a
    phone held upright is usually stored landscape with ``rotation_deg == 90``).
    ``frame_count`` is the container's count when it has one, else duration × fps (an estimate).
    """

    path: Path
    container_format: str  # FFmpeg demuxer name, e.g. "mov,mp4,m4a,3gp,3g2,mj2"
    codec: str  # FFmpeg decoder name, e.g. "h264"
    width: int
    height: int
    fps: float
    frame_count: int
    duration_s: float
    rotation_deg: int

    def as_dict(self) -> dict[str, Any]:
        """This record as JSON-ready values (the ``source`` block of frames.json)."""
        values = asdict(self)
        values["path"] = str(self.path)
        return {"kind": "video", **values}


@dataclass(frozen=True, slots=True)
class FrameRecord:
    """One written frame and the scores that chose it.

    ``file`` is the JPEG's path relative to the folder that holds the output folder (where
    frames.json is written), in POSIX form: ``"frames/00000.jpg"``. Photos have no time and are
    not scored, so their ``time_s``, ``sharpness``, ``clipped_fraction`` and ``novelty`` are
    None; their ``source_name`` is the original file name.
    """

    file: str
    source_index: int  # video: decoded-frame index; photos: index among the files seen
    time_s: float | None = None
    sharpness: float | None = None  # variance of the Laplacian on the analysis-size grey copy
    clipped_fraction: float | None = None  # share of pixels crushed to black or blown to white
    novelty: float | None = None  # change since the previous kept frame (see keyframes)
    source_name: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """This record as a frames.json entry (``source_name`` only when known)."""
        values = asdict(self)
        if self.source_name is None:
            del values["source_name"]
        return values


@dataclass(frozen=True, slots=True)
class KeyframeOptions:
    """How `select_keyframes` scores and chooses frames.

    Thresholds are relative to the clip itself, so one setting works for dull and busy scenes,
    slow and fast hands: a frame is *blurry* when its sharpness is below
    ``min_sharpness_ratio`` × the median sharpness of the distinct views (repeats of a paused
    view count once) within about ``blur_window_s`` around it; it is *static* when its change
    since the last kept frame is below ``min_novelty`` × the clip's median change between
    consecutive frames. A frame is *badly exposed* when more than ``clip_threshold`` of its
    pixels are crushed to black or blown to white (measured on luma).
    """

    max_frames: int = 120
    max_side: int | None = None  # downscale written frames so their longest side is at most this
    min_sharpness_ratio: float = 0.5
    min_novelty: float = 0.25
    clip_threshold: float = 0.5
    analysis_side: int = 320  # long side of the grey copy every frame is scored on
    # Blur is judged against about this many seconds of neighbours: short enough to follow the
    # scene's own changes of detail, long enough to outnumber a burst of shaky frames.
    blur_window_s: float = 1.0
    # Decoded pictures of well-exposed frames are kept in memory up to this many MiB, so the
    # chosen ones are written without decoding the video a second time; a longer or larger
    # video than fits is decoded twice instead (same result, bounded memory). 0: always twice.
    memory_budget_mb: int = 512

    def __post_init__(self) -> None:
        problems = []
        if self.max_frames < 1:
            problems.append(("max_frames", "must be at least 1"))
        if self.max_side is not None and self.max_side < 16:
            problems.append(("max_side", "must be at least 16 pixels or None"))
        if not 0.0 <= self.min_sharpness_ratio < 1.0:
            problems.append(("min_sharpness_ratio", "must be in [0, 1)"))
        if self.min_novelty < 0.0:
            problems.append(("min_novelty", "must not be negative"))
        if not 0.0 < self.clip_threshold <= 1.0:
            problems.append(("clip_threshold", "must be in (0, 1]"))
        if self.analysis_side < 32:
            problems.append(("analysis_side", "must be at least 32 pixels"))
        if self.blur_window_s <= 0.0:
            problems.append(("blur_window_s", "must be positive"))
        if self.memory_budget_mb < 0:
            problems.append(("memory_budget_mb", "must not be negative"))
        if problems:
            name, why = problems[0]
            raise InvalidInputError(
                f"keyframe option {name} {why} (got {getattr(self, name)!r})", field=name
            )


@dataclass(frozen=True, slots=True)
class KeyframeResult:
    """The frames `select_keyframes` wrote, why the others were dropped, and the video's facts.

    ``stats`` counts every decoded frame exactly once: ``decoded == kept + rejected_exposure +
    rejected_blurry + rejected_static + not_selected`` (``not_selected``: acceptable frames left
    out to stay within ``max_frames``). ``decode_errors`` counts packets the decoder refused.
    """

    frames: list[FrameRecord]
    stats: dict[str, int]
    info: VideoInfo


@dataclass(frozen=True, slots=True)
class PhotoResult:
    """The photos `load_photos` wrote, the files it skipped and why, and how many it looked at."""

    frames: list[FrameRecord]
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file name, reason)
    seen: int = 0


@dataclass(frozen=True, slots=True)
class FrameManifest:
    """The contents of a frames.json file, as `read_frames_json` returns them."""

    source: dict[str, Any]
    stats: dict[str, Any]
    frames: list[FrameRecord]
