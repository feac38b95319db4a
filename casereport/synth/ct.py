"""Low-dose chest CT from the phantom: HU by tissue, lung texture with vessels, bone texture,
scanner blur and correlated noise."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from casereport.synth.anatomy import Body, Tissue, rasterise
from casereport.synth.grid import Grid
from casereport.synth.physics import HU, lookup


@dataclass(frozen=True)
class CTProtocol:
    """Matrix, pixel size (mm), slice thickness (mm), noise (HU) and tube settings."""

    matrix: int = 256
    fov_mm: float = 480.0
    slice_mm: float = 5.0
    noise_hu: float = 22.0
    kvp: float = 120.0
    ma: int = 30
    above_apex_mm: float = 30.0
    below_stomach_mm: float = 20.0

    @property
    def pixel_mm(self) -> float:
        return self.fov_mm / self.matrix


def ct_grid(body: Body, proto: CTProtocol) -> Grid:
    """Chest grid from just above the lung apices to below the stomach (upper abdomen)."""
    lungs = [body.lungs["R"], body.lungs["L"]]
    top = max(lu.centre[2] + lu.radii[2] for lu in lungs) + proto.above_apex_mm
    st = body.stomach
    bottom = st.centre[2] - max(st.radii) - proto.below_stomach_mm
    n = int(np.ceil((top - bottom) / proto.slice_mm))
    d = proto.pixel_mm
    o = -(proto.matrix - 1) / 2.0 * d
    return Grid(
        (o, o, float(top - (n - 1) * proto.slice_mm)),
        (d, d, proto.slice_mm),
        (n, proto.matrix, proto.matrix),
    )


def _smooth_noise(
    rng: np.random.Generator, shape: tuple[int, ...], sigma: tuple[float, ...]
) -> np.ndarray:
    f = ndimage.gaussian_filter(rng.standard_normal(shape).astype(np.float32), sigma)
    return f / (f.std() + 1e-12)


def table_mask(grid: Grid, back_mm: float = 0.0) -> np.ndarray:
    """(ny, nx) mask of the scanner table: a curved carbon top under the patient's back and
    a curved base below it, open at the sides."""
    x = grid.axis(0)[None, :]
    y = grid.axis(1)[:, None]
    top = back_mm + 3.0 - 0.0004 * x**2
    plate = (y >= top) & (y <= top + 7.0) & (np.abs(x) < 230.0)
    base = (y >= top + 62.0) & (y <= top + 68.0) & (np.abs(x) < 190.0)
    return plate | base


def ct_noise(
    labels: np.ndarray, grid: Grid, proto: CTProtocol, rng: np.random.Generator
) -> np.ndarray:
    """Low-dose CT noise (HU): correlated over 2-3 pixels like a reconstruction kernel, and
    horizontal streaks across the shoulders that grow with the lateral path through the body.
    """
    body = labels > 0
    noise = ndimage.gaussian_filter(
        rng.standard_normal(labels.shape).astype(np.float32), (0.0, 1.0, 1.0)
    )
    noise *= proto.noise_hu / (noise.std() + 1e-12)
    width = body.sum(axis=2).max(axis=1).astype(np.float32)  # widest row per slice, pixels
    bone = (labels >= int(Tissue.SPONGY)) & (labels <= int(Tissue.CORTICAL))
    dense = bone.sum(axis=(1, 2)).astype(np.float32)
    load = (width / max(float(width.max()), 1.0)) ** 2 * (
        1.0 + dense / max(float(dense.max()), 1.0)
    )
    streak = ndimage.gaussian_filter(
        rng.standard_normal(labels.shape).astype(np.float32), (0.0, 0.6, 18.0)
    )
    streak /= streak.std() + 1e-12
    amp = proto.noise_hu * 1.6 * np.clip(load - 0.6, 0.0, None)[:, None, None]
    return noise * (0.6 + 0.4 * body) + streak * amp * body


#: Density added to the lung (HU) at its front and its back on each slice of a supine
#: scan: the dependent lung is less expanded and holds more blood.
LUNG_FRONT_HU = -30.0
LUNG_BACK_HU = 60.0


def dependent_hu(lung: np.ndarray, grid: Grid) -> np.ndarray:
    """Supine gravity gradient (HU) over ``lung`` (nz, ny, nx bool): on each slice from
    :data:`LUNG_FRONT_HU` at the most anterior lung row to :data:`LUNG_BACK_HU` at the
    most posterior one, rising with the square of the depth (steepest in the dependent
    lung; zero on average over the depth)."""
    y = grid.axis(1)
    rows: np.ndarray = np.any(lung, axis=2)  # (nz, ny)
    ny = rows.shape[1]
    front = y[np.argmax(rows, axis=1)]
    back = y[ny - 1 - np.argmax(rows[:, ::-1], axis=1)]
    depth = np.maximum(back - front, 1.0)
    u = np.clip((y[None, :] - front[:, None]) / depth[:, None], 0.0, 1.0)
    span = LUNG_BACK_HU - LUNG_FRONT_HU
    gain = LUNG_FRONT_HU + span * u**2
    return np.where(np.any(rows, axis=1)[:, None], gain, 0.0)[:, :, None].astype(np.float32)


def simulate_ct(body: Body, grid: Grid, proto: CTProtocol, rng: np.random.Generator) -> np.ndarray:
    """HU volume (nz, ny, nx) float32 on ``grid``.

    Each slice averages two sub-slices (partial volume across the 5 mm thickness).
    """
    dx, dy, dz = grid.spacing_mm
    ox, oy, oz = grid.origin_mm
    fine = Grid(
        (ox, oy, oz - dz / 4.0),
        (dx, dy, dz / 2.0),
        (grid.shape[0] * 2, grid.shape[1], grid.shape[2]),
    )
    labels = rasterise(body, fine).labels
    hu = lookup(HU, labels)
    rows = np.any(labels, axis=2)  # (2 nz, ny): body present per slice and row
    back = float(np.max([grid.axis(1)[np.flatnonzero(r)[-1]] for r in rows if r.any()]))
    shp = (grid.shape[0], 2, grid.shape[1], grid.shape[2])
    hu = hu.reshape(shp).mean(axis=1)

    def frac(*tissues: Tissue) -> np.ndarray:
        m = np.isin(labels, [int(t) for t in tissues]).reshape(shp)
        return m.mean(axis=1, dtype=np.float32)

    px = dx
    # Lung parenchyma: fine texture (about 1.5 mm, the acini and small vessels), a coarser
    # mottle (about 4 mm, the secondary lobules) and denser dependent (posterior) lung.
    lung = frac(Tissue.LUNG)
    tex = _smooth_noise(rng, hu.shape, (0.4, 1.5 / px, 1.5 / px))
    mottle = _smooth_noise(rng, hu.shape, (0.3, 4.0 / px, 4.0 / px))
    hu += lung * (22.0 * tex + 12.0 * mottle + dependent_hu(lung > 0, grid))
    del mottle
    # Glandular strands in the breasts; trabecular texture in bone.
    hu += frac(Tissue.BREAST) * 60.0 * tex
    del tex
    btex = _smooth_noise(rng, hu.shape, (0.3, 1.0, 1.0))
    hu += frac(Tissue.SPONGY, Tissue.MARROW) * 70.0 * btex
    hu += frac(Tissue.SOFT, Tissue.LIVER, Tissue.SPLEEN) * 6.0 * btex
    del btex
    outside = labels.reshape(shp)[:, 0] == 0
    hu = np.where(table_mask(grid, back)[None] & outside, 180.0, hu)
    hu = ndimage.gaussian_filter(hu, (0.0, 0.6, 0.6))
    hu += ct_noise(labels.reshape(shp)[:, 0], grid, proto, rng)
    return np.clip(hu, -1024.0, 3071.0).astype(np.float32)
