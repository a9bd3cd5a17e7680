"""Texture atlas of the synthetic scene: seeded photo-and-noise tiles, mip levels, bilinear lookup.

Tile 0 is the ground (2048² texels); tiles 1… are box faces (256² each). Every tile mixes crops
of photos bundled with scikit-image with seeded multi-octave colour noise, so no two regions of
the scene look alike and SIFT finds plenty of distinctive blobs and corners at every scale.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

ImageU8 = npt.NDArray[np.uint8]
FloatArray32 = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int32]

GROUND_TEXELS = 2048
FACE_TEXELS = 256
MIP_LEVELS = 5  # 256 → 16 texels per face at the coarsest level
_FACES_PER_ROW = GROUND_TEXELS // FACE_TEXELS

# Bundled with the scikit-image wheel (no pooch download); repetitive ones (brick) left out.
_PHOTO_NAMES = (
    "astronaut",
    "coffee",
    "chelsea",
    "rocket",
    "immunohistochemistry",
    "grass",
    "gravel",
    "camera",
    "coins",
    "cell",
    "page",
    "text",
)


@dataclass(frozen=True, eq=False)
class TextureAtlas:
    """All textures of a scene in one image pyramid plus where each tile lies."""

    levels: tuple[ImageU8, ...]  # level l: [H >> l, W >> l, 4] RGBA, A unused (4-byte texels)
    tiles: IntArray  # [T, 4] x0, y0, width, height of each tile at level 0, in texels

    def sample(
        self,
        tile: IntArray,  # [N]
        u: FloatArray32,  # [N] in [0, 1], left → right
        v: FloatArray32,  # [N] in [0, 1], top → bottom
        level: IntArray,  # [N] mip level
    ) -> FloatArray32:  # [N, 3] RGB in 0…255
        """Bilinear lookup at texture coordinates, clamped inside each tile (no bleeding)."""
        out = np.empty((tile.shape[0], 3), dtype=np.float32)
        present = np.flatnonzero(np.bincount(level, minlength=len(self.levels)))
        for lvl in present:
            sel = np.flatnonzero(level == lvl) if present.size > 1 else np.arange(level.size)
            rect = self.tiles[tile[sel]] >> lvl
            out[sel] = _bilinear(self.levels[int(lvl)], rect, u[sel], v[sel])[:, :3]
        return out


def _bilinear(
    image: ImageU8,  # [H, W, 4]
    rect: IntArray,  # [M, 4]
    u: FloatArray32,  # [M]
    v: FloatArray32,  # [M]
) -> FloatArray32:  # [M, 4]
    width = image.shape[1]
    # One 4-byte gather per corner is much faster than gathering [M, 3] rows.
    texels = image.reshape(-1).view(np.uint32)
    x_max = rect[:, 0] + rect[:, 2] - 1
    y_max = rect[:, 1] + rect[:, 3] - 1
    x = np.clip(rect[:, 0] + u * rect[:, 2] - 0.5, rect[:, 0], x_max).astype(np.float32)
    y = np.clip(rect[:, 1] + v * rect[:, 3] - 0.5, rect[:, 1], y_max).astype(np.float32)
    x0 = x.astype(np.int32)
    y0 = y.astype(np.int32)
    fx = (x - x0)[:, None]
    fy = (y - y0)[:, None]
    x1 = np.minimum(x0 + 1, x_max)
    row0 = y0 * width
    row1 = np.minimum(y0 + 1, y_max) * width

    def corner(index: IntArray) -> FloatArray32:  # [M, 4]
        return texels[index].view(np.uint8).reshape(-1, 4).astype(np.float32)

    top = corner(row0 + x0)
    top += (corner(row0 + x1) - top) * fx
    bottom = corner(row1 + x0)
    bottom += (corner(row1 + x1) - bottom) * fx
    top += (bottom - top) * fy
    return top


@functools.lru_cache(maxsize=4)
def build_atlas(seed: int, face_count: int) -> TextureAtlas:
    """The atlas for a ground plus ``face_count`` box faces; cached, the result is read-only."""
    import cv2

    rng = np.random.default_rng([seed, 0x7E47])
    rows = -(-face_count // _FACES_PER_ROW)
    atlas = np.full((GROUND_TEXELS + rows * FACE_TEXELS, GROUND_TEXELS, 4), 255, dtype=np.uint8)
    tiles = np.zeros((face_count + 1, 4), dtype=np.int32)
    tiles[0] = (0, 0, GROUND_TEXELS, GROUND_TEXELS)
    atlas[:GROUND_TEXELS, :, :3] = _ground_texture(rng)
    face_noise = _fractal_noise(rng, rows * FACE_TEXELS, GROUND_TEXELS)
    for face in range(face_count):
        x0 = (face % _FACES_PER_ROW) * FACE_TEXELS
        y0 = GROUND_TEXELS + (face // _FACES_PER_ROW) * FACE_TEXELS
        tiles[face + 1] = (x0, y0, FACE_TEXELS, FACE_TEXELS)
        noise = face_noise[y0 - GROUND_TEXELS : y0 - GROUND_TEXELS + FACE_TEXELS]
        alpha = float(rng.uniform(0.55, 0.8))
        photo = _photo_crop(rng, FACE_TEXELS)
        texture = alpha * photo + (1.0 - alpha) * noise[:, x0 : x0 + FACE_TEXELS]
        atlas[y0 : y0 + FACE_TEXELS, x0 : x0 + FACE_TEXELS, :3] = np.clip(texture, 0.0, 255.0)
    levels = [atlas]
    for _ in range(1, MIP_LEVELS):
        previous = levels[-1]
        size = (previous.shape[1] // 2, previous.shape[0] // 2)
        levels.append(np.asarray(cv2.resize(previous, size, interpolation=cv2.INTER_AREA)))
    for level in levels:
        level.setflags(write=False)
    tiles.setflags(write=False)
    return TextureAtlas(tuple(levels), tiles)


@functools.lru_cache(maxsize=1)
def _photos() -> tuple[ImageU8, ...]:
    import skimage.data

    photos = []
    for name in _PHOTO_NAMES:
        image = np.asarray(getattr(skimage.data, name)())
        if image.ndim == 2:
            image = np.repeat(image[:, :, None], 3, axis=2)
        photos.append(np.ascontiguousarray(image[:, :, :3], dtype=np.uint8))
    return tuple(photos)


def _fractal_noise(rng: np.random.Generator, height: int, width: int) -> FloatArray32:  # [H, W, 3]
    """Colour noise with blobs at every scale from 2 to 128 texels, mean 128, std 50.

    Built coarse to fine like a Laplacian pyramid: upsample (Gaussian), add a fresh random layer.
    ``height`` and ``width`` must be multiples of 128.
    """
    import cv2

    noise = rng.random((height // 128, width // 128, 3), dtype=np.float32)
    for _ in range(7):
        noise = np.asarray(cv2.pyrUp(noise), dtype=np.float32)
        if noise.shape[0] < height:
            noise += rng.random(noise.shape, dtype=np.float32)
    noise -= noise.mean()
    noise *= 50.0 / max(float(noise.std()), 1e-6)
    return np.asarray(noise + 128.0, dtype=np.float32)


def _photo_crop(rng: np.random.Generator, size: int) -> FloatArray32:  # [size, size, 3]
    """A random square crop of a random photo, resized, turned, mirrored and tinted."""
    import cv2

    photos = _photos()
    photo = photos[int(rng.integers(len(photos)))]
    side_max = min(photo.shape[0], photo.shape[1])
    side = int(rng.integers(side_max // 4, side_max + 1))
    y0 = int(rng.integers(photo.shape[0] - side + 1))
    x0 = int(rng.integers(photo.shape[1] - side + 1))
    crop = photo[y0 : y0 + side, x0 : x0 + side]
    crop = np.asarray(cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA), np.uint8)
    crop = np.rot90(crop, int(rng.integers(4)))
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    tint = rng.uniform(0.65, 1.25, size=3).astype(np.float32)
    return np.asarray(crop, dtype=np.float32) * tint


def _ground_texture(rng: np.random.Generator) -> ImageU8:  # [2048, 2048, 3]
    ground = _fractal_noise(rng, GROUND_TEXELS, GROUND_TEXELS)
    for _ in range(90):
        size = int(rng.integers(96, 420))
        y0, x0 = (int(c) for c in rng.integers(0, GROUND_TEXELS - size, size=2))
        alpha = float(rng.uniform(0.55, 0.9))
        region = ground[y0 : y0 + size, x0 : x0 + size]
        region *= 1.0 - alpha
        region += alpha * _photo_crop(rng, size)
    ground = 0.8 * ground + 0.2 * _fractal_noise(rng, GROUND_TEXELS, GROUND_TEXELS)
    return np.clip(ground, 0.0, 255.0).astype(np.uint8)
