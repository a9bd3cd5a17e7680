"""`vantage compress`: a trained-scene PLY into SOG, SPZ and compressed PLY; bad input refused."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial import cKDTree

from vantage.capture.compress.encode import read_scene
from vantage.capture.compress.splats import read_ply_splats
from vantage.capture.splat.ply import export_ply
from vantage.capture.splat.synthetic import blob_gaussians


def _vantage(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vantage", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def scene_ply(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("scene") / "scene.ply"
    gaussians = blob_gaussians(3000, seed=4, sh_degree=1)
    with np.errstate(all="ignore"):
        gaussians.params["shN"].data.normal_(0.0, 0.05)  # real colour in band 1
    export_ply(gaussians, path)
    return path


def test_compress_writes_every_format_it_is_asked_for(scene_ply: Path, tmp_path: Path) -> None:
    outputs = [tmp_path / "a.sog", tmp_path / "a.spz", tmp_path / "a.compressed.ply"]
    result = _vantage("compress", str(scene_ply), *(f"-o{path}" for path in outputs))
    assert result.returncode == 0, result.stderr
    original = read_ply_splats(scene_ply)
    for path in outputs:
        assert path.stat().st_size < scene_ply.stat().st_size / 3, path
        assert path.name in result.stdout
        decoded = read_scene(path)
        assert len(decoded) == len(original)
        # Every format keeps the positions to well within a Gaussian's size (0.1 to 0.2).
        distances, _ = cKDTree(original.means).query(decoded.means)
        assert distances.max() < 0.01, path


@pytest.mark.parametrize(
    ("source", "target", "message"),
    [
        ("scene", "out.png", "must end in .sog, .spz or .compressed.ply"),
        ("missing", "out.sog", "no such file"),
        ("text", "out.sog", "ply"),
    ],
)
def test_bad_input_is_one_line_and_a_nonzero_exit(
    scene_ply: Path, tmp_path: Path, source: str, target: str, message: str
) -> None:
    text = tmp_path / "notes.ply"
    text.write_text("these are not Gaussians\n")
    paths = {"scene": scene_ply, "missing": tmp_path / "nope.ply", "text": text}
    result = _vantage("compress", str(paths[source]), "-o", str(tmp_path / target))
    assert result.returncode == 65, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    assert message in lines[0].lower()
    assert not (tmp_path / target).exists()


def test_a_smaller_sh_palette_makes_a_smaller_sog(scene_ply: Path, tmp_path: Path) -> None:
    default, small = tmp_path / "default.sog", tmp_path / "small.sog"
    assert _vantage("compress", str(scene_ply), "-o", str(default)).returncode == 0
    result = _vantage("compress", str(scene_ply), "-o", str(small), "--sh-palette", "64")
    assert result.returncode == 0, result.stderr
    with zipfile.ZipFile(small) as bundle:
        meta = json.loads(bundle.read("meta.json"))
    assert meta["shN"]["count"] <= 64
    assert small.stat().st_size < default.stat().st_size
    assert read_scene(small).sh_degree == 1


def test_an_out_of_range_sh_palette_is_refused_before_any_work(
    scene_ply: Path, tmp_path: Path
) -> None:
    target = tmp_path / "out.sog"
    result = _vantage("compress", str(scene_ply), "-o", str(target), "--sh-palette", "70000")
    assert result.returncode == 65, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "palette size must be 0 to 65536" in lines[0], result.stderr
    assert not target.exists()
