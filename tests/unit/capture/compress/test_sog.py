"""SOG v2 writer and reader: round trips within the format's error bounds, layouts, bad input."""

from __future__ import annotations

import json
import math
import zipfile
from pathlib import Path

import numpy as np
import pytest

from vantage.capture.compress import sog_textures as tex
from vantage.capture.compress.morton import morton_order
from vantage.capture.compress.sog import SogOptions, SogStats, read_sog, write_sog
from vantage.capture.compress.splats import Splats
from vantage.errors import InvalidInputError

Array = np.ndarray


def random_splats(count: int, degree: int, seed: int = 0) -> Splats:
    """Gaussians spread over a few scales of distance, with every attribute random."""
    rng = np.random.default_rng(seed)
    rest = (degree + 1) ** 2 - 1
    f32 = np.float32
    return Splats(
        means=(rng.standard_normal((count, 3)) * rng.choice([0.3, 3.0, 30.0], (count, 1))).astype(
            f32
        ),
        scales=(rng.standard_normal((count, 3)) - 4.0).astype(f32),
        quats=rng.standard_normal((count, 4)).astype(f32),
        opacities=(rng.standard_normal(count) * 2.0).astype(f32),
        sh0=rng.standard_normal((count, 3)).astype(f32),
        shN=(rng.standard_normal((count, rest, 3)) * 0.2).astype(f32),
    )


def stored_order(splats: Splats) -> Array:
    """Where each stored Gaussian came from: the Z-order of the quantised positions."""
    return morton_order(tex.quantise_means(splats.means).grid)


def sign_fixed_unit(quats: Array) -> Array:
    q = quats.astype(np.float64) / np.linalg.norm(quats, axis=1, keepdims=True)
    largest = np.argmax(np.abs(q), axis=1)
    return q * np.where(q[np.arange(len(q)), largest] < 0, -1.0, 1.0)[:, None]


def assert_nearest_entries(decoded: Array, original: Array) -> None:
    """Each decoded value is the codebook entry nearest its original (the codebook being the set
    of decoded values), and the codebook spends its entries well (small RMS error)."""
    codebook = np.unique(decoded)
    assert codebook.size <= 256
    nearest = np.abs(original.reshape(-1, 1) - codebook[None, :]).min(axis=1)
    error = np.abs(decoded - original).reshape(-1)
    np.testing.assert_array_less(error, nearest + 1e-6)
    assert math.sqrt(float(np.mean(error**2))) < 0.02 * float(np.std(original))


def assert_round_trip(
    original: Splats, restored: Splats, palette_nearest: bool, max_residual: float
) -> None:
    order = stored_order(original)
    source = original.take(order)
    assert len(restored) == len(original)
    # positions: half a step of the 16-bit grid in log space
    span = tex.log_transform(source.means).max(axis=0) - tex.log_transform(source.means).min(0)
    log_error = np.abs(tex.log_transform(restored.means) - tex.log_transform(source.means))
    np.testing.assert_array_less(
        log_error, np.broadcast_to(0.5 * span / 65535 + 1e-6, log_error.shape)
    )
    # rotations: the three stored components lose at most half a byte step, 1 / (255·√2)
    want, got = sign_fixed_unit(source.quats), restored.quats.astype(np.float64)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    largest = np.argmax(np.abs(want), axis=1)
    rows = np.arange(len(want))
    small = np.ones_like(want, dtype=bool)
    small[rows, largest] = False
    assert np.abs(got[small] - want[small]).max() <= 1 / (255 * math.sqrt(2)) + 1e-6
    assert np.abs(got[rows, largest] - want[rows, largest]).max() < 1e-2
    assert_nearest_entries(restored.scales, source.scales)
    assert_nearest_entries(restored.sh0, source.sh0)
    alpha = 1 / (1 + np.exp(-source.opacities.astype(np.float64)))
    restored_alpha = 1 / (1 + np.exp(-restored.opacities.astype(np.float64)))
    assert np.abs(restored_alpha - alpha).max() <= 0.5 / 255 + 1e-6
    assert restored.sh_degree == original.sh_degree
    if original.sh_degree == 0:
        return
    flat_restored = restored.shN.reshape(len(restored), -1)
    flat_source = source.shN.reshape(len(source), -1)
    own = ((flat_source - flat_restored) ** 2).sum(-1)  # [N]
    if palette_nearest:
        palette = np.unique(flat_restored, axis=0)  # [P, D]
        for start in range(0, len(flat_source), 256):
            block = flat_source[start : start + 256]
            distances = ((block[:, None, :] - palette[None, :, :]) ** 2).sum(-1)  # [B, P]
            np.testing.assert_array_less(own[start : start + 256], distances.min(axis=1) + 1e-6)
    residual = own.mean() / ((flat_source - flat_source.mean(0)) ** 2).sum(-1).mean()
    assert residual < max_residual  # share of the variance the palette does not explain


@pytest.mark.parametrize("degree", [0, 1, 3])
def test_bundle_round_trip_is_within_the_format_bounds(tmp_path: Path, degree: int) -> None:
    splats = random_splats(5000, degree, seed=degree)
    stats = write_sog(splats, tmp_path / "scene.sog")
    restored = read_sog(tmp_path / "scene.sog")
    assert_round_trip(splats, restored, palette_nearest=False, max_residual=0.3)
    assert stats.count == 5000
    assert stats.sh_degree == degree
    assert stats.bytes == (tmp_path / "scene.sog").stat().st_size
    assert stats.palette_size == (0 if degree == 0 else tex.default_palette_size(5000))
    assert stats.seconds > 0


def test_a_small_palette_labels_each_gaussian_with_its_nearest_entry(tmp_path: Path) -> None:
    splats = random_splats(3000, 2, seed=7)
    stats = write_sog(splats, tmp_path / "scene.sog", SogOptions(sh_palette_size=256))
    restored = read_sog(tmp_path / "scene.sog")
    assert stats.palette_size <= 256
    assert_round_trip(splats, restored, palette_nearest=True, max_residual=0.8)


def test_the_folder_layout_holds_the_same_scene_as_the_bundle(tmp_path: Path) -> None:
    splats = random_splats(1500, 1)
    bundle = write_sog(splats, tmp_path / "scene.sog")
    folder = write_sog(splats, tmp_path / "scene" / "meta.json")
    names = sorted(p.name for p in (tmp_path / "scene").iterdir())
    assert names == sorted(
        [
            "meta.json",
            "means_l.webp",
            "means_u.webp",
            "quats.webp",
            "scales.webp",
            "sh0.webp",
            "shN_centroids.webp",
            "shN_labels.webp",
        ]
    )
    assert folder.bytes == sum(p.stat().st_size for p in (tmp_path / "scene").iterdir())
    assert abs(bundle.bytes - folder.bytes) < 2000  # the ZIP headers
    from_bundle = read_sog(tmp_path / "scene.sog")
    from_folder = read_sog(tmp_path / "scene" / "meta.json")
    for name in ("means", "scales", "quats", "opacities", "sh0", "shN"):
        np.testing.assert_array_equal(getattr(from_bundle, name), getattr(from_folder, name))


def test_the_bundle_and_meta_follow_splat_transform(tmp_path: Path) -> None:
    splats = random_splats(1000, 3)
    write_sog(splats, tmp_path / "scene.sog")
    with zipfile.ZipFile(tmp_path / "scene.sog") as archive:
        infos = {info.filename: info for info in archive.infolist()}
        meta = json.loads(archive.read("meta.json"))
    assert all(info.compress_type == zipfile.ZIP_STORED for info in infos.values())
    assert meta["version"] == 2
    assert meta["count"] == 1000
    assert len(meta["scales"]["codebook"]) == 256
    assert len(meta["sh0"]["codebook"]) == 256
    assert meta["shN"]["bands"] == 3
    assert len(meta["shN"]["codebook"]) == 256
    assert 1 <= meta["shN"]["count"] <= tex.default_palette_size(1000)
    assert meta["means"]["files"] == ["means_l.webp", "means_u.webp"]
    assert set(infos) == {
        "meta.json",
        *(f for k in meta.values() if isinstance(k, dict) for f in k.get("files", [])),
    }


def test_texture_sizes_match_splat_transform() -> None:
    assert tex.texture_size(1) == (4, 4)
    assert tex.texture_size(5000) == (72, 72)
    assert tex.texture_size(20000) == (144, 140)
    for count in (1, 17, 1000, 4097, 123457):
        width, height = tex.texture_size(count)
        assert width % 4 == 0 and height % 4 == 0 and width * height >= count


def test_default_palette_sizes_match_splat_transform() -> None:
    assert tex.default_palette_size(500) == 256
    assert tex.default_palette_size(2000) == 1024
    assert tex.default_palette_size(20000) == 16384
    assert tex.default_palette_size(1_000_000) == 65536


def test_palette_size_zero_drops_the_higher_coefficients(tmp_path: Path) -> None:
    stats = write_sog(random_splats(800, 3), tmp_path / "a.sog", SogOptions(sh_palette_size=0))
    restored = read_sog(tmp_path / "a.sog")
    assert (stats.sh_degree, stats.palette_size) == (0, 0)
    assert restored.shN.shape == (800, 0, 3)


def test_writing_is_deterministic_for_a_seed(tmp_path: Path) -> None:
    splats = random_splats(1200, 2)
    write_sog(splats, tmp_path / "a.sog", SogOptions(seed=3))
    write_sog(splats, tmp_path / "b.sog", SogOptions(seed=3))
    assert (tmp_path / "a.sog").read_bytes() == (tmp_path / "b.sog").read_bytes()


def test_progress_rises_to_one_and_no_temp_files_remain(tmp_path: Path) -> None:
    seen: list[float] = []
    write_sog(random_splats(600, 1), tmp_path / "a.sog", progress=lambda f, _m: seen.append(f))
    assert seen == sorted(seen)
    assert seen[0] == 0.0 and seen[-1] == 1.0
    assert [p.name for p in tmp_path.iterdir()] == ["a.sog"]


def test_degenerate_inputs_still_round_trip(tmp_path: Path) -> None:
    # one Gaussian; a zero quaternion; every position on one plane; one colour everywhere
    splats = random_splats(7, 1)
    quats = splats.quats.copy()
    quats[0] = 0.0
    means = splats.means.copy()
    means[:, 2] = 1.5
    flat = Splats(
        means, splats.scales, quats, splats.opacities, np.ones_like(splats.sh0), splats.shN
    )
    write_sog(flat, tmp_path / "a.sog")
    restored = read_sog(tmp_path / "a.sog")
    np.testing.assert_allclose(restored.means[:, 2], 1.5, rtol=1e-6)
    np.testing.assert_allclose(restored.sh0, 1.0)
    # 0 is half a byte step off the grid: the identity comes back within 1 / (255·√2)
    assert any(np.allclose(q, [1, 0, 0, 0], atol=3e-3) for q in restored.quats)
    silent = Splats(
        means, splats.scales, splats.quats, splats.opacities, splats.sh0, np.zeros_like(splats.shN)
    )
    stats = write_sog(silent, tmp_path / "silent.sog")
    assert stats.palette_size == 1
    np.testing.assert_array_equal(read_sog(tmp_path / "silent.sog").shN, 0.0)
    one = random_splats(1, 2)
    write_sog(one, tmp_path / "one.sog")
    np.testing.assert_allclose(read_sog(tmp_path / "one.sog").means, one.means, rtol=1e-4)


# --- bad input -------------------------------------------------------------------------------


def _rewrite_meta(bundle: Path, edit: dict[str, object] | None, drop: str | None = None) -> None:
    with zipfile.ZipFile(bundle) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    meta = json.loads(members["meta.json"])
    if edit is not None:
        meta.update(edit)
        meta = {k: v for k, v in meta.items() if v is not None}
    members["meta.json"] = json.dumps(meta).encode()
    if drop:
        del members[drop]
    with zipfile.ZipFile(bundle, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    path = tmp_path / "scene.sog"
    write_sog(random_splats(300, 1), path)
    return path


def test_a_text_file_is_not_a_bundle(tmp_path: Path) -> None:
    (tmp_path / "notes.sog").write_text("hello")
    with pytest.raises(InvalidInputError, match="not a ZIP"):
        read_sog(tmp_path / "notes.sog")


def test_a_missing_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="no SOG file"):
        read_sog(tmp_path / "absent.sog")


def test_a_zip_without_meta_is_rejected(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "a.sog", "w") as archive:
        archive.writestr("readme.txt", "hi")
    with pytest.raises(InvalidInputError, match=r"no meta\.json"):
        read_sog(tmp_path / "a.sog")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ({"version": None}, "version 1"),
        ({"version": 3}, "unsupported SOG version 3"),
        ({"count": "many"}, "count"),
        ({"scales": {"files": ["scales.webp"]}}, "scales.codebook"),
        ({"count": 10_000}, "texels for 10000"),
        ({"quats": {"files": ["../quats.webp"]}}, "bare names"),
    ],
)
def test_bad_meta_is_rejected(bundle: Path, edit: dict[str, object], message: str) -> None:
    _rewrite_meta(bundle, edit)
    with pytest.raises(InvalidInputError, match=message):
        read_sog(bundle)


def test_meta_that_is_not_json_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "meta.json").write_text("{not json")
    with pytest.raises(InvalidInputError, match="not JSON"):
        read_sog(tmp_path / "meta.json")


def test_a_missing_image_is_rejected_in_both_layouts(bundle: Path, tmp_path: Path) -> None:
    _rewrite_meta(bundle, {}, drop="sh0.webp")
    with pytest.raises(InvalidInputError, match=r"sh0\.webp is missing"):
        read_sog(bundle)
    write_sog(random_splats(300, 0), tmp_path / "folder" / "meta.json")
    (tmp_path / "folder" / "quats.webp").unlink()
    with pytest.raises(InvalidInputError, match=r"quats\.webp is missing"):
        read_sog(tmp_path / "folder" / "meta.json")


def test_a_corrupt_image_is_rejected(tmp_path: Path) -> None:
    write_sog(random_splats(300, 1), tmp_path / "meta.json")
    data = (tmp_path / "scales.webp").read_bytes()
    (tmp_path / "scales.webp").write_bytes(data[:40] + bytes(len(data) - 40))
    with pytest.raises(InvalidInputError, match=r"scales\.webp is not a readable WebP"):
        read_sog(tmp_path / "meta.json")


def test_writing_rejects_bad_paths_options_and_values(tmp_path: Path) -> None:
    splats = random_splats(50, 1)
    with pytest.raises(InvalidInputError, match=r"ends in \.sog"):
        write_sog(splats, tmp_path / "scene.zip")
    with pytest.raises(InvalidInputError, match="palette size must be 0 to 65536"):
        write_sog(splats, tmp_path / "a.sog", SogOptions(sh_palette_size=70_000))
    with pytest.raises(InvalidInputError, match="empty"):
        write_sog(splats.take(np.zeros(0, dtype=np.int64)), tmp_path / "a.sog")
    means = splats.means.copy()
    means[3, 1] = np.nan
    broken = Splats(means, splats.scales, splats.quats, splats.opacities, splats.sh0, splats.shN)
    with pytest.raises(InvalidInputError, match="means holds NaN"):
        write_sog(broken, tmp_path / "a.sog")
    assert not list(tmp_path.iterdir())


def test_stats_are_a_frozen_record() -> None:
    stats = SogStats(bytes=1, count=1, sh_degree=0, palette_size=0, seconds=0.1)
    with pytest.raises(AttributeError):
        stats.count = 2  # type: ignore[misc]
