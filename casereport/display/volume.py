"""Planes through CT and SPECT volumes, sampled on a grid in patient mm (LPS).

Every slice is resampled from the volume through its affine, never picked by array index:
two volumes sampled on the same :class:`PlaneGrid` are registered by their patient
coordinates (this is how SPECT is fused with CT).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from casereport.case.plane import Plane
from casereport.errors import FigureError
from casereport.io.types import Volume


@dataclass(frozen=True)
class PlaneGrid:
    """A regular grid in a patient plane.

    Attributes:
        plane: the plane.
        position_mm: coordinate along the plane normal (LPS mm), e.g. z for axial.
        u_range_mm: (lo, hi) edges of the grid along u (LPS mm).
        v_range_mm: (lo, hi) edges along v (LPS mm).
        spacing_mm: pixel size of the grid in mm (square pixels).
    """

    plane: Plane
    position_mm: float
    u_range_mm: tuple[float, float]
    v_range_mm: tuple[float, float]
    spacing_mm: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "plane", Plane(self.plane))
        if not self.spacing_mm > 0:
            raise FigureError(f"grid spacing must be > 0 mm, got {self.spacing_mm}")
        for name, (lo, hi) in (("u", self.u_range_mm), ("v", self.v_range_mm)):
            if not hi > lo:
                raise FigureError(
                    f"empty {name} range {lo}..{hi} mm in the {self.plane.value} plane"
                )

    @property
    def shape(self) -> tuple[int, int]:
        """(nv, nu) pixels."""
        nu = max(1, int(round((self.u_range_mm[1] - self.u_range_mm[0]) / self.spacing_mm)))
        nv = max(1, int(round((self.v_range_mm[1] - self.v_range_mm[0]) / self.spacing_mm)))
        return (nv, nu)

    def points_mm(self) -> np.ndarray:
        """(nv, nu, 3) LPS mm of the pixel centres; row 0 at ``v_range_mm[0]``."""
        nv, nu = self.shape
        du = (self.u_range_mm[1] - self.u_range_mm[0]) / nu
        dv = (self.v_range_mm[1] - self.v_range_mm[0]) / nv
        u = self.u_range_mm[0] + (np.arange(nu) + 0.5) * du
        v = self.v_range_mm[0] + (np.arange(nv) + 0.5) * dv
        au, av, an = self.plane.axes
        pts = np.empty((nv, nu, 3), dtype=float)
        pts[..., au] = u[None, :]
        pts[..., av] = v[:, None]
        pts[..., an] = self.position_mm
        return pts

    @property
    def extent(self) -> tuple[float, float, float, float]:
        """``imshow`` extent (left, right, bottom, top) for ``origin="lower"``."""
        return (self.u_range_mm[0], self.u_range_mm[1], self.v_range_mm[0], self.v_range_mm[1])


@dataclass(frozen=True)
class PlaneImage:
    """Values of a volume on a :class:`PlaneGrid` (``array[v, u]``, row 0 at v lo)."""

    array: np.ndarray
    grid: PlaneGrid


def volume_extent_mm(volume: Volume) -> tuple[np.ndarray, np.ndarray]:
    """(lo, hi) LPS mm of the outer voxel edges (half a voxel beyond the centres)."""
    lo, hi = volume.bounds_mm()
    half = 0.5 * np.abs(volume.affine[:3, :3]).sum(axis=1)
    return lo - half, hi + half


def default_grid(
    volume: Volume,
    plane: Plane | str,
    position_mm: float,
    *,
    u_range_mm: tuple[float, float] | None = None,
    v_range_mm: tuple[float, float] | None = None,
    spacing_mm: float | None = None,
) -> PlaneGrid:
    """A grid covering the volume's extent in ``plane`` (or the given ranges).

    The default pixel size is the finest in-plane voxel spacing of the volume.
    Raises :class:`FigureError` if ``position_mm`` lies outside the volume.
    """
    plane = Plane(plane)
    au, av, an = plane.axes
    lo, hi = volume_extent_mm(volume)
    if not (lo[an] <= position_mm <= hi[an]):
        axis = "xyz"[an]
        raise FigureError(
            f"{plane.value} plane at {axis}={position_mm:g} mm lies outside the volume "
            f"({axis} {lo[an]:.1f} to {hi[an]:.1f} mm)"
        )
    if spacing_mm is None:
        # voxel spacing projected on the two in-plane patient axes
        steps = np.abs(volume.affine[:3, :3])
        per_axis = [steps[a][steps[a] > 1e-6].min() for a in (au, av)]
        spacing_mm = float(min(per_axis))
    return PlaneGrid(
        plane=plane,
        position_mm=float(position_mm),
        u_range_mm=u_range_mm or (float(lo[au]), float(hi[au])),
        v_range_mm=v_range_mm or (float(lo[av]), float(hi[av])),
        spacing_mm=float(spacing_mm),
    )


def sample_plane(
    volume: Volume, grid: PlaneGrid, *, order: int = 1, fill: float = 0.0
) -> PlaneImage:
    """Resample ``volume`` on ``grid`` through its affine (patient mm -> voxel index).

    Args:
        volume: CT (HU) or SPECT (counts) volume.
        grid: where to sample, in patient mm.
        order: spline order (0 nearest, 1 linear).
        fill: value for grid points outside the volume (e.g. -1000 HU for CT, 0 counts).
    """
    pts = grid.points_mm()
    ijk = volume.patient_to_index(pts)  # (..., 3) as (i, j, k)
    coords = np.stack([ijk[..., 2], ijk[..., 1], ijk[..., 0]])  # array order (k, j, i)
    values = ndimage.map_coordinates(volume.array, coords, order=order, mode="nearest")
    shape = np.array(volume.shape)[:, None, None]
    inside = np.all((coords >= -0.5) & (coords <= shape - 0.5), axis=0)
    values = np.where(inside, values, fill).astype(np.float32)
    return PlaneImage(array=values, grid=grid)
