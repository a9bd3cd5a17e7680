"""Our SOG against the real ``splat-transform`` CLI (PlayCanvas's reference SOG tool, Node 20).

Each way round: scenes we write decode in splat-transform to exactly what our reader gives,
scenes it writes decode in our reader to exactly what it gives, and both stay within the
format's quantisation bounds of the source; and our files are no larger than its files.
``make setup`` installs the CLI under ``webui/node_modules``.
"""

from __future__ import annotations

import json
import math
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vantage.capture.compress.sog import read_sog, write_sog
from vantage.capture.compress.splats import Splats, read_ply_splats, write_ply_splats

from .splat_transform import splat_transform

COUNT = 2000


def scene_splats(count: int, degree: int, seed: int) -> Splats:
    """Random Gaussians with colour and SH that vary smoothly in space, as trained ones do."""
    rng = np.random.default_rng(seed)
    rest = (degree + 1) ** 2 - 1
    means = rng.standard_normal((count, 3)) * rng.choice([0.5, 2.0, 10.0], (count, 1))
    wave = np.sin(means[:, :1] * np.arange(1, 4) + means[:, 1:2])  # [N, 3]
    shN = 0.2 * wave[:, None, :] * rng.uniform(0.5, 1.0, (1, rest, 1))
    f32 = np.float32
    return Splats(
        means=means.astype(f32),
        scales=(rng.standard_normal((count, 3)) * 0.5 - 4.0).astype(f32),
        quats=rng.standard_normal((count, 4)).astype(f32),
        # |logit| < 5: sigmoid·255 stays ≥ 1, so no texel is fully transparent (splat-transform's
        # encoder may repaint the colour under alpha 0)
        opacities=rng.uniform(-5.0, 5.0, count).astype(f32),
        sh0=(wave + 0.1 * rng.standard_normal((count, 3))).astype(f32),
        shN=(shN + 0.02 * rng.standard_normal((count, rest, 3))).astype(f32),
    )


def assert_same_decoding(ours: Splats, theirs: Splats) -> None:
    """Two decoders read one file into the same Gaussians (float32 rounding apart)."""
    assert len(ours) == len(theirs)
    for name in ("means", "scales", "quats", "opacities", "sh0", "shN"):
        np.testing.assert_allclose(
            getattr(ours, name), getattr(theirs, name), rtol=2e-6, atol=2e-6, err_msg=name
        )


def match_by_position(decoded: Splats, source: Splats) -> Splats:
    """``source`` reordered to ``decoded``'s order (each decoded Gaussian's nearest source)."""
    index = np.empty(len(decoded), dtype=np.int64)
    for start in range(0, len(decoded), 500):
        block = decoded.means[start : start + 500, None, :] - source.means[None, :, :]
        index[start : start + 500] = (block**2).sum(-1).argmin(axis=1)
    assert np.unique(index).size == len(decoded), "positions do not match one to one"
    return source.take(index)


def assert_within_quantisation(decoded: Splats, source: Splats, steps: float) -> None:
    """``decoded`` is ``source`` within ``steps`` quantisation steps of each SOG field (1 for a
    writer that truncates to bytes, ½ for one that rounds) and codebook / palette error."""

    def log(v: np.ndarray) -> np.ndarray:
        return np.sign(v) * np.log1p(np.abs(v.astype(np.float64)))

    span = log(source.means).max(0) - log(source.means).min(0)
    assert (np.abs(log(decoded.means) - log(source.means)) <= steps * span / 65535 + 1e-6).all()
    unit = source.quats / np.linalg.norm(source.quats, axis=1, keepdims=True)
    alignment = np.abs((unit * decoded.quats).sum(axis=1))
    assert alignment.min() > 1 - 3e-4  # same rotation (q and −q alike)

    def sigmoid(v: np.ndarray) -> np.ndarray:
        return 1 / (1 + np.exp(-v.astype(np.float64)))

    opacity_error = np.abs(sigmoid(decoded.opacities) - sigmoid(source.opacities))
    assert opacity_error.max() <= steps / 255 + 1e-6
    for name in ("scales", "sh0"):
        error = np.abs(getattr(decoded, name) - getattr(source, name))
        spread = float(getattr(source, name).std())
        assert math.sqrt(float((error**2).mean())) < 0.02 * spread, name
    residual = ((decoded.shN - source.shN) ** 2).mean() / source.shN.var()
    assert residual < 0.2  # the palette keeps most of the SH signal


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A PLY and splat-transform's SOG bundle of it."""
    folder = tmp_path_factory.mktemp("sog_reference")
    write_ply_splats(scene_splats(COUNT, 1, seed=5), folder / "in.ply")
    splat_transform(folder / "in.ply", folder / "theirs.sog")
    return folder / "in.ply", folder / "theirs.sog"


@pytest.mark.parametrize("layout", ["scene.sog", "scene/meta.json"])
def test_splat_transform_decodes_our_files_as_we_do(tmp_path: Path, layout: str) -> None:
    source = scene_splats(COUNT, 1, seed=3)
    write_sog(source, tmp_path / layout)
    splat_transform(tmp_path / layout, tmp_path / "back.ply")
    theirs = read_ply_splats(tmp_path / "back.ply")
    ours = read_sog(tmp_path / layout)
    assert_same_decoding(ours, theirs)
    assert_within_quantisation(ours, match_by_position(ours, source), steps=0.5)


def test_we_decode_splat_transform_files_as_it_does(
    tmp_path: Path, reference: tuple[Path, Path]
) -> None:
    ply, bundle = reference
    ours = read_sog(bundle)
    splat_transform(bundle, tmp_path / "back.ply")
    assert_same_decoding(ours, read_ply_splats(tmp_path / "back.ply"))
    assert_within_quantisation(ours, match_by_position(ours, read_ply_splats(ply)), steps=1.0)


def test_our_bundle_is_no_larger_than_splat_transforms(
    tmp_path: Path, reference: tuple[Path, Path]
) -> None:
    ply, bundle = reference
    stats = write_sog(read_ply_splats(ply), tmp_path / "ours.sog")
    theirs = bundle.stat().st_size
    assert stats.bytes <= 1.05 * theirs, f"ours {stats.bytes} B, splat-transform's {theirs} B"


def test_our_codebooks_and_position_range_are_splat_transforms(
    tmp_path: Path, reference: tuple[Path, Path]
) -> None:
    ply, bundle = reference
    write_sog(read_ply_splats(ply), tmp_path / "ours.sog")

    def meta(path: Path) -> dict[str, Any]:
        with zipfile.ZipFile(path) as archive:
            document: dict[str, Any] = json.loads(archive.read("meta.json"))
            return document

    ours, theirs = meta(tmp_path / "ours.sog"), meta(bundle)
    # the same 1-D quantiser on the same values: the same codebooks, bit for bit
    assert ours["scales"]["codebook"] == theirs["scales"]["codebook"]
    assert ours["sh0"]["codebook"] == theirs["sh0"]["codebook"]
    assert ours["means"]["mins"] == pytest.approx(theirs["means"]["mins"], rel=1e-12)
    assert ours["means"]["maxs"] == pytest.approx(theirs["means"]["maxs"], rel=1e-12)
    assert ours["count"] == theirs["count"] == COUNT
    assert ours["shN"]["bands"] == theirs["shN"]["bands"] == 1
    assert ours["shN"]["count"] <= theirs["shN"]["count"]
