"""Compressed scene formats side by side: our codecs against splat-transform's, size and fidelity.

Two scenes: "trained", a small scene trained here on the CPU (`synthetic_scene` blobs, a few
hundred steps up to SH degree 3), or the 3DGS PLY given with ``--ply``; and "large", a synthetic
scene of ``--large-count`` Gaussians (default 1,000,000) with SH degree 3: clustered positions,
log scales ~ N(−4, 0.5), random rotations, a tenth nearly transparent, smooth colours and small
SH coefficients that decay with the band.

Each scene is encoded as is and after `reduce_splats` (default options) by our SPZ (v3), SOG
and compressed PLY and by splat-transform's (SPZ v3; v4, its default, for size only: decoding it
needs zstd; SOG with ``-g cpu``; compressed PLY). splat-transform reads the scene's 3DGS PLY, and
its times include Node start-up and that read (≈ 0.1–2 s). Each file is decoded with our readers
and rendered with our CPU rasterizer from ``--views`` cameras on a ring around the scene at
``--width`` × ``--height``; the PSNR is against the renders of the original (unreduced) scene, so
the reduced rows include what the reduction costs. Beyond ``--psnr-max-count`` Gaussians (the
large scene) the PSNR is measured on a fixed random subset of that many, each decoded scene
matched to it by nearest position (see `Fidelity`). Ratios: PLY size / file size, and ours /
theirs per format for size and encode time.

    .venv/bin/python bench/compress_formats.py [--ply scene.ply] [--large-count 1000000]
        [--transform-timeout 600] [--formats spz,sog,cply] [--views 4] [--width 160 --height 120]
        [--psnr-max-count 100000] [--skip-trained] [--skip-large] [--steps 400]
"""

from __future__ import annotations

import argparse
import math
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from scipy.spatial import cKDTree

from vantage.capture.compress.compressed_ply import read_compressed_ply, write_compressed_ply
from vantage.capture.compress.reduce import reduce_splats, scene_extent
from vantage.capture.compress.splats import (
    Splats,
    read_ply_splats,
    splats_from_gaussians,
    splats_to_gaussians,
    write_ply_splats,
)
from vantage.capture.compress.spz import read_spz, write_spz
from vantage.capture.splat.backend import CpuRasterizer
from vantage.capture.splat.camera import SplatCamera, intrinsics, look_at
from vantage.capture.splat.metrics import psnr

CLI = Path(__file__).resolve().parents[1] / "webui" / "node_modules" / ".bin" / "splat-transform"
SH_C0 = 0.28209479177387814


@dataclass(frozen=True)
class Codec:
    """One way to write a scene and read it back."""

    format: str  # "spz", "sog", "cply"
    impl: str  # "ours" or "splat-transform"
    suffix: str
    args: tuple[str, ...] = ()  # splat-transform options
    decodable: bool = True


CODECS = [
    Codec("spz", "ours", ".spz"),
    Codec("spz", "splat-transform", ".spz", ("--spz-version", "3")),
    Codec("spz v4", "splat-transform", ".v4.spz", (), decodable=False),
    Codec("sog", "ours", ".sog"),
    Codec("sog", "splat-transform", ".sog", ("-g", "cpu")),
    Codec("cply", "ours", ".compressed.ply"),
    Codec("cply", "splat-transform", ".compressed.ply"),
]


@dataclass
class Row:
    scene: str
    reduced: bool
    codec: Codec
    seconds: float | None = None
    size: int | None = None
    psnr_db: float | None = None
    note: str = ""


def write_ours(codec: Codec, splats: Splats, path: Path) -> None:
    if codec.format == "spz":
        write_spz(splats, path)
    elif codec.format == "cply":
        write_compressed_ply(splats, path)
    else:
        from vantage.capture.compress.sog import write_sog  # another codec, imported lazily

        write_sog(splats, path)


def read_any(codec: Codec, path: Path) -> Splats:
    if codec.format == "spz":
        return read_spz(path)
    if codec.format == "cply":
        return read_compressed_ply(path)
    from vantage.capture.compress.sog import read_sog

    return read_sog(path)


def run_transform(codec: Codec, ply: Path, out: Path, timeout_s: float) -> None:
    subprocess.run(
        [str(CLI), "-q", "-w", *codec.args, str(ply), str(out)],
        check=True,
        capture_output=True,
        timeout=timeout_s,
    )


def ring_around(splats: Splats, views: int, width: int, height: int) -> list[SplatCamera]:
    """``views`` cameras on a ring around the scene's central box, looking at its centre."""
    low, high = np.percentile(splats.means.astype(np.float64), (2.0, 98.0), axis=0)
    center = (low + high) / 2.0
    radius = 1.6 * float(np.linalg.norm(high - low)) / 2.0
    cameras = []
    for index in range(views):
        angle = 2.0 * math.pi * index / views
        eye = center + radius * np.array([math.cos(angle), math.sin(angle), 0.4])
        cameras.append(
            SplatCamera.from_numpy(
                intrinsics(width, width, height), look_at(eye, center), width, height
            )
        )
    return cameras


@torch.no_grad()
def render(splats: Splats, cameras: list[SplatCamera]) -> torch.Tensor:
    """The views side by side [H, W · views, 3], clamped to 0..1."""
    gaussians = splats_to_gaussians(splats)
    rasterizer = CpuRasterizer(tile_size=8)
    background = torch.zeros(3)
    images = [
        rasterizer.render(gaussians, camera, splats.sh_degree, background)[0] for camera in cameras
    ]
    return torch.cat(images, dim=1).clamp(0.0, 1.0)


def trained_scene(steps: int) -> Splats:
    """A small scene trained on the CPU from rendered blob views (a minute or so)."""
    from vantage.capture.splat.options import TrainOptions
    from vantage.capture.splat.synthetic import synthetic_scene
    from vantage.capture.splat.train import train

    scene, _ = synthetic_scene(blobs=1500, views=16, width=160, height=120)
    options = TrainOptions(
        iterations=steps,
        sh_degree=3,
        sh_degree_every=max(1, steps // 4),
        max_side=None,
        device="cpu",
    )
    result = train(scene, options)
    print(
        f"trained {result.gaussian_count} Gaussians in {result.seconds:.0f} s, "
        f"held-out PSNR {result.psnr_test:.1f} dB"
    )
    return splats_from_gaussians(result.gaussians)


def large_scene(count: int, seed: int = 0) -> Splats:
    """``count`` plausible Gaussians with SH degree 3 (see the module docstring)."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-1.5, 1.5, (400, 3)) * np.array([1.0, 1.0, 0.5])
    cluster = rng.integers(0, len(centres), count)
    means = centres[cluster] + rng.normal(0.0, 0.12, (count, 3))
    quats = rng.normal(size=(count, 4))
    quats /= np.linalg.norm(quats, axis=1, keepdims=True)
    opacities = np.where(
        rng.random(count) < 0.1, rng.normal(-8.0, 1.5, count), rng.normal(1.5, 1.5, count)
    )
    colors = 0.5 + 0.4 * np.sin(np.array([1.7, 2.3, 2.9]) * means + np.array([0.0, 1.0, 2.0]))
    sh0 = (colors - 0.5) / SH_C0 + rng.normal(0.0, 0.1, (count, 3))
    band_std = np.repeat([0.06, 0.02, 0.004], [3, 5, 7])[None, :, None]
    return Splats(
        means=means.astype(np.float32),
        scales=rng.normal(-4.0, 0.5, (count, 3)).astype(np.float32),
        quats=quats.astype(np.float32),
        opacities=opacities.astype(np.float32),
        sh0=sh0.astype(np.float32),
        shN=(rng.normal(0.0, 1.0, (count, 15, 3)) * band_std).astype(np.float32),
    )


def measure(
    row: Row,
    splats: Splats,
    ply: Path,
    folder: Path,
    fidelity: Callable[[Splats], float],
    timeout_s: float,
) -> None:
    """Fill ``row``: write ``splats`` with its codec, time it, decode and score the file."""
    codec = row.codec
    out = folder / f"{codec.impl}-{codec.format.replace(' ', '')}{codec.suffix}"
    started = time.perf_counter()
    try:
        if codec.impl == "ours":
            write_ours(codec, splats, out)
        else:
            run_transform(codec, ply, out, timeout_s)
    except subprocess.TimeoutExpired:
        row.note = f"timed out after {timeout_s:.0f} s"
        return
    except (ImportError, subprocess.CalledProcessError, OSError) as exc:
        row.note = f"failed: {type(exc).__name__}"
        return
    row.seconds = time.perf_counter() - started
    row.size = out.stat().st_size
    if not codec.decodable:
        row.note = "size only (zstd)"
        return
    try:
        row.psnr_db = fidelity(read_any(codec, out))
    except ImportError as exc:
        row.note = f"not decoded: {exc}"


class Fidelity:
    """PSNR of a decoded scene's renders against the original's, on a subset for large scenes.

    With more than ``max_count`` Gaussians only a fixed random subset of the original is
    rendered, and each decoded scene contributes the Gaussians nearest to that subset's (codecs
    reorder them); a match farther than ``match_tolerance`` × the scene extent counts as
    pruned, so reductions are not mistaken for their neighbours.
    """

    def __init__(self, scene: Splats, cameras: list[SplatCamera], max_count: int) -> None:
        self.cameras = cameras
        self.subset = None
        self.reference = scene
        if len(scene) > max_count:
            rng = np.random.default_rng(0)
            self.subset = np.sort(rng.choice(len(scene), max_count, replace=False))
            self.reference = scene.take(self.subset)
        self.tolerance = 5e-4 * scene_extent(scene.means)
        self.original = render(self.reference, cameras)

    def __call__(self, decoded: Splats) -> float:
        if self.subset is not None:
            distance, nearest = cKDTree(decoded.means).query(self.reference.means)
            decoded = decoded.take(nearest[distance <= self.tolerance])
        return psnr(render(decoded, self.cameras), self.original)


def bench_scene(name: str, scene: Splats, args: argparse.Namespace, rows: list[Row]) -> int:
    """Rows for ``scene`` as is and reduced; returns the size of its PLY."""
    cameras = ring_around(scene, args.views, args.width, args.height)
    started = time.perf_counter()
    fidelity = Fidelity(scene, cameras, args.psnr_max_count)
    subset = "" if fidelity.subset is None else f" (PSNR on a {len(fidelity.subset)} subset)"
    print(
        f"{name}: {len(scene)} Gaussians, SH degree {scene.sh_degree}, extent "
        f"{scene_extent(scene.means):.2f}; rendering {args.views} views took "
        f"{time.perf_counter() - started:.1f} s{subset}"
    )

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        ply_size = 0
        for reduced in (False, True):
            splats = scene
            if reduced:
                started = time.perf_counter()
                splats, report = reduce_splats(scene)
                print(
                    f"  reduce_splats ({time.perf_counter() - started:.2f} s): {report.to_dict()}"
                )
            ply = folder / ("reduced.ply" if reduced else "scene.ply")
            write_ply_splats(splats, ply)
            ply_size = ply_size or ply.stat().st_size
            for codec in CODECS:
                if codec.format.split()[0] not in args.formats:
                    continue
                row = Row(name, reduced, codec)
                measure(row, splats, ply, folder, fidelity, args.transform_timeout)
                rows.append(row)
                label = f"{'reduced ' if reduced else ''}{codec.format} {codec.impl}"
                print(f"  {label}: {format_row(row, ply_size)}", flush=True)
    return ply_size


def format_row(row: Row, ply_size: int) -> str:
    if row.size is None or row.seconds is None:
        return row.note
    quality = "—" if row.psnr_db is None else f"{row.psnr_db:.2f} dB"
    ratio = ply_size / row.size
    text = f"{row.seconds:7.2f} s  {row.size / 1e6:8.3f} MB  {ratio:6.1f}×  PSNR {quality}"
    return f"{text}  {row.note}".rstrip()


def print_table(header: list[str], lines: list[list[str]]) -> None:
    print("\n| " + " | ".join(header) + " |")
    print("|" + " --- |" * len(header))
    for line in lines:
        print("| " + " | ".join(line) + " |")


def print_tables(rows: list[Row], ply_sizes: dict[str, int]) -> None:
    lines = []
    for row in rows:
        cells = [row.scene, "yes" if row.reduced else "no", row.codec.format, row.codec.impl]
        if row.size is None or row.seconds is None:
            cells += ["—", "—", "—", row.note]
        else:
            quality = "—" if row.psnr_db is None else f"{row.psnr_db:.2f}"
            cells += [
                f"{row.seconds:.2f}",
                f"{row.size / 1e6:.3f}",
                f"{ply_sizes[row.scene] / row.size:.1f}×",
                f"{quality} {row.note}".strip(),
            ]
        lines.append(cells)
    print_table(
        ["scene", "reduced", "format", "impl", "encode s", "size MB", "PLY / size", "PSNR dB"],
        lines,
    )
    lines = []
    for ours in rows:
        theirs = next((r for r in rows if _pair(ours, r)), None)
        if theirs is None or None in (ours.size, theirs.size, ours.seconds, theirs.seconds):
            continue
        assert ours.size and theirs.size and ours.seconds and theirs.seconds
        gap = "—"
        if ours.psnr_db is not None and theirs.psnr_db is not None:
            gap = f"{ours.psnr_db - theirs.psnr_db:+.2f}"
        lines.append(
            [
                ours.scene,
                "yes" if ours.reduced else "no",
                ours.codec.format,
                f"{ours.size / theirs.size:.3f}",
                f"{ours.seconds / theirs.seconds:.2f}",
                gap,
            ]
        )
    print_table(
        ["scene", "reduced", "format", "size ours/theirs", "time ours/theirs", "PSNR ours−theirs"],
        lines,
    )


def _pair(ours: Row, other: Row) -> bool:
    """``other`` is splat-transform's row for the same scene, reduction and format as ``ours``."""
    return (
        ours.codec.impl == "ours"
        and other.codec.impl != "ours"
        and (other.scene, other.reduced, other.codec.format)
        == (ours.scene, ours.reduced, ours.codec.format)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ply", type=Path, help="use this 3DGS PLY as the trained scene")
    parser.add_argument("--steps", type=int, default=400, help="training steps of the small scene")
    parser.add_argument("--large-count", type=int, default=1_000_000)
    parser.add_argument("--transform-timeout", type=float, default=600.0, help="seconds")
    parser.add_argument("--formats", default="spz,sog,cply")
    parser.add_argument("--views", type=int, default=4)
    parser.add_argument(
        "--psnr-max-count", type=int, default=100_000, help="render a subset beyond this count"
    )
    parser.add_argument("--width", type=int, default=160)
    parser.add_argument("--height", type=int, default=120)
    parser.add_argument("--skip-trained", action="store_true")
    parser.add_argument("--skip-large", action="store_true")
    args = parser.parse_args()
    args.formats = set(args.formats.split(","))
    if not CLI.exists():
        parser.error(f"{CLI} is missing: run `make setup`")
    rows: list[Row] = []
    ply_sizes: dict[str, int] = {}
    if not args.skip_trained:
        scene = read_ply_splats(args.ply) if args.ply else trained_scene(args.steps)
        ply_sizes["trained"] = bench_scene("trained", scene, args, rows)
    if not args.skip_large:
        ply_sizes["large"] = bench_scene("large", large_scene(args.large_count), args, rows)
    print_tables(rows, ply_sizes)


if __name__ == "__main__":
    main()
