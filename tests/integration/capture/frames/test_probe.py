"""Probing: the facts of a good clip, and one precise InvalidMediaError per kind of bad file."""

from __future__ import annotations

from pathlib import Path

import pytest

from vantage.capture.frames import probe_video
from vantage.errors import InvalidMediaError

from .clips import FPS, HEIGHT, WIDTH, MovingClip, RotatedClip


def test_probe_good_clip(moving_clip: MovingClip) -> None:
    info = probe_video(moving_clip.path)
    assert info.path == moving_clip.path
    assert "mp4" in info.container_format
    assert info.codec == "h264"
    assert (info.width, info.height) == (WIDTH, HEIGHT)
    assert info.fps == pytest.approx(FPS)
    assert info.frame_count == moving_clip.count
    assert info.duration_s == pytest.approx(moving_clip.count / FPS, abs=0.1)
    assert info.rotation_deg == 0


def test_probe_reads_the_display_rotation(rotated_clip: RotatedClip) -> None:
    info = probe_video(str(rotated_clip.path))
    assert info.rotation_deg == 90
    assert (info.width, info.height) == (HEIGHT, WIDTH)  # portrait once turned


@pytest.mark.parametrize(
    ("case", "reason", "words"),
    [
        ("missing", "missing", "no such file"),
        ("not-a-file", "not-a-file", "not a file"),
        ("empty", "empty", "empty (0 bytes)"),
        ("not-media", "not-media", "not a video file"),
        ("truncated", "not-media", "truncated or damaged"),
        ("no-video-aac", "no-video", "no video stream (it holds only audio)"),
        ("no-video-wav", "no-video", "no video stream (it holds only audio)"),
        ("undecodable-random", "undecodable", "no video frame could be decoded"),
        ("undecodable-zeros", "undecodable", "no video frame could be decoded"),
        ("too-short", "too-short", "at least 2 are needed"),
    ],
)
def test_bad_files_raise_invalid_media(
    broken_files: dict[str, Path], case: str, reason: str, words: str
) -> None:
    path = broken_files[case]
    with pytest.raises(InvalidMediaError) as caught:
        probe_video(path)
    error = caught.value
    assert error.fields == {"path": str(path), "reason": reason}
    assert str(error).startswith(path.name)
    assert words in str(error)
    assert "\n" not in str(error)
    assert error.http_status == 422
