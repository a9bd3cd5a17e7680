"""Compressed PLY round trips within each chunk's quantisation steps, its order, typed errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vantage.capture.compress.compressed_ply import (
    CHUNK_SIZE,
    SH_C0,
    compressed_ply_order,
    read_compressed_ply,
    write_compressed_ply,
)
from vantage.capture.compress.splats import Splats, write_ply_splats
from vantage.errors import InvalidInputError, NotFoundError

from .samples import assert_compressed_ply_close, chunk_spans, random_splats


@pytest.mark.parametrize("degree", [0, 1, 3])
def test_round_trip_within_quantisation(tmp_path: Path, degree: int) -> None:
    splats = random_splats(5000, degree, seed=10 + degree)
    path = tmp_path / "scene.compressed.ply"

    size = write_compressed_ply(splats, path)

    assert size == path.stat().st_size
    chunks = -(-5000 // CHUNK_SIZE)
    header = path.read_bytes()[: path.read_bytes().index(b"end_header\n") + 11]
    assert size == len(header) + chunks * 18 * 4 + 5000 * 16 + 5000 * 3 * ((degree + 1) ** 2 - 1)
    decoded = read_compressed_ply(path)
    assert_compressed_ply_close(splats.take(compressed_ply_order(splats)), decoded)


def test_order_is_a_permutation_that_makes_chunks_compact() -> None:
    count = 50_000
    splats = random_splats(count, 0, seed=3)
    order = compressed_ply_order(splats)

    assert np.array_equal(np.sort(order), np.arange(count))
    extent = splats.means.max(axis=0) - splats.means.min(axis=0)

    def box_fraction(means: np.ndarray) -> float:
        """Mean volume of a chunk's bounding box as a fraction of the scene's box."""
        spans = chunk_spans(means)[::CHUNK_SIZE] / extent
        return float(np.prod(spans, axis=1).mean())

    # Random order: each chunk spans nearly the whole scene. Morton order: boxes within a few
    # times the ideal 256 / count.
    assert box_fraction(splats.means) > 0.5
    assert box_fraction(splats.means[order]) < 5 * CHUNK_SIZE / count


def test_degenerate_chunks_and_the_partial_last_chunk(tmp_path: Path) -> None:
    # Every Gaussian at one point with one scale: zero ranges must decode exactly.
    base = random_splats(300, 1, seed=4)
    same = Splats(
        means=np.tile(np.float32([1.5, -2.0, 3.25]), (300, 1)),
        scales=np.tile(np.float32([-3.0, -3.0, -3.0]), (300, 1)),
        quats=base.quats,
        opacities=base.opacities,
        sh0=base.sh0,
        shN=base.shN,
    )
    path = tmp_path / "flat.compressed.ply"
    write_compressed_ply(same, path)
    decoded = read_compressed_ply(path)
    assert np.array_equal(decoded.means, same.means)
    assert np.array_equal(decoded.scales, same.scales)
    assert_compressed_ply_close(same.take(compressed_ply_order(same)), decoded)


def test_round_trip_of_no_gaussians(tmp_path: Path) -> None:
    path = tmp_path / "empty.compressed.ply"
    write_compressed_ply(random_splats(0, 1), path)
    decoded = read_compressed_ply(path)
    assert len(decoded) == 0
    assert decoded.sh_degree == 1


def test_write_rejects_unusable_input(tmp_path: Path) -> None:
    splats = random_splats(20, 3)
    four = Splats(
        splats.means,
        splats.scales,
        splats.quats,
        splats.opacities,
        splats.sh0,
        np.zeros((20, 24, 3), dtype=np.float32),
    )
    path = tmp_path / "bad.compressed.ply"
    with pytest.raises(InvalidInputError, match="degree 3, not 4"):
        write_compressed_ply(four, path)
    scales = splats.scales.copy()
    scales[0, 0] = np.inf
    with pytest.raises(InvalidInputError, match="scales"):
        write_compressed_ply(
            Splats(splats.means, scales, splats.quats, splats.opacities, splats.sh0, splats.shN),
            path,
        )
    assert not path.exists()


def test_read_rejects_other_files(tmp_path: Path) -> None:
    text = tmp_path / "text.compressed.ply"
    text.write_text("hello\n")
    with pytest.raises(InvalidInputError, match="not a PLY"):
        read_compressed_ply(text)

    plain = tmp_path / "plain.ply"
    write_ply_splats(random_splats(10, 1), plain)
    with pytest.raises(InvalidInputError, match="not a compressed PLY"):
        read_compressed_ply(plain)

    ascii_ply = tmp_path / "ascii.ply"
    ascii_ply.write_text(
        "ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nend_header\n1\n"
    )
    with pytest.raises(InvalidInputError, match="binary_little_endian"):
        read_compressed_ply(ascii_ply)

    with pytest.raises(NotFoundError):
        read_compressed_ply(tmp_path / "missing.compressed.ply")


def test_read_rejects_truncated_and_mismatched_files(tmp_path: Path) -> None:
    path = tmp_path / "scene.compressed.ply"
    write_compressed_ply(random_splats(600, 1), path)
    raw = path.read_bytes()

    cut = tmp_path / "cut.compressed.ply"
    cut.write_bytes(raw[: len(raw) - 100])
    with pytest.raises(InvalidInputError, match="element sh is truncated"):
        read_compressed_ply(cut)

    # Three chunks declared for 600 Gaussians is right; two is not.
    wrong = tmp_path / "wrong.compressed.ply"
    wrong.write_bytes(raw.replace(b"element chunk 3\n", b"element chunk 2\n", 1))
    with pytest.raises(InvalidInputError, match="not a compressed PLY"):
        read_compressed_ply(wrong)

    odd = tmp_path / "odd.compressed.ply"
    odd.write_bytes(
        raw.replace(b"property uint packed_color", b"property list uchar uint packed_color")
    )
    with pytest.raises(InvalidInputError, match="unexpected PLY header line"):
        read_compressed_ply(odd)


def test_reads_chunks_without_colour_ranges(tmp_path: Path) -> None:
    # The older layout has 12 chunk properties; colours are then plain 8-bit values.
    path = tmp_path / "new.compressed.ply"
    write_compressed_ply(random_splats(300, 0, seed=12), path)
    raw = path.read_bytes()
    body = raw.index(b"end_header\n") + len(b"end_header\n")
    chunks = np.frombuffer(raw, "<f4", 2 * 18, body).reshape(2, 18)
    vertex = np.frombuffer(raw, "<u4", 300 * 4, body + chunks.nbytes).reshape(300, 4)
    header = raw[:body].decode("ascii")
    for bound in ("min", "max"):
        for channel in "rgb":
            header = header.replace(f"property float {bound}_{channel}\n", "")
    old = tmp_path / "old.compressed.ply"
    old.write_bytes(header.encode("ascii") + chunks[:, :12].tobytes() + vertex.tobytes())

    decoded = read_compressed_ply(old)

    channels = np.stack([(vertex[:, 3] >> s) & 255 for s in (24, 16, 8)], axis=1) / 255.0
    np.testing.assert_allclose(decoded.sh0, (channels - 0.5) / SH_C0, atol=1e-6)
    np.testing.assert_array_equal(decoded.means, read_compressed_ply(path).means)
