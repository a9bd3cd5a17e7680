"""Which images share one physical camera, so COLMAP fits one set of intrinsics per device.

COLMAP's automatic mode gives every image its own camera unless told otherwise; with unknown
focal lengths that leaves each image to self-calibrate, which fails on near-planar scenes (a
drone's nadir survey). Photos from one device share intrinsics, so images are grouped by what
identifies a device and a zoom setting: image size and EXIF make, model and focal length.
"""

from __future__ import annotations

from collections.abc import Hashable
from pathlib import Path

_EXIF_MAKE = 0x010F
_EXIF_MODEL = 0x0110
_EXIF_IFD = 0x8769
_EXIF_FOCAL_LENGTH = 0x920A


def camera_key(path: Path, *, exif: bool = True) -> Hashable:
    """What identifies ``path``'s camera: (width, height, make, model, focal length).

    With ``exif=False`` only the size counts. Images Pillow cannot open get a key of their own
    (COLMAP will skip them).
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            if not exif:
                return image.size
            tags = image.getexif()
            focal = tags.get_ifd(_EXIF_IFD).get(_EXIF_FOCAL_LENGTH)
            return (
                image.size,
                str(tags.get(_EXIF_MAKE, "")).strip(),
                str(tags.get(_EXIF_MODEL, "")).strip(),
                None if focal is None else round(float(focal), 2),
            )
    except (OSError, UnidentifiedImageError, ValueError, ZeroDivisionError):
        return ("unreadable", str(path))


def group_by_camera(image_dir: Path, names: list[str], *, exif: bool = True) -> list[list[str]]:
    """``names`` split into groups that share a camera, in order of first appearance.

    ``exif=False`` groups by image size alone: a video's frames, where one odd-sized image
    should get a camera of its own rather than be rejected for not fitting the shared one.
    """
    groups: dict[Hashable, list[str]] = {}
    for name in names:
        groups.setdefault(camera_key(image_dir / name, exif=exif), []).append(name)
    return list(groups.values())
