"""casereport.analysis.noise: local variance/mean on Poisson images built in the test."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from casereport.analysis.noise import body_outline, local_moments, local_noise

PIXEL_MM = (2.3, 2.3)


def _body(shape: tuple[int, int] = (600, 256)) -> np.ndarray:
    """An elliptic 'body' (True inside), semi-axes 250 x 80 pixels."""
    rows, cols = np.indices(shape)
    r0, c0 = (shape[0] - 1) / 2.0, (shape[1] - 1) / 2.0
    return ((rows - r0) / 250.0) ** 2 + ((cols - c0) / 80.0) ** 2 <= 1.0


def _expected(level: float, stripes: float = 0.0, period_px: float = 8.0) -> np.ndarray:
    """Expected counts: ``level`` inside the body, optionally modulated by horizontal stripes
    of relative amplitude ``stripes`` (structure at the scale of a few pixels)."""
    body = _body()
    rows = np.indices(body.shape)[0]
    lam = level * (1.0 + stripes * np.sin(2.0 * np.pi * rows / period_px))
    return np.where(body, lam, 0.0)


def _draw(lam: np.ndarray, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).poisson(lam).astype(np.float64)


def test_flat_poisson_field_reads_one() -> None:
    for level in (5.0, 20.0, 80.0):
        noise = local_noise(_draw(_expected(level)), PIXEL_MM)
        assert noise.var_over_mean == pytest.approx(1.0, abs=0.03), (level, noise)
        assert noise.windows > 20000
        assert noise.band_counts[0] < level < noise.band_counts[1]


def test_structure_adds_variance_in_proportion_to_the_counts() -> None:
    # Stripes of +-20 % add 0.5 * (0.2 * level)^2 * (window attenuation) of variance: the
    # excess over 1 grows with the count level, as anatomy does in a real scan.
    flat = local_noise(_draw(_expected(20.0)), PIXEL_MM).var_over_mean
    low = local_noise(_draw(_expected(20.0, stripes=0.2)), PIXEL_MM).var_over_mean
    high = local_noise(_draw(_expected(80.0, stripes=0.2)), PIXEL_MM).var_over_mean
    assert flat < 1.05
    assert low > 1.15
    assert high - 1.0 == pytest.approx(4.0 * (low - 1.0), rel=0.25)


def test_smoothing_the_expected_counts_removes_the_structure_not_the_noise() -> None:
    lam = _expected(40.0, stripes=0.3, period_px=10.0)
    sharp = local_noise(_draw(lam), PIXEL_MM).var_over_mean
    smooth = local_noise(_draw(ndimage.gaussian_filter(lam, 6.0) * _body()), PIXEL_MM)
    assert sharp > 1.5
    assert smooth.var_over_mean == pytest.approx(1.0, abs=0.06)
    # Smoothing the counts themselves is not Poisson data any more: it reads below 1.
    blurred = ndimage.gaussian_filter(_draw(_expected(40.0)), 1.0)
    assert local_noise(blurred, PIXEL_MM, body=_body()).var_over_mean < 0.5


def test_body_outline_is_the_largest_region_with_holes_filled() -> None:
    body = _body()
    lam = np.where(body, 10.0, 0.0)
    lam[280:320, 110:146] = 0.5  # a cold region inside (e.g. a photopenic lesion)
    lam[5:15, 5:15] = 10.0  # a small hot spot outside (contamination)
    lam[250:260, 120:130] = 300.0  # a hot focus inside (bladder-like)
    mask = body_outline(_draw(lam), PIXEL_MM)
    assert not mask[10, 10]
    assert mask[300, 128]
    assert mask.sum() == pytest.approx(body.sum(), rel=0.1)


def test_local_moments_are_unbiased() -> None:
    counts = _draw(np.full((200, 200), 30.0))
    mean, var = local_moments(counts, 5)
    inner = (slice(5, -5), slice(5, -5))
    assert np.mean(mean[inner]) == pytest.approx(30.0, rel=0.01)
    assert np.mean(var[inner]) == pytest.approx(30.0, rel=0.02)


def test_no_counts_is_an_error() -> None:
    with pytest.raises(ValueError, match="no counts"):
        local_noise(np.zeros((50, 50)))
