"""frames.json: the record of which frames were extracted, from what, and how many were dropped.

The format, shared by photos and video::

    {"source": {"kind": "video", "path": ..., ...},
     "stats": {"decoded": 240, "kept": 120, ...},
     "frames": [{"file": "frames/00000.jpg", "source_index": 12, "time_s": 0.8,
                 "sharpness": 412.5, "clipped_fraction": 0.01, "novelty": 0.21}, ...]}

``file`` is relative to the folder holding frames.json. Photo entries carry ``source_name`` and
null scores.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from vantage.capture.frames.atomic import write_bytes_atomic
from vantage.capture.frames.records import FrameManifest, FrameRecord
from vantage.errors import InvalidInputError

_FIELDS = ("time_s", "sharpness", "clipped_fraction", "novelty")


def write_frames_json(
    path: Path, *, source: dict[str, Any], frames: list[FrameRecord], stats: dict[str, Any]
) -> None:
    """Write frames.json atomically (temporary file, fsync, `os.replace`).

    Args:
        path: Where to write, e.g. ``job_dir / "frames.json"``; its folder must exist.
        source: What the frames came from (`VideoInfo.as_dict()` or a photo summary).
        frames: The written frames, in order.
        stats: Counts of decoded, kept and rejected frames (or photos seen and skipped).
    """
    document = {
        "source": source,
        "stats": stats,
        "frames": [_rounded(frame.as_dict()) for frame in frames],
    }
    text = json.dumps(document, indent=1, allow_nan=False, default=str)
    write_bytes_atomic(path, (text + "\n").encode("utf-8"), durable=True)


def read_frames_json(path: Path) -> FrameManifest:
    """Read a frames.json written by `write_frames_json`.

    Raises:
        InvalidInputError: The file is missing, not JSON, or not in the frames.json shape.
    """
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidInputError(f"{path}: frames.json does not exist", path=str(path)) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInputError(
            f"{path}: not a readable frames.json ({exc})", path=str(path)
        ) from exc
    try:
        frames = [_record(entry) for entry in document["frames"]]
        source, stats = document["source"], document["stats"]
        if not isinstance(source, dict) or not isinstance(stats, dict):
            raise TypeError("source and stats must be objects")
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"{path}: not in the frames.json shape ({exc!r})", path=str(path)
        ) from exc
    return FrameManifest(source=source, stats=stats, frames=frames)


def _record(entry: dict[str, Any]) -> FrameRecord:
    def number(name: str) -> float | None:
        value = entry.get(name)
        return None if value is None else float(value)

    name = entry.get("source_name")
    return FrameRecord(
        file=str(entry["file"]),
        source_index=int(entry["source_index"]),
        time_s=number("time_s"),
        sharpness=number("sharpness"),
        clipped_fraction=number("clipped_fraction"),
        novelty=number("novelty"),
        source_name=None if name is None else str(name),
    )


def _rounded(entry: dict[str, Any]) -> dict[str, Any]:
    # Six significant digits keep the file readable; non-finite scores become null (valid JSON).
    for name in _FIELDS:
        value = entry.get(name)
        if value is not None:
            entry[name] = float(f"{value:.6g}") if math.isfinite(value) else None
    return entry
