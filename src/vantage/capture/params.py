"""Parameters of the ``reconstruct`` pipeline and what each quality preset means."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from vantage.capture.sources import parse_input
from vantage.errors import InvalidInputError, InvalidParamsError

Preset = Literal["fast", "balanced", "quality"]
SceneFormat = Literal["sog", "spz", "compressed-ply"]
DEFAULT_FORMATS: tuple[SceneFormat, ...] = ("sog", "spz")

#: Keyframes kept from a video, per preset (the trainer's presets live in capture.splat).
MAX_FRAMES: dict[str, int] = {"fast": 40, "balanced": 90, "quality": 180}
#: Longest side of the frames written for SfM and training, per preset.
FRAME_MAX_SIDE: dict[str, int | None] = {"fast": 640, "balanced": 1280, "quality": None}


class ReconstructParams(BaseModel):
    """What `vantage reconstruct` and the ``reconstruct`` job take."""

    model_config = ConfigDict(extra="forbid")

    input: str = Field(
        description="A video or a folder of photos (JPEG, PNG, HEIC): a path on the server, "
        "upload://<id> (from POST /uploads), s3://bucket/key-or-prefix or an http(s):// URL."
    )
    output: str | None = Field(
        None,
        description="Folder for frames, sparse model, scene.ply and report.json; empty means "
        "the job's own folder, <data dir>/jobs/<job id>/.",
    )
    preset: Preset = Field("balanced", description="Speed/quality trade-off.")
    max_frames: int | None = Field(
        None, ge=3, le=2000, description="Keyframes to keep from a video (default: preset)."
    )
    max_side: int | None = Field(
        None, ge=64, le=8192, description="Longest side of frames in px (default: preset)."
    )
    iterations: int | None = Field(
        None, ge=1, le=200_000, description="Training steps (default: preset)."
    )
    matching: Literal["auto", "sequential", "exhaustive"] = Field(
        "auto", description="Feature matching: sequential for video, exhaustive for photos."
    )
    mapper: Literal["incremental", "global"] = Field("incremental", description="SfM mapper.")
    min_registered_fraction: float = Field(
        0.5, gt=0, le=1, description="Fail SfM when fewer images than this share register."
    )
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="Training device.")
    formats: list[SceneFormat] = Field(
        default_factory=lambda: list(DEFAULT_FORMATS),
        max_length=3,
        description="Compressed scene files to write beside scene.ply (empty: none).",
    )
    reduce: bool = Field(
        True,
        description="Before compressing, drop near-transparent Gaussians and SH bands that add "
        "little colour.",
    )

    @field_validator("input")
    @classmethod
    def _input_has_a_known_form(cls, value: str) -> str:
        try:
            parse_input(value)
        except InvalidInputError as exc:
            raise ValueError(str(exc)) from None
        return value

    @property
    def output_dir(self) -> Path:
        """The output folder (the job fills it in when it was left empty).

        Raises:
            InvalidParamsError: no output folder was given or filled in.
        """
        if self.output is None:
            raise InvalidParamsError("reconstruct: no output folder", field="output")
        return Path(self.output)

    @property
    def frame_limit(self) -> int:
        """Keyframes to keep."""
        return self.max_frames or MAX_FRAMES[self.preset]

    @property
    def frame_side(self) -> int | None:
        """Longest side of written frames."""
        return self.max_side or FRAME_MAX_SIDE[self.preset]
