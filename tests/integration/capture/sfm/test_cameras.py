"""Grouping images by physical camera (size, EXIF make, model, focal length); listing images."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from vantage.capture.sfm.cameras import group_by_camera
from vantage.capture.sfm.colmap import list_images


def save(path: Path, size: tuple[int, int], make: str | None = None, focal: float = 4.2) -> None:
    exif = Image.Exif()
    if make is not None:
        exif[0x010F] = make
        exif[0x0110] = "Model X"
        exif.get_ifd(0x8769)[0x920A] = focal
    Image.new("RGB", size).save(path, exif=exif.tobytes())


def test_images_group_by_size_and_exif_camera(tmp_path: Path) -> None:
    save(tmp_path / "a.jpg", (64, 48))
    save(tmp_path / "b.jpg", (64, 48))
    save(tmp_path / "c.jpg", (48, 64))  # portrait: another sensor readout
    save(tmp_path / "d.jpg", (64, 48), make="Acme")
    save(tmp_path / "e.jpg", (64, 48), make="Acme")
    save(tmp_path / "f.jpg", (64, 48), make="Acme", focal=8.0)  # zoomed
    (tmp_path / "g.jpg").write_bytes(b"not an image")
    names = [f"{letter}.jpg" for letter in "abcdefg"]
    assert group_by_camera(tmp_path, names) == [
        ["a.jpg", "b.jpg"],
        ["c.jpg"],
        ["d.jpg", "e.jpg"],
        ["f.jpg"],
        ["g.jpg"],
    ]


def test_size_alone_groups_video_frames(tmp_path: Path) -> None:
    save(tmp_path / "a.jpg", (64, 48), make="Acme")
    save(tmp_path / "b.jpg", (64, 48))
    save(tmp_path / "c.jpg", (48, 64))
    assert group_by_camera(tmp_path, ["a.jpg", "b.jpg", "c.jpg"], exif=False) == [
        ["a.jpg", "b.jpg"],
        ["c.jpg"],
    ]


def test_listing_skips_hidden_and_unreadable_formats(tmp_path: Path) -> None:
    for name in ("b.JPG", "a.png", "sub/c.tif", ".thumbs/d.jpg", "._e.jpg", "f.webp", "g.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    assert list_images(tmp_path) == ["a.png", "b.JPG", "sub/c.tif"]
