"""The synthetic scene: a textured ground plane with boxes, and its vectorised numpy ray caster.

Rendering casts one ray through each pixel centre, intersects the ground (z = 0) and every box
(slab test in the box frame), keeps the nearest hit, samples the texture atlas bilinearly at a
mip level matched to the pixel footprint and applies Lambert shading from a fixed sun. Rays that
hit nothing get a sky gradient.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from vantage.capture.synthetic.cameras import Camera
from vantage.capture.synthetic.textures import (
    FACE_TEXELS,
    GROUND_TEXELS,
    MIP_LEVELS,
    TextureAtlas,
    build_atlas,
)

FloatArray = npt.NDArray[np.float64]
FloatArray32 = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int32]
ImageU8 = npt.NDArray[np.uint8]

_SUN = np.array([0.45, -0.35, 0.82]) / np.linalg.norm([0.45, -0.35, 0.82])  # towards the sun
_AMBIENT = 0.45
_SKY_HORIZON = np.array([205.0, 218.0, 232.0], dtype=np.float32)
_SKY_ZENITH = np.array([70.0, 120.0, 200.0], dtype=np.float32)
# depth, tile, u, v, slant: the per-ray results a hit test updates in place.
_HitArrays = tuple[FloatArray32, IntArray, FloatArray32, FloatArray32, FloatArray32]
# For a face on axis a, the box-frame axes that give its (u, v) texture coordinates.
_FACE_UV_AXES = np.array([[1, 2], [0, 2], [0, 1]])


@dataclass(frozen=True)
class Box:
    """An upright box standing on the ground, turned by ``yaw_deg`` about its vertical axis."""

    centre_xy: tuple[float, float]
    size: tuple[float, float, float]  # extent along its own x, y and z, metres
    yaw_deg: float = 0.0

    def corners(self) -> FloatArray:  # [8, 3]
        """The eight corners in world coordinates."""
        half = np.array(self.size) / 2.0
        signs = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)])
        local = signs * half + np.array([0.0, 0.0, half[2]])
        world = local @ _yaw_matrix(self.yaw_deg).T + np.array([*self.centre_xy, 0.0])
        return np.asarray(world, dtype=np.float64)


@dataclass(frozen=True)
class _Hits:
    depth: FloatArray32  # [N] distance along the optical axis, inf where nothing is hit
    tile: IntArray  # [N] atlas tile, -1 for sky
    u: FloatArray32  # [N]
    v: FloatArray32  # [N]
    slant: FloatArray32  # [N] |direction · surface normal|
    directions: FloatArray32  # [N, 3] world ray directions with unit camera-z component


class Scene:
    """Ground plane plus boxes, with the textures that make them SIFT-friendly.

    Attributes:
        boxes: The boxes; box i owns atlas tiles 1 + 6i … 6 + 6i (faces -x, +x, -y, +y, -z, +z).
        atlas: Textures of the ground (tile 0) and of every box face.
        ground_half_size_m: The ground is the square |x|, |y| < this, at z = 0.
        bounds: Lowest and highest corner of the boxes' bounding box, [3] each.
    """

    def __init__(
        self, boxes: Sequence[Box], atlas: TextureAtlas, *, ground_half_size_m: float = 25.0
    ) -> None:
        if atlas.tiles.shape[0] < 1 + 6 * len(boxes):
            raise ValueError(f"{len(boxes)} boxes need more than {atlas.tiles.shape[0]} tiles")
        self.boxes = tuple(boxes)
        self.atlas = atlas
        self.ground_half_size_m = ground_half_size_m
        corners = np.concatenate([box.corners() for box in self.boxes] or [np.zeros((1, 3))])
        self.bounds = (corners.min(axis=0), corners.max(axis=0))  # [3], [3]
        normals = [np.array([0.0, 0.0, 1.0])]
        texel_m = [2.0 * ground_half_size_m / GROUND_TEXELS]
        for box in self.boxes:
            for axis in range(3):
                for sign in (-1.0, 1.0):
                    local = np.zeros(3)
                    local[axis] = sign
                    normals.append(_yaw_matrix(box.yaw_deg) @ local)
                    extent = max(box.size[int(a)] for a in _FACE_UV_AXES[axis])
                    texel_m.append(extent / FACE_TEXELS)
        self._normals = np.array(normals, dtype=np.float32)  # [T, 3]
        self._texel_m = np.array(texel_m, dtype=np.float32)  # [T]
        self._shade = (_AMBIENT + (1 - _AMBIENT) * np.clip(self._normals @ _SUN, 0, 1)).astype(
            np.float32
        )  # [T]

    @classmethod
    def default(cls, seed: int = 0) -> Scene:
        """4–6 boxes of different sizes scattered over a 10 m square, seeded."""
        rng = np.random.default_rng(seed)
        count = int(rng.integers(4, 7))
        boxes: list[Box] = []
        attempts = 0
        while len(boxes) < count:
            width_m, depth_m = (float(s) for s in rng.uniform(0.8, 2.6, size=2))
            size = (width_m, depth_m, float(rng.uniform(0.6, 2.4)))
            spread = 4.5 + 0.01 * attempts  # widen slowly should a seed pack the square too full
            attempts += 1
            centre = (float(rng.uniform(-spread, spread)), float(rng.uniform(-spread, spread)))
            radius = math.hypot(size[0], size[1]) / 2.0
            if all(
                math.dist(centre, other.centre_xy)
                > radius + math.hypot(other.size[0], other.size[1]) / 2.0 + 0.4
                for other in boxes
            ):
                boxes.append(Box(centre, size, float(rng.uniform(0.0, 90.0))))
        return cls(boxes, build_atlas(seed, 6 * count))

    @property
    def size(self) -> float:
        """Diagonal of the boxes' bounding box, metres (the scale for normalising errors)."""
        low, high = self.bounds
        return float(np.linalg.norm(high - low))

    @property
    def centre(self) -> FloatArray:  # [3]
        """Centre of the boxes' bounding box."""
        low, high = self.bounds
        return np.asarray((low + high) / 2.0, dtype=np.float64)

    def render(self, camera: Camera) -> ImageU8:  # [H, W, 3]
        """The image ``camera`` sees, RGB uint8."""
        hits = self._trace(camera)
        colour = np.empty((hits.tile.shape[0], 3), dtype=np.float32)  # [N, 3]
        miss = np.flatnonzero(hits.tile < 0)
        if miss.size:
            directions = hits.directions[miss]
            elevation = directions[:, 2] / np.sqrt(_squared_norm(directions))
            blend = np.sqrt(np.clip(elevation, 0.0, 1.0))[:, None]
            colour[miss] = (1.0 - blend) * _SKY_HORIZON + blend * _SKY_ZENITH
        hit = np.flatnonzero(hits.tile >= 0)
        if hit.size:
            tile = hits.tile[hit]
            level = self._mip_level(camera, hits, hit)
            texels = self.atlas.sample(tile, hits.u[hit], hits.v[hit], level)
            colour[hit] = texels * self._shade[tile][:, None]
        colour += 0.5
        np.clip(colour, 0.0, 255.0, out=colour)
        return colour.astype(np.uint8).reshape(camera.height, camera.width, 3)

    def depth(self, camera: Camera) -> FloatArray32:  # [H, W]
        """Depth along the optical axis of the surface each pixel sees; inf for sky."""
        return self._trace(camera).depth.reshape(camera.height, camera.width)

    def _mip_level(self, camera: Camera, hits: _Hits, hit: npt.NDArray[np.intp]) -> IntArray:
        tile = hits.tile[hit]
        length = np.sqrt(_squared_norm(hits.directions)[hit])
        cosine = np.maximum(hits.slant[hit] / length, 1e-3)
        # Geometric mean of the two footprint axes: sharper than the long axis at grazing angles.
        footprint = hits.depth[hit] * length / (camera.K[0, 0] * np.sqrt(cosine))
        lod = np.log2(np.maximum(footprint / self._texel_m[tile], 1e-6))
        return np.asarray(np.clip(np.rint(lod), 0, MIP_LEVELS - 1), dtype=np.int32)

    def _trace(self, camera: Camera) -> _Hits:
        width, height = camera.width, camera.height
        # world direction = Rᵀ K⁻¹ (x, y, 1): rows of to_world weigh x, y and 1
        to_world = (np.linalg.inv(camera.K).T @ camera.cam_from_world[:3, :3]).astype(np.float32)
        xs = np.arange(width, dtype=np.float32)[None, :, None] * to_world[0]  # [1, W, 3]
        ys = np.arange(height, dtype=np.float32)[:, None, None] * to_world[1] + to_world[2]
        directions = (xs + ys).reshape(-1, 3)  # [N, 3]
        origin = camera.center.astype(np.float32)
        count = width * height
        depth = np.full(count, np.inf, dtype=np.float32)
        tile = np.full(count, -1, dtype=np.int32)
        u = np.zeros(count, dtype=np.float32)
        v = np.zeros(count, dtype=np.float32)
        slant = np.ones(count, dtype=np.float32)
        out = (depth, tile, u, v, slant)
        self._hit_ground(origin, directions, out)
        for index, box in enumerate(self.boxes):
            rays = _rays_towards(camera, box)
            if rays is None or rays.size:
                self._hit_box(index, box, origin, directions, rays, out)
        return _Hits(depth, tile, u, v, slant, directions)

    def _hit_ground(
        self,
        origin: FloatArray32,  # [3]
        directions: FloatArray32,  # [N, 3]
        out: _HitArrays,
    ) -> None:
        depth, tile, u, v, slant = out
        if origin[2] <= 0.0:
            return
        down = np.flatnonzero(directions[:, 2] < -1e-6)
        t = -origin[2] / directions[down, 2]
        x = origin[0] + t * directions[down, 0]
        y = origin[1] + t * directions[down, 1]
        half = self.ground_half_size_m
        inside = (np.abs(x) < half) & (np.abs(y) < half)
        index = down[inside]
        depth[index] = t[inside]
        tile[index] = 0
        u[index] = (x[inside] + half) / (2.0 * half)
        v[index] = (half - y[inside]) / (2.0 * half)
        slant[index] = -directions[index, 2]

    def _hit_box(
        self,
        index: int,
        box: Box,
        origin: FloatArray32,  # [3]
        directions: FloatArray32,  # [N, 3]
        rays: npt.NDArray[np.intp] | None,  # subset of rays to test, None for all
        out: _HitArrays,
    ) -> None:
        depth, tile, u, v, slant = out
        to_box = _yaw_matrix(-box.yaw_deg).astype(np.float32)
        half = (np.array(box.size) / 2.0).astype(np.float32)  # [3]
        centre = np.array([*box.centre_xy, half[2]], dtype=np.float32)
        o_local = to_box @ (origin - centre)  # [3]
        d_world = directions if rays is None else directions[rays]
        d_local = d_world @ to_box.T  # [M, 3]
        d_local[np.abs(d_local) < 1e-12] = 1e-12
        inverse = 1.0 / d_local
        t_low = (-half - o_local) * inverse
        t_high = (half - o_local) * inverse
        t_enter = np.minimum(t_low, t_high)
        t_near = t_enter.max(axis=1)
        t_far = np.maximum(t_low, t_high).min(axis=1)
        selected = np.arange(d_local.shape[0]) if rays is None else rays
        hit = (t_near <= t_far) & (t_near > 1e-4) & (t_near < depth[selected])
        if not hit.any():
            return
        t_hit = t_near[hit]
        d_hit = d_local[hit]
        axis = t_enter[hit].argmax(axis=1)
        points = o_local + t_hit[:, None] * d_hit  # [K, 3] in the box frame
        rows = np.arange(axis.shape[0])
        along = d_hit[rows, axis]
        face = 2 * axis + (along < 0)  # entering through the low side when moving up the axis
        uv_axes = _FACE_UV_AXES[axis]  # [K, 2]
        coords = (points[rows[:, None], uv_axes] + half[uv_axes]) / (2.0 * half[uv_axes])
        target = selected[hit]
        depth[target] = t_hit
        tile[target] = 1 + 6 * index + face
        u[target] = coords[:, 0]
        # Side faces keep the texture upright (v grows downwards as z falls).
        v[target] = np.where(axis < 2, 1.0 - coords[:, 1], coords[:, 1])
        slant[target] = np.abs(along)


def _squared_norm(vectors: FloatArray32) -> FloatArray32:  # [N, 3] → [N]
    return np.asarray(np.einsum("ij,ij->i", vectors, vectors), dtype=np.float32)


def _yaw_matrix(yaw_deg: float) -> FloatArray:  # [3, 3]
    c, s = math.cos(math.radians(yaw_deg)), math.sin(math.radians(yaw_deg))
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _rays_towards(camera: Camera, box: Box) -> npt.NDArray[np.intp] | None:
    """Pixels inside the box's projected bounding rectangle; None when it is partly behind."""
    pixels, depth = camera.project(box.corners())
    if np.any(depth <= 1e-3):
        return None
    x0 = max(int(np.floor(pixels[:, 0].min())) - 1, 0)
    x1 = min(int(np.ceil(pixels[:, 0].max())) + 2, camera.width)
    y0 = max(int(np.floor(pixels[:, 1].min())) - 1, 0)
    y1 = min(int(np.ceil(pixels[:, 1].max())) + 2, camera.height)
    if x0 >= x1 or y0 >= y1:
        return np.zeros(0, dtype=np.intp)
    cols = np.arange(x0, x1)
    rows = np.arange(y0, y1)
    return (rows[:, None] * camera.width + cols[None, :]).ravel()
