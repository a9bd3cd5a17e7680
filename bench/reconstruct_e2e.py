"""End to end: `vantage reconstruct --preset fast` on a rendered 640×480, 10 s video.

Prints the wall time beside the 10-minute budget and the held-out PSNR beside the 27 dB target
(each as a ratio), with the stage timings from report.json.

    .venv/bin/python bench/reconstruct_e2e.py [--seconds 10] [--preset fast]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from vantage.capture.synthetic import render_orbit_video

BUDGET_S = 600.0
TARGET_PSNR_DB = 27.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--preset", default="fast")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        video = render_orbit_video(
            root / "clip.mp4", seconds=args.seconds, fps=15, width=640, height=480
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("VANTAGE")}
        env.update(VANTAGE__DATA_DIR=str(root / "data"), VANTAGE__LOG__LEVEL="WARNING")
        started = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "vantage",
                "reconstruct",
                str(video.path),
                "-o",
                str(root / "out"),
                "--preset",
                args.preset,
            ],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        elapsed = time.perf_counter() - started
        report = json.loads((root / "out" / "report.json").read_text())
    train, sfm = report["train"], report["sfm"]
    print(f"{video.frame_count} frames 640×480, preset {args.preset}, {os.cpu_count()} cores")
    print(
        f"frames kept {report['frames']['kept']}, registered {sfm['registered_images']}/"
        f"{sfm['input_images']}, {train['gaussians']} Gaussians, {train['iterations']} steps"
    )
    print(f"time  {elapsed:7.1f} s   budget {BUDGET_S:.0f} s   ratio {elapsed / BUDGET_S:.2f}")
    print(
        f"PSNR  {train['psnr_test']:7.2f} dB  target {TARGET_PSNR_DB:.0f} dB  "
        f"ratio {train['psnr_test'] / TARGET_PSNR_DB:.2f}  (SSIM {train['ssim_test']:.3f})"
    )
    print("stage seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in report["timings_s"].items()))


if __name__ == "__main__":
    main()
