"""An orbit video through keyframe selection and SfM: no blurred or paused frame kept, every
kept frame registered, camera centres within 0.5 % of the scene size of the truth."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pycolmap

from vantage.capture.frames import KeyframeOptions, select_keyframes
from vantage.capture.sfm import SfmOptions, run_sfm
from vantage.capture.synthetic import camera_centre_errors, render_orbit_video


def test_orbit_video_keyframes_register_at_the_true_centres(tmp_path: Path) -> None:
    video = render_orbit_video(tmp_path / "orbit.mp4", seconds=8.0, fps=15, width=320, height=240)
    out = tmp_path / "out"
    frames_dir = out / "frames"
    frames_dir.mkdir(parents=True)

    result = select_keyframes(video.path, frames_dir, KeyframeOptions(max_frames=30))

    kept = [frame.source_index for frame in result.frames]
    assert len(kept) >= 15
    assert not set(kept) & video.blurred_indices, "a motion-blurred frame was kept"
    assert not set(kept) & video.static_indices, "a frame of the pause was kept"

    options = SfmOptions(max_num_features=2048)
    sfm = run_sfm(frames_dir, tmp_path / "work", out, options, ordered=True)
    assert sfm.registered_images == len(kept) == sfm.input_images

    by_name = {Path(frame.file).name: frame.source_index for frame in result.frames}
    model = pycolmap.Reconstruction(str(out / "sparse"))
    names = sorted(image.name for image in model.images.values())
    centres = {image.name: image.projection_center() for image in model.images.values()}
    estimated = np.array([centres[name] for name in names])  # [N, 3]
    truth = np.array([video.cameras[by_name[name]].center for name in names])  # [N, 3]
    errors = camera_centre_errors(estimated, truth)
    assert float(np.median(errors)) < 0.005 * video.scene_size
