"""The reconstruction's quality report (report.json), built from the stages' summaries."""

from __future__ import annotations

from importlib import metadata
from typing import Any

from vantage.capture.params import ReconstructParams

#: Packages whose versions a report records.
VERSIONED = ("vantage", "torch", "pycolmap", "av", "opencv-python-headless", "numpy", "gsplat")
STAGES = ("input", "frames", "sfm", "train", "compress")


def _versions() -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for name in VERSIONED:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def build_report(params: ReconstructParams, outputs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The report from the finished stages' outputs (input, frames, sfm, train)."""
    source, frames, sfm, train, compress = (outputs.get(name, {}) for name in STAGES)
    kind = source.get("kind")
    return {
        "input": {
            "kind": kind,
            "path": source.get("path"),
            "frames_seen": frames.get("decoded") if kind == "video" else frames.get("seen"),
            "video": {
                k: source[k]
                for k in ("width", "height", "fps", "duration_s", "codec")
                if k in source
            }
            or None,
        },
        "frames": {
            "decoded": frames.get("decoded"),
            "kept": frames.get("kept"),
            "rejected_blurry": frames.get("rejected_blurry", 0),
            "rejected_static": frames.get("rejected_static", 0),
            "rejected_exposure": frames.get("rejected_exposure", 0),
            "skipped_files": frames.get("skipped_files", []),
        },
        "sfm": {
            "input_images": sfm.get("input_images"),
            "registered_images": sfm.get("registered_images"),
            "points3d": sfm.get("points3d"),
            "mean_reprojection_error_px": sfm.get("mean_reprojection_error_px"),
        },
        "train": {
            "iterations": train.get("iterations"),
            "gaussians": train.get("gaussians"),
            "backend": train.get("backend"),
            "psnr_initial": train.get("psnr_initial"),
            "psnr_test": train.get("psnr_test"),
            "ssim_test": train.get("ssim_test"),
            "test_views": train.get("test_views"),
            "step_s_mean": train.get("step_s_mean"),
        },
        "compress": {
            "ply_bytes": compress.get("ply_bytes"),
            "gaussians": compress.get("gaussians"),
            "reductions": compress.get("reductions"),
            "psnr_test_ply": compress.get("psnr_test_ply"),
            "formats": compress.get("formats", {}),
            "viewer": compress.get("viewer"),
            "viewer_error": compress.get("viewer_error"),
        },
        "timings_s": {name: outputs.get(name, {}).get("seconds") for name in STAGES},
        "settings": params.model_dump(),
        "versions": _versions(),
    }
