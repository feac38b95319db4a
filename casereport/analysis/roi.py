"""Regions of interest in millimetres and their statistics.

A planar ROI is a rectangle or a circle in *view mm* of one :class:`PlanarImage`; its
pixels are those whose centres fall inside it. Statistics are in counts per pixel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from casereport.io import PlanarImage


@dataclass(frozen=True)
class PlanarROI:
    """A named rectangle (``radius_mm`` is None) or circle in view mm of one view.

    Attributes:
        name: e.g. ``"right lung"``.
        view: view name the coordinates refer to (``"ANT"``/``"POST"``).
        x_mm, y_mm: rectangle x/y ranges, or the circle's centre as (x, x) / (y, y).
        radius_mm: circle radius in mm, or None for a rectangle.
    """

    name: str
    view: str
    x_mm: tuple[float, float]
    y_mm: tuple[float, float]
    radius_mm: float | None = None

    @classmethod
    def circle(
        cls, name: str, view: str, centre_mm: tuple[float, float], radius_mm: float
    ) -> PlanarROI:
        x, y = centre_mm
        return cls(name, view, (x, x), (y, y), radius_mm)

    @property
    def centre_mm(self) -> tuple[float, float]:
        return (0.5 * (self.x_mm[0] + self.x_mm[1]), 0.5 * (self.y_mm[0] + self.y_mm[1]))

    def mask(self, image: PlanarImage) -> np.ndarray:
        """Boolean mask (rows, cols) of the pixels whose centres are inside the ROI."""
        rows, cols = image.shape
        dy, dx = image.pixel_spacing_mm
        yc = (np.arange(rows) + 0.5) * dy
        xc = (np.arange(cols) + 0.5) * dx
        if self.radius_mm is None:
            my = (yc >= self.y_mm[0]) & (yc <= self.y_mm[1])
            mx = (xc >= self.x_mm[0]) & (xc <= self.x_mm[1])
            return my[:, None] & mx[None, :]
        cx, cy = self.centre_mm
        return ((yc[:, None] - cy) ** 2 + (xc[None, :] - cx) ** 2) <= self.radius_mm**2

    def stats(self, image: PlanarImage) -> ROIStats:
        """Mean, standard deviation, total counts and area of the ROI on ``image``."""
        m = self.mask(image)
        values = image.counts[m].astype(np.float64)
        dy, dx = image.pixel_spacing_mm
        if values.size == 0:
            return ROIStats(self.name, 0, 0.0, 0.0, 0.0, 0.0)
        return ROIStats(
            name=self.name,
            n_pixels=int(values.size),
            mean_counts=float(values.mean()),
            std_counts=float(values.std()),
            total_counts=float(values.sum()),
            area_mm2=float(values.size * dx * dy),
        )


@dataclass(frozen=True)
class ROIStats:
    """Statistics of one ROI: counts per pixel (mean, sd), total counts, area in mm^2."""

    name: str
    n_pixels: int
    mean_counts: float
    std_counts: float
    total_counts: float
    area_mm2: float


def ratio(num: float, den: float) -> float:
    """num / den, NaN when the denominator is not positive."""
    return float(num / den) if den > 0 else float("nan")
