"""The nerfstudio conversion: COLMAP poses → OpenGL camera-to-world, intrinsics → OPENCV keys."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from vantage.capture.sfm import (
    Intrinsics,
    PosedImage,
    c2w_opengl_from_cam_from_world,
    cam_from_world_from_c2w_opengl,
    intrinsics_from_colmap,
    transforms_document,
)
from vantage.errors import InvalidInputError


def random_pose(seed: int) -> np.ndarray:  # [3, 4]
    rng = np.random.default_rng(seed)
    rotation = Rotation.random(random_state=seed).as_matrix()
    return np.concatenate([rotation, rng.normal(size=(3, 1))], axis=1)


def test_identity_pose_flips_camera_y_and_z() -> None:
    c2w = c2w_opengl_from_cam_from_world(np.eye(3, 4))
    np.testing.assert_allclose(c2w, np.diag([1.0, -1.0, -1.0, 1.0]))


@pytest.mark.parametrize("seed", range(5))
def test_c2w_is_rigid_and_centred_on_the_projection_centre(seed: int) -> None:
    pose = random_pose(seed)
    c2w = c2w_opengl_from_cam_from_world(pose)
    rotation = c2w[:3, :3]
    np.testing.assert_allclose(rotation.T @ rotation, np.eye(3), atol=1e-12)
    assert np.linalg.det(rotation) == pytest.approx(1.0)
    np.testing.assert_allclose(c2w[3], [0, 0, 0, 1])
    np.testing.assert_allclose(c2w[:3, 3], -pose[:, :3].T @ pose[:, 3])
    # OpenGL cameras look down their -z: that is COLMAP's optical axis (row 3 of R).
    np.testing.assert_allclose(-c2w[:3, 2], pose[2, :3])
    # and their +y is up in the image: COLMAP's -y.
    np.testing.assert_allclose(c2w[:3, 1], -pose[1, :3])


@pytest.mark.parametrize("seed", range(3))
def test_round_trip(seed: int) -> None:
    pose = random_pose(seed)
    back = cam_from_world_from_c2w_opengl(c2w_opengl_from_cam_from_world(pose))
    np.testing.assert_allclose(back, pose, atol=1e-12)


def test_projection_through_c2w_matches_colmap_projection() -> None:
    # A point in front of the COLMAP camera lies at negative z in the OpenGL camera frame.
    pose = random_pose(7)
    point_cam = np.array([0.3, -0.2, 4.0])
    point_world = pose[:, :3].T @ (point_cam - pose[:, 3])
    c2w = c2w_opengl_from_cam_from_world(pose)
    point_gl = np.linalg.inv(c2w) @ np.append(point_world, 1.0)
    np.testing.assert_allclose(point_gl[:3], [0.3, 0.2, -4.0], atol=1e-12)


def test_wrong_shapes_are_rejected() -> None:
    with pytest.raises(InvalidInputError):
        c2w_opengl_from_cam_from_world(np.eye(4))
    with pytest.raises(InvalidInputError):
        cam_from_world_from_c2w_opengl(np.eye(3, 4))


@pytest.mark.parametrize(
    ("model", "params", "expected"),
    [
        ("SIMPLE_PINHOLE", [100, 50, 40], (100, 100, 50, 40, 0, 0, 0, 0)),
        ("PINHOLE", [100, 110, 50, 40], (100, 110, 50, 40, 0, 0, 0, 0)),
        ("SIMPLE_RADIAL", [100, 50, 40, 0.1], (100, 100, 50, 40, 0.1, 0, 0, 0)),
        ("RADIAL", [100, 50, 40, 0.1, -0.02], (100, 100, 50, 40, 0.1, -0.02, 0, 0)),
        (
            "OPENCV",
            [100, 110, 50, 40, 0.1, -0.02, 0.001, 0.002],
            (100, 110, 50, 40, 0.1, -0.02, 0.001, 0.002),
        ),
    ],
)
def test_intrinsics(model: str, params: list[float], expected: tuple[float, ...]) -> None:
    values = intrinsics_from_colmap(model, params, 100, 80).to_dict()
    assert (values["w"], values["h"]) == (100, 80)
    keys = ("fl_x", "fl_y", "cx", "cy", "k1", "k2", "p1", "p2")
    assert tuple(values[k] for k in keys) == pytest.approx(expected)


def test_fisheye_has_no_opencv_equivalent() -> None:
    with pytest.raises(InvalidInputError, match="OPENCV_FISHEYE"):
        intrinsics_from_colmap("OPENCV_FISHEYE", [1, 1, 1, 1, 0, 0, 0, 0], 10, 10)


def test_document_with_one_camera_has_top_level_intrinsics() -> None:
    camera = Intrinsics(320, 240, 300.0, 300.0, 160.0, 120.0, k1=0.01)
    images = [PosedImage(f"frames/{i}.jpg", 1, random_pose(i)) for i in (2, 0, 1)]
    document = transforms_document({1: camera}, images)
    assert document["camera_model"] == "OPENCV"
    assert document["fl_x"] == 300.0
    assert document["k1"] == 0.01
    assert [f["file_path"] for f in document["frames"]] == [f"frames/{i}.jpg" for i in range(3)]
    assert all("fl_x" not in frame for frame in document["frames"])
    np.testing.assert_allclose(
        document["frames"][0]["transform_matrix"], c2w_opengl_from_cam_from_world(random_pose(0))
    )


def test_document_with_several_cameras_has_per_frame_intrinsics() -> None:
    cameras = {
        1: Intrinsics(320, 240, 300.0, 300.0, 160.0, 120.0),
        2: Intrinsics(640, 480, 600.0, 600.0, 320.0, 240.0),
    }
    images = [PosedImage("a.jpg", 1, random_pose(0)), PosedImage("b.jpg", 2, random_pose(1))]
    document = transforms_document(cameras, images)
    assert "fl_x" not in document
    assert [frame["w"] for frame in document["frames"]] == [320, 640]
