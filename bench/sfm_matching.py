"""SfM on keyframes with sequential matching beside every 8th frame with exhaustive matching.

Renders (in a temp folder) the synthetic 320×240 orbit video — 40 s at 15 fps, with its pause
and motion-blurred frames — decodes it like a real upload, and runs `run_sfm` on
  (a) keyframes chosen by `select_keyframes` (40, the fast preset's count), with sequential
      matching (overlap 10);
  (b) every 8th frame, exhaustive matching — the common "subsample and match all" baseline;
  (c) the keyframes of (a) with exhaustive matching (the cost sequential matching avoids;
      skip with --no-extra).
For each it prints images in/registered, seconds per phase and in total, and the median camera
centre error after similarity alignment (% of scene size), then the time ratios (a) / (b) and
(a) / (c). The ratio (a) / (c) isolates the matching strategy.
Product target: (a) ≤ 0.5× (b)'s time with the same share of images registered.

    .venv/bin/python bench/sfm_matching.py [--seconds 40] [--keyframes 40] [--no-extra]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import av
import numpy as np
import pycolmap
from PIL import Image

from vantage.capture.frames import KeyframeOptions, select_keyframes
from vantage.capture.sfm import SfmOptions, SfmResult, run_sfm
from vantage.capture.synthetic import SyntheticVideo, camera_centre_errors, render_orbit_video


def write_frames(video: SyntheticVideo, indices: list[int], frames_dir: Path) -> None:
    """Decodes ``video`` and writes the frames at ``indices`` as quality-95 JPEGs."""
    wanted = set(indices)
    frames_dir.mkdir(parents=True)
    with av.open(str(video.path)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index in wanted:
                image = Image.fromarray(frame.to_ndarray(format="rgb24"))
                image.save(frames_dir / f"frame_{index:05d}.jpg", quality=95)


def median_centre_error_pct(result: SfmResult, video: SyntheticVideo) -> float:
    model = pycolmap.Reconstruction(str(result.sparse_dir))
    names = sorted(image.name for image in model.images.values() if image.has_pose)
    estimated = np.stack([model.find_image_with_name(name).projection_center() for name in names])
    truth = np.stack([video.cameras[int(name[6:11])].center for name in names])
    return 100.0 * float(np.median(camera_centre_errors(estimated, truth))) / video.scene_size


def run_variant(
    label: str,
    video: SyntheticVideo,
    indices: list[int],
    options: SfmOptions,
    root: Path,
) -> tuple[SfmResult, float]:
    out_dir = root / label[1]  # "(a) …" → a
    write_frames(video, indices, out_dir / "frames")
    started = time.perf_counter()
    result = run_sfm(out_dir / "frames", out_dir / "work", out_dir, options, ordered=True)
    total = time.perf_counter() - started
    phases = "  ".join(f"{phase} {seconds:5.2f}s" for phase, seconds in result.seconds.items())
    error_pct = median_centre_error_pct(result, video)
    print(
        f"{label:<34} {result.registered_images:>3}/{result.input_images:<3} registered  "
        f"{total:6.2f}s = {total / result.input_images:.2f}s/image  ({phases})  "
        f"median centre error {error_pct:.3f} %"
    )
    return result, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--fps", type=float, default=15.0)
    parser.add_argument("--keyframes", type=int, default=40, help="keyframes to select")
    parser.add_argument("--baseline-step", type=int, default=8)
    parser.add_argument("--threads", type=int, default=-1)
    parser.add_argument("--no-extra", action="store_true", help="skip (c)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="vantage-sfm-bench-") as temp:
        root = Path(temp)
        started = time.perf_counter()
        video = render_orbit_video(
            root / "orbit.mp4", seconds=args.seconds, fps=args.fps, width=320, height=240
        )
        print(
            f"rendered {video.frame_count} frames at 320x240 in "
            f"{time.perf_counter() - started:.1f}s "
            f"({len(video.blurred_indices)} blurred, {len(video.static_indices)} paused)"
        )
        (root / "selected").mkdir()
        selected = select_keyframes(
            video.path, root / "selected", KeyframeOptions(max_frames=args.keyframes)
        )
        keyframes = [frame.source_index for frame in selected.frames]
        baseline = list(range(0, video.frame_count, args.baseline_step))
        base = SfmOptions(random_seed=0, num_threads=args.threads)

        _, keyframe_s = run_variant(
            "(a) keyframes + sequential",
            video,
            keyframes,
            replace(base, matching="sequential"),
            root,
        )
        _, baseline_s = run_variant(
            f"(b) every {args.baseline_step}th frame + exhaustive",
            video,
            baseline,
            replace(base, matching="exhaustive"),
            root,
        )
        print(f"time ratio (a) / (b): {keyframe_s / baseline_s:.2f}  (target <= 0.5)")
        if not args.no_extra:
            _, exhaustive_s = run_variant(
                "(c) keyframes + exhaustive",
                video,
                keyframes,
                replace(base, matching="exhaustive"),
                root,
            )
            print(f"time ratio (a) / (c), same keyframes: {keyframe_s / exhaustive_s:.2f}")


if __name__ == "__main__":
    main()
