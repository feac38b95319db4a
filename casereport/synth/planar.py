"""Planar gamma-camera physics: attenuation, distance-dependent LEHR blur, scatter, motion,
integration over the camera pixel, Poisson.

Projections are computed on the phantom grid (mm) as count densities (counts/mm^2) and then
resampled onto the camera matrix. View convention (see docs/ARCHITECTURE.md): rows run head
to feet; in the ANT view the patient's right is on the image left, in the POST view on the
image right.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from casereport.synth.grid import Grid
from casereport.synth.physics import PLANAR_CAMERA, Camera


@dataclass(frozen=True)
class ViewGeometry:
    """Camera matrix in patient mm: column 0 edge at ``x_left_mm`` (patient x on ANT), row 0
    edge at ``z_top_mm``; pixels ``spacing_mm`` square."""

    rows: int
    cols: int
    spacing_mm: float
    z_top_mm: float
    x_centre_mm: float = 0.0

    def x_of_col(self, view: str) -> np.ndarray:
        """Patient x (mm) of each column centre for ``view`` ('ANT' or 'POST')."""
        u = (np.arange(self.cols) + 0.5) * self.spacing_mm - self.cols * self.spacing_mm / 2.0
        return self.x_centre_mm + (u if view == "ANT" else -u)

    def z_of_row(self) -> np.ndarray:
        return self.z_top_mm - (np.arange(self.rows) + 0.5) * self.spacing_mm

    def plane(self, view: str) -> tuple[list[float], list[float]]:
        """(ImagePositionPatient, ImageOrientationPatient) of the view's coronal image plane.

        Columns run towards the patient's left (ANT) or right (POST), rows towards the feet;
        the plane is placed at y = 0 (mid-coronal).
        """
        x0 = float(self.x_of_col(view)[0])
        z0 = float(self.z_of_row()[0])
        sx = 1.0 if view == "ANT" else -1.0
        return [round(x0, 4), 0.0, round(z0, 4)], [sx, 0.0, 0.0, 0.0, 0.0, -1.0]

    def to_view_mm(self, view: str, x_mm: float, z_mm: float) -> tuple[float, float]:
        """Patient (x, z) mm -> view mm (x from the left edge, y from the top edge)."""
        u = x_mm - self.x_centre_mm
        half = self.cols * self.spacing_mm / 2.0
        return (half + u if view == "ANT" else half - u, self.z_top_mm - z_mm)


def project(
    activity_mbq: np.ndarray,
    mu_per_mm: np.ndarray,
    grid: Grid,
    view: str,
    camera: Camera = PLANAR_CAMERA,
) -> np.ndarray:
    """Primary (unscattered) count rate density, counts/s per mm^2, on the (z, x) plane.

    The camera face follows the body contour for ANT (gap below the most anterior skin point
    of each z row) and lies under a flat table for POST, which also attenuates the POST view
    by ``camera.table_transmission``.
    """
    dx, dy, dz = grid.spacing_mm
    act, mu = activity_mbq, mu_per_mm
    if view == "POST":
        act, mu = act[:, ::-1, :], mu[:, ::-1, :]
    # Path length through tissue between each voxel centre and the camera.
    path = np.cumsum(mu, axis=1, dtype=np.float32)
    path -= 0.5 * mu
    path *= dy
    weighted = act * np.exp(-path)
    del path
    y = np.arange(grid.shape[1], dtype=float) * dy  # distance from the first row, mm
    body = mu > 0.0
    has = body.any(axis=(0, 2))
    if view == "ANT":
        # Per z row: first body row along y.
        rows = body.any(axis=2)  # (nz, ny)
        first = np.where(np.any(rows, axis=1), rows.argmax(axis=1), grid.shape[1])
        face = first * dy - camera.gap_mm  # (nz,)
    else:
        first_row = int(has.argmax()) if has.any() else 0
        face = np.full(grid.shape[0], first_row * dy - camera.gap_mm - camera.table_mm)
    dist = np.maximum(y[None, :] - face[:, None], 0.0)  # (nz, ny)
    nbin = int(np.ceil(dist.max() / camera.depth_bin_mm)) + 1
    idx = np.minimum((dist / camera.depth_bin_mm).astype(int), nbin - 1)
    out = np.zeros((grid.shape[0], grid.shape[2]), dtype=np.float64)
    for b in range(nbin):
        sel = idx == b
        if not sel.any():
            continue
        plane = np.einsum("kji,kj->ki", weighted, sel.astype(np.float32))
        if not plane.any():
            continue
        d = (b + 0.5) * camera.depth_bin_mm
        s = float(camera.sigma_mm(d))
        out += ndimage.gaussian_filter(plane, (s / dz, s / dx), mode="constant")
    rate = out * camera.sensitivity_cps_per_mbq / (dx * dz)
    if view == "POST":
        rate *= camera.table_transmission
    return rate.astype(np.float64)


def add_scatter(primary: np.ndarray, grid: Grid, camera: Camera = PLANAR_CAMERA) -> np.ndarray:
    """Primary plus a broad scatter component that makes up ``scatter_fraction`` of the total."""
    dx, _, dz = grid.spacing_mm
    s1, s2 = camera.scatter_sigmas_mm
    kern = 0.6 * ndimage.gaussian_filter(primary, (s1 / dz, s1 / dx), mode="constant")
    kern += 0.4 * ndimage.gaussian_filter(primary, (s2 / dz, s2 / dx), mode="constant")
    f = camera.scatter_fraction
    return primary + kern * (f / (1.0 - f))


def add_motion(density: np.ndarray, grid: Grid, camera: Camera = PLANAR_CAMERA) -> np.ndarray:
    """Density blurred by the camera's ``motion_fwhm_mm`` (Gaussian, the same at every depth)."""
    if camera.motion_fwhm_mm <= 0.0:
        return density
    dx, _, dz = grid.spacing_mm
    s = camera.motion_fwhm_mm / 2.3548
    return ndimage.gaussian_filter(density, (s / dz, s / dx), mode="constant")


def resample(density: np.ndarray, grid: Grid, geom: ViewGeometry, view: str) -> np.ndarray:
    """Density on the (z, x) grid plane -> counts collected by each camera pixel.

    A pixel collects every event over its square: the density is first smoothed by the
    Gaussian with the variance of that square (``spacing_mm^2 / 12`` per axis) and then
    sampled at the pixel centre and multiplied by the pixel area.
    """
    dx, _, dz = grid.spacing_mm
    box = geom.spacing_mm / np.sqrt(12.0)
    density = ndimage.gaussian_filter(density, (box / dz, box / dx), mode="constant")
    x0, _, z0 = grid.origin_mm
    xs = (geom.x_of_col(view) - x0) / dx
    zs = (geom.z_of_row() - z0) / dz
    zz, xx = np.meshgrid(zs, xs, indexing="ij")
    vals = ndimage.map_coordinates(density, [zz, xx], order=1, mode="constant", cval=0.0)
    return np.clip(vals, 0.0, None) * geom.spacing_mm**2


def poisson(expected: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Poisson counts (uint16) from expected counts rounded to 3 decimals (float32) first, so
    that last-bit differences between machines do not change the draw."""
    lam = np.round(expected.astype(np.float32), 3).astype(np.float64)
    counts = rng.poisson(lam)
    if counts.max() > 65535:
        raise ValueError("counts exceed 16 bits")
    return counts.astype(np.uint16)
