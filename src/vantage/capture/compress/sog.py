"""SOG version 2 (PlayCanvas's Spatially Ordered Gaussians): `Splats` to and from SOG files.

A SOG scene is a ``meta.json`` plus lossless WebP textures, either as files beside it or
bundled in one ZIP (``.sog``, members stored uncompressed at the archive root). Texel i of each
per-Gaussian texture belongs to Gaussian i; Gaussians are stored in Z-order of their quantised
positions, so the order of a read scene differs from the written one.

============== ===========================================================================
texture        each texel
============== ===========================================================================
means_l / _u   low / high bytes of 16-bit positions after sign(x)·ln(|x| + 1), spread over
               the meta's per-axis ``mins`` / ``maxs``
quats          the smallest three components of the unit rotation (sign making the largest
               positive) times √2 as bytes, and 252 + the largest one's index (w x y z)
scales         indices into the meta's 256-entry ``codebook`` of log scales
sh0            indices into the ``codebook`` of DC colour coefficients; alpha is
               sigmoid(opacity)·255
shN_labels     16-bit index into the SH palette (optional)
shN_centroids  the palette: 64 entries per row, one texel of codebook indices (R, G, B) per
               coefficient (optional; ``shN`` in meta gives ``count``, ``bands``, ``codebook``)
============== ===========================================================================

The layout follows splat-transform (PlayCanvas's reference writer and reader), so each reads
the other's files; textures are sized as it sizes them. Its k-means for the palette is replaced
by a vectorised one (`vantage.capture.compress.kmeans`).
"""

from __future__ import annotations

import io
import json
import math
import os
import time
import zipfile
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from vantage import __version__
from vantage.capture.compress import sog_textures as tex
from vantage.capture.compress.kmeans import quantize_1d
from vantage.capture.compress.morton import morton_order
from vantage.capture.compress.splats import Splats
from vantage.capture.compress.webp import (
    Rgba,
    WebpSettings,
    decode_webp_rgba,
    encode_webp_lossless,
)
from vantage.errors import InvalidInputError
from vantage.storage.streaming import atomic_write

SOG_VERSION = 2
META_NAME = "meta.json"
BUNDLE_SUFFIX = ".sog"
Progress = Callable[[float, str], None]

# A fixed time stamp makes a bundle a function of its contents.
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class SogOptions:
    """How `write_sog` compresses.

    Attributes:
        sh_palette_size: entries of the k-means palette for the higher SH coefficients (at most
            65536); None chooses from the count as splat-transform does; 0 drops them.
        kmeans_iterations: Lloyd iterations of the palette's k-means.
        seed: seeds the k-means, so the same input and options give the same file.
        webp: how hard the WebP encoder works.
    """

    sh_palette_size: int | None = None
    kmeans_iterations: int = 10
    seed: int = 0
    webp: WebpSettings = field(default_factory=WebpSettings)


@dataclass(frozen=True)
class SogStats:
    """What `write_sog` wrote.

    Attributes:
        bytes: total size of the files written (the bundle, or meta.json and its images).
        count: Gaussians stored.
        sh_degree: SH degree stored (0 when the palette was dropped).
        palette_size: SH palette entries stored (0 without one).
        seconds: wall time of the whole write.
    """

    bytes: int
    count: int
    sh_degree: int
    palette_size: int
    seconds: float


def write_sog(
    splats: Splats,
    path: Path,
    options: SogOptions | None = None,
    progress: Progress | None = None,
) -> SogStats:
    """Write ``splats`` as SOG v2: a bundle if ``path`` ends in ``.sog``, else (a path ending in
    ``meta.json``) meta.json with its images beside it.

    Each file is written atomically; in the folder layout meta.json comes last, so it never
    names an image that is not there yet.

    Raises:
        InvalidInputError: the path, options or splats cannot be written as SOG.
    """
    started = time.perf_counter()
    options = options or SogOptions()
    report = progress or _no_progress
    bundle = _is_bundle(path)
    check_sog_options(options)
    _check_splats(splats)
    meta, textures, palette_size = _encode(splats, options, report)
    report(0.75, "encoding WebP images")
    images = _encode_images(textures, options.webp)
    meta_bytes = json.dumps(meta, separators=(",", ":")).encode("utf-8")
    report(0.95, "writing files")
    if bundle:
        data = _bundle_bytes(images, meta_bytes)
        atomic_write(path, [data])
        size = len(data)
    else:
        for name, data in images.items():
            atomic_write(path.parent / name, [data])
        atomic_write(path, [meta_bytes])
        size = len(meta_bytes) + sum(len(data) for data in images.values())
    report(1.0, "SOG written")
    return SogStats(
        bytes=size,
        count=len(splats),
        sh_degree=meta["shN"]["bands"] if "shN" in meta else 0,
        palette_size=palette_size,
        seconds=time.perf_counter() - started,
    )


def read_sog(path: Path) -> Splats:
    """The Gaussians of a SOG v2 scene: a ``.sog`` bundle or a ``meta.json`` with its images.

    Raises:
        InvalidInputError: the file is missing, is not SOG v2, or an image is missing or broken.
    """
    with _open_scene(path) as (meta_bytes, load):
        meta = _parse_meta(meta_bytes)
        return _decode(meta, load)


def _no_progress(_fraction: float, _message: str) -> None:
    return None


def _is_bundle(path: Path) -> bool:
    if path.name.endswith(BUNDLE_SUFFIX):
        return True
    if path.name.endswith(META_NAME):
        return False
    raise InvalidInputError(
        f"a SOG path ends in {BUNDLE_SUFFIX} (bundle) or {META_NAME} (folder): {path}",
        path=str(path),
    )


def check_sog_options(options: SogOptions) -> None:
    """Refuse options `write_sog` cannot honour.

    Raises:
        InvalidInputError: the palette size or iteration count is out of range.
    """
    palette = options.sh_palette_size
    if palette is not None and not 0 <= palette <= tex.MAX_PALETTE:
        raise InvalidInputError(
            f"the SH palette size must be 0 to {tex.MAX_PALETTE}, got {palette}",
            field="sh_palette_size",
        )
    if options.kmeans_iterations < 1:
        raise InvalidInputError("kmeans_iterations must be at least 1", field="kmeans_iterations")


def _check_splats(splats: Splats) -> None:
    if len(splats) == 0:
        raise InvalidInputError("cannot write an empty scene as SOG")
    for name in ("means", "scales", "quats", "opacities", "sh0", "shN"):
        if not np.isfinite(getattr(splats, name)).all():
            raise InvalidInputError(f"splat array {name} holds NaN or infinite values", array=name)


def _encode(
    splats: Splats, options: SogOptions, report: Progress
) -> tuple[dict[str, Any], dict[str, Rgba], int]:
    """meta.json's content, the images by file name, and the palette size."""
    count = len(splats)
    width, height = tex.texture_size(count)
    report(0.0, "ordering Gaussians")
    means = tex.quantise_means(splats.means)
    order = morton_order(means.grid)
    grid = means.grid[order]
    means_low, means_high = tex.means_texels(grid)
    textures = {"means_l.webp": means_low, "means_u.webp": means_high}
    textures["quats.webp"] = tex.quat_texels(splats.quats[order])
    report(0.05, "quantising scales and colours")
    scales = quantize_1d(splats.scales[order])
    textures["scales.webp"] = tex.codebook_texels(scales.labels)
    colours = quantize_1d(splats.sh0[order])
    alpha = tex.opacity_bytes(splats.opacities[order])
    textures["sh0.webp"] = tex.codebook_texels(colours.labels, alpha)
    meta: dict[str, Any] = {
        "version": SOG_VERSION,
        "asset": {"generator": f"vantage v{__version__}"},
        "count": count,
        "means": {
            "mins": means.mins,
            "maxs": means.maxs,
            "files": ["means_l.webp", "means_u.webp"],
        },
        "scales": {"codebook": _floats(scales.values), "files": ["scales.webp"]},
        "quats": {"files": ["quats.webp"]},
        "sh0": {"codebook": _floats(colours.values), "files": ["sh0.webp"]},
    }
    images = {name: tex.to_texture(texels, width, height) for name, texels in textures.items()}
    palette_size = 0
    size = options.sh_palette_size
    if splats.sh_degree > 0 and size != 0:
        report(0.1, "clustering SH into a palette")
        wanted = tex.default_palette_size(count) if size is None else size
        palette = tex.build_palette(
            splats.shN[order],
            wanted,
            options.kmeans_iterations,
            options.seed,
            lambda fraction: report(0.1 + 0.6 * fraction, "clustering SH into a palette"),
        )
        palette_size = palette.entries.shape[0]
        images["shN_centroids.webp"] = tex.palette_texture(palette)
        labels = tex.to_texture(tex.label_texels(palette.labels), width, height)
        images["shN_labels.webp"] = labels
        meta["shN"] = {
            "count": palette_size,
            "bands": splats.sh_degree,
            "codebook": _floats(palette.codebook),
            "files": ["shN_centroids.webp", "shN_labels.webp"],
        }
    return meta, images, palette_size


def _floats(values: np.ndarray[Any, Any]) -> list[float]:
    return [float(v) for v in values]


def _encode_images(textures: dict[str, Rgba], settings: WebpSettings) -> dict[str, bytes]:
    """Each texture as lossless WebP, encoded in parallel (libwebp releases the GIL)."""
    names = list(textures)
    workers = max(1, min(len(names), os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        encoded = pool.map(lambda name: encode_webp_lossless(textures[name], settings), names)
        return dict(zip(names, encoded, strict=True))


def _bundle_bytes(images: dict[str, bytes], meta_bytes: bytes) -> bytes:
    """A ZIP holding the images and meta.json, uncompressed (WebP is compressed already)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, data in [*images.items(), (META_NAME, meta_bytes)]:
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return out.getvalue()


# --- reading -------------------------------------------------------------------------------

Loader = Callable[[str], bytes]
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, OSError, EOFError, NotImplementedError, RuntimeError)


@contextmanager
def _open_scene(path: Path) -> Iterator[tuple[bytes, Loader]]:
    """meta.json's bytes and a loader of the files it names, from a bundle or a folder."""
    if not path.is_file():
        raise InvalidInputError(f"no SOG file at {path}", path=str(path))
    if path.name.endswith(META_NAME):
        folder = path.parent

        def load_file(name: str) -> bytes:
            member = folder / _plain_name(name)
            if not member.is_file():
                raise InvalidInputError(f"the SOG image {name} is missing", file=name)
            return member.read_bytes()

        yield path.read_bytes(), load_file
        return
    try:
        archive = zipfile.ZipFile(path)
    except _ZIP_ERRORS as exc:
        raise InvalidInputError(f"not a SOG bundle (not a ZIP archive): {path}") from exc
    with archive:
        members = set(archive.namelist())
        if META_NAME not in members:
            raise InvalidInputError(f"the SOG bundle has no {META_NAME}: {path}", path=str(path))

        def load_member(name: str) -> bytes:
            if _plain_name(name) not in members:
                raise InvalidInputError(f"the SOG image {name} is missing", file=name)
            try:
                return archive.read(name)
            except _ZIP_ERRORS as exc:
                raise InvalidInputError(f"the SOG bundle member {name} is corrupt") from exc

        yield load_member(META_NAME), load_member


def _plain_name(name: str) -> str:
    """``name`` if it is a bare file name (meta.json may not point outside its folder)."""
    if not name or "/" in name or "\\" in name or name in {".", ".."}:
        raise InvalidInputError(f"SOG file names must be bare names, got {name!r}", file=name)
    return name


class _Files(BaseModel):
    model_config = ConfigDict(extra="allow")

    files: list[str] = Field(min_length=1)


class _MeansMeta(_Files):
    mins: list[float] = Field(min_length=3, max_length=3)
    maxs: list[float] = Field(min_length=3, max_length=3)
    files: list[str] = Field(min_length=2)


class _CodebookMeta(_Files):
    codebook: list[float] = Field(min_length=1, max_length=256)


class _PaletteMeta(_CodebookMeta):
    count: int = Field(ge=1, le=tex.MAX_PALETTE)
    bands: int = Field(ge=1, le=3)
    files: list[str] = Field(min_length=2)


class _Meta(BaseModel):
    model_config = ConfigDict(extra="allow")

    count: int = Field(ge=0)
    means: _MeansMeta
    scales: _CodebookMeta
    quats: _Files
    sh0: _CodebookMeta
    shN: _PaletteMeta | None = None


def _parse_meta(data: bytes) -> _Meta:
    try:
        raw = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInputError(f"the SOG {META_NAME} is not JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise InvalidInputError(f"the SOG {META_NAME} is not a JSON object")
    version = raw.get("version")
    if version is None:
        raise InvalidInputError(
            "SOG version 1 (meta.json without a version) is not supported; "
            "convert it with splat-transform first",
            version=1,
        )
    if version != SOG_VERSION:
        raise InvalidInputError(f"unsupported SOG version {version!r}", version=str(version))
    try:
        return _Meta.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise InvalidInputError(f"invalid SOG {META_NAME}: {where}: {first['msg']}") from exc


def _decode(meta: _Meta, load: Loader) -> Splats:
    count = meta.count

    def texels(name: str) -> Rgba:
        image = decode_webp_rgba(load(name), name)
        if image.shape[0] * image.shape[1] < count:
            raise InvalidInputError(
                f"the SOG image {name} has {image.shape[1]}×{image.shape[0]} texels "
                f"for {count} Gaussians",
                file=name,
            )
        return image.reshape(-1, 4)[:count]

    means = tex.decode_means(
        texels(meta.means.files[0]), texels(meta.means.files[1]), meta.means.mins, meta.means.maxs
    )
    quats = tex.decode_quats(texels(meta.quats.files[0]))
    scales = tex.decode_codebook(
        _indexed(texels(meta.scales.files[0]), meta.scales), _codebook(meta.scales)
    )
    colour_texels = _indexed(texels(meta.sh0.files[0]), meta.sh0)
    sh0 = tex.decode_codebook(colour_texels, _codebook(meta.sh0))
    opacities = tex.decode_opacities(colour_texels[:, 3])
    shN = np.zeros((count, 0, 3), dtype=np.float32)
    if meta.shN is not None:
        shN = _decode_palette(meta.shN, texels(meta.shN.files[1]), load)
    return Splats(means, scales, quats, opacities, sh0, shN)


def _codebook(field: _CodebookMeta) -> np.ndarray[Any, np.dtype[np.float32]]:
    return np.asarray(field.codebook, dtype=np.float32)


def _indexed(texels: Rgba, field: _CodebookMeta) -> Rgba:
    """``texels`` after checking that their RGB indices fall in ``field``'s codebook."""
    if texels.shape[0] and int(texels[:, :3].max()) >= len(field.codebook):
        raise InvalidInputError(
            f"{field.files[0]} indexes past its {len(field.codebook)}-entry codebook"
        )
    return texels


def _decode_palette(field: _PaletteMeta, label_texels: Rgba, load: Loader) -> tex.Float32Array:
    """shN [N, C, 3] from the palette image and the per-Gaussian labels."""
    coefficients = (field.bands + 1) ** 2 - 1
    name = field.files[0]
    image = decode_webp_rgba(load(name), name)
    rows_needed = math.ceil(field.count / tex.PALETTE_ROW)
    if image.shape[1] != tex.PALETTE_ROW * coefficients or image.shape[0] < rows_needed:
        raise InvalidInputError(
            f"the SOG image {name} is {image.shape[1]}×{image.shape[0]}, expected "
            f"{tex.PALETTE_ROW * coefficients}×{rows_needed} for {field.count} entries "
            f"of {field.bands} bands",
            file=name,
        )
    if int(image[:rows_needed, :, :3].max(initial=0)) >= len(field.codebook):
        raise InvalidInputError(f"{name} indexes past its {len(field.codebook)}-entry codebook")
    palette = tex.decode_palette(image, coefficients, _codebook(field), field.count)
    labels = tex.decode_labels(label_texels)
    shN = np.zeros((labels.shape[0], coefficients, 3), dtype=np.float32)
    known = labels < field.count  # the reference reader leaves out-of-range labels at zero
    shN[known] = palette[labels[known]]
    return shN
