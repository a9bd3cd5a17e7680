"""Mapping and export on databases filled by ``pycolmap.synthesize_dataset`` (no images, < 1 s).

Two synthetic scenes share one database without matches between them, so the mapper must build
two models and `largest_model` must keep the bigger; its cameras are compared with the truth.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pycolmap
import pytest

from vantage.capture.sfm import SfmOptions, c2w_opengl_from_cam_from_world
from vantage.capture.sfm.colmap import largest_model, map_reconstructions, quiet_colmap
from vantage.capture.sfm.export import transforms_from_model, write_sparse
from vantage.capture.synthetic import camera_centre_errors
from vantage.errors import JobCancelledError

BIG, SMALL = 8, 4


def _synthesize(database: Path) -> Any:
    """Two disconnected scenes of BIG and SMALL frames; returns the BIG one's ground truth."""
    db = pycolmap.Database.open(str(database))
    try:
        truths = []
        for frames in (BIG, SMALL):
            options = pycolmap.SyntheticDatasetOptions()
            options.num_rigs = 1
            options.num_frames_per_rig = frames
            options.num_points3D = 200
            truths.append(pycolmap.synthesize_dataset(options, db))
    finally:
        db.close()
    return truths[0]


@pytest.fixture
def synthetic_database(tmp_path: Path) -> tuple[Path, Any]:
    database = tmp_path / "work" / "database.db"
    database.parent.mkdir(parents=True)
    with quiet_colmap():
        truth = _synthesize(database)
    return database, truth


def _centres(model: Any, names: list[str]) -> np.ndarray:  # [N, 3]
    by_name = {image.name: image for image in model.images.values() if image.has_pose}
    return np.stack([by_name[name].projection_center() for name in names])


@pytest.mark.parametrize("mapper", ["incremental", "global"])
def test_mapper_builds_both_models_and_the_largest_is_kept(
    synthetic_database: tuple[Path, Any], tmp_path: Path, mapper: str
) -> None:
    database, truth = synthetic_database
    options = SfmOptions(mapper=mapper, random_seed=1)  # type: ignore[arg-type]
    with quiet_colmap():
        models = map_reconstructions(
            database, tmp_path, tmp_path / "models", options, use_gpu=False
        )
    assert sorted(m.num_reg_images() for m in models.values()) == [SMALL, BIG]
    model = largest_model(models)
    assert model is not None
    assert model.num_reg_images() == BIG

    names = sorted(image.name for image in truth.images.values())
    errors = camera_centre_errors(_centres(model, names), _centres(truth, names))
    spread = np.ptp(_centres(truth, names), axis=0).max()
    assert errors.max() < 1e-3 * spread


def test_registration_callback_counts_images(
    synthetic_database: tuple[Path, Any], tmp_path: Path
) -> None:
    database, _ = synthetic_database
    calls: list[int] = []
    with quiet_colmap():
        map_reconstructions(
            database,
            tmp_path,
            tmp_path / "models",
            SfmOptions(random_seed=1),
            use_gpu=False,
            on_registered=lambda: calls.append(1),
        )
    assert 0 < len(calls) <= BIG + SMALL


def test_largest_model_of_nothing_is_none() -> None:
    assert largest_model({}) is None


def test_export_writes_binary_model_and_matching_transforms(
    synthetic_database: tuple[Path, Any], tmp_path: Path
) -> None:
    database, _ = synthetic_database
    with quiet_colmap():
        model = largest_model(
            map_reconstructions(
                database, tmp_path, tmp_path / "models", SfmOptions(random_seed=1), use_gpu=False
            )
        )
    assert model is not None
    out_dir = tmp_path / "out"
    sparse = out_dir / "sparse"
    write_sparse(model, sparse)
    write_sparse(model, sparse)  # replacing an existing model works too
    assert {"cameras.bin", "images.bin", "points3D.bin"} <= {p.name for p in sparse.iterdir()}
    assert [p.name for p in out_dir.iterdir()] == ["sparse"]  # no staging folders left
    reread = pycolmap.Reconstruction(str(sparse))
    assert reread.num_reg_images() == BIG
    assert reread.num_points3D() == model.num_points3D()

    document = json.loads(json.dumps(transforms_from_model(model, out_dir / "frames", out_dir)))
    assert len(document["frames"]) == BIG
    camera = next(iter(model.cameras.values()))
    assert document["fl_x"] == pytest.approx(camera.params[0])
    assert document["k1"] == pytest.approx(camera.params[3])
    for frame in document["frames"]:
        assert frame["file_path"].startswith("frames/")
        image = model.find_image_with_name(frame["file_path"].removeprefix("frames/"))
        c2w = np.array(frame["transform_matrix"])
        np.testing.assert_allclose(c2w[:3, 3], image.projection_center(), atol=1e-9)
        np.testing.assert_allclose(
            c2w, c2w_opengl_from_cam_from_world(image.cam_from_world().matrix())
        )


def test_an_exception_from_the_registration_callback_stops_mapping(
    synthetic_database: tuple[Path, Any], tmp_path: Path
) -> None:
    # The job's progress reporter raises JobCancelledError from inside COLMAP's mapper loop.
    def cancel() -> None:
        raise JobCancelledError(job_id="j1")

    with quiet_colmap(), pytest.raises(JobCancelledError) as caught:
        map_reconstructions(
            synthetic_database[0],
            tmp_path,
            tmp_path / "models",
            SfmOptions(random_seed=1),
            use_gpu=False,
            on_registered=cancel,
        )
    assert caught.value.fields == {"job_id": "j1"}
