"""Photos as frames: JPEG, PNG and HEIC read, EXIF orientation applied, bad files skipped."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pillow_heif
import pytest
from PIL import Image

from vantage.capture.frames import load_photos
from vantage.errors import InvalidInputError, TooFewImagesError

ORIENTATION = 0x0112


def noise(width: int, height: int, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


def marked(width: int, height: int) -> Image.Image:
    """Grey with a red block in the top-left corner, to see where the corner ends up."""
    pixels = np.full((height, width, 3), 128, np.uint8)
    pixels[: height // 4, : width // 4] = (255, 0, 0)
    return Image.fromarray(pixels)


@pytest.fixture
def photo_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    noise(60, 40, 1).save(folder / "a.jpg", quality=90)
    Image.fromarray(np.full((30, 50, 4), (0, 200, 0, 128), np.uint8)).save(folder / "b.png")
    pillow_heif.from_pillow(noise(40, 30, 2)).save(folder / "c.heic", quality=80)
    exif = Image.Exif()
    exif[ORIENTATION] = 6  # "rotate 90° clockwise to display"
    marked(80, 40).save(folder / "d_rotated.jpg", quality=95, exif=exif.tobytes())
    buffer = io.BytesIO()
    noise(200, 150, 3).save(buffer, format="JPEG", quality=95)
    (folder / "e_truncated.jpg").write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    (folder / "f_renamed.jpg").write_text("this is not a JPEG\n")
    (folder / "notes.txt").write_text("shot list\n")
    (folder / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (folder / "sub").mkdir()
    noise(10, 10).save(folder / "sub" / "nested.jpg")
    return folder


def sizes(out_dir: Path) -> list[tuple[int, int]]:
    result = []
    for path in sorted(out_dir.glob("*.jpg")):
        with Image.open(path) as image:
            assert image.mode == "RGB"
            assert image.format == "JPEG"
            result.append(image.size)
    return result


def test_folder_is_read_in_name_order_with_bad_files_skipped(
    photo_folder: Path, tmp_path: Path
) -> None:
    out_dir = tmp_path / "job" / "frames"
    updates: list[float] = []
    result = load_photos(
        photo_folder, out_dir, max_side=None, min_images=3, progress=lambda f, _: updates.append(f)
    )
    names = [frame.source_name for frame in result.frames]
    assert names == ["a.jpg", "b.png", "c.heic", "d_rotated.jpg"]
    assert [frame.file for frame in result.frames] == [f"frames/{i:05d}.jpg" for i in range(4)]
    assert [frame.source_index for frame in result.frames] == [0, 1, 2, 3]
    assert result.seen == 7  # hidden files and subfolders are not looked at
    reasons = dict(result.skipped)
    assert set(reasons) == {"e_truncated.jpg", "f_renamed.jpg", "notes.txt"}
    assert "truncated" in reasons["e_truncated.jpg"]
    assert "not an image" in reasons["f_renamed.jpg"]
    assert ".txt" in reasons["notes.txt"]
    # EXIF orientation 6: the 80×40 picture is written 40×80.
    assert sizes(out_dir) == [(60, 40), (50, 30), (40, 30), (40, 80)]
    assert sorted(p.name for p in out_dir.iterdir()) == [f"{i:05d}.jpg" for i in range(4)]
    assert updates[-1] == 1.0


def test_exif_rotation_moves_the_corner(photo_folder: Path, tmp_path: Path) -> None:
    result = load_photos(
        [photo_folder / "d_rotated.jpg"], tmp_path / "frames", max_side=None, min_images=1
    )
    with Image.open(tmp_path / "frames" / "00000.jpg") as image:
        pixels = np.asarray(image)
    # Turning clockwise takes the top-left corner to the top-right.
    assert pixels[2, -3, 0] > 200 and pixels[2, -3, 1] < 60
    assert pixels[2, 2, 0] < 160
    assert result.frames[0].time_s is None and result.frames[0].sharpness is None


def test_heic_orientation_is_applied_once(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    source = tmp_path / "portrait.heic"
    pillow_heif.from_pillow(marked(80, 40)).save(source, quality=90, exif=exif.tobytes())
    load_photos([source], tmp_path / "frames", max_side=None, min_images=1)
    assert sizes(tmp_path / "frames") == [(40, 80)]


def test_max_side_is_respected(tmp_path: Path) -> None:
    folder = tmp_path / "big"
    folder.mkdir()
    noise(400, 300).save(folder / "wide.jpg")
    noise(150, 600).save(folder / "tall.png")
    noise(50, 40).save(folder / "small.jpg")
    load_photos(folder, tmp_path / "frames", max_side=100, min_images=3)
    assert sizes(tmp_path / "frames") == [(50, 40), (25, 100), (100, 75)]  # small, tall, wide


def test_too_few_usable_photos(photo_folder: Path, tmp_path: Path) -> None:
    with pytest.raises(TooFewImagesError) as caught:
        load_photos(photo_folder, tmp_path / "frames", max_side=None, min_images=5)
    error = caught.value
    assert error.fields == {"usable": 4, "skipped": 3, "needed": 5}
    assert "4 usable photos of 7 files (3 skipped), at least 5 needed" in str(error)


def test_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(TooFewImagesError, match="0 usable photos of 0 files"):
        load_photos(tmp_path / "empty", tmp_path / "frames", max_side=None, min_images=1)


def test_list_of_files_keeps_the_given_order_and_skips_missing(
    photo_folder: Path, tmp_path: Path
) -> None:
    sources = [photo_folder / "c.heic", photo_folder / "gone.jpg", photo_folder / "a.jpg"]
    result = load_photos(sources, tmp_path / "frames", max_side=None, min_images=2)
    assert [f.source_name for f in result.frames] == ["c.heic", "a.jpg"]
    assert [f.source_index for f in result.frames] == [0, 2]
    assert result.skipped == [("gone.jpg", "no such file")]


def test_missing_folder_and_bad_max_side(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="no such folder"):
        load_photos(tmp_path / "nope", tmp_path / "frames", max_side=None, min_images=1)
    with pytest.raises(InvalidInputError, match="max_side"):
        load_photos(tmp_path, tmp_path / "frames", max_side=0, min_images=1)
