"""On a scene trained here: our SOG against splat-transform's SOG of the same PLY.

The issue's bar: ours no larger than theirs (≤ 1.05×) and ≤ 0.5 dB PSNR lost on the held-out
views, rendered with our rasterizer. The scene is trained for a few hundred CPU steps up to SH
degree 1 (so splat-transform's CPU k-means finishes in seconds).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from vantage.capture.compress.encode import HeldOutViews, score
from vantage.capture.compress.sog import read_sog, write_sog
from vantage.capture.compress.splats import read_ply_splats
from vantage.capture.splat.options import DensifyOptions, LearningRates, TrainOptions
from vantage.capture.splat.ply import export_ply
from vantage.capture.splat.synthetic import synthetic_scene
from vantage.capture.splat.train import evaluation_views, train

from .splat_transform import splat_transform

OPTIONS = TrainOptions(
    threads=1,
    iterations=400,
    max_side=None,
    sh_degree=1,
    sh_degree_every=150,
    max_gaussians=4000,
    lr=LearningRates(sh0=5e-3),
    densify=DensifyOptions(refine_start=100, refine_stop=350, refine_every=50),
    device="cpu",
)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, HeldOutViews]:
    scene, _ = synthetic_scene(blobs=600, views=16, width=96, height=72, seed=5)
    result = train(scene, OPTIONS)
    path = tmp_path_factory.mktemp("trained") / "scene.ply"
    export_ply(result.gaussians, path)
    views, background = evaluation_views(scene, OPTIONS)
    return path, HeldOutViews(views, background)


def test_our_sog_is_no_larger_and_loses_little(
    trained: tuple[Path, HeldOutViews], tmp_path: Path
) -> None:
    ply, held_out = trained
    original = read_ply_splats(ply)
    assert original.sh_degree == 1 and len(original) > 600

    ours, theirs = tmp_path / "ours.sog", tmp_path / "theirs.sog"
    write_sog(original, ours)
    splat_transform(ply, theirs)
    assert ours.stat().st_size <= 1.05 * theirs.stat().st_size
    assert ours.stat().st_size < ply.stat().st_size / 3

    reference, _ = score(original, held_out)
    ours_psnr, _ = score(read_sog(ours), held_out)
    theirs_psnr, _ = score(read_sog(theirs), held_out)
    assert reference - ours_psnr <= 0.5, (reference, ours_psnr)
    # And no worse than the reference tool's own file, within a tenth of a dB.
    assert ours_psnr >= theirs_psnr - 0.1, (ours_psnr, theirs_psnr)
