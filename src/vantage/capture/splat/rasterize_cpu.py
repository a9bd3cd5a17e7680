"""Our differentiable tile rasterizer in pure PyTorch: fast enough to train splats on a CPU.

Layout (measured fastest on CPU, see FACTS.md): the image is cut into square tiles; every visible
Gaussian is listed in each tile its alpha ≥ 1/255 box touches, pairs that reach 1/255 at no pixel
centre of their tile are dropped, lists are depth-sorted, and tiles with lists of similar length
are evaluated together as padded ``[tiles, K, pixels]`` tensors. Within a group the log-alpha of
every (Gaussian, pixel) pair is one matmul of per-pair quadratic coefficients (in tile-centred
coordinates, so the expansion keeps float32 precision) with a fixed pixel basis; compositing
(`composite`) uses ``cumprod`` for the transmittance and a hand-written backward pass.
Per-Gaussian and per-pair quantities are kept as rows over N or M ([6, M] …): CPU kernels are
several times faster on long rows than on [M, 6], and ``index_select`` several times faster
than indexing with ``[]``.

Semantics match 3DGS / gsplat's CUDA kernel: alpha = min(0.99, o · exp(-½ dᵀ Σ'⁻¹ d)), pairs with
alpha < 1/255 are skipped, colour = Σ αᵢ Tᵢ cᵢ + T_N · background, pixel centres at +0.5.
``rasterize_dense`` evaluates the same model without tiles and is what the tests compare against.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from vantage.capture.splat.camera import SplatCamera
from vantage.capture.splat.composite import composite
from vantage.capture.splat.projection import ALPHA_MIN, project
from vantage.errors import InvalidInputError

TILE_SIZES = (4, 8, 16)
#: Groups smaller than this many (pair × pixel) elements are merged into the next longer one:
#: the padding costs less than another round of small tensor ops.
MIN_GROUP_ELEMENTS = 1 << 15


@dataclass(frozen=True)
class TileLists:
    """Which Gaussians each tile composites, front to back (no gradients)."""

    entries: Tensor  # [M] Gaussian ids, grouped by tile, nearest first within a tile
    tiles: Tensor  # [M] the tile of each entry (non-decreasing), int64
    starts: Tensor  # [n_tiles] first entry of each tile
    counts: Tensor  # [n_tiles] entries per tile


def _group_levels(limit: int) -> list[int]:
    """Padded list lengths: 1..8 then four steps per doubling (×1.25 … ×2)."""
    levels = [1, 2, 3, 4, 5, 6, 7, 8]
    base = 8
    while levels[-1] < limit:
        levels += [base * 5 // 4, base * 3 // 2, base * 7 // 4, base * 2]
        base *= 2
    return levels


def bin_tiles(
    ids: Tensor,
    means2d: Tensor,
    extents: Tensor,
    depths: Tensor,
    tile_size: int,
    tiles_x: int,
    tiles_y: int,
) -> TileLists:
    """Depth-sorted per-tile lists of the Gaussians whose boxes touch each tile.

    Args:
        ids: [V] ids of the visible Gaussians.
        means2d: [2, V] their centres in pixels.
        extents: [2, V] half sizes of their boxes in pixels.
        depths: [V] their camera-space depths.
        tile_size: tile edge in pixels.
        tiles_x: tiles per row.
        tiles_y: tile rows.
    """
    with torch.no_grad():
        device = means2d.device
        # Positive floats order like their bit patterns, and integer sorts are radix sorts:
        # 8× faster than sorting the floats. (Gathers use index_select: 3-5× faster than [].)
        near_first = torch.argsort(depths.float().view(torch.int32), stable=True)
        ids = torch.index_select(ids, 0, near_first)
        centre = torch.index_select(means2d, 1, near_first)
        extent = torch.index_select(extents, 1, near_first)
        # Tile indices stay in float32 (exact below 2²⁴): integer division is not vectorised.
        lo = torch.floor((centre - extent) / tile_size)
        hi = torch.floor((centre + extent) / tile_size)
        x0 = lo[0].clamp(0, tiles_x - 1)
        y0 = lo[1].clamp(0, tiles_y - 1)
        span_x = hi[0].clamp(0, tiles_x - 1) - x0 + 1
        per_gaussian = (span_x * (hi[1].clamp(0, tiles_y - 1) - y0 + 1)).long()  # [V]
        owner = torch.repeat_interleave(
            torch.arange(len(ids), device=device), per_gaussian
        )  # [M], in depth order
        first = torch.cumsum(per_gaussian, 0) - per_gaussian
        local = torch.arange(len(owner), device=device) - torch.index_select(first, 0, owner)
        local_f = local.to(means2d.dtype)  # < the Gaussian's tile count: exact
        span = torch.index_select(span_x, 0, owner)
        row = torch.floor((local_f + 0.5) / span)
        base = torch.index_select(y0 * tiles_x + x0, 0, owner)
        tile = base + row * (tiles_x - span) + local_f
        # A stable sort by tile keeps each tile's list in depth order.
        tile_sorted, order = torch.sort(tile.to(torch.int32), stable=True)
        tiles = tile_sorted.long()
        counts = torch.bincount(tiles, minlength=tiles_x * tiles_y)
        owners = torch.index_select(owner, 0, order)
        return TileLists(
            entries=torch.index_select(ids, 0, owners),
            tiles=tiles,
            starts=torch.cumsum(counts, 0) - counts,
            counts=counts,
        )


def group_tiles(counts: Tensor, pixels: int) -> list[tuple[Tensor, int]]:
    """Non-empty tiles grouped by list length: ``(tile ids [T], padded length K)`` per group."""
    tiles = torch.nonzero(counts > 0).squeeze(1)
    if len(tiles) == 0:
        return []
    tile_counts = counts[tiles]
    levels = _group_levels(int(tile_counts.max()))
    bucket = torch.bucketize(tile_counts, torch.tensor(levels, device=counts.device))
    order = torch.argsort(bucket)
    tiles, bucket = tiles[order], bucket[order]
    present, sizes = torch.unique_consecutive(bucket, return_counts=True)
    present_list: list[int] = present.tolist()
    groups: list[tuple[Tensor, int]] = []
    begin = 0
    pending = 0
    for level_index, size in zip(present_list, sizes.tolist(), strict=True):
        length = levels[level_index]
        pending += size
        if pending * length * pixels >= MIN_GROUP_ELEMENTS or level_index == present_list[-1]:
            groups.append((tiles[begin : begin + pending], length))
            begin += pending
            pending = 0
    return groups


def _pixel_basis(tile_size: int, dtype: torch.dtype, device: torch.device) -> Tensor:
    """Quadratic monomials of pixel centres relative to the tile centre. [6, P]"""
    offsets = torch.arange(tile_size, dtype=dtype, device=device) + 0.5 - tile_size / 2.0
    py, px = torch.meshgrid(offsets, offsets, indexing="ij")
    px, py = px.reshape(-1), py.reshape(-1)
    return torch.stack([px * px, px * py, py * py, px, py, torch.ones_like(px)])


_TO_LOG2 = 1.0 / math.log(2.0)


def _pair_coefficients(
    geometry: Tensor, entries: Tensor, tiles: Tensor, tiles_x: int, tile_size: int
) -> Tensor:
    """Per (tile, Gaussian) pair: coefficients of log₂ alpha in the pixel monomials. → [6, M]

    ℓ(p) = log₂ o − ½ log₂e (p − d)ᵀ [[a, b], [b, c]] (p − d) expanded in the monomials of p,
    with p and the mean d relative to the tile centre so float32 keeps the expansion exact
    enough.

    Args:
        geometry: [6, N] rows x, y, a, b, c, log o of every Gaussian.
        entries: [M] the Gaussian of each pair.
        tiles: [M] the tile of each pair.
        tiles_x: tiles per row.
        tile_size: tile edge in pixels.
    """
    with torch.no_grad():
        tile = tiles.to(geometry.dtype)
        tile_y = torch.floor((tile + 0.5) / tiles_x)
        centre_x = (tile - tile_y * tiles_x + 0.5) * tile_size
        centre_y = (tile_y + 0.5) * tile_size
    x, y, a, b, c, log_opacity = torch.index_select(geometry, 1, entries)  # [M] each
    dx = x - centre_x
    dy = y - centre_y
    bx = a * dx + b * dy
    by = b * dx + c * dy
    const = log_opacity - 0.5 * (bx * dx + by * dy)
    return torch.stack([-0.5 * a, -b, -0.5 * c, bx, by, const]) * _TO_LOG2


def _live_lists(
    geometry: Tensor, lists: TileLists, tiles_x: int, tile_size: int, basis: Tensor
) -> TileLists:
    """The lists without pairs whose alpha is below 1/255 at every pixel centre of the tile.

    The box of an ellipse covers tiles the ellipse misses (a quarter of all pairs with 4×4
    tiles); dropping them changes no pixel and saves their share of the compositing. The test
    runs without autograd, so the dropped pairs cost nothing in the backward pass.
    """
    with torch.no_grad():
        coef = _pair_coefficients(geometry.detach(), lists.entries, lists.tiles, tiles_x, tile_size)
        peak = (basis.T @ coef).amax(dim=0)  # [M] best log₂ α in the tile
        keep = torch.nonzero(peak >= math.log2(ALPHA_MIN)).squeeze(1)
        tiles = torch.index_select(lists.tiles, 0, keep)
        counts = torch.bincount(tiles, minlength=len(lists.counts))
        return TileLists(
            entries=torch.index_select(lists.entries, 0, keep),
            tiles=tiles,
            starts=torch.cumsum(counts, 0) - counts,
            counts=counts,
        )


def _group_rows(lists: TileLists, groups: list[tuple[Tensor, int]]) -> tuple[Tensor, Tensor]:
    """Pair rows of every group, each tile's list padded to its group's length with row M.

    Returns the rows [ΣT·K] and the position of each pair among them [M].
    """
    padding_row = len(lists.entries)
    rows = []
    tile_base = torch.zeros_like(lists.starts)  # position of a tile's first slot − its start
    offset = 0
    for tiles, length in groups:
        slot = torch.arange(length, device=tiles.device)
        starts = torch.index_select(lists.starts, 0, tiles)
        used = slot < torch.index_select(lists.counts, 0, tiles)[:, None]
        rows.append(torch.where(used, starts[:, None] + slot, padding_row).reshape(-1))
        slots = offset + torch.arange(len(tiles), device=tiles.device) * length
        tile_base[tiles] = slots - starts
        offset += len(tiles) * length
    positions = torch.index_select(tile_base, 0, lists.tiles) + torch.arange(
        padding_row, device=tile_base.device
    )
    return torch.cat(rows), positions


class _Spread(torch.autograd.Function):
    """Pair-table rows gathered into padded group order, where each pair appears exactly once.

    Its backward is therefore a gather as well (each pair's gradient sits at one known
    position), not the zero-fill and scatter-add of an ``index_select`` backward.
    """

    @staticmethod
    def forward(ctx: Any, table: Tensor, rows: Tensor, positions: Tensor) -> Tensor:
        ctx.save_for_backward(positions)
        return torch.index_select(table, 0, rows)

    @staticmethod
    def backward(ctx: Any, grad_out: Tensor) -> tuple[Tensor, None, None]:
        (positions,) = ctx.saved_tensors
        grad = grad_out.new_empty(len(positions) + 1, grad_out.shape[1])
        torch.index_select(grad_out, 0, positions, out=grad[:-1])
        grad[-1] = 0.0  # the padding row
        return grad, None, None


def _pair_table(
    geometry: Tensor, colors: Tensor, lists: TileLists, tiles_x: int, tile_size: int, basis: Tensor
) -> tuple[Tensor, TileLists]:
    """The live pairs' coefficients and colours, plus a padding row, and their lists.

    Args:
        geometry: [6, N] rows x, y, a, b, c, log o of every Gaussian.
        colors: [3, N] their colours in this view.
        lists: the candidate tile lists.
        tiles_x: tiles per row.
        tile_size: tile edge in pixels.
        basis: [6, P] pixel monomials.

    Returns the table [M + 1, 9] and the lists of its first M rows.
    """
    lists = _live_lists(geometry, lists, tiles_x, tile_size, basis)
    coef = _pair_coefficients(geometry, lists.entries, lists.tiles, tiles_x, tile_size)
    pair_colors = torch.index_select(colors, 1, lists.entries)  # [3, M]
    padding = torch.zeros(1, 9, dtype=coef.dtype, device=coef.device)
    padding[0, 5] = -1e4  # 2^-10⁴ = 0: a padded slot never contributes
    return torch.cat([torch.cat([coef, pair_colors]).T, padding]), lists


def _tile_images(
    pair_table: Tensor, lists: TileLists, basis: Tensor, background: Tensor, fill: Tensor
) -> Tensor:
    """Pixel colours of every tile. → [n_tiles, 3, P]; empty tiles get ``fill`` [3]."""
    pixels = basis.shape[1]
    tile_images = fill[None, :, None].expand(len(lists.counts), 3, pixels)
    groups = group_tiles(lists.counts, pixels)
    if not groups:
        return tile_images
    rows, positions = _group_rows(lists, groups)
    spread: Tensor = _Spread.apply(pair_table, rows, positions)  # type: ignore[no-untyped-call]
    shapes = [(len(tiles), length) for tiles, length in groups]
    rendered = composite(spread, background, basis, shapes)  # [ΣT, 3, P]
    tile_ids = torch.cat([tiles for tiles, _ in groups])
    return tile_images.index_copy(0, tile_ids, rendered)


def rasterize_tiles(
    means: Tensor,
    quats: Tensor,
    scales: Tensor,
    opacities: Tensor,
    sh_coeffs: Tensor,
    camera: SplatCamera,
    sh_degree: int,
    background: Tensor,
    tile_size: int = 4,
) -> tuple[Tensor, dict[str, Any]]:
    """Render activated Gaussians into ``camera``.

    Args:
        means: [N, 3] world positions.
        quats: [N, 4] unit wxyz quaternions.
        scales: [N, 3] standard deviations.
        opacities: [N] in 0..1.
        sh_coeffs: [N, K, 3] SH coefficients.
        camera: the view, tensors on the device and dtype of ``means``.
        sh_degree: SH degree to evaluate.
        background: [3] colour behind everything.
        tile_size: 4, 8 or 16 pixels.

    Returns:
        The image [H, W, 3] and gsplat-style info (``packed=False`` shapes, one camera):
        ``means2d`` [1, N, 2] (grad retained), ``radii`` [1, N, 2] int32 (0 = culled),
        ``depths`` [1, N], ``visible`` [N] bool, ``width``, ``height``, ``n_cameras``,
        ``gaussian_ids`` (None), ``tile_size``, ``n_intersections``.
    """
    if tile_size not in TILE_SIZES:
        raise InvalidInputError("tile_size must be 4, 8 or 16", tile_size=tile_size)
    width, height = camera.width, camera.height
    tiles_x = -(-width // tile_size)
    tiles_y = -(-height // tile_size)
    proj = project(means, quats, scales, opacities, sh_coeffs, camera, sh_degree)
    means2d_batch = proj.means2d.T[None]  # [1, N, 2]: what densification reads the grad of
    if means2d_batch.requires_grad:
        means2d_batch.retain_grad()
    visible_ids = torch.nonzero(proj.visible).squeeze(1)  # [V]
    lists = bin_tiles(
        visible_ids,
        torch.index_select(proj.means2d.detach(), 1, visible_ids),
        torch.index_select(proj.extents, 1, visible_ids),
        torch.index_select(proj.depths.detach(), 0, visible_ids),
        tile_size,
        tiles_x,
        tiles_y,
    )
    # Culled rows are never gathered; the clamp only keeps log() and its gradient finite.
    log_opacity = torch.log(opacities.clamp_min(ALPHA_MIN / 2.0))[None]
    geometry = torch.cat([means2d_batch[0].T, proj.conics, log_opacity])  # [6, N]
    basis = _pixel_basis(tile_size, geometry.dtype, geometry.device)
    pair_table, lists = _pair_table(geometry, proj.colors, lists, tiles_x, tile_size, basis)
    background = background.to(device=geometry.device, dtype=geometry.dtype)
    # The 0·Σ term keeps the image in the graph when nothing is visible.
    fill = background + 0.0 * means2d_batch.sum()
    image = (
        _tile_images(pair_table, lists, basis, background, fill)
        .reshape(tiles_y, tiles_x, 3, tile_size, tile_size)
        .permute(0, 3, 1, 4, 2)
        .reshape(tiles_y * tile_size, tiles_x * tile_size, 3)[:height, :width]
    )
    with torch.no_grad():
        radii = torch.where(
            proj.visible[:, None], torch.ceil(proj.extents.T).clamp_min(1.0), 0.0
        ).to(torch.int32)
    info: dict[str, Any] = {
        "means2d": means2d_batch,
        "radii": radii[None],
        "depths": proj.depths.detach()[None],
        "visible": proj.visible,
        "width": width,
        "height": height,
        "n_cameras": 1,
        "gaussian_ids": None,
        "tile_size": tile_size,
        "n_intersections": len(lists.entries),
    }
    return image, info
