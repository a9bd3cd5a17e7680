"""The ``reconstruct`` pipeline: input → frames → SfM → training → report, as job stages.

Each stage is a plain function of its `StageContext`; outputs go to the output folder and a
small JSON summary goes to the job's stage output, so a resumed job skips finished stages and
the report can be built from the summaries. Heavy libraries (PyAV, OpenCV, pycolmap, torch) are
imported inside the stages: validating parameters at submit time stays cheap.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, cast

from vantage.capture import sources
from vantage.capture.params import ReconstructParams
from vantage.capture.report import build_report
from vantage.errors import InvalidMediaError, TooFewImagesError
from vantage.jobs.artifacts import artifact_key
from vantage.jobs.pipeline import Pipeline, Resources, Stage, StageContext
from vantage.storage.streaming import write_json_atomic

PHOTO_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".heic", ".heif"})
#: Fewest photos or keyframes SfM can work with.
MIN_IMAGES = 3


def _params(ctx: StageContext) -> ReconstructParams:
    params = cast(ReconstructParams, ctx.params)
    if params.output is None:  # no folder given: the job's own, <data dir>/jobs/<job id>/
        return params.model_copy(update={"output": str(ctx.work_dir.absolute())})
    return params


def inspect_input(path: Path) -> dict[str, Any]:
    """What the input is (video or photo folder) and its basic facts.

    Raises:
        InvalidMediaError: missing, unreadable, empty or unsupported input.
        TooFewImagesError: a folder without enough photos.
    """
    if not path.exists():
        raise InvalidMediaError(f"input {path} does not exist", path=str(path))
    if path.is_dir():
        photos = sorted(p.name for p in path.iterdir() if p.suffix.lower() in PHOTO_SUFFIXES)
        if len(photos) < MIN_IMAGES:
            raise TooFewImagesError(
                f"{path} holds {len(photos)} photos (JPEG, PNG, HEIC); at least {MIN_IMAGES} "
                "are needed",
                path=str(path),
            )
        return {"kind": "photos", "path": str(path), "files": len(photos)}
    from vantage.capture.frames.probe import probe_video

    return {**probe_video(path).as_dict(), "path": str(path)}


def _input_stage(ctx: StageContext) -> dict[str, Any]:
    params = _params(ctx)
    started = time.perf_counter()
    found = inspect_input(sources.materialise(params.input, ctx))  # downloads land in work_dir
    if sources.parse_input(params.input).kind != "path":
        found["source"] = params.input
    out = params.output_dir
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / "config.json", {"job_id": ctx.job_id, **params.model_dump()})
    return {**found, "seconds": time.perf_counter() - started}


def _fresh_dir(path: Path) -> Path:
    """An empty folder at ``path`` (a rerun of an interrupted stage starts clean)."""
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def _frames_stage(ctx: StageContext) -> dict[str, Any]:
    from vantage.capture.frames.manifest import write_frames_json

    params = _params(ctx)
    started = time.perf_counter()
    out = params.output_dir
    frames_dir = _fresh_dir(out / "frames")
    source = ctx.outputs["input"]
    stats: dict[str, Any]
    if source["kind"] == "video":
        from vantage.capture.frames import KeyframeOptions, select_keyframes

        options = KeyframeOptions(max_frames=params.frame_limit, max_side=params.frame_side)
        result = select_keyframes(Path(source["path"]), frames_dir, options, ctx.progress)
        frames, stats = result.frames, dict[str, Any](result.stats)
    else:
        from vantage.capture.frames.photos import load_photos

        photos = load_photos(
            Path(source["path"]),  # the input stage's local copy of a remote input
            frames_dir,
            max_side=params.frame_side,
            min_images=MIN_IMAGES,
            progress=ctx.progress,
        )
        frames = photos.frames
        stats = {
            "seen": photos.seen,
            "kept": len(photos.frames),
            "skipped": len(photos.skipped),
        }
        if photos.skipped:
            stats["skipped_files"] = [f"{name}: {why}" for name, why in photos.skipped]
    if len(frames) < MIN_IMAGES:
        raise TooFewImagesError(
            f"only {len(frames)} usable frames were found; at least {MIN_IMAGES} are needed",
            path=params.input,
        )
    write_frames_json(out / "frames.json", source=source, frames=frames, stats=stats)
    return {**stats, "kept": len(frames), "seconds": time.perf_counter() - started}


def _sfm_stage(ctx: StageContext) -> dict[str, Any]:
    from vantage.capture.sfm import SfmOptions, run_sfm

    params = _params(ctx)
    out = params.output_dir
    video = ctx.outputs["input"]["kind"] == "video"
    options = SfmOptions(
        single_camera=video,
        matching=params.matching,
        mapper=params.mapper,
        min_registered_fraction=params.min_registered_fraction,
    )
    work = _fresh_dir(out / "work" / "sfm")
    result = run_sfm(out / "frames", work, out, options, ordered=video, progress=ctx.progress)
    return {
        "input_images": result.input_images,
        "registered_images": result.registered_images,
        "points3d": result.points3d,
        "mean_reprojection_error_px": result.mean_reprojection_error_px,
        "models": result.model_count,
        "seconds": sum(result.seconds.values()),
    }


def _train_stage(ctx: StageContext) -> dict[str, Any]:
    from vantage.capture.splat.colmap_scene import load_colmap_scene
    from vantage.capture.splat.ply import export_ply
    from vantage.capture.splat.train import TrainOptions, train

    params = _params(ctx)
    out = params.output_dir
    options = TrainOptions.preset(params.preset)
    overrides: dict[str, Any] = {"device": params.device}
    if params.iterations is not None:
        overrides["iterations"] = params.iterations
    options = options.with_overrides(**overrides)
    scene = load_colmap_scene(out / "sparse", out / "frames", max_side=options.max_side)
    (out / "work").mkdir(parents=True, exist_ok=True)
    result = train(scene, options, ctx.progress, checkpoint=out / "work" / "train.ckpt")
    export_ply(result.gaussians, out / "scene.ply")
    return {
        "iterations": result.iterations,
        "gaussians": result.gaussian_count,
        "backend": result.backend,
        "psnr_initial": result.psnr_initial,
        "psnr_test": result.psnr_test,
        "ssim_test": result.ssim_test,
        "test_views": result.test_views,
        "step_s_mean": result.step_s_mean,
        "seconds": result.seconds,
    }


def _compress_stage(ctx: StageContext) -> dict[str, Any]:
    from vantage.capture.compress.camera import start_camera
    from vantage.capture.compress.encode import EncodeOptions, HeldOutViews, encode_scene
    from vantage.capture.splat.colmap_scene import load_colmap_scene
    from vantage.capture.splat.train import TrainOptions, evaluation_views
    from vantage.errors import ConfigError
    from vantage.web.viewer import write_standalone_viewer

    params = _params(ctx)
    out = params.output_dir
    started = time.perf_counter()
    if not params.formats:
        return {"formats": {}, "viewer": None, "seconds": 0.0}
    options = TrainOptions.preset(params.preset)
    scene = load_colmap_scene(out / "sparse", out / "frames", max_side=options.max_side)
    views, background = evaluation_views(scene, options)
    section = encode_scene(
        out / "scene.ply",
        out,
        EncodeOptions(formats=tuple(params.formats), reduce=params.reduce),
        held_out=HeldOutViews(views, background),
        progress=ctx.progress,
    )
    camera = start_camera(scene.cameras, scene.points)
    viewer, viewer_error = None, None
    if "sog" in params.formats:
        title = f"Vantage {out.name}"
        try:
            viewer = write_standalone_viewer(out, "scene.sog", title=title, camera=camera).name
        except ConfigError as exc:  # no bundle built: the scene files are still worth having
            viewer_error = str(exc)
    return {
        **section,
        "viewer": viewer,
        "viewer_error": viewer_error,
        "viewer_camera": asdict(camera) if camera else None,
        "seconds": time.perf_counter() - started,
    }


#: Output files kept in the blob store too, under ``jobs/<job id>/``.
ARTIFACTS = ("scene.ply", "report.json", "transforms.json", "frames.json")


def _report_stage(ctx: StageContext) -> dict[str, Any]:
    params = _params(ctx)
    out = params.output_dir
    report = build_report(params, dict(ctx.outputs))
    names = _artifact_names(ctx)
    if ctx.store is not None:
        report["artifacts"] = {name: artifact_key(ctx.job_id, name) for name in names}
    write_json_atomic(out / "report.json", report)
    for name in names:
        ctx.publish(name, out / name)
    return {
        "report": str(params.output_dir / "report.json"),
        "psnr_test": report["train"]["psnr_test"],
    }


def _artifact_names(ctx: StageContext) -> list[str]:
    compress = ctx.outputs.get("compress", {})
    written = [entry["file"] for entry in compress.get("formats", {}).values()]
    viewer = [compress["viewer"]] if compress.get("viewer") else []
    return [*ARTIFACTS, *written, *viewer]


def _plan(params: ReconstructParams) -> list[Stage]:
    cores = float(os.cpu_count() or 1)
    return [
        Stage("input", _input_stage, weight=1),
        Stage("frames", _frames_stage, weight=10, resources=Resources(cpus=cores)),
        Stage("sfm", _sfm_stage, weight=30, resources=Resources(cpus=cores)),
        Stage("train", _train_stage, weight=55, resources=Resources(cpus=cores, gpus=0)),
        Stage("compress", _compress_stage, weight=3, resources=Resources(cpus=cores)),
        Stage("report", _report_stage, weight=1),
    ]


PIPELINE = Pipeline(
    name="reconstruct",
    description="A video or photo folder → keyframes → COLMAP model → trained 3D Gaussian splats.",
    params_model=ReconstructParams,
    plan=_plan,
    preflight=lambda params, store: sources.preflight(params.input, store),
)


def read_report(output_dir: Path) -> dict[str, Any]:
    """The report.json of a finished reconstruction."""
    data: dict[str, Any] = json.loads((output_dir / "report.json").read_text())
    return data
