"""Photos as frames: read JPEG, PNG and HEIC/HEIF, turn upright, scale, write numbered JPEGs.

Files that are not readable images are skipped with a reason, not fatal: a phone export folder
often holds a video, a sidecar or a damaged file among good photos. Only when too few usable
photos remain does loading fail.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import pillow_heif
from PIL import Image, ImageOps, UnidentifiedImageError

from vantage.capture.frames.atomic import write_bytes_atomic
from vantage.capture.frames.progress import ProgressThrottle
from vantage.capture.frames.records import FrameRecord, PhotoResult, ProgressCallback
from vantage.errors import InvalidInputError, TooFewImagesError

JPEG_QUALITY = 95
#: Extensions worth opening; anything else is skipped without reading it.
PHOTO_SUFFIXES = frozenset({".jpg", ".jpeg", ".jpe", ".png", ".heic", ".heif", ".hif"})

_heif_registered = False


def load_photos(
    sources: Path | Sequence[Path],
    out_dir: Path,
    *,
    max_side: int | None,
    min_images: int,
    progress: ProgressCallback | None = None,
) -> PhotoResult:
    """Write each readable photo of ``sources`` to ``out_dir/NNNNN.jpg``, upright and in RGB.

    Args:
        sources: A folder (its files, not subfolders, in name order) or a list of files.
        out_dir: Folder for the JPEGs (created if missing); frames.json goes beside it.
        max_side: Downscale (Lanczos) so the longest side is at most this; None keeps the size.
        min_images: Fewest usable photos to succeed with.
        progress: Called with (fraction, message) at most every ~0.2 s.

    Returns:
        The written frames (``source_name``: the original file name), the skipped files with
        reasons, and how many files were looked at.

    Raises:
        InvalidInputError: ``sources`` is a missing folder or ``max_side`` is not positive.
        TooFewImagesError: Fewer than ``min_images`` photos were usable (an empty folder too).
    """
    if max_side is not None and max_side < 1:
        raise InvalidInputError(f"max_side must be positive, got {max_side}", field="max_side")
    files = _list_sources(sources)
    _register_heif()
    report = ProgressThrottle(progress)
    out_dir.mkdir(parents=True, exist_ok=True)
    frames: list[FrameRecord] = []
    skipped: list[tuple[str, str]] = []
    for position, source in enumerate(files):
        report(position / max(len(files), 1), f"reading {source.name}")
        try:
            data = _upright_jpeg(source, max_side)
        except _Unusable as exc:
            skipped.append((source.name, str(exc)))
            continue
        name = f"{len(frames):05d}.jpg"
        write_bytes_atomic(out_dir / name, data)
        record = FrameRecord(f"{out_dir.name}/{name}", position, source_name=source.name)
        frames.append(record)
    if len(frames) < min_images:
        raise TooFewImagesError(
            f"{len(frames)} usable photo{'' if len(frames) == 1 else 's'} of {len(files)} "
            f"file{'' if len(files) == 1 else 's'} ({len(skipped)} skipped), "
            f"at least {min_images} needed",
            usable=len(frames),
            skipped=len(skipped),
            needed=min_images,
        )
    report(1.0, f"wrote {len(frames)} photos, skipped {len(skipped)}", force=True)
    return PhotoResult(frames=frames, skipped=skipped, seen=len(files))


class _Unusable(Exception):
    """This file cannot be used as a photo (the message says why)."""


def _list_sources(sources: Path | Sequence[Path]) -> list[Path]:
    if isinstance(sources, Path | str):
        folder = Path(sources)
        if folder.is_dir():
            visible = (path for path in folder.iterdir() if not path.name.startswith("."))
            return sorted((path for path in visible if path.is_file()), key=lambda path: path.name)
        if not folder.exists():
            raise InvalidInputError(f"{folder}: no such folder or file", path=str(folder))
        return [folder]
    return [Path(source) for source in sources]


def _register_heif() -> None:
    global _heif_registered
    if not _heif_registered:
        pillow_heif.register_heif_opener()
        _heif_registered = True


def _upright_jpeg(source: Path, max_side: int | None) -> bytes:
    """``source`` decoded, turned upright by its EXIF orientation, in RGB, scaled, as JPEG."""
    if source.suffix.lower() not in PHOTO_SUFFIXES:
        raise _Unusable(f"not a photo type we read ({source.suffix or 'no extension'})")
    if not source.is_file():
        raise _Unusable("no such file")
    try:
        with Image.open(source) as opened:
            opened.load()
            image = ImageOps.exif_transpose(opened)
    except Image.DecompressionBombError as exc:
        raise _Unusable(f"too many pixels to load safely ({exc})") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise _Unusable(_unreadable_reason(exc)) from exc
    if image.mode != "RGB":
        image = image.convert("RGB")
    if max_side is not None and max(image.size) > max_side:
        scale = max_side / max(image.size)
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = image.resize(size, Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()


def _unreadable_reason(exc: BaseException) -> str:
    text = str(exc)
    if isinstance(exc, UnidentifiedImageError):
        return "not an image (unrecognised content)"
    if "truncated" in text:
        return f"truncated or damaged image ({text})"
    return f"unreadable image ({text or type(exc).__name__})"
