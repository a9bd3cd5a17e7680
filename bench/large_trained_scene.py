"""Train the largest Gaussian scene this CPU can make in a session, for `compress_formats.py --ply`.

Renders an orbit capture (640×480), runs `vantage reconstruct --preset fast` on it for its frames
and sparse model, then trains degree-3 SH Gaussians on those frames with a low densification
threshold so the count grows into the hundreds of thousands, and writes OUT/scene.ply. Then it
compresses the scene as the pipeline's compress stage does (reductions on, SOG and SPZ; SOG again
with smaller SH palettes) and prints each file's size ratio vs the PLY and its PSNR drop on the
capture's held-out views (every 8th keyframe, at training resolution); `compress_formats.py
--ply` puts splat-transform beside us on the same PLY.

    .venv/bin/python bench/large_trained_scene.py -o /tmp/large   # ~50 min on 2 cores
    .venv/bin/python bench/compress_formats.py --ply /tmp/large/scene.ply --skip-large
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from vantage.capture.compress.encode import EncodeOptions, HeldOutViews, encode_scene
from vantage.capture.compress.sog import SogOptions
from vantage.capture.splat.colmap_scene import load_colmap_scene
from vantage.capture.splat.options import DensifyOptions, TrainOptions
from vantage.capture.splat.ply import export_ply
from vantage.capture.splat.train import TrainResult, evaluation_views, train
from vantage.capture.synthetic import render_orbit_video


def reconstruct_sparse(root: Path, seconds: float, max_frames: int) -> Path:
    """Frames and a sparse model of a rendered orbit capture (training reduced to one step)."""
    out = root / "capture"
    if (out / "sparse").is_dir() and (out / "frames").is_dir():
        return out
    video = render_orbit_video(root / "clip.mp4", seconds=seconds, fps=15, width=640, height=480)
    env = {k: v for k, v in os.environ.items() if not k.startswith("VANTAGE")}
    env.update(VANTAGE__DATA_DIR=str(root / "data"), VANTAGE__LOG__LEVEL="WARNING")
    command = [sys.executable, "-m", "vantage", "reconstruct", str(video.path), "-o", str(out)]
    command += ["--preset", "fast", "--iterations", "1", "--max-frames", str(max_frames)]
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", type=Path, required=True)
    parser.add_argument("--seconds", type=float, default=12.0)
    parser.add_argument("--max-frames", type=int, default=60)
    parser.add_argument("--iterations", type=int, default=2500)
    parser.add_argument("--max-side", type=int, default=480)
    parser.add_argument("--max-gaussians", type=int, default=600_000)
    parser.add_argument("--grow-grad2d", type=float, default=5e-5)
    parser.add_argument(
        "--sog-palettes",
        type=lambda text: text.split(","),
        default=["default", "16384", "8192"],
        help="SH palette sizes to encode SOG with ('default': splat-transform's choice)",
    )
    args = parser.parse_args()
    args.output.mkdir(parents=True, exist_ok=True)
    capture = reconstruct_sparse(args.output, args.seconds, args.max_frames)
    options = TrainOptions(
        iterations=args.iterations,
        max_side=args.max_side,
        sh_degree=3,
        sh_degree_every=max(1, args.iterations // 6),
        max_gaussians=args.max_gaussians,
        densify=DensifyOptions(
            refine_start=200,
            refine_stop=int(args.iterations * 0.8),
            reset_every=10**9,  # no opacity reset: too few steps remain to recover from one
            grow_grad2d=args.grow_grad2d,
        ),
        device="cpu",
    )
    scene = load_colmap_scene(capture / "sparse", capture / "frames", max_side=options.max_side)
    last = [0.0]

    def progress(fraction: float, message: str) -> None:
        if time.monotonic() - last[0] > 30:
            last[0] = time.monotonic()
            print(f"{fraction:6.1%} {message}", flush=True)

    ply = args.output / "scene.ply"
    if not ply.exists():
        result = train(scene, options, progress, checkpoint=args.output / "train.ckpt")
        export_ply(result.gaussians, ply)
        print(json.dumps(train_summary(result, ply)))
    views, background = evaluation_views(scene, options)
    held_out = HeldOutViews(views, background)
    sections = {}
    for palette in args.sog_palettes:
        size = None if palette == "default" else int(palette)
        formats = ("sog", "spz") if size is None else ("sog",)
        label = f"palette {palette}"
        sections[label] = encode_scene(
            ply,
            args.output / f"encoded-{palette}",
            EncodeOptions(formats=formats, sog=SogOptions(sh_palette_size=size)),
            held_out=held_out,
        )
        print_section(label, sections[label], len(views))
    (args.output / "compress.json").write_text(json.dumps(sections, indent=2))


def print_section(label: str, section: dict[str, Any], views: int) -> None:
    print(
        f"{label}: {section['gaussians']} Gaussians, PLY {section['ply_bytes'] / 1e6:.1f} MB, "
        f"held-out PSNR {section['psnr_test_ply']:.2f} dB on {views} views; "
        f"reductions {section['reductions']}"
    )
    for name, fmt in section["formats"].items():
        print(
            f"  {name}: {fmt['bytes'] / 1e6:.2f} MB, {fmt['ratio_vs_ply']:.1f}x smaller than "
            f"the PLY, PSNR {fmt['psnr_test']:.2f} dB (drop {fmt['psnr_drop_db']:.2f} dB), "
            f"{fmt['gaussians']} Gaussians, encoded in {fmt['seconds']:.1f} s"
        )


def train_summary(result: TrainResult, ply: Path) -> dict[str, Any]:
    """The training figures, also kept in OUT/train.json."""
    summary = {
        "gaussians": result.gaussian_count,
        "iterations": result.iterations,
        "psnr_test": round(result.psnr_test, 2),
        "ssim_test": round(result.ssim_test, 4),
        "step_s_mean": round(result.step_s_mean, 3),
        "seconds": round(result.seconds, 1),
        "ply_mb": round(ply.stat().st_size / 1e6, 1),
    }
    (ply.parent / "train.json").write_text(json.dumps(summary, indent=2))
    return summary


if __name__ == "__main__":
    main()
