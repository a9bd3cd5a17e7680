"""`vantage reconstruct` end to end on a rendered capture: outputs, report, resume, bad input."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vantage.capture.synthetic import render_orbit_video
from vantage.storage import LocalStore

TIMEOUT_S = 600
FAST = ["--preset", "fast", "--max-frames", "24"]


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VANTAGE")}
    env["VANTAGE__DATA_DIR"] = str(data_dir)
    env["VANTAGE__LOG__LEVEL"] = "WARNING"
    return env


def _vantage(args: list[str], data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vantage", *args],
        capture_output=True,
        text=True,
        env=_env(data_dir),
        timeout=TIMEOUT_S,
        check=False,
    )


@pytest.fixture(scope="module")
def orbit_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("capture")
    return render_orbit_video(folder / "orbit.mp4", seconds=6.0, fps=12).path


def _stage_runs(data_dir: Path) -> dict[str, int]:
    with sqlite3.connect(data_dir / "vantage.db") as db:
        return dict(db.execute("SELECT name, executions FROM job_stages").fetchall())


def test_reconstruct_writes_scene_report_and_resumes(orbit_video: Path, tmp_path: Path) -> None:
    data_dir, out = tmp_path / "data", tmp_path / "out"
    args = ["reconstruct", str(orbit_video), "-o", str(out), *FAST, "--iterations", "600"]
    process = subprocess.Popen(
        [sys.executable, "-m", "vantage", *args],
        env=_env(data_dir),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + TIMEOUT_S
        while not (out / "work" / "train.ckpt").exists():  # training has saved progress
            assert process.poll() is None, "reconstruct ended before training"
            assert time.monotonic() < deadline, "training never started"
            time.sleep(0.5)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(30)
    assert not (out / "report.json").exists()

    rerun = _vantage(args, data_dir)
    assert rerun.returncode == 0, rerun.stderr
    assert "resuming" in rerun.stdout
    runs = _stage_runs(data_dir)
    assert runs == {"input": 1, "frames": 1, "sfm": 1, "train": 2, "compress": 1, "report": 1}

    report = json.loads((out / "report.json").read_text())
    assert report["input"]["kind"] == "video"
    assert report["frames"]["kept"] == len(list((out / "frames").glob("*.jpg")))
    assert report["sfm"]["registered_images"] == report["sfm"]["input_images"]
    assert report["train"]["iterations"] == 600
    assert report["train"]["psnr_test"] > report["train"]["psnr_initial"]
    assert set(report["timings_s"]) >= {"input", "frames", "sfm", "train"}
    assert report["settings"]["preset"] == "fast" and report["versions"]["pycolmap"]
    header = (out / "scene.ply").read_bytes()[:2000].decode("ascii", "replace")
    assert "property float f_dc_0" in header and "property float rot_3" in header
    frames = json.loads((out / "frames.json").read_text())["frames"]
    assert len(frames) == report["frames"]["kept"]
    transforms = json.loads((out / "transforms.json").read_text())
    assert len(transforms["frames"]) == report["sfm"]["registered_images"]

    compress = report["compress"]
    ply_bytes = (out / "scene.ply").stat().st_size
    assert compress["ply_bytes"] == ply_bytes
    for fmt, suffix in (("sog", ".sog"), ("spz", ".spz")):
        entry = compress["formats"][fmt]
        assert entry["file"] == f"scene{suffix}"
        assert entry["bytes"] == (out / entry["file"]).stat().st_size < ply_bytes / 3
        assert abs(entry["psnr_drop_db"]) < 1.0, entry  # rendered from the held-out views
    assert compress["viewer"] == "viewer.html"
    assert "scene.sog" in (out / "viewer.html").read_text()

    store = LocalStore(data_dir / "blobs")
    assert set(report["artifacts"]) >= {"scene.ply", "scene.sog", "scene.spz", "viewer.html"}
    for name, key in report["artifacts"].items():
        assert store.get_bytes(key) == (out / name).read_bytes(), name
    with sqlite3.connect(data_dir / "vantage.db") as db:
        recorded = dict(db.execute("SELECT name, blob_key FROM artifacts").fetchall())
    assert recorded == report["artifacts"]

    again = _vantage(args, data_dir)  # already done: nothing reruns
    assert again.returncode == 0 and "already reconstructed" in again.stdout
    assert _stage_runs(data_dir) == runs


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.write_bytes(b""), "empty"),
        (lambda p: p.write_text("this is not a video\n" * 100), "not a"),
    ],
    ids=["empty-file", "text-renamed-mp4"],
)
def test_bad_video_is_a_typed_error(tmp_path: Path, make: object, message: str) -> None:
    video = tmp_path / "clip.mp4"
    make(video)  # type: ignore[operator]
    result = _vantage(["reconstruct", str(video), "-o", str(tmp_path / "out")], tmp_path / "d")
    assert result.returncode == 65
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0].lower()
    assert not (tmp_path / "out").exists()


def test_corrupt_video_is_a_typed_error(orbit_video: Path, tmp_path: Path) -> None:
    data = bytearray(orbit_video.read_bytes())
    middle = len(data) // 4
    data[middle:] = bytes(len(data) - middle)  # keep the header, zero every frame
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(bytes(data))
    result = _vantage(["reconstruct", str(broken), "-o", str(tmp_path / "out")], tmp_path / "d")
    assert result.returncode == 65, result.stderr
    assert result.stderr.startswith("error:")


def test_empty_folder_and_too_few_images(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    result = _vantage(["reconstruct", str(empty), "-o", str(tmp_path / "out")], tmp_path / "d")
    assert result.returncode == 65 and "photos" in result.stderr
    few = tmp_path / "few"
    few.mkdir()
    (few / "a.jpg").write_bytes(b"\xff\xd8 not really")
    result = _vantage(["reconstruct", str(few), "-o", str(tmp_path / "out")], tmp_path / "d")
    assert result.returncode == 65 and "at least" in result.stderr
    missing = _vantage(["reconstruct", str(tmp_path / "nope.mp4"), "-o", "x"], tmp_path / "d")
    assert missing.returncode == 65 and "does not exist" in missing.stderr
