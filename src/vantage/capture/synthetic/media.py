"""Synthetic media on disk: H.264 orbit videos (with blurred and paused frames), photo sets."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import numpy.typing as npt

from vantage.capture.synthetic.cameras import Camera, nadir_cameras, orbit_camera_at, orbit_cameras
from vantage.capture.synthetic.scene import Scene

if TYPE_CHECKING:
    from PIL import Image

ImageU8 = npt.NDArray[np.uint8]

# The video camera sweeps this arc at constant speed (pauses aside).
_VIDEO_START_DEG = -60.0
_VIDEO_ARC_DEG = 150.0
_BLUR_LENGTH_PX = 13
_DEFAULT_BLUR_AT = (0.12, 0.37, 0.62, 0.87)  # fractions of the clip


@dataclass(frozen=True)
class SyntheticVideo:
    """A rendered orbit video and its ground truth."""

    path: Path
    fps: float
    frame_count: int
    cameras: list[Camera]  # one per encoded frame
    blurred_indices: frozenset[int]
    static_indices: frozenset[int]  # paused frames after the first of the pause, not blurred
    scene_size: float


@dataclass(frozen=True)
class SyntheticPhotos:
    """A rendered photo set and its ground truth."""

    paths: list[Path]
    cameras: list[Camera]  # same order as paths
    scene_size: float


def motion_blur(
    image: ImageU8, length_px: int = _BLUR_LENGTH_PX, angle_deg: float = 0.0
) -> ImageU8:  # [H, W, 3]
    """``image`` [H, W, 3] smeared along a ``length_px`` line at ``angle_deg`` (0 = horizontal)."""
    import cv2

    kernel = np.zeros((length_px, length_px), dtype=np.float32)
    kernel[length_px // 2, :] = 1.0
    centre = ((length_px - 1) / 2.0, (length_px - 1) / 2.0)
    turn = cv2.getRotationMatrix2D(centre, angle_deg, 1.0)
    kernel = np.asarray(cv2.warpAffine(kernel, turn, (length_px, length_px)), np.float32)
    kernel /= kernel.sum()
    return np.asarray(cv2.filter2D(image, -1, kernel, borderType=cv2.BORDER_REFLECT), np.uint8)


def write_video(path: Path | str, frames: Iterable[ImageU8], fps: float) -> None:
    """Encodes RGB frames [H, W, 3] (even H and W) as H.264 (yuv420p, CRF 18) in an mp4."""
    import av

    iterator = iter(frames)
    first = next(iterator, None)
    if first is None:
        raise ValueError("no frames to write")
    height, width = first.shape[:2]
    if height % 2 or width % 2:
        raise ValueError(f"yuv420p needs an even frame size, got {width}x{height}")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        stream.width = width
        stream.height = height
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "18", "preset": "veryfast"}
        for frame in _chain(first, iterator):
            if frame.shape != first.shape:
                raise ValueError(f"frame of shape {frame.shape}, the first was {first.shape}")
            video_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
            container.mux(stream.encode(video_frame))
        container.mux(stream.encode(None))


def render_orbit_video(
    path: Path | str,
    *,
    seconds: float = 8.0,
    fps: float = 15.0,
    width: int = 320,
    height: int = 240,
    blurred: Sequence[int] | None = None,
    pause: tuple[float, float] | None = (3.0, 1.0),
    seed: int = 0,
) -> SyntheticVideo:
    """Renders and encodes a video of the camera sweeping a 150° arc around `Scene.default`.

    Args:
        path: The mp4 to write.
        seconds: Clip length; the clip has ``round(seconds * fps)`` frames.
        fps: Frame rate.
        width: Frame width in pixels (even).
        height: Frame height in pixels (even).
        blurred: Frame indices to smear with strong motion blur; None picks four spread out
            frames outside the pause.
        pause: ``(start_s, duration_s)`` during which the camera stands still; None for none.
        seed: Scene seed.
    """
    scene = Scene.default(seed)
    frame_count = max(1, round(seconds * fps))
    pause_start, pause_end = _pause_frames(pause, fps, frame_count)
    progress = np.arange(frame_count)
    progress[pause_start:pause_end] = pause_start
    progress[pause_end:] -= max(pause_end - pause_start - 1, 0)
    angles = _VIDEO_START_DEG + _VIDEO_ARC_DEG * progress / max(int(progress[-1]), 1)
    cameras = [orbit_camera_at(scene, float(angle), width, height) for angle in angles]
    if blurred is None:
        blurred_set = _default_blurred(frame_count, pause_start, pause_end)
    else:
        blurred_set = frozenset(int(index) for index in blurred)
        if any(not 0 <= index < frame_count for index in blurred_set):
            raise ValueError(f"blurred frames {sorted(blurred_set)} outside 0…{frame_count - 1}")
    write_video(path, _video_frames(scene, cameras, progress, blurred_set), fps)
    static = frozenset(range(pause_start + 1, pause_end)) - blurred_set
    return SyntheticVideo(Path(path), fps, frame_count, cameras, blurred_set, static, scene.size)


def render_photo_set(
    folder: Path | str,
    *,
    n: int = 30,
    width: int = 320,
    height: int = 240,
    kind: Literal["nadir", "orbit"] = "nadir",
    seed: int = 0,
    fmt: Literal["jpg", "png"] = "jpg",
) -> SyntheticPhotos:
    """Renders ``n`` photos of `Scene.default` as 0000.jpg… (JPEG quality 95) or 0000.png….

    ``kind="nadir"`` flies a lawnmower survey (`nadir_cameras`), ``"orbit"`` circles the boxes
    (`orbit_cameras`).
    """
    from PIL import Image

    scene = Scene.default(seed)
    if kind == "nadir":
        cameras = nadir_cameras(scene, n, width, height, seed=seed)
    elif kind == "orbit":
        cameras = orbit_cameras(scene, n, width, height)
    else:
        raise ValueError(f"kind must be 'nadir' or 'orbit', got {kind!r}")
    if fmt not in ("jpg", "png"):
        raise ValueError(f"fmt must be 'jpg' or 'png', got {fmt!r}")
    directory = Path(folder)
    directory.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for index, camera in enumerate(cameras):
        path = directory / f"{index:04d}.{fmt}"
        image = Image.fromarray(scene.render(camera))
        if fmt == "jpg":
            image.save(path, format="JPEG", quality=95, exif=_exif(camera))
        else:
            image.save(path, format="PNG")
        paths.append(path)
    return SyntheticPhotos(paths, cameras, scene.size)


def _exif(camera: Camera) -> Image.Exif:
    """EXIF a phone or drone would write: make, model and the 35 mm equivalent focal length.

    SfM tools seed the focal length from it; without it a nadir survey of nearly flat ground
    cannot tell focal length from altitude.
    """
    from PIL import Image

    exif = Image.Exif()
    exif[0x010F] = "Vantage"  # Make
    exif[0x0110] = "synthetic pinhole"  # Model
    # COLMAP reads f_px = f35 / 35 * max(width, height).
    focal_35mm = camera.K[0, 0] / max(camera.width, camera.height) * 35.0
    exif.get_ifd(0x8769)[0xA405] = round(focal_35mm)  # FocalLengthIn35mmFilm
    return exif


def _chain(first: ImageU8, rest: Iterator[ImageU8]) -> Iterator[ImageU8]:
    yield first
    yield from rest


def _pause_frames(
    pause: tuple[float, float] | None, fps: float, frame_count: int
) -> tuple[int, int]:
    """[start, end) frame range of the pause, empty when there is none."""
    if pause is None:
        return 0, 0
    start_s, duration_s = pause
    if start_s < 0 or duration_s < 0:
        raise ValueError(f"pause must be (start_s ≥ 0, duration_s ≥ 0), got {pause}")
    start = min(round(start_s * fps), frame_count)
    return start, min(start + round(duration_s * fps), frame_count)


def _default_blurred(frame_count: int, pause_start: int, pause_end: int) -> frozenset[int]:
    """Frames spread over the clip, moved off the pause and its borders."""
    chosen: set[int] = set()
    for fraction in _DEFAULT_BLUR_AT:
        index = round(fraction * (frame_count - 1))
        if pause_start - 1 <= index <= pause_end:
            index = pause_end + 1
        near = any(abs(index - other) < 2 for other in chosen)
        if 0 < index < frame_count - 1 and not near:
            chosen.add(index)
    return frozenset(chosen)


def _video_frames(
    scene: Scene,
    cameras: Sequence[Camera],
    progress: npt.NDArray[np.int_],  # [F] camera step per frame; equal steps share a render
    blurred: frozenset[int],
) -> Iterator[ImageU8]:
    last_step = -1
    image = np.zeros((1, 1, 3), dtype=np.uint8)
    for index, camera in enumerate(cameras):
        if int(progress[index]) != last_step:
            image = scene.render(camera)
            last_step = int(progress[index])
        yield motion_blur(image) if index in blurred else image
