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
    fov_mm: float = 540.0
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
    shp = (grid.shape[0], 2, grid.shape[1], grid.shape[2])
    hu = hu.reshape(shp).mean(axis=1)

    def frac(*tissues: Tissue) -> np.ndarray:
        m = np.isin(labels, [int(t) for t in tissues]).reshape(shp)
        return m.mean(axis=1, dtype=np.float32)

    px = dx
    # Lung parenchyma: gentle texture plus vessel-like dots and branches.
    lung = frac(Tissue.LUNG)
    tex = _smooth_noise(rng, hu.shape, (0.4, 2.5 / px, 2.5 / px))
    ves = _smooth_noise(rng, hu.shape, (0.6, 1.6 / px, 1.6 / px))
    vessels = np.where(ves > 1.9, 550.0 * np.minimum(ves - 1.9, 1.0), 0.0)
    hu += lung * (18.0 * tex + vessels)
    del tex, ves, vessels
    btex = _smooth_noise(rng, hu.shape, (0.3, 1.0, 1.0))
    hu += frac(Tissue.SPONGY, Tissue.MARROW) * 70.0 * btex
    hu += frac(Tissue.SOFT, Tissue.LIVER, Tissue.SPLEEN) * 6.0 * btex
    hu = ndimage.gaussian_filter(hu, (0.0, 0.75, 0.75))
    noise = ndimage.gaussian_filter(
        rng.standard_normal(hu.shape).astype(np.float32), (0.0, 0.7, 0.7)
    )
    noise *= proto.noise_hu / (noise.std() + 1e-12)
    hu += noise
    return np.clip(hu, -1024.0, 3071.0).astype(np.float32)
