"""PLY export in the 3DGS layout and the round trip through `read_ply`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from gsplat import export_splats

from vantage.capture.splat.gaussians import Gaussians
from vantage.capture.splat.ply import export_ply, ply_properties, read_ply
from vantage.errors import InvalidInputError


def _gaussians(count: int, degree: int, seed: int = 0) -> Gaussians:
    g = torch.Generator().manual_seed(seed)
    rest = (degree + 1) ** 2 - 1
    return Gaussians.from_tensors(
        means=torch.randn(count, 3, generator=g),
        scales=torch.randn(count, 3, generator=g),
        quats=torch.randn(count, 4, generator=g),
        opacities=torch.randn(count, generator=g),
        sh0=torch.randn(count, 1, 3, generator=g),
        shN=torch.randn(count, rest, 3, generator=g),
    )


def _header_and_body(path: Path) -> tuple[list[str], bytes]:
    raw = path.read_bytes()
    end = raw.index(b"end_header\n") + len(b"end_header\n")
    return raw[:end].decode("ascii").splitlines(), raw[end:]


@pytest.mark.parametrize("degree", [0, 1, 3])
def test_round_trip_is_exact(tmp_path: Path, degree: int) -> None:
    original = _gaussians(50, degree)
    export_ply(original, tmp_path / "scene.ply")
    restored = read_ply(tmp_path / "scene.ply")
    assert restored.sh_degree == degree
    for name, param in original.params.items():
        assert torch.equal(restored.params[name], param.detach()), name


def test_header_lists_the_3dgs_properties_in_order(tmp_path: Path) -> None:
    export_ply(_gaussians(7, 1), tmp_path / "scene.ply")
    header, body = _header_and_body(tmp_path / "scene.ply")
    rest = [f"f_rest_{i}" for i in range(9)]
    names = ["x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2", *rest]
    names += ["opacity", "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"]
    assert header == [
        "ply",
        "format binary_little_endian 1.0",
        "element vertex 7",
        *(f"property float {name}" for name in names),
        "end_header",
    ]
    assert ply_properties(1) == names
    assert len(body) == 7 * len(names) * 4


def test_f_rest_is_channel_major(tmp_path: Path) -> None:
    gaussians = _gaussians(1, 1)
    with torch.no_grad():  # coefficient k of channel c holds 10·c + k
        gaussians.shN.copy_(torch.tensor([[[10.0 * c + k for c in range(3)] for k in range(3)]]))
    export_ply(gaussians, tmp_path / "scene.ply")
    _, body = _header_and_body(tmp_path / "scene.ply")
    row = np.frombuffer(body, dtype="<f4")
    assert row[9:18].tolist() == [0.0, 1.0, 2.0, 10.0, 11.0, 12.0, 20.0, 21.0, 22.0]


def test_body_matches_gsplats_exporter(tmp_path: Path) -> None:
    gaussians = _gaussians(20, 3, seed=4)
    export_ply(gaussians, tmp_path / "ours.ply")
    theirs = export_splats(
        gaussians.means.detach(),
        gaussians.log_scales.detach(),
        gaussians.quats.detach(),
        gaussians.opacity_logits.detach(),
        gaussians.sh0.detach(),
        gaussians.shN.detach(),
        format="ply",
    )
    _, body = _header_and_body(tmp_path / "ours.ply")
    ours = np.frombuffer(body, dtype="<f4").reshape(20, -1)
    their_body = theirs[theirs.index(b"end_header\n") + len(b"end_header\n") :]
    expected = np.frombuffer(their_body, dtype="<f4").reshape(20, -1)  # no normals
    np.testing.assert_array_equal(np.delete(ours, [3, 4, 5], axis=1), expected)
    assert not ours[:, 3:6].any()


def test_export_replaces_atomically(tmp_path: Path) -> None:
    path = tmp_path / "out" / "scene.ply"
    export_ply(_gaussians(3, 0), path)
    export_ply(_gaussians(5, 0), path)
    assert len(read_ply(path)) == 5
    assert sorted(p.name for p in path.parent.iterdir()) == ["scene.ply"]


def test_foreign_files_are_refused(tmp_path: Path) -> None:
    (tmp_path / "a.ply").write_bytes(b"ply\nformat ascii 1.0\nelement vertex 0\nend_header\n")
    with pytest.raises(InvalidInputError):
        read_ply(tmp_path / "a.ply")
    (tmp_path / "b.ply").write_bytes(b"not a ply")
    with pytest.raises(InvalidInputError):
        read_ply(tmp_path / "b.ply")
    export_ply(_gaussians(4, 0), tmp_path / "c.ply")
    (tmp_path / "c.ply").write_bytes((tmp_path / "c.ply").read_bytes()[:-8])
    with pytest.raises(InvalidInputError):
        read_ply(tmp_path / "c.ply")


def test_properties_are_read_by_name_in_any_order(tmp_path: Path) -> None:
    original = _gaussians(50, 1, seed=3)
    export_ply(original, tmp_path / "ours.ply")
    lines, body = _header_and_body(tmp_path / "ours.ply")
    names = [line.split()[2] for line in lines if line.startswith("property")]
    table = np.frombuffer(body, "<f4").reshape(50, len(names))
    # Another tool's order: no normals, opacity first, an extra property at the end.
    order = [names.index(n) for n in names if n not in ("nx", "ny", "nz", "opacity")]
    order = [names.index("opacity"), *order]
    shuffled = np.c_[table[:, order], np.arange(50, dtype="<f4")]
    header = ["ply", "format binary_little_endian 1.0", "element vertex 50"]
    header += [f"property float {names[i]}" for i in order] + ["property float segment"]
    path = tmp_path / "theirs.ply"
    path.write_bytes(("\n".join([*header, "end_header"]) + "\n").encode() + shuffled.tobytes())
    read = read_ply(path)
    for name in ("means", "scales", "quats", "opacities", "sh0", "shN"):
        assert torch.equal(read.params[name], original.params[name]), name
    path.write_bytes(
        path.read_bytes().replace(b"property float rot_3\n", b"property float other\n")
    )
    with pytest.raises(InvalidInputError, match="rot_3"):
        read_ply(path)
