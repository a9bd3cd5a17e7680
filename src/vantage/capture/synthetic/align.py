"""Similarity alignment (Umeyama) of point sets, for comparing recovered cameras with the truth."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def similarity_align(
    src: npt.ArrayLike, dst: npt.ArrayLike
) -> tuple[float, FloatArray, FloatArray]:
    """The similarity that maps ``src`` onto ``dst`` in the least-squares sense (Umeyama 1991).

    Args:
        src: Points [N, 3], N ≥ 3, not all on one line.
        dst: Corresponding points [N, 3].

    Returns:
        ``(scale, R [3, 3], t [3])`` with ``dst ≈ scale * src @ R.T + t``.
    """
    source = np.asarray(src, dtype=np.float64)
    target = np.asarray(dst, dtype=np.float64)
    if source.ndim != 2 or source.shape[1] != 3 or source.shape != target.shape:
        raise ValueError(f"need two [N, 3] arrays, got {source.shape} and {target.shape}")
    if source.shape[0] < 3:
        raise ValueError(f"need at least 3 points, got {source.shape[0]}")
    source_mean = source.mean(axis=0)
    target_mean = target.mean(axis=0)
    source_centred = source - source_mean
    target_centred = target - target_mean
    source_variance = float((source_centred**2).sum()) / source.shape[0]
    if source_variance <= 1e-18:
        raise ValueError("source points are all the same")
    covariance = target_centred.T @ source_centred / source.shape[0]  # [3, 3]
    u, singular, vt = np.linalg.svd(covariance)
    reflect = np.eye(3)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        reflect[2, 2] = -1.0
    rotation = u @ reflect @ vt
    scale = float(np.trace(np.diag(singular) @ reflect)) / source_variance
    translation = target_mean - scale * rotation @ source_mean
    return scale, rotation, translation


def camera_centre_errors(estimated: npt.ArrayLike, truth: npt.ArrayLike) -> FloatArray:  # [N]
    """Distance of each estimated centre from the truth after the best similarity alignment.

    Args:
        estimated: Recovered camera centres [N, 3] in the reconstruction's own frame.
        truth: Ground-truth centres [N, 3] in the same order.

    Returns:
        Per-camera error in the units of ``truth``; divide by the scene size to normalise.
    """
    scale, rotation, translation = similarity_align(estimated, truth)
    aligned = scale * np.asarray(estimated, dtype=np.float64) @ rotation.T + translation
    return np.asarray(np.linalg.norm(aligned - np.asarray(truth, np.float64), axis=1))
