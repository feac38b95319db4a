"""CT planes and SPECT/CT fusion, drawn in patient mm (radiological convention)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.colorbar import Colorbar
from matplotlib.colors import Colormap, ListedColormap, Normalize
from matplotlib.image import AxesImage
from matplotlib.text import Text
from matplotlib.ticker import FormatStrFormatter, MaxNLocator

from casereport.case.window import Modality, Window
from casereport.errors import FigureError
from casereport.io.types import CTVolume, SpectVolume

from .overlays import INK_ON_BLACK, add_orientation_markers, add_scale_bar, clean_axes
from .volume import PlaneGrid, PlaneImage, sample_plane

#: Colour map of the NM layer in fused images: "hot" without its black-to-dark-red start,
#: so that the lowest displayed uptake is red rather than darker than the CT below it.
FUSION_CMAP = "hot"
FUSION_CMAP_START = 0.3


def fusion_colormap(name: str = FUSION_CMAP, start: float = FUSION_CMAP_START) -> Colormap:
    """``name`` restricted to ``[start, 1]`` of its range (256 entries)."""
    base = colormaps[name]
    return ListedColormap(base(np.linspace(start, 1.0, 256)), name=f"{name}_from_{start:g}")


def blended_colormap(cmap: Colormap, alpha: float, grey: float) -> ListedColormap:
    """``cmap`` drawn at opacity ``alpha`` over a grey of level ``grey`` (0-1).

    A colour bar with this map shows the colours a semi-transparent overlay takes on
    a background of that grey, so the bar matches the image.
    """
    rgba = cmap(np.linspace(0.0, 1.0, 256))
    rgba[:, :3] = alpha * rgba[:, :3] + (1.0 - alpha) * grey
    rgba[:, 3] = 1.0
    return ListedColormap(rgba, name=f"{cmap.name}_over_{grey:.2f}")


def _ct_grey(ct: SliceDisplay, layer: np.ma.MaskedArray) -> float:
    """Median display grey (0-1) of the CT under the visible overlay pixels."""
    assert ct.ct_window is not None, "the fusion underlay is a CT plane"
    lo, hi = ct.ct_window.limits_hu
    under = ct.ct.array[~np.ma.getmaskarray(layer)]
    if under.size == 0:
        return 0.0
    return float(np.clip((np.median(under) - lo) / (hi - lo), 0.0, 1.0))


#: HU given to points of a plane outside the CT (air).
CT_FILL_HU = -1000.0


@dataclass
class SliceDisplay:
    """What :func:`show_ct_plane` / :func:`show_fusion` drew.

    Attributes:
        images: the CT image, then the NM overlay (fusion only).
        texts: orientation letters.
        grid: the plane grid, in patient mm; axes data coordinates are (u, v) mm of it.
        ct: CT values on the grid (HU); nm: NM values on the same grid (counts) or None.
        ct_window: the CT window; nm_limits: (vmin, vmax) counts of the NM layer or None.
        colorbar: the colour bar of the NM layer, if any.
    """

    images: list[AxesImage]
    texts: list[Text]
    grid: PlaneGrid
    ct: PlaneImage
    ct_window: Window | None
    nm: PlaneImage | None = None
    nm_limits: tuple[float, float] | None = None
    colorbar: Colorbar | None = None
    extras: list = field(default_factory=list)


def _set_plane_limits(ax: Axes, grid: PlaneGrid) -> None:
    ax.set_xlim(*grid.u_range_mm)
    v0, v1 = grid.v_range_mm
    ax.set_ylim((v1, v0) if grid.plane.v_down else (v0, v1))


def _grey_plane(
    ax: Axes,
    plane: PlaneImage,
    grid: PlaneGrid,
    limits: tuple[float, float],
    *,
    dark: bool,
    markers: bool,
    scale_bar_mm: float | None,
    fontsize: float,
) -> tuple[AxesImage, list[Text], list]:
    """A plane in grey scale on ``ax`` (``dark``: CT on black, else inverted NM on white),
    with orientation letters and a scale bar; returns the image, the letters, the bar."""
    ink = INK_ON_BLACK if dark else "black"
    clean_axes(ax, "black" if dark else "white")
    im = ax.imshow(
        plane.array,
        cmap="gray" if dark else "gray_r",
        vmin=limits[0],
        vmax=limits[1],
        origin="lower",
        extent=grid.extent,
        interpolation="bilinear",
        resample=False,
    )
    _set_plane_limits(ax, grid)
    texts: list[Text] = []
    if markers:
        left, right, top, bottom = grid.plane.markers
        texts = add_orientation_markers(ax, left, right, top, bottom, color=ink, fontsize=fontsize)
    extras: list = []
    if scale_bar_mm:
        extras.extend(add_scale_bar(ax, scale_bar_mm, color=ink, fontsize=fontsize))
    return im, texts, extras


def show_ct_plane(
    ct: CTVolume,
    grid: PlaneGrid,
    window: Window,
    *,
    ax: Axes,
    markers: bool = True,
    scale_bar_mm: float | None = 50.0,
    fontsize: float = 7.0,
) -> SliceDisplay:
    """Draw the CT on ``grid`` in grey scale with ``window``.

    Axes data coordinates are patient mm in the plane (axial: x, y LPS; coronal: x, z),
    with the patient's right on the image left and, for axial planes, anterior at the top.
    """
    plane = sample_plane(ct, grid, order=1, fill=CT_FILL_HU)
    vmin, vmax = window.require(Modality.CT).limits_hu
    im, texts, extras = _grey_plane(
        ax,
        plane,
        grid,
        (vmin, vmax),
        dark=True,
        markers=markers,
        scale_bar_mm=scale_bar_mm,
        fontsize=fontsize,
    )
    return SliceDisplay([im], texts, grid, plane, window, extras=extras)


def show_fusion(
    ct: CTVolume,
    spect: SpectVolume,
    grid: PlaneGrid,
    ct_window: Window,
    nm_window: Window,
    *,
    ax: Axes,
    alpha: float = 0.6,
    cmap: str = FUSION_CMAP,
    colorbar: bool = True,
    markers: bool = True,
    scale_bar_mm: float | None = 50.0,
    fontsize: float = 7.0,
) -> SliceDisplay:
    """CT in grey with the SPECT in a hot colour map on top, registered by patient mm.

    Both volumes are resampled on the same ``grid`` through their own affines, so they
    line up wherever their voxels sit. SPECT values below the window's lower limit are
    transparent; the colour map is ``cmap`` from :data:`FUSION_CMAP_START` up. With
    ``alpha`` 1 the overlay is opaque and its colours are those of the colour bar; below 1
    the bar is drawn blended over the median CT grey under the overlay.
    ``nm_window`` percentiles are taken over the whole SPECT volume
    (voxels > 0) so that the colour scale does not depend on the plane shown.
    """
    if not 0.0 < alpha <= 1.0:
        raise FigureError(f"fusion alpha must lie in (0, 1], got {alpha}")
    out = show_ct_plane(
        ct, grid, ct_window, ax=ax, markers=markers, scale_bar_mm=scale_bar_mm, fontsize=fontsize
    )
    nm = sample_plane(spect, grid, order=1, fill=0.0)
    vmin, vmax = nm_window.require(Modality.NM, "nm_window").limits(spect.array)
    layer = np.ma.masked_less(nm.array, vmin)
    cm = fusion_colormap(cmap)
    im = ax.imshow(
        layer,
        cmap=cm,
        vmin=vmin,
        vmax=vmax,
        origin="lower",
        extent=grid.extent,
        alpha=alpha,
        interpolation="bilinear",
        resample=False,
    )
    _set_plane_limits(ax, grid)
    # markers and scale bar above the overlay
    for artist in out.texts + out.extras:
        artist.set_zorder(5)
    out.images.append(im)
    out.nm = nm
    out.nm_limits = (vmin, vmax)
    if colorbar:
        cax = ax.inset_axes((1.03, 0.0, 0.05, 1.0))
        bar_cm = cm if alpha >= 1.0 else blended_colormap(cm, alpha, _ct_grey(out, layer))
        mappable = ScalarMappable(norm=Normalize(vmin=vmin, vmax=vmax), cmap=bar_cm)
        cb = ax.figure.colorbar(mappable, cax=cax)
        cb.locator = MaxNLocator(nbins=4)
        cb.formatter = FormatStrFormatter("%g")
        cb.update_ticks()
        cb.set_label(f"SPECT ({spect.units.lower()})", fontsize=fontsize, labelpad=2)
        cb.ax.tick_params(labelsize=fontsize, length=2, pad=1)
        cb.outline.set_linewidth(0.5)
        out.colorbar = cb
    return out


def show_nm_plane(
    spect: SpectVolume,
    grid: PlaneGrid,
    window: Window,
    *,
    ax: Axes,
    markers: bool = True,
    scale_bar_mm: float | None = 50.0,
    fontsize: float = 7.0,
) -> SliceDisplay:
    """A SPECT plane alone, in inverted grey scale (NM convention), in patient mm.

    ``window`` percentiles are taken over the whole volume (voxels > 0).
    """
    plane = sample_plane(spect, grid, order=1, fill=0.0)
    vmin, vmax = window.require(Modality.NM).limits(spect.array)
    im, texts, extras = _grey_plane(
        ax,
        plane,
        grid,
        (vmin, vmax),
        dark=False,
        markers=markers,
        scale_bar_mm=scale_bar_mm,
        fontsize=fontsize,
    )
    # the CT slot holds the NM plane here; there is no CT window
    return SliceDisplay(
        [im],
        texts,
        grid,
        plane,
        None,
        nm=plane,
        nm_limits=(vmin, vmax),
        extras=extras,
    )
