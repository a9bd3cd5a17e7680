"""SPZ, Niantic's gzipped Gaussian splat format (versions 2 and 3): a numpy writer and reader.

Layout (all little-endian), as `nianticlabs/spz` ``load-spz.cc`` and its WebAssembly build in
``@playcanvas/splat-transform`` write it: a gzip stream holding a 16-byte header (``NGSP`` magic
``0x5053474e``, version, point count, SH degree, fractional bits, flags, a reserved byte), then one
array per attribute, each for all points in turn:

- positions: 3 × 24-bit two's-complement fixed point with ``fractional_bits`` fraction bits;
- alphas: ``round(sigmoid(opacity) · 255)``;
- colours: ``round(f_dc · 0.15 · 255 + 127.5)`` (0.15, not SH C0, leaves room for colours that
  the higher SH bands bring back into range);
- scales: ``round((log scale + 10) · 16)``;
- rotations: version 3 packs the smallest three components of the unit quaternion (x y z w
  order) into 32 bits: the index of the largest in the top 2 bits, then for each other component
  in order a sign bit and a 9-bit magnitude of ``|q| / √½``; version 2 stores ``x y z`` of the
  quaternion made w-positive as ``round(127.5 · q + 127.5)``;
- SH: coefficient-major, channel inner, ``round(x · 128) + 128`` snapped to 5 significant bits
  for band 1 and 4 for higher bands (buckets of 8 and 16).

SPZ is defined in the RUB frame (OpenGL: x right, y up, z back) while 3DGS PLY data is RDF, so
like the reference packer we negate y and z of positions and quaternion axes, and the SH
coefficients that are odd in y xor z, on the way in, and again on the way out; a file survives a
trip through splat-transform (which packs from and unpacks to RDF) unchanged. Version 4 (zstd
streams behind a plain ``NGSP`` header, splat-transform's default) is recognised and refused
with a hint: this environment has no zstd decoder.
"""

from __future__ import annotations

import math
import struct
import zlib
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from vantage.capture.compress.splats import Splats
from vantage.errors import InvalidInputError, NotFoundError
from vantage.storage.streaming import atomic_write

FloatT = TypeVar("FloatT", np.float32, np.float64)

MAGIC = 0x5053474E  # "NGSP" read as a little-endian uint32
HEADER = struct.Struct("<IIIBBBB")
VERSIONS = (2, 3)
MAX_SH_DEGREE = 4
COLOR_SCALE = 0.15
SH1_BITS = 5  # the reference defaults; other values need an extension record
SH_REST_BITS = 4
FLAG_EXTENSIONS = 0x2
GZIP_LEVEL = 6  # zlib's default, as the reference uses
_SQRT1_2 = math.sqrt(0.5)

# Sign of each SH coefficient (bands 1..4) under RDF ↔ RUB, i.e. negating y and z: the
# reference's flipSh table evaluated at x = +1, y = −1, z = −1.
_SH_FLIP = np.array(
    [-1, -1, 1, -1, 1, 1, -1, 1, -1, 1, -1, -1, 1, -1, 1, -1, 1, -1, 1, 1, -1, 1, -1, -1],
    dtype=np.float32,
)
_AXIS_FLIP = np.array([1.0, -1.0, -1.0], dtype=np.float32)  # positions and quaternion x y z
# For each index of the largest quaternion component, the other three in order.
_OTHERS = np.array([[1, 2, 3], [0, 2, 3], [0, 1, 3], [0, 1, 2]])


def write_spz(splats: Splats, path: Path, *, version: int = 3, fractional_bits: int = 12) -> int:
    """Write ``splats`` as an SPZ file (atomically).

    Args:
        splats: the Gaussians (SH degree 0..4).
        path: the file to write.
        version: 3 (smallest-three quaternions, the default) or 2 (8-bit x y z).
        fractional_bits: fraction bits of the 24-bit fixed-point positions; 12 (the reference
            value, 0.24 mm steps if units are metres) holds coordinates within ±2048.

    Returns:
        The number of bytes written.

    Raises:
        InvalidInputError: an unsupported version, SH degree or ``fractional_bits``, non-finite
            values, or positions beyond the fixed-point range.
    """
    if version not in VERSIONS:
        raise InvalidInputError(
            f"cannot write SPZ version {version}; supported: 2, 3", version=version
        )
    if not 0 <= fractional_bits <= 23:
        raise InvalidInputError(
            f"SPZ fractional_bits must be in 0..23, got {fractional_bits}",
            fractional_bits=fractional_bits,
        )
    if splats.sh_degree > MAX_SH_DEGREE:
        raise InvalidInputError(
            f"SPZ holds SH up to degree {MAX_SH_DEGREE}, not {splats.sh_degree}",
            degree=splats.sh_degree,
        )
    require_finite(splats)
    header = HEADER.pack(MAGIC, version, len(splats), splats.sh_degree, fractional_bits, 0, 0)
    rotations = (
        _pack_smallest_three(splats.quats) if version >= 3 else _pack_first_three(splats.quats)
    )
    payload = b"".join(
        [
            header,
            _pack_positions(splats.means, fractional_bits).tobytes(),
            _to_uint8(_sigmoid(splats.opacities) * np.float32(255.0)).tobytes(),
            _to_uint8(splats.sh0 * np.float32(COLOR_SCALE * 255.0) + np.float32(127.5)).tobytes(),
            _to_uint8((splats.scales + np.float32(10.0)) * np.float32(16.0)).tobytes(),
            rotations.tobytes(),
            _pack_sh(splats.shN).tobytes(),
        ]
    )
    compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 16 + zlib.MAX_WBITS, 9)
    data = compressor.compress(payload) + compressor.flush()
    return atomic_write(path, [data]).size_bytes


#: Extension records an SPZ file may carry between its header and its arrays, at most.
MAX_EXTENSION_BYTES = 1 << 20


def read_spz(path: Path) -> Splats:
    """The Gaussians of an SPZ file of version 2 or 3, in the 3DGS PLY (RDF) convention.

    Opacity bytes 0 and 255 decode to the logits of 0.25/255 and 254.75/255, the middles of
    their quantisation bins, rather than ∓∞: every value is finite, and writing what was read
    gives the same bytes again.

    Raises:
        NotFoundError: ``path`` does not exist.
        InvalidInputError: not an SPZ file, a corrupt or truncated one, or an unsupported version.
    """
    raw = _read_bytes(path)
    if raw[:4] == b"NGSP":
        version = struct.unpack_from("<I", raw, 4)[0] if len(raw) >= 8 else "?"
        raise InvalidInputError(
            f"{path.name}: SPZ version {version} (zstd streams) is not supported; "
            "write version 3 instead (splat-transform --spz-version 3)",
            path=str(path),
        )
    if raw[:2] != b"\x1f\x8b":
        raise InvalidInputError(f"{path.name} is not an SPZ file (no gzip header)", path=str(path))
    stream = zlib.decompressobj(16 + zlib.MAX_WBITS)
    data = _gunzip(stream, raw, HEADER.size, path)
    if len(data) < HEADER.size:
        raise InvalidInputError(f"{path.name}: SPZ header is truncated", path=str(path))
    magic, version, count, degree, fractional_bits, flags, _ = HEADER.unpack_from(data)
    if magic != MAGIC:
        raise InvalidInputError(f"{path.name}: not an SPZ stream (bad magic)", path=str(path))
    if version not in VERSIONS:
        raise InvalidInputError(
            f"{path.name}: SPZ version {version} is not supported (only 2 and 3)",
            path=str(path),
            version=version,
        )
    if degree > MAX_SH_DEGREE:
        raise InvalidInputError(f"{path.name}: SPZ SH degree {degree} is invalid", path=str(path))
    rotation_bytes = 4 if version >= 3 else 3
    coefficients = (degree + 1) ** 2 - 1
    sizes = [9, 1, 3, 3, rotation_bytes, 3 * coefficients]
    expected = count * sum(sizes)
    # Decompress no more than the header promises (plus room for extension records), so a
    # small hostile file cannot inflate into gigabytes.
    data += _gunzip(stream, stream.unconsumed_tail, expected + MAX_EXTENSION_BYTES, path)
    if stream.unconsumed_tail:
        raise InvalidInputError(
            f"{path.name}: SPZ data is longer than its header says", path=str(path)
        )
    if not stream.eof:
        raise InvalidInputError(f"{path.name}: SPZ gzip stream is truncated", path=str(path))
    available = len(data) - HEADER.size
    if available < expected:
        raise InvalidInputError(
            f"{path.name}: SPZ data is truncated ({available} of {expected} bytes)",
            path=str(path),
        )
    # Extension records (flag 0x2) sit between the header and the arrays; none of them changes
    # how the arrays decode with the default SH quantisation, so they are skipped by length.
    offset = HEADER.size + (available - expected if flags & FLAG_EXTENSIONS else 0)
    arrays = []
    for size in sizes:
        arrays.append(np.frombuffer(data, np.uint8, count * size, offset).reshape(count, size))
        offset += count * size
    positions, alphas, colors, scales, rotations, sh = arrays
    quats = _unpack_smallest_three(rotations) if version >= 3 else _unpack_first_three(rotations)
    return Splats(
        means=_unpack_positions(positions, fractional_bits),
        scales=(scales.astype(np.float32) / 16.0 - 10.0).astype(np.float32),
        quats=quats,
        opacities=alpha_logits(alphas[:, 0]),
        sh0=((colors.astype(np.float32) / 255.0 - 0.5) / COLOR_SCALE).astype(np.float32),
        shN=_unpack_sh(sh, coefficients),
    )


def require_finite(splats: Splats) -> None:
    """Raise `InvalidInputError` if any value is NaN or infinite (opacities may be ±∞)."""
    for name in ("means", "scales", "quats", "sh0", "shN"):
        if not np.isfinite(getattr(splats, name)).all():
            raise InvalidInputError(f"splat array {name} holds NaN or infinite values", array=name)
    if np.isnan(splats.opacities).any():
        raise InvalidInputError("splat array opacities holds NaN values", array="opacities")


def unit_quaternions(quats: NDArray[np.float32]) -> NDArray[np.float64]:
    """``quats`` [N, 4] normalised in float64; an all-zero quaternion becomes the identity."""
    q = quats.astype(np.float64)
    norms = np.linalg.norm(q, axis=1, keepdims=True)
    zero = norms[:, 0] == 0.0
    q[zero] = (1.0, 0.0, 0.0, 0.0)
    norms[zero] = 1.0
    unit: NDArray[np.float64] = q / norms
    return unit


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise NotFoundError(f"{path} does not exist", path=str(path)) from None
    except OSError as exc:
        raise InvalidInputError(f"cannot read {path}: {exc.strerror}", path=str(path)) from exc


def _gunzip(stream: Any, raw: bytes, limit: int, path: Path) -> bytes:
    """Up to ``limit`` more bytes from the gzip ``stream`` fed ``raw``."""
    try:
        data: bytes = stream.decompress(raw, limit)
    except zlib.error as exc:
        raise InvalidInputError(
            f"{path.name}: corrupt SPZ gzip stream ({exc})", path=str(path)
        ) from exc
    return data


def _round_half_away(values: NDArray[FloatT]) -> NDArray[FloatT]:
    """Round like C's ``std::round`` (halves away from zero), unlike numpy's half-to-even.

    Exact in any float type: ``values − trunc(values)`` is exact, where ``|v| + 0.5`` is not.
    """
    whole = np.trunc(values)
    rounded: NDArray[FloatT] = whole + np.where(np.abs(values - whole) >= 0.5, np.sign(values), 0)
    return rounded


def _to_uint8(values: NDArray[FloatT]) -> NDArray[np.uint8]:
    return np.clip(_round_half_away(values), 0, 255).astype(np.uint8)


def _sigmoid(logits: NDArray[np.float32]) -> NDArray[np.float32]:
    with np.errstate(over="ignore"):
        alpha: NDArray[np.float32] = np.float32(1.0) / (np.float32(1.0) + np.exp(-logits))
    return alpha


def alpha_logits(alphas: NDArray[np.uint8]) -> NDArray[np.float32]:
    """Opacity logits of 8-bit alphas ``round(sigmoid · 255)``; 0 and 255 at their bin middles."""
    probability = np.clip(alphas.astype(np.float64), 0.25, 254.75) / 255.0
    return np.log(probability / (1.0 - probability)).astype(np.float32)


def _pack_positions(means: NDArray[np.float32], fractional_bits: int) -> NDArray[np.uint8]:
    fixed = _round_half_away(means.astype(np.float64) * _AXIS_FLIP * 2.0**fractional_bits)
    limit = 2**23
    if fixed.size and (fixed.min() < -limit or fixed.max() > limit - 1):
        reach = float(np.abs(means).max())
        fitting = max(0, min(23, math.floor(math.log2((limit - 1) / reach))))
        raise InvalidInputError(
            f"SPZ positions reach {reach:.1f}, beyond ±{limit / 2**fractional_bits:g} that "
            f"{fractional_bits} fractional bits allow; use fractional_bits={fitting}",
            fractional_bits=fractional_bits,
        )
    as_bytes = fixed.astype("<i4").view(np.uint8).reshape(-1, 3, 4)  # [N, 3, 4] little-endian
    return np.ascontiguousarray(as_bytes[:, :, :3]).reshape(-1, 9)


def _unpack_positions(packed: NDArray[np.uint8], fractional_bits: int) -> NDArray[np.float32]:
    triples = packed.reshape(-1, 3, 3).astype(np.int32)
    fixed = triples[:, :, 0] | (triples[:, :, 1] << 8) | (triples[:, :, 2] << 16)
    fixed = np.where(fixed & 0x800000, fixed - (1 << 24), fixed)  # sign-extend 24 bits
    return (fixed.astype(np.float64) / 2.0**fractional_bits * _AXIS_FLIP).astype(np.float32)


def _spz_quaternions(quats: NDArray[np.float32]) -> NDArray[np.float32]:
    """Unit quaternions [N, 4] in SPZ order (x y z w) and frame (RUB).

    In float32 with the reference's order of operations, so that our bytes are its bytes.
    """
    q = np.ascontiguousarray(quats[:, [1, 2, 3, 0]], dtype=np.float32)
    squares = q * q
    norm = np.sqrt(((squares[:, 0] + squares[:, 1]) + squares[:, 2]) + squares[:, 3])[:, None]
    zero = norm[:, 0] == 0
    q[zero] = (0.0, 0.0, 0.0, 1.0)
    norm[zero] = 1.0
    unit: NDArray[np.float32] = q / norm
    unit[:, :3] *= _AXIS_FLIP
    return unit


def _pack_smallest_three(quats: NDArray[np.float32]) -> NDArray[np.uint8]:
    q = _spz_quaternions(quats)
    rows = np.arange(len(q))
    largest = np.argmax(np.abs(q), axis=1)  # first of equals, like the reference
    negate = q[rows, largest] < 0
    packed = largest.astype(np.uint32)
    scale = np.float32(511.0) / np.float32(_SQRT1_2)
    for column in range(3):
        value = q[rows, _OTHERS[largest, column]]
        sign = ((value < 0) ^ negate).astype(np.uint32)
        magnitude = np.minimum(np.abs(value) * scale + np.float32(0.5), np.float32(511.0))
        packed = (packed << np.uint32(10)) | (sign << np.uint32(9)) | magnitude.astype(np.uint32)
    as_bytes: NDArray[np.uint8] = packed.astype("<u4").view(np.uint8)
    return as_bytes.reshape(-1, 4)


def _unpack_smallest_three(packed: NDArray[np.uint8]) -> NDArray[np.float32]:
    words = packed.copy().view("<u4")[:, 0].astype(np.uint32)
    largest = (words >> 30).astype(np.intp)
    rows = np.arange(len(words))
    q = np.zeros((len(words), 4))
    for column in (2, 1, 0):  # the last component sits in the lowest bits
        magnitude = (words & 511).astype(np.float64) * (_SQRT1_2 / 511.0)
        q[rows, _OTHERS[largest, column]] = np.where((words >> 9) & 1, -magnitude, magnitude)
        words = words >> np.uint32(10)
    q[rows, largest] = np.sqrt(np.maximum(0.0, 1.0 - np.sum(q * q, axis=1)))
    return _from_spz_quaternions(q)


def _pack_first_three(quats: NDArray[np.float32]) -> NDArray[np.uint8]:
    q = _spz_quaternions(quats)
    half = np.float32(127.5)
    q = q * np.where(q[:, 3:] < 0, -half, half) + half
    return _to_uint8(q[:, :3])


def _unpack_first_three(packed: NDArray[np.uint8]) -> NDArray[np.float32]:
    xyz = packed.astype(np.float64) / 127.5 - 1.0
    w = np.sqrt(np.maximum(0.0, 1.0 - np.sum(xyz * xyz, axis=1, keepdims=True)))
    return _from_spz_quaternions(np.concatenate([xyz, w], axis=1))


def _from_spz_quaternions(q: NDArray[np.float64]) -> NDArray[np.float32]:
    """SPZ quaternions (x y z w, RUB) [N, 4] as 3DGS ones (w x y z, RDF)."""
    q = q.copy()
    q[:, :3] *= _AXIS_FLIP
    return np.ascontiguousarray(q[:, [3, 0, 1, 2]], dtype=np.float32)


def _pack_sh(shN: NDArray[np.float32]) -> NDArray[np.uint8]:
    coefficients = shN.shape[1]
    # x · 128 is exact in float32; clipping first keeps the integers within int16.
    scaled = np.clip(shN * (_SH_FLIP[:coefficients, None] * np.float32(128.0)), -512, 512)
    quantised = _round_half_away(scaled).astype(np.int16) + np.int16(128)
    # Snap to the band's bucket, halves up, as the reference's integer (q + b/2) / b · b.
    for first, last, bits in ((0, 3, SH1_BITS), (3, coefficients, SH_REST_BITS)):
        bucket = np.int16(1 << (8 - bits))
        band = quantised[:, first:last]
        band += bucket // 2
        band //= bucket
        band *= bucket
    packed: NDArray[np.uint8] = np.clip(quantised, 0, 255).astype(np.uint8)
    return packed.reshape(len(shN), 3 * coefficients)


def _unpack_sh(packed: NDArray[np.uint8], coefficients: int) -> NDArray[np.float32]:
    values = (packed.reshape(len(packed), coefficients, 3).astype(np.float32) - 128.0) / 128.0
    return np.ascontiguousarray(values * _SH_FLIP[:coefficients, None], dtype=np.float32)
