"""Tests of the synthetic scene, its cameras, rendered media and the similarity alignment."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from vantage.capture.synthetic import (
    Camera,
    Scene,
    camera_centre_errors,
    camera_centres,
    nadir_cameras,
    orbit_cameras,
    render_orbit_video,
    render_photo_set,
    similarity_align,
    write_video,
)
from vantage.capture.synthetic.textures import build_atlas

FloatArray = npt.NDArray[np.float64]


@pytest.fixture(scope="module")
def scene() -> Scene:
    return Scene.default(seed=0)


def _reference_depth(scene: Scene, camera: Camera, x: int, y: int) -> float:
    """Depth of the nearest surface through pixel (x, y), one ray at a time in float64."""
    direction = camera.cam_from_world[:3, :3].T @ np.linalg.inv(camera.K) @ np.array([x, y, 1.0])
    origin = camera.center
    best = math.inf
    if direction[2] < 0:
        t = -origin[2] / direction[2]
        point = origin + t * direction
        if max(abs(point[0]), abs(point[1])) < scene.ground_half_size_m:
            best = t
    for box in scene.boxes:
        c, s = math.cos(math.radians(box.yaw_deg)), math.sin(math.radians(box.yaw_deg))
        to_box = np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])
        half = np.array(box.size) / 2.0
        o = to_box @ (origin - np.array([*box.centre_xy, half[2]]))
        d = to_box @ direction
        t_near, t_far = -math.inf, math.inf
        for axis in range(3):
            if abs(d[axis]) < 1e-12:
                if abs(o[axis]) > half[axis]:
                    t_near = math.inf
                continue
            t1, t2 = sorted(((-half[axis] - o[axis]) / d[axis], (half[axis] - o[axis]) / d[axis]))
            t_near, t_far = max(t_near, t1), min(t_far, t2)
        if t_near <= t_far and 1e-4 < t_near < best:
            best = t_near
    return best


def _visible_top_centres(scene: Scene, camera: Camera) -> list[tuple[int, FloatArray]]:
    """(box index, pixel) of each box top-face centre that ``camera`` sees unoccluded."""
    depth_map = scene.depth(camera)
    visible = []
    for index, box in enumerate(scene.boxes):
        point = np.array([*box.centre_xy, box.size[2]])
        pixel, depth = camera.project(point)
        x, y = (round(float(c)) for c in pixel[0])
        inside = 2 <= x < camera.width - 2 and 2 <= y < camera.height - 2
        if inside and depth[0] > 0 and abs(depth_map[y, x] - depth[0]) < 0.01 * depth[0]:
            visible.append((index, pixel[0]))
    return visible


def test_default_scene_has_separate_boxes(scene: Scene) -> None:
    assert 4 <= len(scene.boxes) <= 6
    assert 5.0 < scene.size < 20.0
    for first in range(len(scene.boxes)):
        for second in range(first + 1, len(scene.boxes)):
            a, b = scene.boxes[first], scene.boxes[second]
            assert math.dist(a.centre_xy, b.centre_xy) > 0.5 * (max(a.size[:2]) + max(b.size[:2]))


def test_render_is_deterministic(scene: Scene) -> None:
    camera = orbit_cameras(scene, 3, 160, 120)[1]
    first = scene.render(camera)
    build_atlas.cache_clear()
    again = Scene.default(seed=0).render(camera)
    other = Scene.default(seed=1).render(camera)
    assert first.shape == (120, 160, 3)
    assert first.dtype == np.uint8
    np.testing.assert_array_equal(first, again)
    assert np.abs(first.astype(int) - other.astype(int)).mean() > 10


def test_render_of_a_box_is_richly_textured(scene: Scene) -> None:
    for box in scene.boxes:
        target = np.array([*box.centre_xy, box.size[2] / 2.0])
        camera = orbit_cameras(scene, 1, 160, 120, radius=3.0 + max(box.size), look_at=target)[0]
        image = scene.render(camera).astype(np.float64)
        assert image.std() > 25
        centre = image[45:75, 65:95]  # the box fills the middle of the view
        assert centre.std() > 15
        gradient = np.abs(np.diff(centre.mean(axis=2), axis=1))
        assert np.mean(gradient > 4) > 0.15  # fine detail all over the face, not flat patches


@pytest.mark.parametrize("kind", ["orbit", "nadir"])
def test_vectorised_depth_matches_per_ray_reference(scene: Scene, kind: str) -> None:
    cameras = (orbit_cameras if kind == "orbit" else nadir_cameras)(scene, 4, 96, 72)
    rng = np.random.default_rng(3)
    mismatches = 0
    for camera in cameras[:2]:
        depth_map = scene.depth(camera)
        for x, y in zip(rng.integers(0, 96, 150), rng.integers(0, 72, 150), strict=True):
            expected = _reference_depth(scene, camera, int(x), int(y))
            got = float(depth_map[y, x])
            same = got == expected == math.inf or math.isclose(got, expected, rel_tol=1e-4)
            mismatches += not same
    assert mismatches <= 3  # float32 vs float64 may flip a ray grazing an edge


def test_projected_points_land_on_their_surface(scene: Scene) -> None:
    cameras = orbit_cameras(scene, 6, 320, 240)
    seen = 0
    for camera in cameras:
        depth_map = scene.depth(camera)
        for box in scene.boxes:
            point = np.array([*box.centre_xy, box.size[2]])
            pixel, depth = camera.project(point)
            x, y = (round(float(c)) for c in pixel[0])
            if 0 <= x < 320 and 0 <= y < 240:
                # Nothing can lie behind a surface point; equal depth means the point is seen.
                assert depth_map[y, x] <= depth[0] * 1.01
                seen += depth_map[y, x] >= depth[0] * 0.99
    assert seen >= 10


def test_a_world_point_has_the_same_colour_in_two_views(scene: Scene) -> None:
    first, second = orbit_cameras(scene, 2, 320, 240, arc_deg=20.0)
    image_first, image_second = scene.render(first), scene.render(second)
    seen_first = dict(_visible_top_centres(scene, first))
    seen_second = dict(_visible_top_centres(scene, second))
    common = sorted(set(seen_first) & set(seen_second))
    assert len(common) >= 2
    for index in common:
        colours = []
        for image, pixel in ((image_first, seen_first[index]), (image_second, seen_second[index])):
            x, y = (round(float(c)) for c in pixel)
            colours.append(image[y - 1 : y + 2, x - 1 : x + 2].reshape(-1, 3).mean(axis=0))
        assert np.abs(colours[0] - colours[1]).max() < 20


def test_orbit_cameras_look_at_the_target(scene: Scene) -> None:
    target = scene.centre + np.array([0.5, -0.3, 0.2])
    cameras = orbit_cameras(scene, 8, 320, 240, radius=12.0, height_m=5.0, look_at=target)
    centres = camera_centres(cameras)
    assert len({tuple(np.round(c, 6)) for c in centres}) == 8
    for camera in cameras:
        offset = target - camera.center
        miss = offset - (offset @ camera.optical_axis) * camera.optical_axis
        assert np.linalg.norm(miss) < 1e-9
        assert math.isclose(float(np.linalg.norm(offset[:2])), 12.0)
        assert camera.center[2] == pytest.approx(5.0)
        assert -0.6 < camera.optical_axis[2] < 0  # slightly downward
        pixel, depth = camera.project(target)
        np.testing.assert_allclose(pixel[0], [159.5, 119.5], atol=1e-9)
        assert depth[0] > 0
        rotation = camera.cam_from_world[:3, :3]
        np.testing.assert_allclose(rotation @ rotation.T, np.eye(3), atol=1e-12)
        assert np.linalg.det(rotation) == pytest.approx(1.0)
        # World up points up the image: the camera's y (down) axis has negative world z.
        assert rotation[1, 2] < 0


def test_nadir_cameras_fly_a_lawnmower_looking_down(scene: Scene) -> None:
    cameras = nadir_cameras(scene, 24, 320, 240, altitude=10.0, seed=4)
    assert len(cameras) == 24
    for camera in cameras:
        assert camera.optical_axis[2] < -0.99  # within ~8° of straight down (gimbal wobble)
        assert camera.center[2] == pytest.approx(10.0, rel=0.05)
    footprint_h = 2 * 10.0 * math.tan(math.radians(30)) * 240 / 320
    steps = np.linalg.norm(np.diff(camera_centres(cameras)[:, :2], axis=0), axis=1)
    along_line = np.median(steps)
    assert along_line == pytest.approx(0.3 * footprint_h, rel=0.1)  # 70 % forward overlap
    assert nadir_cameras(scene, 24, 320, 240, altitude=10.0, seed=4)[5].center == pytest.approx(
        cameras[5].center
    )


def test_write_video_round_trips_through_pyav(tmp_path: Path) -> None:
    import av

    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (48, 64, 3), dtype=np.uint8) for _ in range(7)]
    path = tmp_path / "clip.mp4"
    write_video(path, iter(frames), fps=12.0)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        decoded = [frame.to_ndarray(format="rgb24") for frame in container.decode(stream)]
    assert len(decoded) == 7
    assert all(frame.shape == (48, 64, 3) for frame in decoded)
    with pytest.raises(ValueError, match="even"):
        write_video(tmp_path / "odd.mp4", [np.zeros((5, 5, 3), np.uint8)], fps=1.0)


def test_orbit_video_has_blurred_and_paused_frames(tmp_path: Path) -> None:
    import av
    import cv2

    video = render_orbit_video(
        tmp_path / "orbit.mp4", seconds=3.0, fps=10.0, width=160, height=120, pause=(1.0, 0.8)
    )
    assert video.frame_count == 30
    assert len(video.cameras) == 30
    assert video.static_indices == frozenset(range(11, 18))
    assert 3 <= len(video.blurred_indices) <= 5
    assert not video.blurred_indices & set(range(9, 19))
    with av.open(str(video.path)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(frames) == 30
    assert frames[0].shape == (120, 160, 3)
    sharpness = [
        cv2.Laplacian(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var() for f in frames
    ]
    for index in video.blurred_indices:
        assert 0 < index < 29
        assert sharpness[index] < 0.5 * min(sharpness[index - 1], sharpness[index + 1])
    for index in video.static_indices:
        np.testing.assert_array_equal(video.cameras[index].center, video.cameras[10].center)
        diff = np.abs(frames[index].astype(float) - frames[10].astype(float)).mean()
        assert diff < 2
    moving = np.abs(frames[5].astype(float) - frames[4].astype(float)).mean()
    assert moving > 2
    assert video.scene_size == pytest.approx(Scene.default(0).size)


@pytest.mark.parametrize("fmt", ["png", "jpg"])
def test_photo_set_writes_numbered_images(tmp_path: Path, fmt: str) -> None:
    from PIL import Image

    photos = render_photo_set(tmp_path, n=3, width=96, height=64, kind="orbit", fmt=fmt)  # type: ignore[arg-type]
    assert [p.name for p in photos.paths] == [f"{i:04d}.{fmt}" for i in range(3)]
    assert len(photos.cameras) == 3
    scene = Scene.default(0)
    for path, camera in zip(photos.paths, photos.cameras, strict=True):
        with Image.open(path) as image:
            pixels = np.asarray(image.convert("RGB")).astype(int)
        error = np.abs(pixels - scene.render(camera).astype(int)).mean()
        assert error == 0 if fmt == "png" else error < 6


def test_similarity_align_recovers_a_known_similarity() -> None:
    rng = np.random.default_rng(7)
    source = rng.normal(size=(20, 3))
    rotation, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    rotation *= np.sign(np.linalg.det(rotation))
    scale, translation = 2.7, rng.normal(size=3)
    target = scale * source @ rotation.T + translation
    got_scale, got_rotation, got_translation = similarity_align(source, target)
    assert got_scale == pytest.approx(scale, abs=1e-9)
    np.testing.assert_allclose(got_rotation, rotation, atol=1e-9)
    np.testing.assert_allclose(got_translation, translation, atol=1e-9)
    np.testing.assert_allclose(camera_centre_errors(source, target), 0.0, atol=1e-9)
    moved = target.copy()
    moved[3] += [0.0, 0.0, 1.0]
    errors = camera_centre_errors(source, moved)
    assert int(np.argmax(errors)) == 3
    with pytest.raises(ValueError, match="3 points"):
        similarity_align(source[:2], target[:2])
