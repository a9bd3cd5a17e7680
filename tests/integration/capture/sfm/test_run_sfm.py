"""`run_sfm` end to end on rendered images with known cameras, and on inputs that must fail.

Ground truth comes from `vantage.capture.synthetic`: an orbit video decoded like a real one, and
a nadir photo survey. Recovered camera centres are compared with the true ones after a
similarity alignment, relative to the scene size. Images are 320×240 to keep the suite fast.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import pycolmap
import pytest
from PIL import Image

from vantage.capture.sfm import SfmOptions, SfmResult, run_sfm
from vantage.capture.synthetic import (
    SyntheticPhotos,
    SyntheticVideo,
    camera_centre_errors,
    render_orbit_video,
    render_photo_set,
)
from vantage.errors import (
    InvalidInputError,
    JobCancelledError,
    ReconstructionError,
    TooFewImagesError,
)

FAST = SfmOptions(max_num_features=1024, random_seed=0)
FRAME_STEP = 4  # 8 s at 15 fps → 30 frames, 5° apart on the orbit


@dataclass
class OrbitRun:
    video: SyntheticVideo
    frame_indices: list[int]
    out_dir: Path
    result: SfmResult
    progress: list[tuple[float, str]]


def decode_every_nth(video: Path, step: int, frames_dir: Path) -> list[int]:
    """Writes every ``step``-th decoded frame as frame_NNNNN.jpg; returns their indices."""
    frames_dir.mkdir(parents=True)
    kept: list[int] = []
    with av.open(str(video)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index % step == 0:
                image = Image.fromarray(frame.to_ndarray(format="rgb24"))
                image.save(frames_dir / f"frame_{index:05d}.jpg", quality=95)
                kept.append(index)
    return kept


@pytest.fixture(scope="module")
def orbit_run(tmp_path_factory: pytest.TempPathFactory) -> OrbitRun:
    root = tmp_path_factory.mktemp("orbit")
    video = render_orbit_video(
        root / "orbit.mp4", seconds=8.0, fps=15.0, width=320, height=240, blurred=(), pause=None
    )
    out_dir = root / "out"
    kept = decode_every_nth(video.path, FRAME_STEP, out_dir / "frames")
    progress: list[tuple[float, str]] = []
    options = SfmOptions(
        max_num_features=1024, random_seed=0, matching="sequential", single_camera=True
    )
    result = run_sfm(
        out_dir / "frames",
        root / "work",
        out_dir,
        options,
        ordered=True,
        progress=lambda fraction, message: progress.append((fraction, message)),
    )
    return OrbitRun(video, kept, out_dir, result, progress)


def centre_errors(sparse_dir: Path, names: list[str], truth: np.ndarray) -> np.ndarray:  # [N]
    model = pycolmap.Reconstruction(str(sparse_dir))
    centres = {image.name: image.projection_center() for image in model.images.values()}
    return camera_centre_errors(np.stack([centres[name] for name in names]), truth)


def test_orbit_video_registers_every_frame(orbit_run: OrbitRun) -> None:
    result = orbit_run.result
    names = [f"frame_{index:05d}.jpg" for index in orbit_run.frame_indices]
    assert result.matching == "sequential"
    assert result.input_images == len(names) == 30
    assert result.registered_images == 30
    assert result.registered_names == names
    assert result.model_count == 1
    assert result.points3d > 1000
    assert result.mean_reprojection_error_px < 1.0
    assert set(result.seconds) == {"extract", "match", "map", "export"}


def test_orbit_camera_centres_match_the_truth(orbit_run: OrbitRun) -> None:
    names = [f"frame_{index:05d}.jpg" for index in orbit_run.frame_indices]
    truth = np.stack([orbit_run.video.cameras[i].center for i in orbit_run.frame_indices])
    errors = centre_errors(orbit_run.result.sparse_dir, names, truth)
    assert np.median(errors) < 0.005 * orbit_run.video.scene_size
    assert errors.max() < 0.02 * orbit_run.video.scene_size


def test_progress_runs_through_each_phase_to_the_end(orbit_run: OrbitRun) -> None:
    fractions = [fraction for fraction, _ in orbit_run.progress]
    assert fractions == sorted(fractions)
    assert fractions[0] == 0.0
    assert fractions[-1] == 1.0
    phases = [message.split(":")[0] for _, message in orbit_run.progress]
    assert list(dict.fromkeys(phases)) == ["extract", "match", "map", "export"]
    assert phases.count("extract") > 3  # extraction reports per batch
    assert phases.count("map") > 10  # and mapping per registered image


def test_outputs_are_a_binary_model_and_consistent_transforms(orbit_run: OrbitRun) -> None:
    out_dir, result = orbit_run.out_dir, orbit_run.result
    assert result.sparse_dir == out_dir / "sparse"
    assert {"cameras.bin", "images.bin", "points3D.bin"} <= {
        path.name for path in result.sparse_dir.iterdir()
    }
    assert not [path for path in out_dir.iterdir() if path.name.startswith(".")]

    document = json.loads((out_dir / "transforms.json").read_text())
    model = pycolmap.Reconstruction(str(result.sparse_dir))
    camera = model.cameras[next(iter(model.cameras))]
    assert document["camera_model"] == "OPENCV"
    assert (document["w"], document["h"]) == (320, 240)
    assert document["fl_x"] == pytest.approx(camera.params[0])
    assert len(document["frames"]) == result.registered_images
    for frame in document["frames"]:
        assert (out_dir / frame["file_path"]).is_file()
        assert frame["file_path"].startswith("frames/")
        c2w = np.array(frame["transform_matrix"])  # [4, 4]
        rotation = c2w[:3, :3]
        np.testing.assert_allclose(rotation.T @ rotation, np.eye(3), atol=1e-9)
        assert np.linalg.det(rotation) == pytest.approx(1.0)
        np.testing.assert_allclose(c2w[3], [0.0, 0.0, 0.0, 1.0])
        image = model.find_image_with_name(frame["file_path"].removeprefix("frames/"))
        np.testing.assert_allclose(c2w[:3, 3], image.projection_center(), atol=1e-9)
        # After the axis flip the camera looks down its -z: COLMAP's viewing direction.
        np.testing.assert_allclose(-c2w[:3, 2], image.viewing_direction(), atol=1e-9)


@pytest.fixture(scope="module")
def nadir_photos(tmp_path_factory: pytest.TempPathFactory) -> SyntheticPhotos:
    folder = tmp_path_factory.mktemp("nadir") / "out" / "frames"
    return render_photo_set(folder, n=30, width=320, height=240, kind="nadir")


def test_nadir_photo_set_registers_every_photo(nadir_photos: SyntheticPhotos) -> None:
    frames_dir = nadir_photos.paths[0].parent
    out_dir = frames_dir.parent
    options = SfmOptions(
        max_num_features=1024, random_seed=0, matching="exhaustive", single_camera=False
    )
    result = run_sfm(frames_dir, out_dir.parent / "work", out_dir, options, ordered=False)
    assert result.matching == "exhaustive"
    assert result.registered_images == result.input_images == 30

    names = [path.name for path in nadir_photos.paths]
    truth = np.stack([camera.center for camera in nadir_photos.cameras])
    errors = centre_errors(result.sparse_dir, names, truth)
    assert np.median(errors) < 0.01 * nadir_photos.scene_size
    model = pycolmap.Reconstruction(str(result.sparse_dir))
    assert model.num_cameras() == 1  # same size, no EXIF: one device, one camera


def test_too_few_images(tmp_path: Path) -> None:
    frames = tmp_path / "frames"
    frames.mkdir()
    for index in range(2):
        Image.new("RGB", (64, 48)).save(frames / f"{index}.png")
    with pytest.raises(TooFewImagesError, match="at least 3 images, found 2"):
        run_sfm(frames, tmp_path / "work", tmp_path / "out", FAST, ordered=True)


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="does not exist"):
        run_sfm(tmp_path / "nowhere", tmp_path / "work", tmp_path / "out", FAST, ordered=False)


def write_noise(frames: Path, count: int) -> None:
    frames.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for index in range(count):
        pixels = rng.integers(0, 256, size=(240, 320), dtype=np.uint8)
        Image.fromarray(pixels).save(frames / f"{index:03d}.png")


def test_images_that_cannot_register(tmp_path: Path) -> None:
    write_noise(tmp_path / "frames", 6)
    with pytest.raises(ReconstructionError, match="registered 0 of 6 images") as caught:
        run_sfm(tmp_path / "frames", tmp_path / "work", tmp_path / "out", FAST, ordered=False)
    assert caught.value.fields == {"registered": 0, "input": 6, "model_count": 0}
    assert "mapper='global'" in str(caught.value)
    assert not (tmp_path / "out" / "transforms.json").exists()


def test_an_exception_from_progress_stops_the_run(tmp_path: Path) -> None:
    write_noise(tmp_path / "frames", 3)

    def cancel(fraction: float, message: str) -> None:
        if message.startswith("match"):
            raise JobCancelledError()

    with pytest.raises(JobCancelledError):
        run_sfm(
            tmp_path / "frames",
            tmp_path / "work",
            tmp_path / "out",
            FAST,
            ordered=False,
            progress=cancel,
        )
