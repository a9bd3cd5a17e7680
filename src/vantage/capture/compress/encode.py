"""A trained scene made web-ready: size reductions, SOG and SPZ files, and what they cost.

`encode_scene` reads ``scene.ply``, optionally applies the cheap reductions (`reduce`), writes
the requested formats beside it, and — when given the held-out views training was scored on —
renders the original and every decoded file from those views with our rasterizer, so the report
states each format's size ratio against the PLY and its PSNR drop in dB. `encode_file` is the
one-file form behind ``vantage compress``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from vantage.capture.compress.compressed_ply import read_compressed_ply, write_compressed_ply
from vantage.capture.compress.reduce import ReduceOptions, reduce_splats
from vantage.capture.compress.sog import SogOptions, read_sog, write_sog
from vantage.capture.compress.splats import Splats, read_ply_splats, splats_to_gaussians
from vantage.capture.compress.spz import read_spz, write_spz
from vantage.capture.splat.backend import select_rasterizer
from vantage.capture.splat.camera import SplatCamera
from vantage.capture.splat.train import evaluate
from vantage.errors import InvalidInputError

Progress = Callable[[float, str], None]
#: Output formats by name: the file suffix each is written with.
SUFFIXES = {"sog": ".sog", "spz": ".spz", "compressed-ply": ".compressed.ply"}


@dataclass(frozen=True)
class EncodeOptions:
    """Which formats to write and whether to reduce the scene first."""

    formats: tuple[str, ...] = ("sog", "spz")
    reduce: bool = True
    reduce_options: ReduceOptions = field(default_factory=ReduceOptions)
    sog: SogOptions = field(default_factory=SogOptions)

    def __post_init__(self) -> None:
        unknown = [name for name in self.formats if name not in SUFFIXES]
        if unknown or not self.formats:
            raise InvalidInputError(
                f"unknown scene format {unknown[0]!r} (known: {', '.join(SUFFIXES)})"
                if unknown
                else "no scene format asked for",
                formats=list(self.formats),
            )


@dataclass(frozen=True)
class HeldOutViews:
    """The views a scene is scored on: (camera, target image [H, W, 3] in 0..1) pairs."""

    views: list[tuple[SplatCamera, Tensor]]
    background: Tensor


def format_of(path: Path) -> str:
    """The format a file name asks for, by its suffix.

    Raises:
        InvalidInputError: the suffix is none of .sog, .spz, .compressed.ply.
    """
    name = path.name.lower()
    for fmt, suffix in sorted(SUFFIXES.items(), key=lambda item: -len(item[1])):
        if name.endswith(suffix):
            return fmt
    raise InvalidInputError(
        f"{path.name}: the output must end in .sog, .spz or .compressed.ply", path=str(path)
    )


def write_format(fmt: str, splats: Splats, path: Path, options: EncodeOptions) -> None:
    """Write ``splats`` to ``path`` in format ``fmt``."""
    if fmt == "sog":
        write_sog(splats, path, options.sog)
    elif fmt == "spz":
        write_spz(splats, path)
    else:
        write_compressed_ply(splats, path)


def read_format(fmt: str, path: Path) -> Splats:
    """Read a file of format ``fmt`` back."""
    if fmt == "sog":
        return read_sog(path)
    if fmt == "spz":
        return read_spz(path)
    return read_compressed_ply(path)


def score(splats: Splats, held_out: HeldOutViews) -> tuple[float, float]:
    """Mean PSNR (dB) and SSIM of CPU renders of ``splats`` against the held-out views."""
    gaussians = splats_to_gaussians(splats)
    rasterizer = select_rasterizer("cpu")
    with torch.no_grad():
        return evaluate(
            rasterizer, gaussians, held_out.views, splats.sh_degree, held_out.background
        )


def encode_scene(
    ply: Path,
    out_dir: Path,
    options: EncodeOptions | None = None,
    *,
    held_out: HeldOutViews | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Write ``out_dir/scene.<format>`` for each format and return the report's section.

    Returns:
        ``{"ply_bytes", "gaussians", "reductions", "psnr_test_ply", "formats": {name: {"file",
        "bytes", "ratio_vs_ply", "seconds", "gaussians", "psnr_test", "ssim_test",
        "psnr_drop_db"}}}``; the quality figures are None without ``held_out``.
    """
    options = options or EncodeOptions()
    report = progress or (lambda fraction, message: None)
    ply_bytes = ply.stat().st_size
    original = read_ply_splats(ply)
    steps = len(options.formats) + (1 if held_out else 0)
    reference: tuple[float, float] | None = None
    if held_out is not None:
        report(0.0, "rendering the trained scene from the held-out views")
        reference = score(original, held_out)
    splats, reductions = original, None
    if options.reduce:
        splats, reduced = reduce_splats(original, options.reduce_options)
        reductions = reduced.to_dict()
    formats: dict[str, dict[str, Any]] = {}
    for number, fmt in enumerate(options.formats):
        report((number + (1 if held_out else 0)) / steps, f"writing {fmt}")
        target = out_dir / f"scene{SUFFIXES[fmt]}"
        started = time.perf_counter()
        write_format(fmt, splats, target, options)
        seconds = time.perf_counter() - started
        size = target.stat().st_size
        entry: dict[str, Any] = {
            "file": target.name,
            "bytes": size,
            "ratio_vs_ply": round(ply_bytes / size, 2),
            "seconds": round(seconds, 3),
            "gaussians": len(splats),
            "psnr_test": None,
            "ssim_test": None,
            "psnr_drop_db": None,
        }
        if held_out is not None and reference is not None:
            decoded = read_format(fmt, target)
            psnr, ssim = score(decoded, held_out)
            entry.update(
                psnr_test=round(psnr, 3),
                ssim_test=round(ssim, 4),
                psnr_drop_db=round(reference[0] - psnr, 3),
            )
        formats[fmt] = entry
    report(1.0, "scene compressed")
    return {
        "ply_bytes": ply_bytes,
        "gaussians": len(original),
        "reductions": reductions,
        "psnr_test_ply": None if reference is None else round(reference[0], 3),
        "formats": formats,
    }


def encode_file(
    source: Path, targets: Sequence[Path], options: EncodeOptions | None = None
) -> list[dict[str, Any]]:
    """Write ``source`` (a 3DGS .ply, .sog or .spz) to each of ``targets``, by their suffixes,
    after the reductions when ``options.reduce`` (its ``formats`` are not used).

    Returns one ``{"file", "format", "bytes", "gaussians", "seconds"}`` per target.
    """
    base = options or EncodeOptions()
    splats = read_scene(source)
    if base.reduce:
        splats, _ = reduce_splats(splats, base.reduce_options)
    written = []
    for target in targets:
        fmt = format_of(target)
        started = time.perf_counter()
        write_format(fmt, splats, target, base)
        written.append(
            {
                "file": str(target),
                "format": fmt,
                "bytes": target.stat().st_size,
                "gaussians": len(splats),
                "seconds": round(time.perf_counter() - started, 3),
            }
        )
    return written


def read_scene(path: Path) -> Splats:
    """Gaussians from a .ply (3DGS layout), .sog, meta.json, .spz or .compressed.ply file."""
    if not path.is_file():
        raise InvalidInputError(f"{path}: no such file", path=str(path))
    name = path.name.lower()
    if name.endswith(".compressed.ply"):
        return read_compressed_ply(path)
    if name.endswith(".ply"):
        return read_ply_splats(path)
    if name.endswith(".sog") or name == "meta.json":
        return read_sog(path)
    if name.endswith(".spz"):
        return read_spz(path)
    raise InvalidInputError(
        f"{path.name}: not a scene file (.ply, .sog, meta.json, .spz, .compressed.ply)",
        path=str(path),
    )
