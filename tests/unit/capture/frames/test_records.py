"""Records: option checks name the field; records serialise to JSON-ready dicts."""

from __future__ import annotations

from pathlib import Path

import pytest

from vantage.capture.frames import FrameRecord, KeyframeOptions, VideoInfo
from vantage.errors import InvalidInputError


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_frames", 0),
        ("max_side", 4),
        ("min_sharpness_ratio", 1.5),
        ("min_novelty", -1.0),
        ("clip_threshold", 0.0),
        ("analysis_side", 8),
        ("blur_window_s", 0.0),
    ],
)
def test_bad_option_names_the_field(field: str, value: object) -> None:
    with pytest.raises(InvalidInputError) as caught:
        KeyframeOptions(**{field: value})  # type: ignore[arg-type]
    assert caught.value.fields["field"] == field
    assert field in str(caught.value)


def test_video_info_as_dict() -> None:
    info = VideoInfo(Path("/v/clip.mp4"), "mov", "h264", 1080, 1920, 30.0, 300, 10.0, 90)
    assert info.as_dict() == {
        "kind": "video",
        "path": "/v/clip.mp4",
        "container_format": "mov",
        "codec": "h264",
        "width": 1080,
        "height": 1920,
        "fps": 30.0,
        "frame_count": 300,
        "duration_s": 10.0,
        "rotation_deg": 90,
    }


def test_frame_record_as_dict_omits_unknown_source_name() -> None:
    assert "source_name" not in FrameRecord("frames/00000.jpg", 3, 0.2).as_dict()
    assert (
        FrameRecord("frames/00000.jpg", 0, source_name="a.jpg").as_dict()["source_name"] == "a.jpg"
    )
