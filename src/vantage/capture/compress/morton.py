"""Morton (Z-order) codes of 3-D integer grid points, and the order they put points in.

Codecs store Gaussians along a Z-order curve so that neighbours in a texture are neighbours in
space, which is what lets an image codec find the redundancy.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

#: Bits per axis that fit interleaved into one uint64 code.
MAX_BITS = 21

# (shift, mask) steps that move bit i of a 21-bit integer to bit 3i.
_SPREAD_STEPS = (
    (32, 0x001F00000000FFFF),
    (16, 0x001F0000FF0000FF),
    (8, 0x100F00F00F00F00F),
    (4, 0x10C30C30C30C30C3),
    (2, 0x1249249249249249),
)


def _spread_bits(values: NDArray[np.uint64]) -> NDArray[np.uint64]:
    """Bit i of each value (i < 21) moved to bit 3i."""
    x = values & np.uint64((1 << MAX_BITS) - 1)
    for shift, mask in _SPREAD_STEPS:
        x = (x | (x << np.uint64(shift))) & np.uint64(mask)
    return x


def morton_codes(grid: NDArray[np.integer]) -> NDArray[np.uint64]:
    """Z-order codes of points on an integer grid.

    Args:
        grid: [N, 3] non-negative integers below 2**21 (x, y, z).

    Returns:
        [N] uint64 codes: bit 3i holds bit i of x, bit 3i+1 of y, bit 3i+2 of z.
    """
    cells = grid.astype(np.uint64)  # [N, 3]
    codes: NDArray[np.uint64] = (
        _spread_bits(cells[:, 0])
        | (_spread_bits(cells[:, 1]) << np.uint64(1))
        | (_spread_bits(cells[:, 2]) << np.uint64(2))
    )
    return codes


def morton_order(grid: NDArray[np.integer]) -> NDArray[np.int64]:
    """The permutation [N] that sorts the grid points ``grid`` [N, 3] along the Z-order curve.

    Ties (points in the same cell) keep their input order.
    """
    return np.argsort(morton_codes(grid), kind="stable").astype(np.int64)
