"""SPZ round trips within the format's quantisation steps, its RUB frame, and typed errors."""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

from vantage.capture.compress.splats import Splats
from vantage.capture.compress.spz import HEADER, MAGIC, read_spz, write_spz
from vantage.errors import InvalidInputError, NotFoundError

from .samples import assert_spz_close, random_splats


@pytest.mark.parametrize("version", [2, 3])
@pytest.mark.parametrize("degree", [0, 1, 3])
def test_round_trip_within_quantisation(tmp_path: Path, version: int, degree: int) -> None:
    splats = random_splats(5000, degree, seed=degree)
    path = tmp_path / "scene.spz"

    size = write_spz(splats, path, version=version)

    assert size == path.stat().st_size
    decoded = read_spz(path)
    assert_spz_close(splats, decoded, version=version)
    for name in ("means", "scales", "quats", "opacities", "sh0", "shN"):
        assert getattr(decoded, name).dtype == np.float32
        assert np.isfinite(getattr(decoded, name)).all()


@pytest.mark.parametrize("version", [2, 3])
def test_writing_what_was_read_gives_the_same_file(tmp_path: Path, version: int) -> None:
    splats = random_splats(5000, 3, seed=30)
    first, second = tmp_path / "first.spz", tmp_path / "second.spz"
    write_spz(splats, first, version=version)
    decoded = read_spz(first)

    write_spz(decoded, second, version=version)

    again = read_spz(second)
    for name in ("means", "scales", "opacities", "sh0", "shN"):
        assert np.array_equal(getattr(again, name), getattr(decoded, name)), name
    # A rotation whose two largest components tie within a step may pack the other one.
    same = np.all(again.quats == decoded.quats, axis=1)
    assert same.mean() > 0.99
    assert_spz_close(decoded, again, version=version)


def test_fractional_bits_set_the_position_step(tmp_path: Path) -> None:
    splats = random_splats(2000, 1, seed=5)
    path = tmp_path / "fine.spz"

    write_spz(splats, path, fractional_bits=16)

    assert_spz_close(splats, read_spz(path), version=3, fractional_bits=16)
    error = np.abs(read_spz(path).means - splats.means).max()
    assert error > 0.0  # it is quantised, just finer than 2^-12


def test_file_holds_rub_frame_and_reference_layout(tmp_path: Path) -> None:
    # One Gaussian, decoded by hand from the gzip payload: y and z (and quaternion y, z and
    # SH coefficients odd in y xor z) are negated, as the reference packs RDF data.
    splats = Splats(
        means=np.array([[1.0, 2.0, -3.0]], dtype=np.float32),
        scales=np.array([[-2.0, -3.0, -4.0]], dtype=np.float32),
        quats=np.array([[0.9, 0.1, 0.2, 0.3]], dtype=np.float32),
        opacities=np.array([0.0], dtype=np.float32),
        sh0=np.array([[0.5, 0.0, -0.5]], dtype=np.float32),
        shN=np.full((1, 3, 3), 0.5, dtype=np.float32),
    )
    path = tmp_path / "one.spz"
    write_spz(splats, path)
    payload = gzip.decompress(path.read_bytes())

    assert HEADER.unpack_from(payload) == (MAGIC, 3, 1, 1, 12, 0, 0)
    body = payload[HEADER.size :]
    assert len(body) == 9 + 1 + 3 + 3 + 4 + 9
    fixed = [int.from_bytes(body[i : i + 3], "little", signed=True) for i in (0, 3, 6)]
    assert fixed == [4096, -2 * 4096, 3 * 4096]
    assert body[9] == 128  # round(0.5 · 255)
    assert list(body[10:13]) == [round(0.5 * 38.25 + 127.5), 128, round(-0.5 * 38.25 + 127.5)]
    assert list(body[13:16]) == [128, 112, 96]  # (s + 10) · 16
    # SH band 1 is (y, z, x): y and z flip, x does not; 0.5 → 192, −0.5 → 64.
    assert list(body[20:29]) == [64] * 3 + [64] * 3 + [192] * 3


def test_round_trip_of_no_gaussians(tmp_path: Path) -> None:
    empty = random_splats(0, 2)
    path = tmp_path / "empty.spz"
    write_spz(empty, path)
    decoded = read_spz(path)
    assert len(decoded) == 0
    assert decoded.sh_degree == 2


def test_zero_quaternion_becomes_identity(tmp_path: Path) -> None:
    splats = random_splats(3, 0)
    quats = splats.quats.copy()
    quats[1] = 0.0
    path = tmp_path / "zero.spz"
    write_spz(
        Splats(splats.means, splats.scales, quats, splats.opacities, splats.sh0, splats.shN), path
    )
    np.testing.assert_allclose(read_spz(path).quats[1], [1.0, 0.0, 0.0, 0.0], atol=1e-6)


def test_write_rejects_unusable_input(tmp_path: Path) -> None:
    splats = random_splats(10, 1)
    path = tmp_path / "bad.spz"
    with pytest.raises(InvalidInputError, match="version 4"):
        write_spz(splats, path, version=4)
    with pytest.raises(InvalidInputError, match="fractional_bits"):
        write_spz(splats, path, fractional_bits=24)
    far = Splats(
        splats.means * 100, splats.scales, splats.quats, splats.opacities, splats.sh0, splats.shN
    )
    with pytest.raises(InvalidInputError, match="use fractional_bits=10"):
        write_spz(far, path)
    means = splats.means.copy()
    means[3, 1] = np.nan
    nan = Splats(means, splats.scales, splats.quats, splats.opacities, splats.sh0, splats.shN)
    with pytest.raises(InvalidInputError, match="means"):
        write_spz(nan, path)
    assert not path.exists()


def _gzip_payload(
    version: int, count: int = 1, degree: int = 0, body: bytes | None = None
) -> bytes:
    header = HEADER.pack(MAGIC, version, count, degree, 12, 0, 0)
    size = count * (9 + 1 + 3 + 3 + (4 if version >= 3 else 3) + 3 * ((degree + 1) ** 2 - 1))
    return gzip.compress(header + (bytes(size) if body is None else body))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"this is a text file, not a splat\n", "not an SPZ file"),
        (gzip.compress(b"junk " * 100), "bad magic"),
        (_gzip_payload(7), "version 7 is not supported"),
        (_gzip_payload(1), "version 1 is not supported"),
        (_gzip_payload(3, count=5, body=bytes(50)), "truncated"),
        (gzip.compress(b"NGSP"), "header is truncated"),
        (b"NGSP" + struct.pack("<I", 4) + bytes(24), "version 4 .*--spz-version 3"),
        (b"\x1f\x8b\x08\x00garbage-after-a-gzip-magic", "corrupt"),
        (b"", "not an SPZ file"),
    ],
)
def test_read_rejects_bad_files(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.spz"
    path.write_bytes(content)
    with pytest.raises(InvalidInputError, match=message):
        read_spz(path)


def test_read_rejects_a_cut_off_file(tmp_path: Path) -> None:
    path = tmp_path / "whole.spz"
    write_spz(random_splats(500, 1), path)
    cut = tmp_path / "cut.spz"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(InvalidInputError, match="truncated"):
        read_spz(cut)


def test_read_missing_file_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        read_spz(tmp_path / "missing.spz")


def test_a_stream_longer_than_its_header_is_refused_without_inflating_it(tmp_path: Path) -> None:
    path = tmp_path / "bomb.spz"
    write_spz(random_splats(10, 0), path)
    # The same header, then 64 MiB of zeros that squeeze into a few tens of kB.
    header_and_arrays = zlib.decompress(path.read_bytes(), 16 + zlib.MAX_WBITS)
    squeezed = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    bomb = squeezed.compress(header_and_arrays + bytes(64 << 20)) + squeezed.flush()
    path.write_bytes(bomb)
    with pytest.raises(InvalidInputError, match="longer than its header says"):
        read_spz(path)
