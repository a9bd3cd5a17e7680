"""Loading a COLMAP model written by pycolmap from a reconstruction built in code."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pycolmap
import pytest
from PIL import Image

from vantage.capture.splat.camera import look_at
from vantage.capture.splat.colmap_scene import load_colmap_scene
from vantage.errors import InvalidInputError, NotFoundError

WIDTH, HEIGHT = 64, 48
#: Camera model → parameters, and the K each should give.
MODELS = {
    "SIMPLE_PINHOLE": ([50.0, 31.0, 23.0], (50.0, 50.0, 31.0, 23.0)),
    "PINHOLE": ([50.0, 52.0, 32.5, 24.5], (50.0, 52.0, 32.5, 24.5)),
    "SIMPLE_RADIAL": ([51.0, 32.0, 24.0, 0.01], (51.0, 51.0, 32.0, 24.0)),
    "RADIAL": ([49.0, 31.5, 23.5, 0.01, -0.002], (49.0, 49.0, 31.5, 23.5)),
    "OPENCV": ([50.0, 51.0, 32.0, 24.0, 0.01, 0.0, 0.0, 0.0], (50.0, 51.0, 32.0, 24.0)),
}


def _write_model(
    root: Path, models: list[str], *, image_size: tuple[int, int] = (WIDTH, HEIGHT)
) -> tuple[Path, Path, list[np.ndarray]]:
    """A model with one camera per entry of ``models``, one image each, written to ``root``."""
    reconstruction = pycolmap.Reconstruction()
    image_dir = root / "images"
    image_dir.mkdir(parents=True)
    poses = []
    # Added in reverse name order: the loader must sort by name.
    for index, model in reversed(list(enumerate(models))):
        camera_id = index + 1
        camera = pycolmap.Camera(
            model=model, width=WIDTH, height=HEIGHT, params=MODELS[model][0], camera_id=camera_id
        )
        reconstruction.add_camera_with_trivial_rig(camera)
        angle = 0.4 * index
        view = look_at([4.0 * np.cos(angle), 4.0 * np.sin(angle), 1.0], [0.0, 0.0, 0.0])
        image = pycolmap.Image(name=f"img_{index:02d}.png", camera_id=camera_id, image_id=camera_id)
        reconstruction.add_image_with_trivial_frame(image, pycolmap.Rigid3d(view[:3]))
        pixels = np.full((image_size[1], image_size[0], 3), 40 * index, dtype=np.uint8)
        Image.fromarray(pixels).save(image_dir / image.name)
        poses.append(view)
    rng = np.random.default_rng(0)
    for _ in range(30):
        xyz = rng.uniform(-1.0, 1.0, 3)
        color = rng.integers(0, 256, 3).astype(np.uint8)
        reconstruction.add_point3D(xyz, pycolmap.Track(), color)
    sparse = root / "sparse"
    sparse.mkdir()
    reconstruction.write(str(sparse))
    return sparse, image_dir, poses[::-1]


def test_views_points_and_intrinsics(tmp_path: Path) -> None:
    models = list(MODELS)
    sparse, image_dir, poses = _write_model(tmp_path, models)
    scene = load_colmap_scene(sparse, image_dir, max_side=None)
    assert scene.names == [f"img_{i:02d}.png" for i in range(len(models))]
    for index, (model, camera) in enumerate(zip(models, scene.cameras, strict=True)):
        fx, fy, cx, cy = MODELS[model][1]
        expected = np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])
        np.testing.assert_allclose(camera.K.numpy(), expected)
        np.testing.assert_allclose(camera.viewmat.numpy(), poses[index], atol=1e-6)
        assert (camera.width, camera.height) == (WIDTH, HEIGHT)
        assert scene.images[index].shape == (HEIGHT, WIDTH, 3)
        assert int(scene.images[index][0, 0, 0]) == 40 * index
    reconstruction = pycolmap.Reconstruction(str(sparse))
    points = {tuple(np.round(p.xyz, 6)): p.color for p in reconstruction.points3D.values()}
    assert scene.points.shape == (30, 3) and scene.colors.shape == (30, 3)
    for xyz, color in zip(scene.points, scene.colors, strict=True):
        np.testing.assert_allclose(points[tuple(np.round(xyz, 6))] / 255.0, color)


def test_our_projection_agrees_with_colmap(tmp_path: Path) -> None:
    sparse, image_dir, _ = _write_model(tmp_path, ["PINHOLE", "SIMPLE_PINHOLE"])
    scene = load_colmap_scene(sparse, image_dir, max_side=None)
    reconstruction = pycolmap.Reconstruction(str(sparse))
    images = sorted(reconstruction.images.values(), key=lambda image: image.name)
    for image, camera in zip(images, scene.cameras, strict=True):
        for point in reconstruction.points3D.values():
            expected = image.project_point(point.xyz)
            in_camera = camera.viewmat.double().numpy() @ np.r_[point.xyz, 1.0]
            pixel = (camera.K.double().numpy() @ in_camera[:3])[:2] / in_camera[2]
            np.testing.assert_allclose(pixel, expected, atol=1e-3)


def test_max_side_shrinks_images_and_intrinsics(tmp_path: Path) -> None:
    sparse, image_dir, _ = _write_model(tmp_path, ["PINHOLE"])
    scene = load_colmap_scene(sparse, image_dir, max_side=32)
    camera = scene.cameras[0]
    assert (camera.width, camera.height) == (32, 24)
    assert scene.images[0].shape == (24, 32, 3)
    expected = np.array([[25.0, 0.0, 16.25], [0.0, 26.0, 12.25], [0.0, 0.0, 1.0]])
    np.testing.assert_allclose(camera.K.numpy(), expected)


def test_frames_stored_at_another_size_rescale_k(tmp_path: Path) -> None:
    sparse, image_dir, _ = _write_model(tmp_path, ["PINHOLE"], image_size=(128, 96))
    camera = load_colmap_scene(sparse, image_dir, max_side=None).cameras[0]
    assert (camera.width, camera.height) == (128, 96)
    expected = np.array([[100.0, 0.0, 65.0], [0.0, 104.0, 49.0], [0.0, 0.0, 1.0]])
    np.testing.assert_allclose(camera.K.numpy(), expected)


def test_unsupported_camera_model_is_refused(tmp_path: Path) -> None:
    reconstruction = pycolmap.Reconstruction()
    camera = pycolmap.Camera(
        model="OPENCV_FISHEYE", width=WIDTH, height=HEIGHT, params=[50, 50, 32, 24, 0, 0, 0, 0]
    )
    camera.camera_id = 1
    reconstruction.add_camera_with_trivial_rig(camera)
    image = pycolmap.Image(name="a.png", camera_id=1, image_id=1)
    reconstruction.add_image_with_trivial_frame(image, pycolmap.Rigid3d(np.eye(4)[:3]))
    reconstruction.add_point3D(np.zeros(3), pycolmap.Track(), np.zeros(3, dtype=np.uint8))
    (tmp_path / "sparse").mkdir()
    (tmp_path / "images").mkdir()
    reconstruction.write(str(tmp_path / "sparse"))
    Image.fromarray(np.zeros((HEIGHT, WIDTH, 3), dtype=np.uint8)).save(tmp_path / "images/a.png")
    with pytest.raises(InvalidInputError, match="OPENCV_FISHEYE"):
        load_colmap_scene(tmp_path / "sparse", tmp_path / "images", max_side=None)


def test_missing_inputs_are_reported(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        load_colmap_scene(tmp_path / "nope", tmp_path, max_side=None)
    sparse, image_dir, _ = _write_model(tmp_path, ["PINHOLE"])
    (image_dir / "img_00.png").unlink()
    with pytest.raises(NotFoundError):
        load_colmap_scene(sparse, image_dir, max_side=None)
