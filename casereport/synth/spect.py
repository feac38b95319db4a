"""Chest SPECT: attenuated projections with distance-dependent blur, scatter and Poisson
noise; OSEM reconstruction with CT-based attenuation correction.

Volumes are handled slice-parallel: a (nz, ny, nx) volume is stored as a (ny * nx, nz) matrix
so that one sparse bilinear rotation matrix per angle rotates all slices at once. In the
rotated frame the camera always faces the rows from index 0 (the anterior side at angle 0);
the camera position angle runs counter-clockwise seen from the feet, starting anterior.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage, sparse

from casereport.synth.physics import CAMERA, Camera


@dataclass(frozen=True)
class SpectProtocol:
    """Acquisition and reconstruction parameters.

    Attributes:
        n_angles: projections over 360 degrees.
        matrix: projection and slice matrix (square).
        pixel_mm: projection pixel and reconstructed voxel size (mm).
        n_slices: reconstructed slices (axial extent = n_slices * pixel_mm).
        orbit_mm: radius of the circular orbit (collimator face to axis, mm).
        seconds_per_view: acquisition time per projection (s).
        iterations, subsets: OSEM parameters.
        postfilter_fwhm_mm: 3-D Gaussian post-filter.
    """

    n_angles: int = 120
    matrix: int = 128
    pixel_mm: float = 4.42
    n_slices: int = 64
    orbit_mm: float = 280.0
    seconds_per_view: float = 20.0
    iterations: int = 4
    subsets: int = 10
    postfilter_fwhm_mm: float = 9.0

    @property
    def angles_deg(self) -> np.ndarray:
        return np.arange(self.n_angles) * (360.0 / self.n_angles)


def rotation_matrix(n: int, angle_deg: float) -> sparse.csr_matrix:
    """Bilinear resampling matrix: rotated plane (row-major n x n) from the original plane.

    Output pixel (j, i) takes the value of the original plane at the point obtained by
    rotating its centre-relative coordinates by ``angle_deg`` (counter-clockwise in (x, y)).
    """
    t = np.deg2rad(angle_deg)
    c, s = np.cos(t), np.sin(t)
    centre = (n - 1) / 2.0
    jj, ii = np.meshgrid(np.arange(n, dtype=float), np.arange(n, dtype=float), indexing="ij")
    xr, yr = ii - centre, jj - centre
    x = c * xr - s * yr + centre
    y = s * xr + c * yr + centre
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    fx, fy = x - x0, y - y0
    rows, cols, vals = [], [], []
    out = (jj * n + ii).astype(int).ravel()
    for dy, dx, w in (
        (0, 0, (1 - fx) * (1 - fy)),
        (0, 1, fx * (1 - fy)),
        (1, 0, (1 - fx) * fy),
        (1, 1, fx * fy),
    ):
        xi, yi = (x0 + dx).ravel(), (y0 + dy).ravel()
        ok = (xi >= 0) & (xi < n) & (yi >= 0) & (yi < n) & (w.ravel() > 1e-6)
        rows.append(out[ok])
        cols.append((yi * n + xi)[ok])
        vals.append(w.ravel()[ok])
    m = sparse.csr_matrix(
        (np.concatenate(vals).astype(np.float32), (np.concatenate(rows), np.concatenate(cols))),
        shape=(n * n, n * n),
    )
    return m


def rotation_set(proto: SpectProtocol) -> tuple[list[sparse.csr_matrix], list[sparse.csr_matrix]]:
    """Rotation matrices and their transposes for every angle of ``proto``."""
    rot = [rotation_matrix(proto.matrix, a) for a in proto.angles_deg]
    return rot, [m.T.tocsr() for m in rot]


class Projector:
    """Attenuated parallel-beam projector/back-projector for one attenuation map."""

    def __init__(
        self,
        mu_per_mm: np.ndarray,
        proto: SpectProtocol,
        rotations: tuple[list[sparse.csr_matrix], list[sparse.csr_matrix]] | None = None,
    ) -> None:
        nz, ny, nx = mu_per_mm.shape
        assert ny == nx == proto.matrix
        self.n, self.nz, self.proto = nx, nz, proto
        if rotations is None:
            rotations = rotation_set(proto)
        self.rot, self.rot_t = rotations
        mu_cols = self.to_cols(mu_per_mm)
        self.att = np.empty((proto.n_angles, ny, nx, nz), dtype=np.float32)
        for a, m in enumerate(self.rot):
            mr = (m @ mu_cols).reshape(ny, nx, nz)
            mr *= proto.pixel_mm
            path = self.att[a]
            # Path from the centre of row j to the camera side (row 0), accumulated in place.
            acc = np.zeros((nx, nz), dtype=np.float32)
            for j in range(ny):
                path[j] = acc + 0.5 * mr[j]
                acc += mr[j]
            np.exp(-path, out=path)

    def to_cols(self, vol: np.ndarray) -> np.ndarray:
        """(nz, ny, nx) -> (ny * nx, nz) float32."""
        nz = vol.shape[0]
        return np.ascontiguousarray(vol.reshape(nz, -1).T, dtype=np.float32)

    def from_cols(self, cols: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(cols.T.reshape(self.nz, self.n, self.n))

    def rotated(self, a: int, cols: np.ndarray) -> np.ndarray:
        """Volume in the frame of angle ``a`` times attenuation: (ny, nx, nz)."""
        return (self.rot[a] @ cols).reshape(self.n, self.n, self.nz) * self.att[a]

    def forward(self, a: int, cols: np.ndarray) -> np.ndarray:
        """Projection (nx bins, nz slices) of the volume at angle index ``a`` (no blur)."""
        return self.rotated(a, cols).sum(axis=0)

    def back(self, a: int, proj: np.ndarray) -> np.ndarray:
        """Adjoint of :meth:`forward`: (nx, nz) -> (ny * nx, nz)."""
        spread = self.att[a] * proj[None, :, :]
        return self.rot_t[a] @ spread.reshape(self.n * self.n, self.nz)


def simulate(
    activity_mbq: np.ndarray,
    projector: Projector,
    rng: np.random.Generator,
    camera: Camera = CAMERA,
) -> np.ndarray:
    """Noisy projections (n_angles, nz, nx) in counts, with distance-dependent blur and scatter.

    ``projector`` carries the true attenuation map of the phantom.
    """
    p = projector.proto
    cols = projector.to_cols(activity_mbq)
    n, nz = projector.n, projector.nz
    # Distance from the collimator face of each rotated row (row 0 is nearest the camera).
    centre = (n - 1) / 2.0
    dist = np.maximum(p.orbit_mm + (np.arange(n) - centre) * p.pixel_mm, 0.0)
    group = 4
    scale = camera.sensitivity_cps_per_mbq * p.seconds_per_view
    f = camera.scatter_fraction
    s1, s2 = (s / p.pixel_mm for s in camera.scatter_sigmas_mm)
    out = np.empty((p.n_angles, nz, n), dtype=np.float32)
    for a in range(p.n_angles):
        vol = projector.rotated(a, cols)  # (ny, nx, nz)
        prim = np.zeros((nz, n), dtype=np.float64)
        for j0 in range(0, n, group):
            plane = vol[j0 : j0 + group].sum(axis=0).T  # (nz, nx)
            if not plane.any():
                continue
            sig = float(camera.sigma_mm(dist[min(j0 + group // 2, n - 1)])) / p.pixel_mm
            prim += ndimage.gaussian_filter(plane, sig, mode="constant")
        scat = 0.6 * ndimage.gaussian_filter(prim, s1, mode="constant")
        scat += 0.4 * ndimage.gaussian_filter(prim, s2, mode="constant")
        out[a] = (prim + scat * f / (1.0 - f)) * scale
    lam = np.round(out, 3).astype(np.float64)
    return rng.poisson(lam).astype(np.float32)


def scatter_estimate(proj: np.ndarray, camera: Camera, pixel_mm: float) -> np.ndarray:
    """Smooth additive scatter estimate from the measured projections (counts)."""
    f = camera.scatter_fraction
    s1, s2 = (s / pixel_mm for s in camera.scatter_sigmas_mm)
    est = np.empty_like(proj)
    for a in range(proj.shape[0]):
        smooth = 0.6 * ndimage.gaussian_filter(proj[a], s1) + 0.4 * ndimage.gaussian_filter(
            proj[a], s2
        )
        est[a] = f * smooth
    return est


def osem(proj: np.ndarray, projector: Projector, camera: Camera = CAMERA) -> np.ndarray:
    """OSEM reconstruction (nz, ny, nx) with the projector's attenuation model.

    ``proj`` is (n_angles, nz, nx) counts; the result is in counts per voxel per view-second
    up to a global factor and is post-filtered with a 3-D Gaussian.
    """
    p = projector.proto
    n, nz = projector.n, projector.nz
    meas = np.transpose(proj, (0, 2, 1)).astype(np.float32)  # (angles, nx, nz)
    scat = np.transpose(scatter_estimate(proj, camera, p.pixel_mm), (0, 2, 1))
    subsets = [list(range(s, p.n_angles, p.subsets)) for s in range(p.subsets)]
    ones = np.ones((n, nz), dtype=np.float32)
    sens = []
    for sub in subsets:
        acc = np.zeros((n * n, nz), dtype=np.float32)
        for a in sub:
            acc += projector.back(a, ones)
        sens.append(acc)
    x = np.ones((n * n, nz), dtype=np.float32)
    support = sum(sens) > 0
    x[~support] = 0.0
    for _ in range(p.iterations):
        for s, sub in enumerate(subsets):
            upd = np.zeros_like(x)
            for a in sub:
                est = projector.forward(a, x) + scat[a] + 1e-3
                upd += projector.back(a, meas[a] / est)
            with np.errstate(divide="ignore", invalid="ignore"):
                x *= np.where(sens[s] > 1e-6, upd / sens[s], 0.0)
    vol = projector.from_cols(x)
    sigma = p.postfilter_fwhm_mm / 2.3548 / p.pixel_mm
    return ndimage.gaussian_filter(vol, sigma).astype(np.float32)
