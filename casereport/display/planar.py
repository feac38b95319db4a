"""NM planar display: inverted grey scale, views side by side, labelled, in view mm."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from matplotlib.axes import Axes
from matplotlib.image import AxesImage
from matplotlib.text import Text

from casereport.case.window import Modality, Window
from casereport.errors import FigureError
from casereport.io.types import PlanarImage

from .overlays import INK_ON_WHITE, add_scale_bar, clean_axes, outline

#: Colour map of NM planar images: inverted grey scale (high counts dark).
NM_CMAP = "gray_r"

#: Patient side shown on the image left / right, per view (planar conventions:
#: anterior views show the patient's right on the left, posterior views on the right).
VIEW_SIDES: dict[str, tuple[str, str]] = {
    "ANT": ("R", "L"),
    "POST": ("L", "R"),
}

#: Display order: anterior left, posterior right, others after.
_VIEW_ORDER = {"ANT": 0, "POST": 1}


@dataclass(frozen=True)
class CropMM:
    """A rectangle in view mm (planar) or plane mm (CT): x (u) and y (v) edges."""

    x_mm: tuple[float, float]
    y_mm: tuple[float, float]

    def __post_init__(self) -> None:
        for name, (lo, hi) in (("x", self.x_mm), ("y", self.y_mm)):
            if not (math.isfinite(lo) and math.isfinite(hi) and hi > lo):
                raise FigureError(
                    f"crop {name} range must be finite with lo < hi, got [{lo}, {hi}]"
                )

    def contains(self, xy: np.ndarray) -> bool:
        xy = np.atleast_2d(np.asarray(xy, dtype=float))
        return bool(
            np.all(
                (xy[:, 0] >= self.x_mm[0])
                & (xy[:, 0] <= self.x_mm[1])
                & (xy[:, 1] >= self.y_mm[0])
                & (xy[:, 1] <= self.y_mm[1])
            )
        )


@dataclass
class PlanarDisplay:
    """What :func:`show_planar_views` drew.

    Attributes:
        images: one ``AxesImage`` per view, left to right.
        texts: view labels and orientation letters.
        offsets_mm: per view name, ``(dx, dy)`` added to view mm to get axes data coordinates.
        boxes_mm: per view name, the displayed part of the view in view mm ((x0, x1), (y0, y1)).
        vmin, vmax: the window in counts.
    """

    images: list[AxesImage]
    texts: list[Text]
    offsets_mm: dict[str, tuple[float, float]]
    boxes_mm: dict[str, tuple[tuple[float, float], tuple[float, float]]]
    vmin: float
    vmax: float
    extras: list = field(default_factory=list)

    def to_data(self, view: str, xy_mm: np.ndarray) -> np.ndarray:
        """View mm of ``view`` -> axes data coordinates."""
        dx, dy = self.offsets_mm[view.upper()]
        xy = np.asarray(xy_mm, dtype=float)
        return xy + np.array([dx, dy])


def order_views(views: Sequence[PlanarImage]) -> list[PlanarImage]:
    """Anterior first, posterior second, others in their given order."""
    return sorted(views, key=lambda v: _VIEW_ORDER.get(v.view.upper(), 2))


def _crop_indices(img: PlanarImage, crop: CropMM | None) -> tuple[slice, slice, tuple]:
    dy, dx = img.pixel_spacing_mm
    rows, cols = img.shape
    if crop is None:
        return slice(0, rows), slice(0, cols), ((0.0, cols * dx), (0.0, rows * dy))
    c0 = max(0, int(math.floor(crop.x_mm[0] / dx)))
    c1 = min(cols, int(math.ceil(crop.x_mm[1] / dx)))
    r0 = max(0, int(math.floor(crop.y_mm[0] / dy)))
    r1 = min(rows, int(math.ceil(crop.y_mm[1] / dy)))
    if c1 <= c0 or r1 <= r0:
        w, h = img.size_mm
        raise FigureError(
            f"crop x {crop.x_mm} y {crop.y_mm} mm misses the {img.view} view "
            f"(0-{w:.0f} x 0-{h:.0f} mm)"
        )
    return slice(r0, r1), slice(c0, c1), ((c0 * dx, c1 * dx), (r0 * dy, r1 * dy))


def show_planar_views(
    views: Sequence[PlanarImage],
    window: Window,
    *,
    ax: Axes,
    crop: CropMM | None = None,
    gap_mm: float = 10.0,
    labels: bool = True,
    markers: bool = True,
    scale_bar_mm: float | None = 100.0,
    fontsize: float = 7.0,
    interpolation: str = "bilinear",
) -> PlanarDisplay:
    """Draw NM planar views side by side (anterior left) in inverted grey scale.

    Axes data units are mm: the first view's displayed box starts at x = 0, the next one
    ``gap_mm`` to its right; y is view mm growing downwards. One window (``vmin``,
    ``vmax`` in counts) is shared by all views; percentiles pool the displayed pixels.

    Args:
        views: the planar images (e.g. ANT and POST of one study).
        window: NM window by counts or percentiles.
        ax: target axes.
        crop: part of each view to show, in view mm.
        gap_mm: white space between the views.
        labels: write the view name above each view.
        markers: write patient side letters (R/L) on each view (ANT and POST only).
        scale_bar_mm: length of the scale bar (None: none).
        fontsize: text size in points.
        interpolation: matplotlib interpolation of the count images.
    """
    if not views:
        raise FigureError("no planar view to draw")
    ordered = order_views(views)
    cut = [_crop_indices(v, crop) for v in ordered]
    arrays = [v.counts[rs, cs] for v, (rs, cs, _) in zip(ordered, cut, strict=True)]
    vmin, vmax = window.require(Modality.NM).limits(*arrays)
    clean_axes(ax, "white")

    images: list[AxesImage] = []
    texts: list[Text] = []
    offsets: dict[str, tuple[float, float]] = {}
    boxes: dict[str, tuple[tuple[float, float], tuple[float, float]]] = {}
    x_cursor = 0.0
    y_top = min(box[1][0] for _, _, box in cut)
    y_bottom = max(box[1][1] for _, _, box in cut)
    for view, arr, (_, _, box) in zip(ordered, arrays, cut, strict=True):
        (x0, x1), (y0, y1) = box
        dx = x_cursor - x0
        offsets[view.view.upper()] = (dx, 0.0)
        boxes[view.view.upper()] = box
        im = ax.imshow(
            arr,
            cmap=NM_CMAP,
            vmin=vmin,
            vmax=vmax,
            origin="upper",
            extent=(x0 + dx, x1 + dx, y1, y0),
            interpolation=interpolation,
            resample=False,
        )
        images.append(im)
        width = x1 - x0
        height = y1 - y0
        if labels:
            texts.append(
                ax.text(
                    x_cursor + width / 2.0,
                    y0 + 0.015 * height,
                    view.view.upper(),
                    ha="center",
                    va="top",
                    fontsize=fontsize,
                    color=INK_ON_WHITE,
                    fontweight="bold",
                    path_effects=outline("white", 2.0),
                )
            )
        sides = VIEW_SIDES.get(view.view.upper())
        if markers and sides:
            for letter, x, ha in (
                (sides[0], x_cursor + 0.02 * width, "left"),
                (sides[1], x_cursor + 0.98 * width, "right"),
            ):
                texts.append(
                    ax.annotate(
                        letter,
                        xy=(x, y0 + 0.015 * height),
                        xytext=(0.0, -1.5 * fontsize),
                        textcoords="offset points",
                        ha=ha,
                        va="top",
                        fontsize=fontsize,
                        color=INK_ON_WHITE,
                        fontweight="bold",
                        path_effects=outline("white", 2.0),
                    )
                )
        x_cursor += width + gap_mm
    ax.set_xlim(0.0, x_cursor - gap_mm)
    ax.set_ylim(y_bottom, y_top)
    extras: list = []
    if scale_bar_mm:
        extras.extend(add_scale_bar(ax, scale_bar_mm, color=INK_ON_WHITE, fontsize=fontsize))
    return PlanarDisplay(images, texts, offsets, boxes, vmin, vmax, extras)
