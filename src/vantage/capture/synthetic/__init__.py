"""Synthetic capture: a deterministic textured scene, camera paths, rendered photos and videos.

Tests, benchmarks and ``make demo`` use it as ground truth for the reconstruction pipeline: the
scene is a ground plane with boxes covered in photo-and-noise textures (SIFT-friendly, nothing
repeats), rendered by a numpy ray caster with exact pinhole geometry. Importing this package
loads numpy only; OpenCV, PyAV, Pillow and scikit-image load when a function needs them.
"""

from __future__ import annotations

from vantage.capture.synthetic.align import camera_centre_errors, similarity_align
from vantage.capture.synthetic.cameras import (
    Camera,
    camera_centres,
    intrinsics,
    look_at,
    nadir_cameras,
    orbit_camera_at,
    orbit_cameras,
)
from vantage.capture.synthetic.media import (
    SyntheticPhotos,
    SyntheticVideo,
    motion_blur,
    render_orbit_video,
    render_photo_set,
    write_video,
)
from vantage.capture.synthetic.scene import Box, Scene

__all__ = [
    "Box",
    "Camera",
    "Scene",
    "SyntheticPhotos",
    "SyntheticVideo",
    "camera_centre_errors",
    "camera_centres",
    "intrinsics",
    "look_at",
    "motion_blur",
    "nadir_cameras",
    "orbit_camera_at",
    "orbit_cameras",
    "render_orbit_video",
    "render_photo_set",
    "similarity_align",
    "write_video",
]
