"""Our SPZ and compressed PLY against the real ``splat-transform`` CLI (PlayCanvas, Node 20).

Each way round: files we write decode in splat-transform to the same Gaussians, and files it
writes decode in our readers to the same Gaussians, within each format's quantisation steps.
``make setup`` installs the CLI under ``webui/node_modules``.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial import cKDTree

from unit.capture.compress.samples import (
    aligned_quats,
    assert_compressed_ply_close,
    assert_spz_close,
    random_splats,
    sigmoid,
    smallest_three_bound,
)
from vantage.capture.compress.compressed_ply import (
    compressed_ply_order,
    read_compressed_ply,
    write_compressed_ply,
)
from vantage.capture.compress.splats import Splats, read_ply_splats, write_ply_splats
from vantage.capture.compress.spz import read_spz, write_spz
from vantage.errors import InvalidInputError

from .splat_transform import splat_transform


@pytest.fixture(scope="module")
def scene() -> Splats:
    return random_splats(5000, 3, seed=21)


def _assert_decoders_agree(ours: Splats, theirs: Splats) -> None:
    """Two decodings of one file agree; where theirs gives ±∞ opacity ours gives bin centres."""
    for name in ("means", "scales", "sh0", "shN"):
        np.testing.assert_allclose(getattr(ours, name), getattr(theirs, name), atol=2e-6)
    # The reference rebuilds the unstored component as √(1 − Σ) in float32, we in float64.
    np.testing.assert_allclose(ours.quats, theirs.quats, atol=5e-5)
    finite = np.isfinite(theirs.opacities)
    np.testing.assert_allclose(ours.opacities[finite], theirs.opacities[finite], atol=1e-4)
    for infinity, alpha in ((-np.inf, 0.25 / 255), (np.inf, 254.75 / 255)):
        edge = theirs.opacities == infinity
        np.testing.assert_allclose(sigmoid(ours.opacities[edge]), alpha, rtol=1e-5)


@pytest.mark.parametrize("version", [2, 3])
def test_our_spz_decodes_in_splat_transform(tmp_path: Path, scene: Splats, version: int) -> None:
    ours = tmp_path / "ours.spz"
    write_spz(scene, ours, version=version)

    splat_transform(ours, tmp_path / "out.ply")

    theirs = read_ply_splats(tmp_path / "out.ply")
    assert_spz_close(scene, theirs, version=version)
    _assert_decoders_agree(read_spz(ours), theirs)


def test_splat_transform_spz_decodes_in_ours(tmp_path: Path, scene: Splats) -> None:
    source = tmp_path / "in.ply"
    write_ply_splats(scene, source)

    splat_transform("--spz-version", "3", source, tmp_path / "theirs.spz")

    theirs = tmp_path / "theirs.spz"
    assert_spz_close(scene, read_spz(theirs), version=3)
    # Our encoder makes the very bytes the reference encoder makes (compared before gzip, as
    # zlib builds may differ).
    write_spz(scene, tmp_path / "ours.spz")
    ours_payload = gzip.decompress((tmp_path / "ours.spz").read_bytes())
    assert ours_payload == gzip.decompress(theirs.read_bytes())


def test_splat_transform_default_spz_v4_is_refused_with_a_hint(
    tmp_path: Path, scene: Splats
) -> None:
    source = tmp_path / "in.ply"
    write_ply_splats(scene.take(np.arange(100)), source)
    splat_transform(source, tmp_path / "v4.spz")
    assert (tmp_path / "v4.spz").read_bytes()[:4] == b"NGSP"
    with pytest.raises(InvalidInputError, match="--spz-version 3"):
        read_spz(tmp_path / "v4.spz")


def test_our_compressed_ply_decodes_in_splat_transform(tmp_path: Path, scene: Splats) -> None:
    ours = tmp_path / "ours.compressed.ply"
    write_compressed_ply(scene, ours)

    splat_transform(ours, tmp_path / "out.ply")

    theirs = read_ply_splats(tmp_path / "out.ply")
    assert_compressed_ply_close(scene.take(compressed_ply_order(scene)), theirs)
    _assert_decoders_agree(read_compressed_ply(ours), theirs)


def test_splat_transform_compressed_ply_decodes_in_ours(tmp_path: Path, scene: Splats) -> None:
    source = tmp_path / "in.ply"
    write_ply_splats(scene, source)

    splat_transform(source, tmp_path / "theirs.compressed.ply")

    decoded = read_compressed_ply(tmp_path / "theirs.compressed.ply")
    # splat-transform orders by its own Morton variant: match each decoded Gaussian to the
    # nearest original (quantisation error ≪ the spacing of 5000 points in a 100-wide cube).
    distance, index = cKDTree(scene.means).query(decoded.means)
    assert distance.max() < 0.1
    assert np.array_equal(np.sort(index), np.arange(len(scene)))
    # Their chunks are not ours, so bound by the whole scene's ranges: loose for positions,
    # scales and colours, but still catching swapped components or flipped signs.
    ordered = scene.take(index)
    np.testing.assert_allclose(decoded.scales, ordered.scales, atol=0.5 * 14.0 / 1023 + 1e-5)
    color_span = float(scene.sh0.max() - scene.sh0.min())  # in f_dc units
    np.testing.assert_allclose(decoded.sh0, ordered.sh0, atol=0.5 * color_span / 255 + 1e-5)
    alpha_error = np.abs(sigmoid(decoded.opacities) - sigmoid(ordered.opacities))
    assert alpha_error.max() <= 0.5 / 255 + 1e-6
    unit, other = aligned_quats(ordered.quats, decoded.quats)
    assert np.abs(other - unit).max() <= smallest_three_bound(0.5 * np.sqrt(2) / 1023)
    assert np.abs(decoded.shN - ordered.shN).max() <= 8 / 512 + 1e-6
