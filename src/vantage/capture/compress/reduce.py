"""Size reductions before compression: prune invisible and negligible Gaussians, drop weak SH bands.

Everything here is render-free and exact for what it keeps: a kept Gaussian's values are copied
bit for bit. Three reductions, in order, each Gaussian counted under the first that removes it:

1. invalid: any NaN, or an infinite value other than an opacity logit of ±∞ (alpha 0 or 1);
2. transparent: ``sigmoid(opacity) < min_opacity``; the default 1/255 is the alpha below which
   3DGS rasterizers skip a Gaussian, so removing them does not change a render at all;
3. tiny (off unless ``min_screen_size`` is set): the largest axis ``exp(max log scale)`` is below
   ``min_screen_size`` × the scene extent (the diagonal of the box holding the central 98 % of
   the means per axis, so floaters do not inflate it).

Then, with ``drop_sh_bands``, the highest SH bands are dropped while the colour error that dropping
them causes stays within ``max_sh_rms_error``. The measure: the real SH basis is orthonormal on
the sphere, so the mean square over view directions of band l's colour contribution is
``Σ_m c_lm² / 4π`` per channel, and the bands' contributions add up without cross terms. The error
of dropping bands l..L is the root of the sum of theirs, averaged over channels and over the
Gaussians weighted by their opacity (a transparent Gaussian's colour matters little).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vantage.capture.compress.splats import Splats
from vantage.errors import InvalidInputError

EXTENT_PERCENTILES = (1.0, 99.0)


@dataclass(frozen=True)
class ReduceOptions:
    """What `reduce_splats` removes (see the module docstring for the measures)."""

    min_opacity: float = 1 / 255  # prune Gaussians whose sigmoid(opacity) is below this
    min_screen_size: float | None = None  # prune Gaussians smaller than this × scene extent
    drop_sh_bands: bool = True  # drop the highest SH bands that add little colour
    max_sh_rms_error: float = 1 / 255  # colour RMS error (0..1 units) dropped bands may cause

    def __post_init__(self) -> None:
        checks = {
            "min_opacity": 0.0 <= self.min_opacity < 1.0,
            "min_screen_size": self.min_screen_size is None or 0.0 <= self.min_screen_size < 1.0,
            "max_sh_rms_error": self.max_sh_rms_error >= 0.0,
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise InvalidInputError(
                f"invalid reduce option {bad[0]}={getattr(self, bad[0])!r}", field=bad[0]
            )


@dataclass(frozen=True)
class ReduceReport:
    """What `reduce_splats` removed."""

    input_count: int
    output_count: int
    pruned_invalid: int  # NaN or infinite values
    pruned_transparent: int
    pruned_tiny: int
    sh_degree_in: int
    sh_degree_out: int
    # Opacity-weighted RMS colour contribution of each SH band 1..degree over view directions.
    sh_band_rms: tuple[float, ...] = ()
    scene_extent: float | None = None  # measured only when min_screen_size is set

    @property
    def dropped_sh_bands(self) -> list[int]:
        """The SH bands that were dropped, lowest first."""
        return list(range(self.sh_degree_out + 1, self.sh_degree_in + 1))

    def to_dict(self) -> dict[str, Any]:
        """This report as plain JSON-ready values."""
        return {
            **asdict(self),
            "sh_band_rms": list(self.sh_band_rms),
            "dropped_sh_bands": self.dropped_sh_bands,
        }


def reduce_splats(
    splats: Splats, options: ReduceOptions | None = None
) -> tuple[Splats, ReduceReport]:
    """``splats`` without invisible or negligible Gaussians and weak SH bands, and a report.

    Kept Gaussians keep their order and exact values.
    """
    options = options or ReduceOptions()
    valid = _finite_rows(splats)
    with np.errstate(over="ignore", invalid="ignore"):
        alpha = 1.0 / (1.0 + np.exp(-splats.opacities.astype(np.float64)))
    opaque = valid & (alpha >= options.min_opacity)
    keep = opaque
    extent = None
    if options.min_screen_size is not None:
        extent = scene_extent(splats.means[opaque])
        size = np.exp(splats.scales.astype(np.float64).max(axis=1, initial=-np.inf))
        keep = opaque & (size >= options.min_screen_size * extent)
    kept = splats.take(np.flatnonzero(keep))
    band_rms = sh_band_rms(kept)
    degree = kept.sh_degree
    if options.drop_sh_bands:
        degree = _degree_to_keep(kept, options.max_sh_rms_error)
        kept = kept.with_sh_degree(degree)
    report = ReduceReport(
        input_count=len(splats),
        output_count=len(kept),
        pruned_invalid=int(np.count_nonzero(~valid)),
        pruned_transparent=int(np.count_nonzero(valid & ~opaque)),
        pruned_tiny=int(np.count_nonzero(opaque & ~keep)),
        sh_degree_in=splats.sh_degree,
        sh_degree_out=degree,
        sh_band_rms=tuple(float(v) for v in band_rms),
        scene_extent=extent,
    )
    return kept, report


def scene_extent(means: NDArray[np.float32]) -> float:
    """Diagonal of the box holding the central 98 % of ``means`` [N, 3] along each axis."""
    if len(means) == 0:
        return 0.0
    low, high = np.percentile(means.astype(np.float64), EXTENT_PERCENTILES, axis=0)
    return float(np.linalg.norm(high - low))


def sh_band_rms(splats: Splats) -> NDArray[np.float64]:
    """Opacity-weighted RMS colour contribution over view directions of each band 1..degree."""
    return np.sqrt(_band_mean_squares(splats))


def _band_mean_squares(splats: Splats) -> NDArray[np.float64]:
    degree = splats.sh_degree
    if len(splats) == 0 or degree == 0:
        return np.zeros(degree)
    with np.errstate(over="ignore"):
        weights = 1.0 / (1.0 + np.exp(-splats.opacities.astype(np.float64)))
    total = weights.sum()
    if total <= 0.0:
        return np.zeros(degree)
    squares = []
    for band in range(1, degree + 1):
        coefficients = splats.shN[:, band * band - 1 : (band + 1) ** 2 - 1].astype(np.float64)
        per_gaussian = np.einsum("nkc,nkc->n", coefficients, coefficients) / (3.0 * 4.0 * math.pi)
        squares.append(float(weights @ per_gaussian) / total)
    return np.asarray(squares)


def _degree_to_keep(splats: Splats, max_rms_error: float) -> int:
    """The lowest degree whose dropped bands' combined RMS error is within ``max_rms_error``."""
    squares = _band_mean_squares(splats)
    degree = splats.sh_degree
    # Dropped bands add their mean squares: drop from the top while the sum stays in bounds.
    while degree > 0 and math.sqrt(float(squares[degree - 1 :].sum())) <= max_rms_error:
        degree -= 1
    return degree


def _finite_rows(splats: Splats) -> NDArray[np.bool_]:
    """Which Gaussians hold only finite values (opacity logits of ±∞ are valid alphas 0 and 1)."""
    valid = ~np.isnan(splats.opacities)
    for array in (splats.means, splats.scales, splats.quats, splats.sh0, splats.shN):
        valid &= np.isfinite(array).all(axis=tuple(range(1, array.ndim)))
    return valid
