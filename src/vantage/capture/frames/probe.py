"""Probing a video file: its `VideoInfo`, or an `InvalidMediaError` saying in one line why not.

Probing opens the container and decodes the first two frames, so a file that passes can be
decoded: that catches text files named ``.mp4``, audio-only files, damaged media and clips too
short to reconstruct from, before any work is queued on them. The error's ``reason`` field is
one of ``missing``, ``not-a-file``, ``empty``, ``not-media``, ``no-video``, ``undecodable`` and
``too-short``.
"""

from __future__ import annotations

from pathlib import Path

import av
import av.container
from av.video.frame import VideoFrame
from av.video.stream import VideoStream

from vantage.capture.frames.decoding import clockwise_rotation, open_input
from vantage.capture.frames.records import VideoInfo
from vantage.errors import InvalidMediaError

#: Packets probed for two decodable frames before a file is declared damaged.
PROBE_PACKET_LIMIT = 600


def probe_video(path: Path | str) -> VideoInfo:
    """Read what ``path`` holds and check that its video can be decoded.

    Raises:
        InvalidMediaError: The file is missing, empty, not a media container, has no video
            stream, cannot be decoded, or holds fewer than 2 frames. ``path`` and ``reason``
            travel as fields.
    """
    path = Path(path)
    _check_file(path)
    with open_input(path) as container:
        stream = _video_stream(container, path)
        first = _first_frames(container, stream, path)
        rotation = clockwise_rotation(first.rotation, stream.metadata.get("rotate"))
        fps = _fps(stream)
        duration_s = _duration_s(container, stream)
        frame_count = stream.frames or round(duration_s * fps)
        if not fps and duration_s > 0 and frame_count:
            fps = frame_count / duration_s
        width, height = first.width, first.height
        if rotation in (90, 270):
            width, height = height, width
        return VideoInfo(
            path=path,
            container_format=container.format.name,
            codec=stream.codec_context.name,
            width=width,
            height=height,
            fps=fps,
            frame_count=max(int(frame_count), 2),
            duration_s=duration_s,
            rotation_deg=rotation,
        )


def _check_file(path: Path) -> None:
    def fail(message: str, reason: str) -> InvalidMediaError:
        return InvalidMediaError(f"{path.name or path}: {message}", path=str(path), reason=reason)

    if not path.exists():
        raise fail("no such file", "missing")
    if not path.is_file():
        raise fail("not a file (a folder or a device), expected a video file", "not-a-file")
    if path.stat().st_size == 0:
        raise fail("the file is empty (0 bytes)", "empty")


def _video_stream(container: av.container.InputContainer, path: Path) -> VideoStream:
    if container.streams.video:
        stream = container.streams.video[0]
        if stream.codec_context is None:  # FFmpeg knows the codec but this build cannot decode it
            raise InvalidMediaError(
                f"{path.name}: its video codec cannot be decoded by this build of FFmpeg",
                path=str(path),
                reason="undecodable",
            )
        return stream
    kinds = sorted({stream.type for stream in container.streams})
    holds = f"only {' and '.join(kinds)}" if kinds else "no streams at all"
    raise InvalidMediaError(
        f"{path.name}: has no video stream (it holds {holds})", path=str(path), reason="no-video"
    )


def _first_frames(
    container: av.container.InputContainer, stream: VideoStream, path: Path
) -> VideoFrame:
    """The first decoded frame, once a second one has decoded too."""
    frames: list[VideoFrame] = []
    errors = packets = 0
    try:
        for packet in container.demux(stream):
            packets += 1
            try:
                frames.extend(stream.decode(packet))
            except av.FFmpegError:
                errors += 1
            if len(frames) >= 2:
                return frames[0]
            if packets >= PROBE_PACKET_LIMIT:
                break
    except av.FFmpegError as exc:  # a demuxer error: the container itself is damaged
        raise InvalidMediaError(
            f"{path.name}: the file is damaged and cannot be read ({exc.strerror or exc})",
            path=str(path),
            reason="undecodable",
        ) from exc
    if not frames or errors:
        codec = stream.codec_context.name
        raise InvalidMediaError(
            f"{path.name}: {'no' if not frames else 'only one'} video frame could be decoded "
            f"({codec}, {errors} damaged packets): the file is damaged or truncated",
            path=str(path),
            reason="undecodable",
        )
    raise InvalidMediaError(
        f"{path.name}: too short: it holds 1 decodable video frame, at least 2 are needed",
        path=str(path),
        reason="too-short",
    )


def _fps(stream: VideoStream) -> float:
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    return float(rate) if rate else 0.0


def _duration_s(container: av.container.InputContainer, stream: VideoStream) -> float:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / av.time_base
    return 0.0
