"""Keyframes from a video: score every frame, reject the bad ones, write a spread of the best.

Two decode passes, bounded memory. The first scores every frame on its luma plane (no colour
conversion) and keeps only numbers and a 3 KB thumbnail per well-exposed frame, never a
full-resolution picture. Selection then runs on those scores (see `selection`). The second
pass decodes again, stopping after the last chosen frame, and converts, scales, turns upright
and writes only the chosen frames, JPEG-encoding them on worker threads while decoding goes on.
Decoding without conversion costs a fraction of converting every frame to RGB, so both passes
together run at roughly the speed of one plain RGB decode (see bench/frames_throughput.py).
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import av.container
import cv2
import numpy as np
from av.video.frame import VideoFrame
from av.video.stream import VideoStream
from numpy.typing import NDArray

from vantage.capture.frames.atomic import write_bytes_atomic
from vantage.capture.frames.decoding import DecodeTally, iter_frames, luma, open_input, upright_bgr
from vantage.capture.frames.probe import probe_video
from vantage.capture.frames.progress import ProgressThrottle
from vantage.capture.frames.records import (
    FrameRecord,
    KeyframeOptions,
    KeyframeResult,
    ProgressCallback,
    VideoInfo,
)
from vantage.capture.frames.scoring import (
    analysis_grey,
    change,
    clipped_fraction,
    normalised,
    sharpness,
    thumbnail,
)
from vantage.capture.frames.selection import (
    blurry_mask,
    drop_static,
    spread_by_distance,
    typical_change,
)
from vantage.errors import InvalidMediaError, TooFewImagesError

JPEG_QUALITY = 95
_SCORING_SHARE = 0.85  # share of the progress bar for the scoring pass
#: A frame that changed by less than this share of the typical change between frames repeats
#: the previous view (a pause); repeats count once in the neighbourhood blur is judged against.
_REPEAT_FRACTION = 0.05


@dataclass
class _Scores:
    """What the scoring pass keeps: per-frame numbers, and thumbnails of well-exposed frames."""

    sharpness: list[float] = field(default_factory=list)
    clipped: list[float] = field(default_factory=list)
    consecutive: list[float] = field(default_factory=list)  # change since the previous frame
    time_s: list[float] = field(default_factory=list)
    thumbnails: dict[int, NDArray[np.uint8]] = field(default_factory=dict)  # index → [48, 64]
    decode_errors: int = 0


@dataclass(frozen=True)
class _Choice:
    indices: list[int]  # decoded-frame indices to write, ascending
    novelty: list[float]  # each one's change since the previous chosen frame
    stats: dict[str, int]


def select_keyframes(
    video: Path,
    out_dir: Path,
    options: KeyframeOptions | None = None,
    progress: ProgressCallback | None = None,
) -> KeyframeResult:
    """Score every frame of ``video`` and write the chosen ones to ``out_dir/NNNNN.jpg``.

    Frames are rejected when over-exposed (``clip_threshold``), blurry relative to their
    neighbourhood (``min_sharpness_ratio``) or static since the last kept frame
    (``min_novelty``); of the rest, up to ``max_frames`` are chosen evenly along the camera's
    path, the sharpest of each stretch. Written frames are upright, RGB JPEGs (quality 95)
    scaled to ``max_side``, each written atomically.

    Args:
        video: The video file.
        out_dir: Folder for the JPEGs (created if missing); frames.json goes beside it.
        options: Thresholds and limits; defaults when None.
        progress: Called with (fraction, message) at most every ~0.2 s; it may raise (e.g. to
            cancel), which stops the work with no half-written file left behind.

    Raises:
        InvalidMediaError: The file is not a usable video (see `probe_video`).
        TooFewImagesError: Every frame was rejected (e.g. a black or blown-out clip).
    """
    options = options or KeyframeOptions()
    report = ProgressThrottle(progress)
    info = probe_video(video)
    report(0.0, f"scoring frames of {info.path.name}", force=True)
    scores = _score_frames(info, options, report)
    if len(scores.sharpness) < 2:
        raise InvalidMediaError(
            f"{info.path.name}: fewer than 2 frames could be decoded",
            path=str(info.path),
            reason="undecodable",
        )
    choice = _choose(scores, info, options)
    if not choice.indices:
        stats = choice.stats
        raise TooFewImagesError(
            f"{info.path.name}: no usable frame among {stats['decoded']} "
            f"({stats['rejected_exposure']} badly exposed, {stats['rejected_blurry']} blurry)",
            path=str(info.path),
            usable=0,
            **{key: value for key, value in stats.items() if key != "kept"},
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    times = {index: scores.time_s[index] for index in choice.indices}
    _write_chosen(info, times, out_dir, options, report)
    frames = [
        FrameRecord(
            file=f"{out_dir.name}/{number:05d}.jpg",
            source_index=index,
            time_s=scores.time_s[index],
            sharpness=scores.sharpness[index],
            clipped_fraction=scores.clipped[index],
            novelty=choice.novelty[number],
        )
        for number, index in enumerate(choice.indices)
    ]
    report(1.0, f"kept {len(frames)} of {choice.stats['decoded']} frames", force=True)
    return KeyframeResult(frames=frames, stats=choice.stats, info=info)


@contextmanager
def _decoding(path: Path) -> Iterator[tuple[av.container.InputContainer, VideoStream]]:
    with open_input(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        yield container, stream


def _score_frames(info: VideoInfo, options: KeyframeOptions, report: ProgressThrottle) -> _Scores:
    scores = _Scores()
    tally = DecodeTally()
    previous: NDArray[np.float32] | None = None
    with _decoding(info.path) as (container, stream):
        origin = _origin_s(stream)
        for index, frame in enumerate(iter_frames(container, stream, tally)):
            picture, full_range = luma(frame)  # [H, W]
            grey = analysis_grey(picture, options.analysis_side)  # [h, w]
            thumb = thumbnail(grey)  # [48, 64]
            current = normalised(thumb)
            clipped = clipped_fraction(grey, full_range=full_range)
            scores.sharpness.append(sharpness(grey))
            scores.clipped.append(clipped)
            scores.consecutive.append(0.0 if previous is None else change(current, previous))
            scores.time_s.append(_time_s(frame, origin, index, info.fps))
            if clipped <= options.clip_threshold:
                scores.thumbnails[index] = thumb
            previous = current
            done = min(1.0, (index + 1) / info.frame_count)  # frame_count may be an estimate
            report(_SCORING_SHARE * done, f"scored {index + 1} frames")
    scores.decode_errors = tally.errors
    return scores


def _origin_s(stream: VideoStream) -> float | None:
    if stream.start_time is not None and stream.time_base:
        return float(stream.start_time * stream.time_base)
    return None


def _time_s(frame: VideoFrame, origin: float | None, index: int, fps: float) -> float:
    if frame.time is not None:
        return max(0.0, frame.time - (origin or 0.0))
    return index / fps if fps else 0.0


def _choose(scores: _Scores, info: VideoInfo, options: KeyframeOptions) -> _Choice:
    sharp = np.asarray(scores.sharpness, dtype=np.float64)  # [N]
    bad_exposure = np.asarray(scores.clipped) > options.clip_threshold  # [N]
    consecutive = np.asarray(scores.consecutive, dtype=np.float64)  # [N]
    typical = typical_change(consecutive[1:])
    distinct = consecutive > _REPEAT_FRACTION * typical  # not a repeat of the previous view
    distinct[0] = True
    window = max(5, round((info.fps or 30.0) * options.blur_window_s)) | 1  # odd
    blurry = ~bad_exposure & blurry_mask(
        sharp, window=window, min_ratio=options.min_sharpness_ratio, distinct=distinct
    )
    candidates = np.flatnonzero(~bad_exposure & ~blurry)  # [C] frame indices
    kept, _ = drop_static(
        [scores.thumbnails[int(i)] for i in candidates], options.min_novelty * typical
    )
    accepted = candidates[kept]  # [A] frame indices
    # Distances along the path between accepted frames, for spreading the choice.
    steps = _steps([scores.thumbnails[int(i)] for i in accepted])
    chosen = accepted[spread_by_distance(steps, sharp[accepted], options.max_frames)]
    indices = [int(i) for i in chosen]
    stats = {
        "decoded": len(sharp),
        "kept": len(indices),
        "rejected_exposure": int(bad_exposure.sum()),
        "rejected_blurry": int(blurry.sum()),
        "rejected_static": len(candidates) - len(accepted),
        "not_selected": len(accepted) - len(indices),
        "decode_errors": scores.decode_errors,
    }
    novelty = _steps([scores.thumbnails[i] for i in indices]).tolist()
    return _Choice(indices=indices, novelty=novelty, stats=stats)


def _steps(thumbnails: list[NDArray[np.uint8]]) -> NDArray[np.float64]:
    """Change from each thumbnail to the one before it (0 for the first); [K]."""
    steps = np.zeros(len(thumbnails), dtype=np.float64)
    previous: NDArray[np.float32] | None = None
    for position, thumb in enumerate(thumbnails):
        current = normalised(thumb)
        if previous is not None:
            steps[position] = change(current, previous)
        previous = current
    return steps


def _write_chosen(
    info: VideoInfo,
    times: dict[int, float],
    out_dir: Path,
    options: KeyframeOptions,
    report: ProgressThrottle,
) -> None:
    """Decode again and write the frames at the indices of ``times`` (index → time_s).

    The times from the scoring pass check that the second decode yields the same frames.
    """
    numbers = {index: number for number, index in enumerate(sorted(times))}
    last = max(times)
    workers = max(1, min(4, os.cpu_count() or 1))
    pending: deque[Future[None]] = deque()
    written = 0
    with ThreadPoolExecutor(workers, thread_name_prefix="keyframe-jpeg") as pool:
        with _decoding(info.path) as (container, stream):
            origin = _origin_s(stream)
            for index, frame in enumerate(iter_frames(container, stream, DecodeTally())):
                number = numbers.get(index)
                if number is not None:
                    if abs(_time_s(frame, origin, index, info.fps) - times[index]) > 1e-6:
                        break
                    target = out_dir / f"{number:05d}.jpg"
                    args = (frame, target, info.rotation_deg, options.max_side)
                    pending.append(pool.submit(_write_frame, *args))
                    written += 1
                    while len(pending) > 2 * workers:  # bound the frames held in memory
                        pending.popleft().result()
                    report(
                        _SCORING_SHARE + (1 - _SCORING_SHARE) * (index + 1) / (last + 1),
                        f"writing frame {written} of {len(times)}",
                    )
                if index >= last:
                    break
        for future in pending:
            future.result()
    if written < len(times):
        raise InvalidMediaError(
            f"{info.path.name}: the video decoded differently the second time",
            path=str(info.path),
            reason="undecodable",
        )


def _write_frame(frame: VideoFrame, target: Path, rotation_deg: int, max_side: int | None) -> None:
    picture = upright_bgr(frame, rotation_deg, max_side)  # [H, W, 3]
    ok, encoded = cv2.imencode(".jpg", picture, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise InvalidMediaError(f"could not encode {target.name} as JPEG", path=str(target))
    write_bytes_atomic(target, encoded.tobytes())
