"""Keyframes from a video: score every frame, reject the bad ones, write a spread of the best.

The scoring pass decodes every frame and scores it on its luma plane (no colour conversion),
keeping numbers and a 3 KB thumbnail per well-exposed frame. Selection then runs on those
scores (see `selection`), and only the chosen frames are converted, scaled, turned upright and
JPEG-encoded, on worker threads. Memory stays bounded: while the video's decoded pictures fit
in ``memory_budget_mb`` (a short clip — 10 s of 640×480 is 140 MB), the scoring pass keeps a
copy of each well-exposed picture and the chosen ones are written from memory; a video too long
or too large for the budget is decoded a second time instead, up to the last chosen frame, and
gives the same frames. Skipping the colour conversion of the frames not chosen is what lets
extraction with scoring run near the speed of a plain RGB decode (bench/frames_throughput.py).
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import av.container
import cv2
import numpy as np
from av.video.frame import VideoFrame
from av.video.stream import VideoStream
from numpy.typing import NDArray

from vantage.capture.frames.atomic import write_bytes_atomic
from vantage.capture.frames.decoding import (
    DecodeTally,
    i420_upright_bgr,
    iter_frames,
    luma,
    open_input,
    opencv_convertible,
    upright_bgr,
)
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
    # index → a copy of the decoded picture, while the budget lasts (see _PictureStore)
    pictures: _PictureStore | None = None


#: Pixel formats whose pictures survive `VideoFrame.to_ndarray` → `VideoFrame.from_ndarray`.
_STORABLE_FORMATS = frozenset({"yuv420p", "yuvj420p", "nv12", "gray"})


#: Makes the upright BGR picture [H, W, 3] of a frame to write (run on a writer thread).
_Picture = Callable[[], NDArray[np.uint8]]


class _PictureStore:
    """Copies of decoded pictures, by frame index, up to a byte budget.

    Once a picture would exceed the budget every copy is dropped and `complete` turns False:
    the chosen frames are then decoded again instead.
    """

    def __init__(self, budget_bytes: int) -> None:
        self._budget = budget_bytes
        self._used = 0
        self._pictures: dict[int, tuple[NDArray[np.uint8], str, int, int]] = {}
        self.complete = budget_bytes > 0

    def keep(self, index: int, frame: VideoFrame) -> None:
        """Keep a copy of ``frame`` (if the budget and its pixel format allow)."""
        if not self.complete:
            return
        if frame.format.name not in _STORABLE_FORMATS:
            self._give_up()
            return
        picture = np.asarray(frame.to_ndarray(), dtype=np.uint8)  # a copy of the planes
        self._used += picture.nbytes
        if self._used > self._budget:
            self._give_up()
            return
        self._pictures[index] = (picture, frame.format.name, frame.color_range, frame.colorspace)

    def take(self, index: int, rotation_deg: int, max_side: int | None) -> _Picture:
        """Hand over the kept picture of frame ``index``: converted upright when called."""
        picture, name, color_range, colorspace = self._pictures.pop(index)
        if opencv_convertible(name, color_range, colorspace):
            return partial(i420_upright_bgr, picture, rotation_deg, max_side)
        frame = VideoFrame.from_ndarray(picture, format=name)
        frame.color_range = color_range
        frame.colorspace = colorspace
        return partial(upright_bgr, frame, rotation_deg, max_side)

    def _give_up(self) -> None:
        self._pictures.clear()
        self.complete = False


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
    if scores.pictures is not None and scores.pictures.complete:
        _write_kept(scores.pictures, choice.indices, info, out_dir, options, report)
    else:
        scores.pictures = None  # free what was kept before decoding again
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
    budget = options.memory_budget_mb * 2**20
    if info.frame_count * info.width * info.height * 3 // 2 <= budget:  # yuv420p estimate
        scores.pictures = _PictureStore(budget)
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
                if scores.pictures is not None:
                    scores.pictures.keep(index, frame)
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


def _write_kept(
    pictures: _PictureStore,
    indices: list[int],
    info: VideoInfo,
    out_dir: Path,
    options: KeyframeOptions,
    report: ProgressThrottle,
) -> None:
    """Write the chosen frames from the pictures the scoring pass kept."""
    with _JpegWriter() as writer:
        for number, index in enumerate(indices):
            target = out_dir / f"{number:05d}.jpg"
            writer.submit(pictures.take(index, info.rotation_deg, options.max_side), target)
            done = (number + 1) / len(indices)
            report(
                _SCORING_SHARE + (1 - _SCORING_SHARE) * done,
                f"writing frame {number + 1} of {len(indices)}",
            )


class _JpegWriter:
    """Encodes and writes frames on worker threads, holding only a few frames at a time."""

    def __init__(self) -> None:
        self._workers = max(1, min(4, os.cpu_count() or 1))
        self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="keyframe-jpeg")
        self._pending: deque[Future[None]] = deque()

    def __enter__(self) -> _JpegWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if exc[0] is None:
                for future in self._pending:
                    future.result()
        finally:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def submit(self, picture: _Picture, target: Path) -> None:
        """Queue a picture to be made and written to ``target`` (waits while many are queued)."""
        self._pending.append(self._pool.submit(_write_picture, picture, target))
        while len(self._pending) > 2 * self._workers:  # bound the frames held in memory
            self._pending.popleft().result()


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
    written = 0
    with _JpegWriter() as writer, _decoding(info.path) as (container, stream):
        origin = _origin_s(stream)
        for index, frame in enumerate(iter_frames(container, stream, DecodeTally())):
            number = numbers.get(index)
            if number is not None:
                if abs(_time_s(frame, origin, index, info.fps) - times[index]) > 1e-6:
                    break
                target = out_dir / f"{number:05d}.jpg"
                picture = partial(upright_bgr, frame, info.rotation_deg, options.max_side)
                writer.submit(picture, target)
                written += 1
                report(
                    _SCORING_SHARE + (1 - _SCORING_SHARE) * (index + 1) / (last + 1),
                    f"writing frame {written} of {len(times)}",
                )
            if index >= last:
                break
    if written < len(times):
        raise InvalidMediaError(
            f"{info.path.name}: the video decoded differently the second time",
            path=str(info.path),
            reason="undecodable",
        )


def _write_picture(make: _Picture, target: Path) -> None:
    picture = make()  # [H, W, 3]
    ok, encoded = cv2.imencode(".jpg", picture, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise InvalidMediaError(f"could not encode {target.name} as JPEG", path=str(target))
    write_bytes_atomic(target, encoded.tobytes())
