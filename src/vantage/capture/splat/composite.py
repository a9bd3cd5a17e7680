"""Front-to-back alpha compositing of padded tile groups, with a hand-written backward pass.

The rasterizer (`rasterize_cpu`) hands over every tile group's depth-sorted, padded pair lists
as one [ΣT·K, 9] tensor: six coefficients of log₂ alpha in the pixel monomials and a colour per
pair. Forward and backward run group by group on [T, K, P] tensors with in-place ops, and write
results and gradients straight into preallocated outputs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor
from torch.nn import functional

from vantage.capture.splat.projection import ALPHA_MAX, ALPHA_MIN


@dataclass(frozen=True)
class _GroupState:
    """What the backward pass of one group's compositing needs."""

    slope: Tensor  # [T, K, P] −α where 1/255 ≤ α < 0.99, else 0
    before: Tensor  # [T, K, P] transmittance in front of each pair
    inv_opaque: Tensor  # [T, K, P] 1 / (1 − α)
    weights: Tensor  # [T, K, P] α T
    colors: Tensor  # [T, K, 3]
    final: Tensor  # [T, P] transmittance behind the last pair


def _composite_forward(
    pairs: Tensor, background: Tensor, basis: Tensor, out: Tensor
) -> _GroupState:
    """Composite one group of ``pairs`` [T, K, 9] into ``out`` [T, 3, P]."""
    tiles, length, _ = pairs.shape
    alpha = torch.mm(pairs[..., :6].reshape(tiles * length, 6), basis)
    alpha = alpha.reshape(tiles, length, -1).exp2_()  # [T, K, P]
    functional.threshold(alpha, ALPHA_MIN, 0.0, inplace=True)
    slope = functional.threshold(alpha.neg(), -ALPHA_MAX, 0.0, inplace=True)
    alpha.clamp_(max=ALPHA_MAX)
    opaque = 1.0 - alpha
    before = torch.empty_like(alpha)
    before[:, :1] = 1.0
    torch.cumprod(opaque[:, :-1], dim=1, out=before[:, 1:])
    final = before[:, -1] * opaque[:, -1]  # [T, P]
    weights = alpha.mul_(before)
    colors = pairs[..., 6:9]
    torch.bmm(colors.transpose(1, 2), weights, out=out)
    out.add_(final[:, None, :] * background[None, :, None])
    return _GroupState(slope, before, opaque.reciprocal_(), weights, colors, final)


def _composite_backward(
    state: _GroupState, grad_out: Tensor, background: Tensor, basis: Tensor, grad_pairs: Tensor
) -> Tensor:
    """Write the gradient of one group's pairs into ``grad_pairs`` [T, K, 9]; → ∂/∂background."""
    tiles, length, _ = state.weights.shape
    grad_pairs[..., 6:9] = torch.bmm(grad_out, state.weights.transpose(1, 2)).transpose(1, 2)
    shade = torch.bmm(state.colors, grad_out)  # cₖ · g  [T, K, P]
    ahead = torch.cumsum(shade * state.weights, dim=1)  # Σⱼ₍≤ₖ₎ αⱼ Tⱼ (cⱼ · g)
    tail = ahead[:, -1] + state.final * (grad_out * background[None, :, None]).sum(1)  # [T, P]
    behind = ahead.neg_().add_(tail[:, None, :]).mul_(state.inv_opaque)
    grad_alpha = shade.mul_(state.before).sub_(behind).mul_(state.slope)  # −α ∂C/∂α
    # [6, P] @ [P, T·K] then a transposed view: 4× faster than [T·K, P] @ [P, 6] here.
    grad_coef = torch.mm(basis * -math.log(2.0), grad_alpha.reshape(tiles * length, -1).T)
    grad_pairs[..., :6] = grad_coef.T.reshape(tiles, length, 6)
    return (grad_out * state.final[:, None, :]).sum((0, 2))


class _Composite(torch.autograd.Function):
    """Alpha and front-to-back compositing of all tile groups, with a hand-written backward.

    Input ``pairs`` [ΣT·K, 9] holds each group's padded lists in turn: the coefficients of
    ℓ = log₂ o − ½ log₂e · dᵀΣ'⁻¹d in the pixel monomials ``basis`` [6, P], then the colour.
    Forward: α = min(0.99, 2^ℓ), zeroed below 1/255; Tₖ = Πⱼ₍<ₖ₎(1 − αⱼ);
    C = Σₖ αₖ Tₖ cₖ + T_K · bg, returned as [ΣT, 3, P].
    Backward: ∂C/∂αₖ = Tₖ cₖ − (Σⱼ₍>ₖ₎ αⱼ Tⱼ cⱼ + T_K bg) / (1 − αₖ) and ∂α/∂ℓ = α ln 2 (zero where
    clamped or skipped); the suffix sums are a total minus a cumulative sum. This replaces
    autograd's chain through exp, clamp, cumprod and bmm, about twice as long; one Function for
    all groups writes every result and gradient in place, with no concatenations. Masks are made
    with ``threshold``: comparisons to bool tensors and ``masked_fill`` cost 5-10× more here.
    """

    @staticmethod
    def forward(
        ctx: Any, pairs: Tensor, background: Tensor, basis: Tensor, shapes: list[tuple[int, int]]
    ) -> Tensor:
        pixels = basis.shape[1]
        out = pairs.new_empty(sum(t for t, _ in shapes), 3, pixels)
        states = []
        row = tile = 0
        for tiles, length in shapes:
            group = pairs[row : row + tiles * length].view(tiles, length, 9)
            states.append(_composite_forward(group, background, basis, out[tile : tile + tiles]))
            row += tiles * length
            tile += tiles
        ctx.states = states
        ctx.shapes = shapes
        ctx.save_for_backward(background, basis)
        return out

    @staticmethod
    def backward(ctx: Any, grad_out: Tensor) -> tuple[Tensor, Tensor, None, None]:
        background, basis = ctx.saved_tensors
        rows = sum(t * k for t, k in ctx.shapes)
        grad_pairs = torch.empty(rows, 9, dtype=grad_out.dtype, device=grad_out.device)
        grad_background = torch.zeros_like(background)
        row = tile = 0
        for state, (tiles, length) in zip(ctx.states, ctx.shapes, strict=True):
            grad_background += _composite_backward(
                state,
                grad_out[tile : tile + tiles],
                background,
                basis,
                grad_pairs[row : row + tiles * length].view(tiles, length, 9),
            )
            row += tiles * length
            tile += tiles
        return grad_pairs, grad_background, None, None


def composite(
    pairs: Tensor, background: Tensor, basis: Tensor, shapes: list[tuple[int, int]]
) -> Tensor:
    """Pixel colours [ΣT, 3, P] of tile groups of ``shapes`` (T, K) from their padded ``pairs``.

    Args:
        pairs: [ΣT·K, 9] each group's [T, K] lists in turn: 6 coefficients of log₂ alpha in the
            pixel monomials, then the colour.
        background: [3] colour behind everything.
        basis: [6, P] pixel monomials (x², xy, y², x, y, 1) of the tile's pixel centres.
        shapes: (tiles, padded length) of each group.
    """
    out: Tensor = _Composite.apply(pairs, background, basis, shapes)  # type: ignore[no-untyped-call]
    return out
