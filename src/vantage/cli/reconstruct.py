"""``vantage reconstruct INPUT -o OUT``: a video or photos → a trained 3D Gaussian-splat scene.

The command runs the ``reconstruct`` pipeline as a job of the local catalog, with a worker in
this process, so an interrupted run (Ctrl-C, a crash, a killed process) resumes from the last
finished stage when the same command is run again.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Annotated, Literal

import typer

from vantage.capture.params import ReconstructParams
from vantage.capture.pipeline import inspect_input, read_report
from vantage.cli.app import ConfigOption, app, console, err_console, settings_from
from vantage.cli.jobs import open_queue
from vantage.cli.progress import follow_job
from vantage.jobs.queue import JobQueue
from vantage.jobs.records import JobRecord, JobState


def dedupe_key(params: ReconstructParams) -> str:
    """One job per input, output and settings: rerunning the command resumes that job."""
    digest = hashlib.sha256(json.dumps(params.model_dump(), sort_keys=True).encode()).hexdigest()
    return f"reconstruct:{digest[:40]}"


def _owner_is_dead_here(owner: str | None) -> bool:
    """Whether a lease owner (``host-pid-suffix``) is a process of this host that has ended."""
    if not owner:
        return False
    host, _, rest = owner.rpartition("-")[0].rpartition("-")
    if host != os.uname().nodename or not rest.isdigit():
        return False
    try:
        os.kill(int(rest), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _resume(queue: JobQueue, job: JobRecord) -> JobRecord:
    """Make an existing job runnable again: retry it, or free it from a dead local worker."""
    if job.state in (JobState.FAILED, JobState.CANCELLED):
        console.print(f"resuming job [bold]{job.id}[/] after its last finished stage")
        return queue.retry(job.id)
    if job.state == JobState.RUNNING and _owner_is_dead_here(job.lease_owner):
        from vantage.jobs.leases import JobLeases

        leases = JobLeases(queue.engine, lease_ttl_s=1.0)
        if leases.expire(job.id, job.epoch):
            leases.reap()
        console.print(f"resuming job [bold]{job.id}[/]: its previous worker has ended")
    return queue.get(job.id)


@app.command()
def reconstruct(
    source: Annotated[
        Path, typer.Argument(metavar="INPUT", help="A video file or a photo folder.")
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output folder.")],
    preset: Annotated[
        Literal["fast", "balanced", "quality"], typer.Option(help="Speed/quality trade-off.")
    ] = "balanced",
    max_frames: Annotated[int | None, typer.Option(help="Keyframes to keep from a video.")] = None,
    iterations: Annotated[int | None, typer.Option(help="Training steps.")] = None,
    matching: Annotated[
        Literal["auto", "sequential", "exhaustive"], typer.Option(help="Feature matching.")
    ] = "auto",
    mapper: Annotated[
        Literal["incremental", "global"], typer.Option(help="SfM mapper.")
    ] = "incremental",
    device: Annotated[
        Literal["auto", "cpu", "cuda"], typer.Option(help="Training device.")
    ] = "auto",
    config: ConfigOption = None,
) -> None:
    """Turn a video or a folder of photos into a trained 3D Gaussian-splat scene."""
    params = ReconstructParams(
        input=str(source.resolve()),
        output=str(output.resolve()),
        preset=preset,
        max_frames=max_frames,
        iterations=iterations,
        matching=matching,
        mapper=mapper,
        device=device,
    )
    inspect_input(Path(params.input))  # a bad input fails here, before any job exists
    settings = settings_from(config)
    queue = open_queue(settings)
    job, created = queue.submit(
        "reconstruct", params.model_dump(), dedupe_key=dedupe_key(params), priority=100
    )
    if not created:
        job = _resume(queue, job)
    if job.state == JobState.SUCCEEDED:
        console.print(f"already reconstructed by job {job.id}")
    else:
        _run_here(queue, job, settings)
    _summarise(params.output_dir)


def _run_here(queue: JobQueue, job: JobRecord, settings: object) -> None:
    from vantage.config import Settings
    from vantage.jobs.worker import JobWorker

    assert isinstance(settings, Settings)
    stop = threading.Event()
    worker = JobWorker(queue.engine, settings, pipelines=["reconstruct"])
    thread = threading.Thread(target=worker.run, args=(stop,), kwargs={"max_jobs": 1}, daemon=True)
    console.print(f"job [bold]{job.id}[/]: {job.message}")
    thread.start()
    try:
        follow_job(lambda: queue.get(job.id), err_console if not console.is_terminal else console)
    finally:
        stop.set()
    thread.join(timeout=30)


def _summarise(output: Path) -> None:
    report = read_report(output)
    sfm, train = report["sfm"], report["train"]
    console.print(
        f"registered {sfm['registered_images']}/{sfm['input_images']} images, "
        f"{sfm['points3d']} points; trained {train['gaussians']} Gaussians on {train['backend']}: "
        f"held-out PSNR {train['psnr_test']:.2f} dB (from {train['psnr_initial']:.2f})"
    )
    for fmt, entry in report.get("compress", {}).get("formats", {}).items():
        drop = entry.get("psnr_drop_db")
        console.print(
            f"{fmt}: {entry['bytes'] / 1e6:.2f} MB, {entry['ratio_vs_ply']}× smaller than the PLY"
            + ("" if drop is None else f", {drop:+.2f} dB PSNR drop")
        )
    names = ["scene.ply", "scene.sog", "scene.spz", "viewer.html", "report.json", "sparse"]
    for name in names:
        if (output / name).exists():
            console.print(f"  {output / name}")
    if (output / "viewer.html").exists():
        console.print(
            f"to view it: python3 -m http.server -b 127.0.0.1 -d {output}, "
            "then open http://127.0.0.1:8000/viewer.html"
        )
