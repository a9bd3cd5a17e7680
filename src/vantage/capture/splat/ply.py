"""Gaussians to and from the standard 3DGS PLY: binary little-endian float32, one vertex each.

Properties, in order, as the original 3DGS code writes them and viewers expect: ``x y z``,
``nx ny nz`` (zeros), ``f_dc_0..2``, ``f_rest_0..`` (channel-major: every R coefficient, then G,
then B), ``opacity`` (logit), ``scale_0..2`` (log), ``rot_0..3`` (wxyz).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch

from vantage.capture.splat.gaussians import Gaussians
from vantage.errors import InvalidInputError
from vantage.storage.streaming import atomic_write


def ply_properties(sh_degree: int) -> list[str]:
    """The vertex property names of a file holding SH up to ``sh_degree``."""
    rest = 3 * ((sh_degree + 1) ** 2 - 1)
    return [
        "x",
        "y",
        "z",
        "nx",
        "ny",
        "nz",
        "f_dc_0",
        "f_dc_1",
        "f_dc_2",
        *(f"f_rest_{i}" for i in range(rest)),
        "opacity",
        "scale_0",
        "scale_1",
        "scale_2",
        "rot_0",
        "rot_1",
        "rot_2",
        "rot_3",
    ]


def _header(count: int, names: list[str]) -> bytes:
    lines = ["ply", "format binary_little_endian 1.0", f"element vertex {count}"]
    lines += [f"property float {name}" for name in names]
    lines.append("end_header")
    return ("\n".join(lines) + "\n").encode("ascii")


def export_ply(gaussians: Gaussians, path: Path) -> None:
    """Write ``gaussians`` to ``path`` (via a temporary file and a rename)."""
    with torch.no_grad():
        count = len(gaussians)
        columns = [
            gaussians.means,
            torch.zeros(count, 3, device=gaussians.means.device),
            gaussians.sh0.reshape(count, 3),
            gaussians.shN.transpose(1, 2).reshape(count, -1),  # [N, 3·(K−1)], channel-major
            gaussians.opacity_logits[:, None],
            gaussians.log_scales,
            gaussians.quats,
        ]
        data = torch.cat([c.detach().float().cpu() for c in columns], dim=1).numpy()
    body = np.ascontiguousarray(data, dtype="<f4").tobytes()
    atomic_write(path, [_header(count, ply_properties(gaussians.sh_degree)), body])


def _parse_header(raw: bytes, path: Path) -> tuple[int, list[str], int]:
    """Vertex count, property names and the byte offset of the body."""
    end = raw.find(b"end_header\n")
    if not raw.startswith(b"ply\n") or end < 0:
        raise InvalidInputError("not a PLY file", path=str(path))
    count = -1
    names: list[str] = []
    for line in raw[:end].decode("ascii", errors="replace").splitlines()[1:]:
        words = line.split()
        if words[:1] == ["format"] and words[1:2] != ["binary_little_endian"]:
            raise InvalidInputError("only binary little-endian PLY is read", path=str(path))
        if words[:2] == ["element", "vertex"]:
            count = int(words[2])
        elif words[:1] == ["element"]:
            raise InvalidInputError("the PLY has elements besides vertices", path=str(path))
        elif words[:1] == ["property"]:
            if words[1] != "float":
                raise InvalidInputError("only float properties are read", path=str(path))
            names.append(words[2])
    return count, names, end + len(b"end_header\n")


def read_ply(path: Path) -> Gaussians:
    """Gaussians from a 3DGS PLY file: `export_ply`'s, the 3DGS code's or another tool's.

    Properties are found by name, in any order; ones a 3DGS scene does not use (normals,
    extra attributes) are skipped.
    """
    raw = path.read_bytes()
    count, names, offset = _parse_header(raw, path)
    column = {name: index for index, name in enumerate(names)}
    rest = sum(name.startswith("f_rest_") for name in names)
    degree = math.isqrt(rest // 3 + 1) - 1
    needed = [name for name in ply_properties(degree) if name not in ("nx", "ny", "nz")]
    missing = [name for name in needed if name not in column]
    if rest % 3 or (degree + 1) ** 2 - 1 != rest // 3 or missing:
        raise InvalidInputError(
            "the PLY does not hold 3DGS Gaussians"
            + (f" (no {', '.join(missing[:3])})" if missing else ""),
            path=str(path),
        )
    expected = count * len(names) * 4
    if count < 0 or len(raw) - offset < expected:
        raise InvalidInputError("the PLY is truncated", path=str(path))
    data: npt.NDArray[np.float32] = np.frombuffer(
        raw, dtype="<f4", count=count * len(names), offset=offset
    ).reshape(count, len(names))

    def take(*wanted: str) -> torch.Tensor:
        return torch.from_numpy(data[:, [column[name] for name in wanted]].astype(np.float32))

    coefficients = (degree + 1) ** 2 - 1
    shN = take(*(f"f_rest_{i}" for i in range(3 * coefficients)))
    return Gaussians.from_tensors(
        means=take("x", "y", "z"),
        scales=take("scale_0", "scale_1", "scale_2"),
        quats=take("rot_0", "rot_1", "rot_2", "rot_3"),
        opacities=take("opacity")[:, 0],
        sh0=take("f_dc_0", "f_dc_1", "f_dc_2")[:, None, :],
        shN=shN.reshape(count, 3, coefficients).transpose(1, 2),
    )
