"""frames.json: a round trip, atomic replacement, valid JSON for odd scores, clear errors."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from vantage.capture.frames import FrameRecord, read_frames_json, write_frames_json
from vantage.errors import InvalidInputError

FRAMES = [
    FrameRecord("frames/00000.jpg", 12, 0.8, 412.123456789, 0.01, 0.0),
    FrameRecord("frames/00001.jpg", 20, 1.333333333, 380.5, 0.0, 0.25),
    FrameRecord("frames/00002.jpg", 4, source_name="IMG_0004.HEIC"),
]


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "frames.json"
    source = {"kind": "video", "path": "/in/clip.mp4"}
    stats = {"decoded": 30, "kept": 3}
    write_frames_json(path, source=source, frames=FRAMES, stats=stats)
    manifest = read_frames_json(path)
    assert manifest.source == source
    assert manifest.stats == stats
    assert [f.file for f in manifest.frames] == [f.file for f in FRAMES]
    assert manifest.frames[0].sharpness == pytest.approx(412.123, rel=1e-5)
    assert manifest.frames[1].time_s == pytest.approx(1.33333, rel=1e-5)
    assert manifest.frames[2] == FRAMES[2]


def test_format_on_disk(tmp_path: Path) -> None:
    path = tmp_path / "frames.json"
    write_frames_json(path, source={}, frames=FRAMES[:1], stats={})
    document = json.loads(path.read_text())
    assert list(document) == ["source", "stats", "frames"]
    assert document["frames"][0] == {
        "file": "frames/00000.jpg",
        "source_index": 12,
        "time_s": 0.8,
        "sharpness": 412.123,
        "clipped_fraction": 0.01,
        "novelty": 0.0,
    }


def test_replaces_atomically_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    path = tmp_path / "frames.json"
    path.write_text("old")
    write_frames_json(path, source={}, frames=FRAMES, stats={})
    assert [p.name for p in tmp_path.iterdir()] == ["frames.json"]
    assert len(read_frames_json(path).frames) == 3


def test_non_finite_scores_become_null(tmp_path: Path) -> None:
    path = tmp_path / "frames.json"
    odd = FrameRecord("frames/00000.jpg", 0, 0.0, math.inf, math.nan, 0.0)
    write_frames_json(path, source={}, frames=[odd], stats={})
    assert read_frames_json(path).frames[0].sharpness is None


@pytest.mark.parametrize(
    "content",
    [None, "not json", '{"frames": []}', '{"source": {}, "stats": {}, "frames": [{"x": 1}]}'],
)
def test_bad_file_raises_invalid_input(tmp_path: Path, content: str | None) -> None:
    path = tmp_path / "frames.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(InvalidInputError) as caught:
        read_frames_json(path)
    assert caught.value.fields["path"] == str(path)
