"""Regular voxel grids in patient coordinates and analytic shapes rasterised on them.

Coordinates are DICOM LPS in mm (x to the patient's left, y posterior, z superior).
A :class:`Grid` holds arrays indexed ``[k, j, i]`` = (z, y, x); voxel ``(i, j, k)`` has its
centre at ``origin + (i * dx, j * dy, k * dz)``.

Shapes evaluate a boolean mask on broadcast coordinate arrays restricted to their bounding
box, so painting a small bone into a large grid costs only its own box.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class Grid:
    """A regular grid: ``shape`` = (nz, ny, nx), ``spacing_mm`` and ``origin_mm`` as (x, y, z)."""

    origin_mm: tuple[float, float, float]
    spacing_mm: tuple[float, float, float]
    shape: tuple[int, int, int]

    @property
    def voxel_ml(self) -> float:
        """Voxel volume in millilitres."""
        dx, dy, dz = self.spacing_mm
        return dx * dy * dz / 1000.0

    def axis(self, n: int) -> np.ndarray:
        """Voxel-centre coordinates (mm) along axis ``n`` (0 = x, 1 = y, 2 = z)."""
        size = self.shape[2 - n]
        return self.origin_mm[n] + self.spacing_mm[n] * np.arange(size, dtype=np.float64)

    def index_range(self, lo: float, hi: float, n: int) -> tuple[int, int]:
        """Half-open index range of voxel centres with ``lo <= c <= hi`` along axis ``n``."""
        size = self.shape[2 - n]
        o, d = self.origin_mm[n], self.spacing_mm[n]
        a = int(np.ceil((lo - o) / d - 1e-9))
        b = int(np.floor((hi - o) / d + 1e-9)) + 1
        return max(a, 0), min(b, size)

    def box(
        self, lo: np.ndarray, hi: np.ndarray
    ) -> tuple[tuple[slice, slice, slice], tuple[np.ndarray, np.ndarray, np.ndarray]] | None:
        """Slices and broadcast (X, Y, Z) coordinates for the axis-aligned box ``lo..hi`` (mm)."""
        rng = [self.index_range(float(lo[n]), float(hi[n]), n) for n in range(3)]
        if any(a >= b for a, b in rng):
            return None
        (i0, i1), (j0, j1), (k0, k1) = rng
        x = self.axis(0)[i0:i1][None, None, :]
        y = self.axis(1)[j0:j1][None, :, None]
        z = self.axis(2)[k0:k1][:, None, None]
        return (slice(k0, k1), slice(j0, j1), slice(i0, i1)), (x, y, z)


class Shape(Protocol):
    """Anything with a bounding box and a mask on broadcast coordinates (mm)."""

    def bounds(self) -> tuple[np.ndarray, np.ndarray]: ...

    def mask(self, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray: ...


def rotation(axis: str, degrees: float) -> np.ndarray:
    """3x3 rotation matrix about the x, y or z axis."""
    t = np.deg2rad(degrees)
    c, s = np.cos(t), np.sin(t)
    if axis == "x":
        return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
    if axis == "y":
        return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


@dataclass(frozen=True)
class Ellipsoid:
    """Solid ellipsoid: centre (mm), semi-axes (mm) and an optional rotation (local -> patient)."""

    centre: tuple[float, float, float]
    radii: tuple[float, float, float]
    rot: tuple[tuple[float, ...], ...] | None = None

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        c = np.asarray(self.centre, dtype=float)
        r = np.asarray(self.radii, dtype=float)
        if self.rot is not None:
            ext = np.abs(np.asarray(self.rot)) @ r
        else:
            ext = r
        return c - ext, c + ext

    def rho2(self, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        """Squared normalised radius (1 on the surface)."""
        cx, cy, cz = self.centre
        dx, dy, dz = x - cx, y - cy, z - cz
        if self.rot is not None:
            m = np.asarray(self.rot)
            # local = R^T @ d
            lx = m[0, 0] * dx + m[1, 0] * dy + m[2, 0] * dz
            ly = m[0, 1] * dx + m[1, 1] * dy + m[2, 1] * dz
            lz = m[0, 2] * dx + m[1, 2] * dy + m[2, 2] * dz
            dx, dy, dz = lx, ly, lz
        a, b, c = self.radii
        return (dx / a) ** 2 + (dy / b) ** 2 + (dz / c) ** 2

    def mask(self, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        return self.rho2(x, y, z) <= 1.0


def rotated(
    centre: tuple[float, float, float],
    radii: tuple[float, float, float],
    *turns: tuple[str, float],
) -> Ellipsoid:
    """Ellipsoid rotated by successive (axis, degrees) turns."""
    m = np.eye(3)
    for axis, deg in turns:
        m = rotation(axis, deg) @ m
    return Ellipsoid(centre, radii, tuple(tuple(float(v) for v in row) for row in m))


@dataclass(frozen=True)
class Capsule:
    """Tube from ``p0`` to ``p1`` (mm) whose radius goes linearly from ``r0`` to ``r1``."""

    p0: tuple[float, float, float]
    p1: tuple[float, float, float]
    r0: float
    r1: float

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        p0, p1 = np.asarray(self.p0, float), np.asarray(self.p1, float)
        r = max(self.r0, self.r1)
        return np.minimum(p0, p1) - r, np.maximum(p0, p1) + r

    def mask(self, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        p0 = np.asarray(self.p0, float)
        v = np.asarray(self.p1, float) - p0
        L2 = float(v @ v) or 1e-9
        dx, dy, dz = x - p0[0], y - p0[1], z - p0[2]
        t = np.clip((dx * v[0] + dy * v[1] + dz * v[2]) / L2, 0.0, 1.0)
        ex, ey, ez = dx - t * v[0], dy - t * v[1], dz - t * v[2]
        r = self.r0 + (self.r1 - self.r0) * t
        return ex * ex + ey * ey + ez * ez <= r * r


@dataclass(frozen=True)
class FlatSegment:
    """One piece of a flattened tube (a rib, a costal cartilage): an elliptic cross-section
    swept from ``p0`` to ``p1`` (mm), with half-ellipsoid caps at both ends.

    ``n0`` and ``n1`` give the direction of the short axis (thickness) at each end; it is
    interpolated along the segment (so the tube can twist) and made perpendicular to the
    segment. ``half0``/``half1`` are the (short, long) semi-axes in mm at each end; the
    long axis is perpendicular to both the segment and the short axis.
    """

    p0: tuple[float, float, float]
    p1: tuple[float, float, float]
    n0: tuple[float, float, float]
    n1: tuple[float, float, float]
    half0: tuple[float, float]
    half1: tuple[float, float]

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        p0, p1 = np.asarray(self.p0, float), np.asarray(self.p1, float)
        r = max(*self.half0, *self.half1)
        return np.minimum(p0, p1) - r, np.maximum(p0, p1) + r

    def mask(self, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        p0 = np.asarray(self.p0, float)
        v = np.asarray(self.p1, float) - p0
        length = float(np.sqrt(v @ v)) or 1e-9
        t = v / length
        dx, dy, dz = x - p0[0], y - p0[1], z - p0[2]
        along = dx * t[0] + dy * t[1] + dz * t[2]
        s = np.clip(along / length, 0.0, 1.0)
        e_t = along - s * length  # beyond the ends only: the caps
        n0 = np.asarray(self.n0, float)
        n1 = np.asarray(self.n1, float)
        n0 = n0 - (n0 @ t) * t
        n1 = n1 - (n1 @ t) * t
        n0 /= np.linalg.norm(n0) + 1e-12
        n1 /= np.linalg.norm(n1) + 1e-12
        nx, ny, nz = (n0[k] + s * (n1[k] - n0[k]) for k in range(3))
        norm = np.sqrt(nx * nx + ny * ny + nz * nz) + 1e-12
        nx, ny, nz = nx / norm, ny / norm, nz / norm
        hx, hy, hz = t[1] * nz - t[2] * ny, t[2] * nx - t[0] * nz, t[0] * ny - t[1] * nx
        ex, ey, ez = dx - s * v[0], dy - s * v[1], dz - s * v[2]
        e_n = ex * nx + ey * ny + ez * nz
        e_h = ex * hx + ey * hy + ez * hz
        a = self.half0[0] + s * (self.half1[0] - self.half0[0])
        b = self.half0[1] + s * (self.half1[1] - self.half0[1])
        return (e_n / a) ** 2 + (e_h / b) ** 2 + (e_t / a) ** 2 <= 1.0


@dataclass(frozen=True)
class Shell:
    """Ellipsoidal shell: inside ``outer`` and outside the ellipsoid shrunk by ``thickness`` mm."""

    outer: Ellipsoid
    thickness: float

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        return self.outer.bounds()

    def mask(self, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        inner = Ellipsoid(
            self.outer.centre,
            tuple(max(r - self.thickness, 0.5) for r in self.outer.radii),  # type: ignore[arg-type]
            self.outer.rot,
        )
        return self.outer.mask(x, y, z) & ~inner.mask(x, y, z)


@dataclass(frozen=True)
class Clipped:
    """A shape cut by a half-space: keeps points with ``(p - point) . normal >= 0``."""

    shape: Ellipsoid | Capsule | Shell
    point: tuple[float, float, float]
    normal: tuple[float, float, float]

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        return self.shape.bounds()

    def mask(self, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        px, py, pz = self.point
        nx, ny, nz = self.normal
        keep = (x - px) * nx + (y - py) * ny + (z - pz) * nz >= 0
        return self.shape.mask(x, y, z) & keep


@dataclass(frozen=True)
class Profile:
    """Cross-sections interpolated along z: a torso, neck or limb outline.

    ``table`` rows are (z, x_centre, y_centre, half_width, half_depth) in mm, z increasing.
    The front half (y below the centre) is elliptic; the back half is a superellipse of
    exponent ``back`` (2: elliptic; larger: a fuller, flatter back, as a supine chest).

    ``lobes`` rows (z, x_mm, depth_mm), z increasing, replace the back half by two
    superellipse lobes of exponent ``lobe_power``, one each side of the midline: the lobe
    is deepest (``depth_mm`` behind the centre, at most the half depth) ``x_mm`` from the
    centre and meets the front half at the side, so a rib cage can curve forward on either
    side of the spine instead of running flat behind it.
    """

    table: tuple[tuple[float, float, float, float, float], ...]
    back: float = 2.0
    lobes: tuple[tuple[float, float, float], ...] = ()
    lobe_power: float = 2.0

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        t = np.asarray(self.table, float)
        lo = np.array([(t[:, 1] - t[:, 3]).min(), (t[:, 2] - t[:, 4]).min(), t[0, 0]])
        hi = np.array([(t[:, 1] + t[:, 3]).max(), (t[:, 2] + t[:, 4]).max(), t[-1, 0]])
        return lo, hi

    def at(self, z: np.ndarray) -> tuple[np.ndarray, ...]:
        """(x_centre, y_centre, half_width, half_depth) at heights ``z``."""
        t = np.asarray(self.table, float)
        return tuple(np.interp(z, t[:, 0], t[:, n]) for n in range(1, 5))

    def lobe_at(
        self, z: np.ndarray, offset: float = 0.0
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Lobes of the outline grown by ``offset`` mm at heights ``z``: distance (mm) of
        the deepest point from the centre line, half width of a lobe (mm, from there to the
        side) and its depth (mm behind the centre)."""
        _cx, _cy, a, b = self.at(z)
        t = np.asarray(self.lobes, float)
        xl = np.interp(z, t[:, 0], t[:, 1])
        depth = np.minimum(np.interp(z, t[:, 0], t[:, 2]), b) + offset
        return xl, a + offset - xl, depth

    def rho2(self, x: np.ndarray, y: np.ndarray, z: np.ndarray, offset: float = 0.0) -> np.ndarray:
        """Squared normalised radius (1 on the outline grown by ``offset`` mm)."""
        cx, cy, a, b = self.at(z)
        u, v = (x - cx) / (a + offset), (y - cy) / (b + offset)
        r2 = u**2 + v**2
        if self.lobes:
            xl, wl, dl = self.lobe_at(z, offset)
            p = self.lobe_power
            ul, vl = (np.abs(x - cx) - xl) / wl, (y - cy) / dl
        elif self.back == 2.0:
            return r2
        else:
            p, ul, vl = self.back, u, v
        with np.errstate(divide="ignore", invalid="ignore"):
            rb = (np.abs(ul) ** p + np.abs(vl) ** p) ** (2.0 / p)
        return np.where(v > 0.0, rb, r2)

    def mask(self, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        return self.rho2(x, y, z) <= 1.0

    def point(
        self, z: float, angle_deg: float, side: int, offset: float = 0.0
    ) -> tuple[tuple[float, float], tuple[float, float]]:
        """Point (x, y mm) on the outline grown by ``offset`` mm at height ``z`` and
        parametric polar angle ``angle_deg`` from the posterior midline towards ``side``
        (-1 or +1), and the outward unit normal there. With lobes, a point of the back
        half lies at the same x as without them, on the lobe."""
        cx, cy, a, b = (float(v) for v in self.at(np.asarray(z)))
        t = np.deg2rad(angle_deg)
        st, ct = abs(float(np.sin(t))), float(np.cos(t))
        a, b = a + offset, b + offset
        q = 2.0 / self.back if ct > 0.0 else 1.0
        e = 2.0 - q  # normal exponent: 1 for an ellipse
        x = cx + side * a * st**q
        y = cy + (b * ct**q if ct > 0.0 else b * ct)
        nx = side * st**e / a
        ny = (ct**e if ct > 0.0 else ct) / b
        if self.lobes and ct > 0.0:
            xl, wl, dl = (float(v) for v in self.lobe_at(np.asarray(z), offset))
            p = self.lobe_power
            ul = min(abs(st**q * a - xl) / wl, 1.0)
            vl = (1.0 - ul**p) ** (1.0 / p)
            y = cy + dl * vl
            sgn = 1.0 if st**q * a >= xl else -1.0
            nx = side * sgn * ul ** (p - 1.0) / wl
            ny = vl ** (p - 1.0) / dl
        n = float(np.hypot(nx, ny))
        return (x, y), (nx / n, ny / n)


def paint(
    grid: Grid,
    target: np.ndarray,
    shape: Shape,
    value: float | int,
    *,
    where: np.ndarray | None = None,
    mode: str = "set",
) -> None:
    """Write ``value`` into ``target`` inside ``shape``.

    ``where`` (same shape as ``target``) restricts painting to voxels where it is True.
    ``mode`` is ``"set"``, ``"max"`` or ``"add"``.
    """
    lo, hi = shape.bounds()
    b = grid.box(lo, hi)
    if b is None:
        return
    sl, (x, y, z) = b
    m = shape.mask(x, y, z)
    m = np.broadcast_to(m, target[sl].shape)
    if where is not None:
        m = m & where[sl]
    sub = target[sl]
    if mode == "set":
        sub[m] = value
    elif mode == "max":
        sub[m] = np.maximum(sub[m], value)
    elif mode == "add":
        sub[m] += value
    else:  # pragma: no cover - programming error
        raise ValueError(mode)


def shape_mask(grid: Grid, shape: Shape) -> np.ndarray:
    """Full-grid boolean mask of ``shape``."""
    out = np.zeros(grid.shape, dtype=bool)
    paint(grid, out, shape, True)
    return out


@dataclass(frozen=True)
class Cylinder:
    """Elliptic cylinder along z: centre (x, y) mm, semi-axes (rx, ry) mm, from z0 to z1 mm."""

    cx: float
    cy: float
    rx: float
    ry: float
    z0: float
    z1: float

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        return (
            np.array([self.cx - self.rx, self.cy - self.ry, self.z0]),
            np.array([self.cx + self.rx, self.cy + self.ry, self.z1]),
        )

    def mask(self, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        inside = ((x - self.cx) / self.rx) ** 2 + ((y - self.cy) / self.ry) ** 2 <= 1.0
        return inside & (z >= self.z0) & (z <= self.z1)


@dataclass(frozen=True)
class Union:
    """Union of several shapes (an irregular lesion, a chain of tubes)."""

    shapes: tuple[Shape, ...]

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        b = [s.bounds() for s in self.shapes]
        return np.min([lo for lo, _ in b], axis=0), np.max([hi for _, hi in b], axis=0)

    def mask(self, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        out = np.zeros(np.broadcast_shapes(x.shape, y.shape, z.shape), dtype=bool)
        for s in self.shapes:
            out |= s.mask(x, y, z)
        return out


@dataclass(frozen=True)
class WallPatch:
    """A curved plate lying on the outside of a :class:`Profile` (a scapula on the chest wall).

    Points between ``gap_mm`` and ``gap_mm + thickness_mm`` outside the profile's ellipse
    whose polar angle (degrees, 0 = posterior midline, positive towards the side ``side``)
    lies between the limits that ``table`` rows (z, lo_deg, hi_deg) give at their height;
    on a lobed profile, the parametric angle of :meth:`Profile.point` (the same x).
    """

    profile: Profile
    gap_mm: float
    thickness_mm: float
    side: int
    table: tuple[tuple[float, float, float], ...]

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        t = np.asarray(self.table, float)
        lo, hi = self.profile.bounds()
        pad = self.gap_mm + self.thickness_mm
        return (
            np.array([lo[0] - pad, lo[1] - pad, t[0, 0]]),
            np.array([hi[0] + pad, hi[1] + pad, t[-1, 0]]),
        )

    def mask(self, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        cx, cy, a, _b = self.profile.at(z)
        g0, g1 = self.gap_mm, self.gap_mm + self.thickness_mm
        inner = self.profile.rho2(x, y, z, g0)
        outer = self.profile.rho2(x, y, z, g1)
        t = np.asarray(self.table, float)
        lo = np.interp(z, t[:, 0], t[:, 1])
        hi = np.interp(z, t[:, 0], t[:, 2])
        if self.profile.lobes:
            # The polar angle of :meth:`Profile.point`, read back from x on the back half.
            ax = np.clip(self.side * (x - cx) / (a + g0), 0.0, 1.0)
            ang = np.degrees(np.arcsin(ax ** (self.profile.back / 2.0)))
            ang = np.where(y < cy, 180.0 - ang, ang)
        else:
            ang = np.degrees(np.arctan2(self.side * (x - cx), y - cy))
        inz = (z >= t[0, 0]) & (z <= t[-1, 0])
        return (inner > 1.0) & (outer <= 1.0) & (ang >= lo) & (ang <= hi) & inz


@dataclass(frozen=True)
class Sheet:
    """A thin curved sheet (a lung fissure): the part of ``shape`` within ``half_mm`` of the
    sphere of ``radius_mm`` about ``centre`` (mm), optionally only on the side of the plane
    through ``keep_point`` that ``keep_normal`` points to."""

    shape: Shape
    centre: tuple[float, float, float]
    radius_mm: float
    half_mm: float
    keep_point: tuple[float, float, float] | None = None
    keep_normal: tuple[float, float, float] | None = None

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        return self.shape.bounds()

    def mask(self, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        cx, cy, cz = self.centre
        d = np.sqrt((x - cx) ** 2 + (y - cy) ** 2 + (z - cz) ** 2)
        m = (np.abs(d - self.radius_mm) <= self.half_mm) & self.shape.mask(x, y, z)
        if self.keep_point is not None and self.keep_normal is not None:
            px, py, pz = self.keep_point
            nx, ny, nz = self.keep_normal
            m &= (x - px) * nx + (y - py) * ny + (z - pz) * nz >= 0
        return m
