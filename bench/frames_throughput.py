"""Keyframe selection throughput beside a plain PyAV decode of the same clip.

Generates (in a temp folder) a 640×480, 30 fps H.264 clip of a camera gliding over a large
photographic texture, then times
  (a) a raw threaded PyAV decode of every frame to an RGB numpy array, and
  (b) `select_keyframes` on the same file with default options (scoring every frame, choosing
      up to 120, writing them as quality-95 JPEGs; the clip fits the default memory budget, so
      the chosen frames are written from the pictures kept while scoring), and
  (c) the same with ``memory_budget_mb=0``: the chosen frames are decoded a second time, as for
      a video too long for the budget,
and prints each in frames of video per second plus the ratios (b) / (a) and (c) / (a). Each is
run ``--repeat`` times, alternating between them so load changes hit all alike, after a
warm-up; the best and median runs are reported.

    .venv/bin/python bench/frames_throughput.py [--seconds 10] [--fps 30] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import av
import cv2
import numpy as np
from numpy.typing import NDArray
from skimage import data

from vantage.capture.frames.keyframes import select_keyframes
from vantage.capture.frames.records import KeyframeOptions

WIDTH, HEIGHT = 640, 480


def texture() -> NDArray[np.uint8]:
    """A large photographic mosaic [1536, 3328, 3] for the camera to glide over."""
    coffee = cv2.resize(data.coffee(), (600, 512))  # type: ignore[no-untyped-call]
    chelsea = cv2.resize(data.chelsea(), (552, 512))  # type: ignore[no-untyped-call]
    astronaut = data.astronaut()  # type: ignore[no-untyped-call]
    mosaic = np.concatenate([astronaut, coffee, chelsea], axis=1)  # [512, 1664, 3]
    return np.asarray(cv2.resize(mosaic, None, fx=2.0, fy=3.0, interpolation=cv2.INTER_CUBIC))


def make_clip(path: Path, seconds: float, fps: int) -> int:
    """Encode the clip; returns the number of frames."""
    canvas = texture()
    count = round(seconds * fps)
    span_x = canvas.shape[1] - WIDTH - 1
    span_y = canvas.shape[0] - HEIGHT - 1
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        for index in range(count):
            phase = index / max(count - 1, 1)
            x = round(span_x * phase)
            y = round(span_y * (0.5 + 0.4 * np.sin(2 * np.pi * phase)))
            window = np.ascontiguousarray(canvas[y : y + HEIGHT, x : x + WIDTH])  # [480, 640, 3]
            frame = av.VideoFrame.from_ndarray(window, format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return count


def raw_decode(path: Path) -> int:
    """Decode every frame to RGB with threaded PyAV; returns the number of frames."""
    count = 0
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            frame.to_ndarray(format="rgb24")  # [480, 640, 3]
            count += 1
    return count


def interleaved_seconds(
    runs: dict[str, Callable[[], object]], repeat: int
) -> dict[str, list[float]]:
    """Wall times of each run, alternating between them so load changes hit all alike."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeat):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="vantage-frames-bench-") as tmp:
        clip = Path(tmp) / "clip.mp4"
        start = time.perf_counter()
        frames = make_clip(clip, args.seconds, args.fps)
        print(
            f"clip: {WIDTH}x{HEIGHT}, {frames} frames at {args.fps} fps, "
            f"{clip.stat().st_size / 1e6:.1f} MB, encoded in {time.perf_counter() - start:.1f} s"
        )
        out_dir = Path(tmp) / "frames"
        results = []

        def select(options: KeyframeOptions) -> None:
            shutil.rmtree(out_dir, ignore_errors=True)
            results.append(select_keyframes(clip, out_dir, options))

        one_pass, two_pass = KeyframeOptions(), KeyframeOptions(memory_budget_mb=0)
        raw_decode(clip)  # warm-up: page cache, codec init
        select(one_pass)
        times = interleaved_seconds(
            {
                "raw": lambda: raw_decode(clip),
                "select": lambda: select(one_pass),
                "twice": lambda: select(two_pass),
            },
            args.repeat,
        )
        best = {name: min(values) for name, values in times.items()}
        median = {name: statistics.median(values) for name, values in times.items()}
        stats = results[-1].stats

        print(
            f"cpus: {os.cpu_count()}, load average {os.getloadavg()[0]:.1f}, "
            f"{args.repeat} runs each"
        )
        labels = {
            "raw": "(a) raw PyAV decode to rgb24:",
            "select": "(b) select_keyframes:",
            "twice": "(c) select_keyframes, budget 0:",
        }
        for name, label in labels.items():
            print(
                f"{label:32s} best {best[name]:6.3f} s  {frames / best[name]:6.0f} fps   "
                f"median {frames / median[name]:6.0f} fps"
            )
        print(
            f"    kept {stats['kept']}, blurry {stats['rejected_blurry']}, static "
            f"{stats['rejected_static']}, exposure {stats['rejected_exposure']}"
        )
        for name in ("select", "twice"):
            print(
                f"ratio {labels[name][:3]}/(a): best {best['raw'] / best[name]:.2f}, "
                f"median {median['raw'] / median[name]:.2f}  (target >= 0.7)"
            )


if __name__ == "__main__":
    main()
