"""Keyframe selection on real H.264 clips: blur and pauses rejected, frames spread along the path,
written upright and faithful, recorded in frames.json, progress reported."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from vantage.capture.frames import (
    KeyframeOptions,
    KeyframeResult,
    read_frames_json,
    select_keyframes,
    write_frames_json,
)
from vantage.capture.frames.decoding import iter_frames
from vantage.errors import InvalidMediaError, TooFewImagesError

from .clips import (
    FPS,
    HEIGHT,
    WIDTH,
    MovingClip,
    RotatedClip,
    encode,
    motion_blur,
    strip,
    window,
)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    error = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float(10 * np.log10(255.0**2 / max(error, 1e-12)))


def read_rgb(path: Path) -> np.ndarray:
    picture = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert picture is not None, path
    return np.asarray(picture[..., ::-1])


def check_stats(result: KeyframeResult) -> None:
    stats = result.stats
    assert stats["kept"] == len(result.frames)
    assert stats["decoded"] == (
        stats["kept"]
        + stats["rejected_exposure"]
        + stats["rejected_blurry"]
        + stats["rejected_static"]
        + stats["not_selected"]
    )


@pytest.fixture(scope="module")
def thinned(
    moving_clip: MovingClip, tmp_path_factory: pytest.TempPathFactory
) -> tuple[KeyframeResult, Path]:
    """Up to 30 keyframes of the moving clip, and the job folder holding ``frames/``."""
    job_dir = tmp_path_factory.mktemp("job")
    result = select_keyframes(moving_clip.path, job_dir / "frames", KeyframeOptions(max_frames=30))
    return result, job_dir


def test_blur_and_pause_are_rejected_and_frames_spread(
    moving_clip: MovingClip, thinned: tuple[KeyframeResult, Path]
) -> None:
    result, _ = thinned
    kept = [frame.source_index for frame in result.frames]
    check_stats(result)
    assert result.stats["decoded"] == moving_clip.count
    assert 25 <= len(kept) <= 30
    assert not set(kept) & moving_clip.blurred
    assert set(kept) & set(moving_clip.pause) <= {moving_clip.pause.start}
    assert result.stats["rejected_static"] >= len(moving_clip.pause) - 1
    # Spread along the path: positions among the frames where the camera moved.
    moving = [i for i in range(moving_clip.count) if i not in moving_clip.pause[1:]]
    positions = np.array([moving.index(i) for i in kept])
    gaps = np.diff(positions)
    limit = 3 * np.median(gaps)
    assert gaps.max() <= limit
    assert positions[0] <= limit
    assert positions[-1] >= len(moving) - 1 - limit


def test_default_keeps_every_good_frame(moving_clip: MovingClip, tmp_path: Path) -> None:
    result = select_keyframes(moving_clip.path, tmp_path / "frames", KeyframeOptions())
    check_stats(result)
    good = set(range(moving_clip.count)) - moving_clip.blurred - set(moving_clip.pause[1:])
    kept = {frame.source_index for frame in result.frames}
    assert kept <= good
    assert len(good - kept) <= 2  # a dip in the texture's own detail may cost a frame
    assert result.stats["rejected_blurry"] >= len(moving_clip.blurred)


@pytest.mark.parametrize(
    ("start_px", "fps", "speed_px", "burst", "blur_px"),
    [(0, 30, 5.0, 2, 13), (1300, 24, 9.0, 3, 11), (2600, 30, 3.0, 1, 9), (3500, 15, 12.0, 1, 15)],
)
def test_blur_is_caught_across_scenes(
    start_px: int, fps: int, speed_px: float, burst: int, blur_px: int, tmp_path: Path
) -> None:
    # Other textures, frame rates and speeds, and bursts of consecutive shaky frames.
    texture = strip()  # [512, W, 3]
    count = 3 * fps
    starts = [fps // 2, fps + fps // 3, 2 * fps + fps // 5]
    shaky = {start + k for start in starts for k in range(burst)}
    pictures = []
    for index in range(count):
        x = round(start_px + index * speed_px)
        y = round(130 + 120 * np.sin(index / fps * 2.0))
        view = np.ascontiguousarray(texture[y : y + HEIGHT, x : x + WIDTH])
        pictures.append(motion_blur(view, blur_px) if index in shaky else view)
    clip = encode(tmp_path / "scene.mp4", pictures, fps=fps)
    result = select_keyframes(clip, tmp_path / "frames", KeyframeOptions())
    check_stats(result)
    kept = {frame.source_index for frame in result.frames}
    assert not kept & shaky
    assert len(kept) >= count - len(shaky) - 3


def test_a_handheld_pause_adds_little(tmp_path: Path) -> None:
    # A 2 s pause where the hand trembles by a pixel; before and after, steady motion.
    rng = np.random.default_rng(7)
    pause = range(30, 60)
    pictures = []
    for index in range(90):
        if index in pause:
            dx, dy = (int(v) for v in rng.integers(-1, 2, size=2))
            pictures.append(window(pause.start, jitter=(dx, dy)))
        else:
            pictures.append(window(min(index, pause.start) + max(0, index - pause.stop + 1)))
    clip = encode(tmp_path / "handheld.mp4", pictures)
    result = select_keyframes(clip, tmp_path / "frames", KeyframeOptions(max_frames=20))
    check_stats(result)
    kept = [frame.source_index for frame in result.frames]
    # Trembling is not travel: it never adds up, so the pause gets a frame or two at most.
    assert len(set(kept) & set(pause)) <= 2
    assert result.stats["rejected_static"] >= len(pause) // 2, result.stats


def test_frames_json_and_files_agree(
    moving_clip: MovingClip, thinned: tuple[KeyframeResult, Path]
) -> None:
    result, job_dir = thinned
    manifest = job_dir / "frames.json"
    write_frames_json(
        manifest, source=result.info.as_dict(), frames=result.frames, stats=result.stats
    )
    loaded = read_frames_json(manifest)
    assert loaded.stats == result.stats
    assert loaded.source["path"] == str(moving_clip.path)
    assert loaded.source["rotation_deg"] == 0
    files = sorted(p.name for p in (job_dir / "frames").iterdir())
    assert files == [f"{i:05d}.jpg" for i in range(len(result.frames))]
    previous = -1
    for number, entry in enumerate(loaded.frames):
        assert entry.file == f"frames/{number:05d}.jpg"
        assert (job_dir / entry.file).is_file()
        assert entry.source_index > previous
        previous = entry.source_index
        assert entry.time_s == pytest.approx(entry.source_index / FPS, abs=1e-3)
        assert entry.sharpness is not None and entry.sharpness > 0
        assert entry.clipped_fraction is not None and 0 <= entry.clipped_fraction <= 1
        assert entry.novelty is not None and (entry.novelty > 0) == (number > 0)


def test_written_frames_match_their_source(
    moving_clip: MovingClip, thinned: tuple[KeyframeResult, Path]
) -> None:
    result, job_dir = thinned
    for entry in result.frames[::5]:
        written = read_rgb(job_dir / entry.file)
        assert written.shape == (HEIGHT, WIDTH, 3)
        assert psnr(written, moving_clip.source(entry.source_index)) > 28
        # And not merely similar: the neighbouring views are clearly worse matches.
        other = moving_clip.source(min(entry.source_index + 3, moving_clip.count - 1))
        if entry.source_index + 3 not in moving_clip.pause:
            assert psnr(written, other) < psnr(written, moving_clip.source(entry.source_index))


def test_max_side_caps_written_frames(moving_clip: MovingClip, tmp_path: Path) -> None:
    options = KeyframeOptions(max_frames=5, max_side=160)
    result = select_keyframes(moving_clip.path, tmp_path / "frames", options)
    assert len(result.frames) == 5
    for entry in result.frames:
        assert read_rgb(tmp_path / entry.file).shape == (120, 160, 3)


def test_rotated_clip_is_written_upright(rotated_clip: RotatedClip, tmp_path: Path) -> None:
    result = select_keyframes(rotated_clip.path, tmp_path / "frames", KeyframeOptions())
    assert result.info.rotation_deg == 90
    assert len(result.frames) >= 20
    # Independent reference: OpenCV's reader applies the display matrix itself.
    capture = cv2.VideoCapture(str(rotated_clip.path))
    reference = []
    while True:
        ok, picture = capture.read()
        if not ok:
            break
        reference.append(picture[..., ::-1])
    capture.release()
    for entry in result.frames[::4]:
        written = read_rgb(tmp_path / entry.file)
        assert written.shape == (WIDTH, HEIGHT, 3)  # portrait
        assert psnr(written, rotated_clip.upright[entry.source_index]) > 28
        assert psnr(written, reference[entry.source_index]) > 35


def test_progress_is_rate_limited_and_ends_at_one(moving_clip: MovingClip, tmp_path: Path) -> None:
    updates: list[tuple[float, float, str]] = []

    def progress(fraction: float, message: str) -> None:
        updates.append((time.monotonic(), fraction, message))
        time.sleep(0.05)  # a slow listener makes the work span several intervals

    started = time.monotonic()
    select_keyframes(moving_clip.path, tmp_path / "frames", KeyframeOptions(), progress)
    elapsed = time.monotonic() - started
    fractions = [fraction for _, fraction, _ in updates]
    assert fractions == sorted(fractions)
    assert fractions[0] == 0.0 and fractions[-1] == 1.0
    assert "kept" in updates[-1][2]
    assert len(updates) <= elapsed / 0.2 + 3
    between = np.diff([at for at, _, _ in updates[:-1]])
    assert np.all(between >= 0.19)


def test_cancelling_from_progress_leaves_no_partial_file(
    moving_clip: MovingClip, tmp_path: Path
) -> None:
    class Cancelled(Exception):
        pass

    def progress(fraction: float, _: str) -> None:
        if fraction > 0.9:
            raise Cancelled

    out_dir = tmp_path / "frames"
    with pytest.raises(Cancelled):
        select_keyframes(moving_clip.path, out_dir, KeyframeOptions(max_frames=120), progress)
    for path in out_dir.iterdir():
        assert path.suffix == ".jpg" and not path.name.startswith(".")
        assert read_rgb(path).shape == (HEIGHT, WIDTH, 3)


def test_rgb_codec_takes_the_conversion_path(tmp_path: Path) -> None:
    # PNG-coded video decodes to RGB frames: luma comes from swscale, not plane 0.
    pictures = [window(s / 4, (160, 120)) for s in range(30)]
    clip = encode(tmp_path / "rgb.mov", pictures, codec="png", pix_fmt="rgb24")
    result = select_keyframes(clip, tmp_path / "frames", KeyframeOptions())
    check_stats(result)
    assert result.info.codec == "png"
    assert result.stats["rejected_blurry"] == 0
    assert len(result.frames) >= 10
    entry = result.frames[3]
    assert psnr(read_rgb(tmp_path / entry.file), pictures[entry.source_index]) > 35


def test_damaged_middle_costs_frames_not_the_video(moving_clip: MovingClip, tmp_path: Path) -> None:
    payload = bytearray(moving_clip.path.read_bytes())
    start, end = payload.find(b"mdat"), payload.find(b"moov")
    third = (end - start) // 3
    payload[start + third : start + 2 * third] = bytes(third)
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(payload)
    result = select_keyframes(damaged, tmp_path / "frames", KeyframeOptions())
    check_stats(result)
    assert len(result.frames) >= 10


def test_a_second_decode_that_differs_is_an_error(
    moving_clip: MovingClip, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []

    def flaky(*args: Any) -> Iterator[Any]:
        calls.append(args)
        frames = iter_frames(*args)
        if len(calls) == 2:
            next(frames)  # the writing pass loses its first frame
        return frames

    monkeypatch.setattr("vantage.capture.frames.keyframes.iter_frames", flaky)
    with pytest.raises(InvalidMediaError, match="decoded differently the second time"):
        select_keyframes(moving_clip.path, tmp_path / "frames", KeyframeOptions(memory_budget_mb=0))


@pytest.mark.parametrize("clip_name", ["moving_clip", "rotated_clip"])
def test_one_pass_and_two_passes_write_the_same_frames(
    clip_name: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clip = request.getfixturevalue(clip_name)
    passes: list[int] = []

    def counted(*args: Any) -> Iterator[Any]:
        passes.append(1)
        return iter_frames(*args)

    monkeypatch.setattr("vantage.capture.frames.keyframes.iter_frames", counted)
    results = {}
    # Fits the budget: pictures kept while scoring; 1 MiB: too small for the clip; 0: never.
    for budget, decodes in ((512, 1), (1, 2), (0, 2)):
        passes.clear()
        options = KeyframeOptions(max_frames=30, memory_budget_mb=budget)
        results[budget] = select_keyframes(clip.path, tmp_path / str(budget) / "frames", options)
        assert len(passes) == decodes, budget
    kept = [entry.source_index for entry in results[512].frames]
    assert len(kept) >= 20
    for budget in (1, 0):
        assert [entry.source_index for entry in results[budget].frames] == kept
    for entry in results[512].frames:
        one = read_rgb(tmp_path / "512" / entry.file)
        two = read_rgb(tmp_path / "0" / entry.file)
        assert one.shape == two.shape
        assert psnr(one, two) > 40  # OpenCV's and swscale's BT.601 conversions round apart


def test_a_clip_with_no_usable_frame(tmp_path: Path) -> None:
    dark = [np.full((HEIGHT, WIDTH, 3), 2, np.uint8) for _ in range(10)]
    clip = encode(tmp_path / "dark.mp4", dark)
    with pytest.raises(TooFewImagesError, match="no usable frame among 10") as caught:
        select_keyframes(clip, tmp_path / "frames")
    assert caught.value.fields["rejected_exposure"] == 10
    assert not (tmp_path / "frames").exists()


@pytest.mark.parametrize("case", ["no-video-aac", "undecodable-random", "too-short", "empty"])
def test_bad_files_are_refused_before_any_work(
    broken_files: dict[str, Path], case: str, tmp_path: Path
) -> None:
    with pytest.raises(InvalidMediaError):
        select_keyframes(broken_files[case], tmp_path / "frames")
    assert not (tmp_path / "frames").exists()
