"""The viewer's starting camera: a capture's own middle view, a target ahead, the cameras' up."""

from __future__ import annotations

import math
from dataclasses import asdict

import numpy as np
import pytest

from vantage.capture.compress.camera import start_camera
from vantage.capture.splat.synthetic import ring_cameras
from vantage.web.viewer import ViewerCamera, viewer_page


def test_start_is_the_middle_camera_looking_at_the_points_ahead() -> None:
    cameras = ring_cameras(12, 160, 120, radius=3.0, elevation=1.0)
    rng = np.random.default_rng(0)
    points = rng.normal(0.0, 0.3, (500, 3))  # a blob around the origin, where the ring looks
    start = start_camera(cameras, points)
    assert start is not None
    angle = 2.0 * math.pi * 6 / 12
    assert np.allclose(start.position, (3.0 * math.cos(angle), 3.0 * math.sin(angle), 1.0))
    # The target lies on the view axis, about as far as the blob is.
    to_target = np.subtract(start.target, start.position)
    to_origin = np.subtract((0.0, 0.0, -0.2), start.position)
    cosine = to_target @ to_origin / np.linalg.norm(to_target) / np.linalg.norm(to_origin)
    assert cosine > 0.999
    assert abs(np.linalg.norm(to_target) - np.linalg.norm(start.position)) < 0.5
    # The cameras were held with world +z up; their mean up says so.
    assert np.dot(start.up, (0.0, 0.0, 1.0)) > 0.9
    assert math.isclose(start.fov_deg, math.degrees(2 * math.atan(60 / 160)), rel_tol=1e-6)


def test_no_start_without_cameras_or_points_ahead() -> None:
    cameras = ring_cameras(4, 160, 120)
    assert start_camera([], np.zeros((3, 3))) is None
    behind = np.asarray(start_camera(cameras, np.zeros((5, 3))).position) * 3.0  # type: ignore[union-attr]
    assert start_camera(cameras[2:3], behind[None, :]) is None


def test_the_page_carries_the_start() -> None:
    camera = ViewerCamera((1.0, 2.0, 3.0), (0.0, 0.0, 0.0), (0.0, 0.0, 1.0), 50.0)
    page = viewer_page("/scene.sog", title="t", camera=camera)
    assert 'data-camera="1,2,3,0,0,0,0,0,1,50"' in page
    assert 'data-up="0,0,1"' in page
    assert "data-camera" not in viewer_page("/scene.sog", title="t")


def test_a_saved_start_reads_back() -> None:
    camera = ViewerCamera((1.0, 2.0, 3.0), (0.0, 0.5, 0.0), (0.0, 0.0, 1.0), 50.0)
    assert ViewerCamera.from_dict(asdict(camera)) == camera
    with pytest.raises(ValueError):
        ViewerCamera.from_dict({**asdict(camera), "up": [0.0, 1.0]})
