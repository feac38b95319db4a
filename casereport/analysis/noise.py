"""Local noise statistics of a planar view: is it Poisson counting noise, or more?

Counts of a gamma camera are Poisson: in a region of constant expected counts the variance
equals the mean. Structure in the expected counts (anatomy, edges, gradients) adds variance
on top, so the local variance/mean of a view measures how much of its pixel-to-pixel
fluctuation is counting noise. Real Tc-99m MDP whole-body scans sit near 1.1 in the
soft-tissue background; a smooth-but-noisy view reads about 1.0, a view whose anatomy
changes within a few pixels reads well above it.

The measure (:func:`local_noise`): mean and unbiased variance in ``window`` x ``window``
pixel windows; the windows centred on body pixels (the full window inside the body
outline) whose local mean lies between the 30th and 70th percentile of the body's local
means; the median of variance/mean over those windows. It takes plain counts, so it runs
on any planar view, simulated or real.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

#: Gaussian sigma (mm) of the smoothing that finds the body outline.
OUTLINE_SIGMA_MM = 6.0
#: The outline: smoothed counts above this fraction of the 99th percentile of the smoothed
#: pixels that hold counts (bone and bladder), then ``OUTLINE_FRACTION`` of the median
#: inside that first guess.
ROUGH_FRACTION = 0.02
OUTLINE_FRACTION = 0.2


@dataclass(frozen=True)
class LocalNoise:
    """Local variance/mean of one view.

    Attributes:
        var_over_mean: median over the evaluated windows of variance / mean (unitless;
            1 for pure Poisson noise).
        windows: number of windows evaluated (pixels between the percentiles).
        body_pixels: pixels inside the body outline.
        band_counts: (low, high) local mean counts per pixel that bound the evaluated band.
    """

    var_over_mean: float
    windows: int
    body_pixels: int
    band_counts: tuple[float, float]


def body_outline(
    counts: np.ndarray,
    pixel_mm: tuple[float, float] = (1.0, 1.0),
    *,
    sigma_mm: float = OUTLINE_SIGMA_MM,
    fraction: float = OUTLINE_FRACTION,
) -> np.ndarray:
    """Boolean mask of the body in a planar view: the largest connected region of smoothed
    counts above ``fraction`` of the median body level, with holes filled.

    The body level is the median of the smoothed pixels above 2 % of the 99th percentile of
    smoothed counts, so the threshold scales with the counts and ignores the scatter halo.
    ``pixel_mm`` is (row, column) spacing in mm. Raises ValueError for an image without counts.
    """
    img = np.asarray(counts, dtype=np.float64)
    dy, dx = pixel_mm
    smooth = ndimage.gaussian_filter(img, (sigma_mm / dy, sigma_mm / dx), mode="constant")
    positive = smooth[smooth > 0]
    if positive.size == 0:
        raise ValueError("image has no counts")
    rough = smooth > ROUGH_FRACTION * float(np.percentile(positive, 99))
    mask = smooth > fraction * float(np.median(smooth[rough]))
    labels, n = ndimage.label(mask)
    if n == 0:
        raise ValueError("no body outline found")
    sizes = ndimage.sum_labels(mask, labels, index=np.arange(1, n + 1))
    return np.asarray(ndimage.binary_fill_holes(labels == int(np.argmax(sizes)) + 1))


def local_moments(counts: np.ndarray, window: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """(mean, unbiased variance) of the counts in ``window`` x ``window`` windows."""
    x = np.asarray(counts, dtype=np.float64)
    n = window * window
    mean = ndimage.uniform_filter(x, window, mode="constant")
    mean_sq = ndimage.uniform_filter(x * x, window, mode="constant")
    var = np.clip(mean_sq - mean * mean, 0.0, None) * (n / (n - 1))
    return mean, var


def local_noise(
    counts: np.ndarray,
    pixel_mm: tuple[float, float] = (1.0, 1.0),
    *,
    window: int = 5,
    band: tuple[float, float] = (30.0, 70.0),
    body: np.ndarray | None = None,
) -> LocalNoise:
    """Median local variance/mean of the body pixels in the ``band`` percentiles (see the
    module docstring). ``body`` defaults to :func:`body_outline`."""
    if body is None:
        body = body_outline(counts, pixel_mm)
    mean, var = local_moments(counts, window)
    inside = ndimage.binary_erosion(body, np.ones((window, window), dtype=bool))
    if not inside.any():
        raise ValueError("body outline too small for the window")
    lo, hi = (float(v) for v in np.percentile(mean[inside], band))
    sel = inside & (mean >= lo) & (mean <= hi) & (mean > 0)
    ratio = var[sel] / mean[sel]
    return LocalNoise(float(np.median(ratio)), int(sel.sum()), int(body.sum()), (lo, hi))
