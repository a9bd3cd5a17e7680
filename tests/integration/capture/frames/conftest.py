"""Fixtures: a moving clip with blur and a pause, a phone-style rotated clip, and broken files
that probing must refuse, each made once per session."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from .clips import (
    HEIGHT,
    WIDTH,
    MovingClip,
    RotatedClip,
    encode,
    make_audio_only,
    motion_blur,
    overwrite_mdat,
    window,
)


@pytest.fixture(scope="session")
def moving_clip(tmp_path_factory: pytest.TempPathFactory) -> MovingClip:
    count, pause, blurred = 120, range(59, 82), frozenset({20, 40, 95, 105})
    steps: list[float] = []
    step = 0.0
    for index in range(count):
        if index not in pause or index == pause.start:
            step += 1.0
        steps.append(step)
    pictures = [
        motion_blur(window(s)) if index in blurred else window(s) for index, s in enumerate(steps)
    ]
    path = encode(tmp_path_factory.mktemp("clips") / "moving.mp4", pictures)
    return MovingClip(path, count, blurred, pause, tuple(steps))


@pytest.fixture(scope="session")
def rotated_clip(tmp_path_factory: pytest.TempPathFactory) -> RotatedClip:
    upright = tuple(window(s, size=(HEIGHT, WIDTH)) for s in range(0, 60, 2))  # [320, 240, 3]
    stored = [np.ascontiguousarray(np.rot90(picture, 1)) for picture in upright]  # [240, 320, 3]
    # Showing `stored` upright takes a clockwise turn: a display matrix of -90° (counter-clockwise).
    path = encode(tmp_path_factory.mktemp("clips") / "portrait.mp4", stored, display_ccw_deg=-90)
    return RotatedClip(path, upright)


@pytest.fixture(scope="session")
def broken_files(
    tmp_path_factory: pytest.TempPathFactory, moving_clip: MovingClip
) -> dict[str, Path]:
    """Files that are not usable videos, by the ``reason`` probing must give."""
    folder = tmp_path_factory.mktemp("broken")
    good = moving_clip.path.read_bytes()
    rng = np.random.default_rng(0)
    (folder / "empty.mp4").write_bytes(b"")
    (folder / "notes.mp4").write_text("meeting notes, not a video\n" * 20)
    (folder / "truncated.mp4").write_bytes(good[: len(good) // 2])
    (folder / "a_folder.mp4").mkdir()
    one = encode(folder / "one_frame.mp4", [window(0)])
    return {
        "missing": folder / "nowhere.mp4",
        "not-a-file": folder / "a_folder.mp4",
        "empty": folder / "empty.mp4",
        "not-media": folder / "notes.mp4",
        "truncated": folder / "truncated.mp4",
        "no-video-aac": make_audio_only(folder / "voice.m4a", "aac"),
        "no-video-wav": make_audio_only(folder / "voice.wav", "pcm_s16le"),
        "undecodable-random": overwrite_mdat(moving_clip.path, folder / "random.mp4", rng.bytes),
        "undecodable-zeros": overwrite_mdat(moving_clip.path, folder / "zeros.mp4", bytes),
        "too-short": one,
    }
