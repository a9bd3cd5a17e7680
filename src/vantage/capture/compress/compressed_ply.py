"""The SuperSplat / PlayCanvas ``.compressed.ply``: a numpy writer and reader.

Layout, as ``@playcanvas/splat-transform`` writes and reads it (binary little-endian PLY):

- ``element chunk`` (one per 256 Gaussians): 18 floats, the min and max of position x y z, of log
  scale x y z (clamped to ±20) and of colour r g b (``0.5 + C0 · f_dc``) over the chunk;
- ``element vertex``: four uint32 per Gaussian: position and log scale as 11/10/11-bit fractions
  of their chunk's range; the rotation as the index of its largest component (w x y z order, made
  positive) in the top 2 bits and the other three as 10-bit ``q · √½ + ½``; colour r g b as 8-bit
  fractions of the chunk's range and ``sigmoid(opacity)`` as a plain 8-bit value;
- ``element sh`` (only when SH degree > 0): ``uchar f_rest_*`` in the PLY's channel-major order,
  ``trunc((x / 8 + ½) · 256)``; readers decode byte b as ``((b + ½) / 256 − ½) · 8`` with 0 and 255
  standing for −4 and +4.

Gaussians are written in Morton (Z-curve) order of their positions so that each chunk covers a
small box and its 11-bit fractions are fine steps; `compressed_ply_order` gives that order.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vantage.capture.compress.morton import MAX_BITS, morton_order
from vantage.capture.compress.splats import Splats
from vantage.capture.compress.spz import alpha_logits, require_finite, unit_quaternions
from vantage.errors import InvalidInputError, NotFoundError
from vantage.storage.streaming import atomic_write

CHUNK_SIZE = 256
SH_C0 = 0.28209479177387814
MAX_SH_DEGREE = 3
SCALE_LIMIT = 20.0
_CHUNK_BOUNDS = ("x", "y", "z", "scale_x", "scale_y", "scale_z")
_CHUNK_COLORS = ("r", "g", "b")
_VERTEX = ("packed_position", "packed_rotation", "packed_scale", "packed_color")
_PLY_TYPES = {
    "char": "i1", "int8": "i1", "uchar": "u1", "uint8": "u1",
    "short": "i2", "int16": "i2", "ushort": "u2", "uint16": "u2",
    "int": "i4", "int32": "i4", "uint": "u4", "uint32": "u4",
    "float": "f4", "float32": "f4", "double": "f8", "float64": "f8",
}  # fmt: skip
_OTHERS = np.array([[1, 2, 3], [0, 2, 3], [0, 1, 3], [0, 1, 2]])
_HALF_SQRT2 = math.sqrt(2.0) * 0.5


def compressed_ply_order(splats: Splats) -> NDArray[np.intp]:
    """The order in which `write_compressed_ply` stores ``splats``: Morton order of the means."""
    means = splats.means.astype(np.float64)
    if len(means) == 0:
        return np.zeros(0, dtype=np.intp)
    low, high = means.min(axis=0), means.max(axis=0)
    extent = np.where(high > low, high - low, 1.0)
    cells = np.floor((means - low) / extent * (2**MAX_BITS - 1)).astype(np.uint64)
    return morton_order(cells).astype(np.intp)


def write_compressed_ply(splats: Splats, path: Path) -> int:
    """Write ``splats`` (SH degree ≤ 3) as a SuperSplat compressed PLY (atomically).

    Returns:
        The number of bytes written.

    Raises:
        InvalidInputError: SH degree above 3 or non-finite values.
    """
    if splats.sh_degree > MAX_SH_DEGREE:
        raise InvalidInputError(
            f"compressed PLY holds SH up to degree {MAX_SH_DEGREE}, not {splats.sh_degree}",
            degree=splats.sh_degree,
        )
    require_finite(splats)
    ordered = splats.take(compressed_ply_order(splats))
    count = len(ordered)
    starts = np.arange(0, count, CHUNK_SIZE)
    # JS stores the shifted colours back into a Float32Array before taking ranges: do the same.
    colors = (ordered.sh0.astype(np.float64) * SH_C0 + 0.5).astype(np.float32)
    position_low, position_high = _chunk_range(ordered.means, starts)
    scale_low, scale_high = _chunk_range(ordered.scales, starts)
    scale_low, scale_high = (np.clip(b, -SCALE_LIMIT, SCALE_LIMIT) for b in (scale_low, scale_high))
    color_low, color_high = _chunk_range(colors, starts)
    chunk_of = np.arange(count) // CHUNK_SIZE
    vertex = np.empty((count, 4), dtype="<u4")
    vertex[:, 0] = _pack_111011(_fraction(ordered.means, position_low, position_high, chunk_of))
    vertex[:, 1] = _pack_rotations(ordered.quats)
    vertex[:, 2] = _pack_111011(_fraction(ordered.scales, scale_low, scale_high, chunk_of))
    color_fraction = _fraction(colors, color_low, color_high, chunk_of)
    opacity = 1.0 / (1.0 + np.exp(-np.clip(ordered.opacities.astype(np.float64), -80, 80)))
    vertex[:, 3] = (
        (_unorm(color_fraction[:, 0], 8) << 24)
        | (_unorm(color_fraction[:, 1], 8) << 16)
        | (_unorm(color_fraction[:, 2], 8) << 8)
        | _unorm(opacity, 8)
    )
    chunk = np.concatenate(
        [position_low, position_high, scale_low, scale_high, color_low, color_high], axis=1
    ).astype("<f4")
    rest = ordered.shN.transpose(0, 2, 1).reshape(count, 3 * ordered.shN.shape[1])  # R…, G…, B…
    # trunc((x / 8 + ½) · 256) = floor(32x) + 128 where it is not clipped; 32x is exact.
    sh = (np.clip(np.floor(rest * np.float32(32.0)), -128, 127) + 128).astype(np.uint8)
    header = _header(len(starts), count, sh.shape[1])
    parts = [header, chunk.tobytes(), vertex.tobytes(), sh.tobytes()]
    return atomic_write(path, parts).size_bytes


def read_compressed_ply(path: Path) -> Splats:
    """The Gaussians of a compressed PLY, in file order, in the 3DGS PLY conventions.

    Chunks without colour ranges (12 properties, an older variant) are read too. Opacity bytes
    0 and 255 decode to the logits of 0.25/255 and 254.75/255 (their bin middles) rather than ∓∞.

    Raises:
        NotFoundError: ``path`` does not exist.
        InvalidInputError: not a compressed PLY, or a truncated one.
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise NotFoundError(f"{path} does not exist", path=str(path)) from None
    except OSError as exc:
        raise InvalidInputError(f"cannot read {path}: {exc.strerror}", path=str(path)) from exc
    elements = _read_elements(raw, path)
    chunk, vertex = elements["chunk"], elements["vertex"]
    count = len(vertex)
    chunk_of = np.arange(count) // CHUNK_SIZE

    means = _lerp(chunk, "x y z", chunk_of, _unpack_111011(vertex["packed_position"]))
    scale_fraction = _unpack_111011(vertex["packed_scale"])
    scales = _lerp(chunk, "scale_x scale_y scale_z", chunk_of, scale_fraction)
    packed_color = vertex["packed_color"].astype(np.uint32)
    channels = np.stack([(packed_color >> s) & 255 for s in (24, 16, 8)], axis=1) / 255.0
    has_colors = "min_r" in (chunk.dtype.names or ())
    colors = _lerp(chunk, "r g b", chunk_of, channels) if has_colors else channels
    shN: NDArray[np.float64] = np.zeros((count, 0, 3))
    if "sh" in elements:
        sh = elements["sh"]
        names = list(sh.dtype.names or ())
        bytes_ = np.stack([sh[n] for n in names], axis=1).astype(np.float64)  # [N, 3K]
        unit = np.where(bytes_ == 0, 0.0, np.where(bytes_ == 255, 1.0, (bytes_ + 0.5) / 256.0))
        shN = ((unit - 0.5) * 8.0).reshape(count, 3, len(names) // 3).transpose(0, 2, 1)
    return Splats(
        means=means.astype(np.float32),
        scales=scales.astype(np.float32),
        quats=_unpack_rotations(vertex["packed_rotation"]),
        opacities=alpha_logits((packed_color & 255).astype(np.uint8)),
        sh0=((colors - 0.5) / SH_C0).astype(np.float32),
        shN=np.ascontiguousarray(shN, dtype=np.float32),
    )


def _chunk_range(
    values: NDArray[np.float32], starts: NDArray[np.intp]
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Per-chunk min and max [C, D] of ``values`` [N, D]."""
    if len(starts) == 0:
        empty = np.zeros((0, values.shape[1]), dtype=np.float32)
        return empty, empty
    return np.minimum.reduceat(values, starts, axis=0), np.maximum.reduceat(values, starts, axis=0)


def _fraction(
    values: NDArray[np.float32],
    low: NDArray[np.float32],
    high: NDArray[np.float32],
    chunk_of: NDArray[np.intp],
) -> NDArray[np.float64]:
    """``values`` as fractions of their chunk's range, 0 where the range is under 1e-5."""
    x = values.astype(np.float64)
    lo, hi = low[chunk_of].astype(np.float64), high[chunk_of].astype(np.float64)
    span = hi - lo
    with np.errstate(divide="ignore", invalid="ignore"):
        fraction = np.where(span < 1e-5, 0.0, (x - lo) / span)
    return np.where(x <= lo, 0.0, np.where(x >= hi, 1.0, fraction))


def _lerp(
    chunk: NDArray[np.void], names: str, chunk_of: NDArray[np.intp], fraction: NDArray[np.float64]
) -> NDArray[np.float64]:
    """``fraction`` [N, D] of the way from each chunk's ``min_<name>`` to its ``max_<name>``."""
    low = np.stack([chunk[f"min_{n}"] for n in names.split()], axis=1).astype(np.float64)
    high = np.stack([chunk[f"max_{n}"] for n in names.split()], axis=1).astype(np.float64)
    # The decoder's own formula, a·(1 − t) + b·t, so both readers agree to the last bit.
    return low[chunk_of] * (1.0 - fraction) + high[chunk_of] * fraction


def _unorm(fraction: NDArray[np.float64], bits: int) -> NDArray[np.uint32]:
    top = (1 << bits) - 1
    return np.clip(np.floor(fraction * top + 0.5), 0, top).astype(np.uint32)


def _pack_111011(fraction: NDArray[np.float64]) -> NDArray[np.uint32]:
    packed: NDArray[np.uint32] = (
        (_unorm(fraction[:, 0], 11) << np.uint32(21))
        | (_unorm(fraction[:, 1], 10) << np.uint32(11))
        | _unorm(fraction[:, 2], 11)
    )
    return packed


def _unpack_111011(packed: NDArray[np.uint32]) -> NDArray[np.float64]:
    words = packed.astype(np.uint32)
    return np.stack(
        [(words >> 21) / 2047.0, ((words >> 11) & 1023) / 1023.0, (words & 2047) / 2047.0], axis=1
    )


def _pack_rotations(quats: NDArray[np.float32]) -> NDArray[np.uint32]:
    q = unit_quaternions(quats)  # w x y z, the PLY's rot_0..3
    rows = np.arange(len(q))
    largest = np.argmax(np.abs(q), axis=1)
    q = np.where(q[rows, largest][:, None] < 0, -q, q)
    packed: NDArray[np.uint32] = largest.astype(np.uint32)
    for column in range(3):
        component = q[rows, _OTHERS[largest, column]]
        packed = (packed << np.uint32(10)) | _unorm(component * _HALF_SQRT2 + 0.5, 10)
    return packed


def _unpack_rotations(packed: NDArray[np.uint32]) -> NDArray[np.float32]:
    words = packed.astype(np.uint32)
    largest = (words >> 30).astype(np.intp)
    rows = np.arange(len(words))
    q = np.zeros((len(words), 4))
    for column, shift in enumerate((20, 10, 0)):
        value = (((words >> shift) & 1023) / 1023.0 - 0.5) / _HALF_SQRT2
        q[rows, _OTHERS[largest, column]] = value
    q[rows, largest] = np.sqrt(np.maximum(0.0, 1.0 - np.sum(q * q, axis=1)))
    return q.astype(np.float32)


def _header(chunks: int, count: int, sh_columns: int) -> bytes:
    lines = ["ply", "format binary_little_endian 1.0", "comment Generated by vantage"]
    lines.append(f"element chunk {chunks}")
    for bound in ("min", "max"):
        lines += [f"property float {bound}_{axis}" for axis in "xyz"]
    for bound in ("min", "max"):
        lines += [f"property float {bound}_scale_{axis}" for axis in "xyz"]
    for bound in ("min", "max"):
        lines += [f"property float {bound}_{channel}" for channel in "rgb"]
    lines.append(f"element vertex {count}")
    lines += [f"property uint {name}" for name in _VERTEX]
    if sh_columns:
        lines.append(f"element sh {count}")
        lines += [f"property uchar f_rest_{i}" for i in range(sh_columns)]
    lines.append("end_header")
    return ("\n".join(lines) + "\n").encode("ascii")


def _read_elements(raw: bytes, path: Path) -> dict[str, NDArray[np.void]]:
    """The elements of a compressed PLY, checked against the layout, as structured arrays."""
    end = raw.find(b"end_header\n", 0, 65536)
    if not raw.startswith(b"ply\n") or end < 0:
        raise InvalidInputError(f"{path.name} is not a PLY file", path=str(path))
    declared: list[tuple[str, int, list[tuple[str, str]]]] = []
    lines = raw[:end].decode("ascii", errors="replace").splitlines()[1:]
    if "format binary_little_endian 1.0" not in (" ".join(line.split()) for line in lines):
        raise InvalidInputError(f"{path.name}: PLY is not binary_little_endian 1.0", path=str(path))
    for line in lines:
        words = line.split()
        if not words or words[0] in ("comment", "obj_info", "format"):
            continue
        if words[0] == "element" and len(words) == 3 and words[2].isdigit():
            declared.append((words[1], int(words[2]), []))
        elif words[0] == "property" and len(words) == 3 and words[1] in _PLY_TYPES and declared:
            declared[-1][2].append((words[2], "<" + _PLY_TYPES[words[1]]))
        else:
            raise InvalidInputError(
                f"{path.name}: unexpected PLY header line {line!r}", path=str(path)
            )
    offset = end + len(b"end_header\n")
    elements: dict[str, NDArray[np.void]] = {}
    for name, rows, properties in declared:
        dtype = np.dtype(properties)
        if offset + rows * dtype.itemsize > len(raw):
            raise InvalidInputError(f"{path.name}: PLY element {name} is truncated", path=str(path))
        elements[name] = np.frombuffer(raw, dtype, rows, offset)
        offset += rows * dtype.itemsize
    _check_layout(elements, path)
    return elements


def _check_layout(elements: dict[str, NDArray[np.void]], path: Path) -> None:
    def has(name: str, properties: list[str], kind: str) -> bool:
        array = elements.get(name)
        fields: dict[str, Any] = dict(array.dtype.fields or {}) if array is not None else {}
        return all(p in fields and fields[p][0] == np.dtype(kind) for p in properties)

    bounds = [f"{b}_{n}" for b in ("min", "max") for n in _CHUNK_BOUNDS]
    colors = [f"{b}_{n}" for b in ("min", "max") for n in _CHUNK_COLORS]
    ok = has("chunk", bounds, "<f4") and has("vertex", list(_VERTEX), "<u4")
    if ok and "min_r" in (elements["chunk"].dtype.names or ()):
        ok = has("chunk", colors, "<f4")
    if ok:
        ok = len(elements["chunk"]) == math.ceil(len(elements["vertex"]) / CHUNK_SIZE)
    if ok and "sh" in elements:
        sh = elements["sh"]
        columns = [f"f_rest_{i}" for i in range(len(sh.dtype.names or ()))]
        ok = len(columns) in (9, 24, 45) and has("sh", columns, "<u1")
        ok = ok and len(sh) == len(elements["vertex"])
    if not ok or not set(elements) <= {"chunk", "vertex", "sh"}:
        raise InvalidInputError(
            f"{path.name} is not a compressed PLY (expected chunk, vertex and optional sh "
            "elements in the SuperSplat layout)",
            path=str(path),
        )
