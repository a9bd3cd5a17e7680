"""Keyframe selection throughput beside a plain PyAV decode of the same clip.

Generates (in a temp folder) a 640×480, 30 fps H.264 clip of a camera gliding over a large
photographic texture, then times
  (a) a raw threaded PyAV decode of every frame to an RGB numpy array, and
  (b) `select_keyframes` on the same file with default options (scoring every frame, choosing
      up to 120, writing them as quality-95 JPEGs),
and prints both in frames of video per second plus the ratio (b) / (a). Each is run ``--repeat``
times, alternating (a) and (b) so load changes hit both alike, after a warm-up; the best and
median runs are reported.

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
        options = KeyframeOptions()
        results = []

        def select() -> None:
            shutil.rmtree(out_dir, ignore_errors=True)
            results.append(select_keyframes(clip, out_dir, options))

        raw_decode(clip)  # warm-up: page cache, codec init
        select()
        times = interleaved_seconds(
            {"raw": lambda: raw_decode(clip), "select": select}, args.repeat
        )
        raw_s, select_s = min(times["raw"]), min(times["select"])
        raw_median, select_median = (
            statistics.median(times["raw"]),
            statistics.median(times["select"]),
        )
        stats = results[-1].stats

        print(
            f"cpus: {os.cpu_count()}, load average {os.getloadavg()[0]:.1f}, "
            f"{args.repeat} runs each"
        )
        print(
            f"(a) raw PyAV decode to rgb24: best {raw_s:6.3f} s  {frames / raw_s:6.0f} fps   "
            f"median {frames / raw_median:6.0f} fps"
        )
        print(
            f"(b) select_keyframes:         best {select_s:6.3f} s  {frames / select_s:6.0f} fps   "
            f"median {frames / select_median:6.0f} fps"
        )
        print(
            f"    kept {stats['kept']}, blurry {stats['rejected_blurry']}, static "
            f"{stats['rejected_static']}, exposure {stats['rejected_exposure']}"
        )
        print(
            f"ratio (b)/(a): best {raw_s / select_s:.2f}, median {raw_median / select_median:.2f}"
            "  (target >= 0.7)"
        )


if __name__ == "__main__":
    main()
