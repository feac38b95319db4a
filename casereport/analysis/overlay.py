"""Draw ROIs over a planar view (in view mm, the coordinates the display uses)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Circle, Patch, Rectangle

from casereport.analysis.roi import PlanarROI
from casereport.io import WholeBody

if TYPE_CHECKING:
    from casereport.analysis.case import CaseAnalysis


def draw_rois(
    rois: Iterable[PlanarROI],
    *,
    ax: Axes,
    color: str = "tab:blue",
    label: bool = True,
    fontsize: float = 6.0,
) -> list[Patch]:
    """Outline each ROI on ``ax`` (whose data coordinates are view mm); return the patches."""
    patches: list[Patch] = []
    for roi in rois:
        if roi.radius_mm is None:
            p: Patch = Rectangle(
                (roi.x_mm[0], roi.y_mm[0]),
                roi.x_mm[1] - roi.x_mm[0],
                roi.y_mm[1] - roi.y_mm[0],
                fill=False,
                lw=0.8,
                ec=color,
            )
        else:
            p = Circle(roi.centre_mm, roi.radius_mm, fill=False, lw=0.8, ec=color)
        ax.add_patch(p)
        patches.append(p)
        if label:
            x, y = roi.centre_mm
            ax.annotate(
                roi.name,
                (x, y),
                xytext=(3, 3),
                textcoords="offset points",
                fontsize=fontsize,
                color=color,
            )
    return patches


def roi_overlay_figure(wb: WholeBody, result: CaseAnalysis, *, height_in: float = 6.0) -> Figure:
    """Anterior and posterior whole-body views (inverted grey) with every measured ROI:
    anatomical regions in blue, lesions and their references in red. A study holding one
    view only is drawn with that view."""
    views = list(wb.views)
    n = len(views)
    w, h = views[0].size_mm
    fig = Figure(figsize=(n * height_in * w / h + 0.2, height_in))
    for i, image in enumerate(views):
        ax = fig.add_axes((i / n + 0.005, 0.0, 1 / n - 0.01, 0.95))
        vmax = float(np.percentile(image.counts, 99.5)) or 1.0
        ax.imshow(
            image.counts,
            cmap="gray_r",
            vmin=0,
            vmax=vmax,
            extent=image.extent_mm,
            interpolation="nearest",
        )
        ax.set_title(
            f"{image.view} (simulated)" if image.source.simulated else image.view, fontsize=8
        )
        ax.set_axis_off()
        regions = [r for m in result.planar for r in m.rois if r.view == image.view]
        draw_rois(dict.fromkeys(regions), ax=ax, color="tab:blue", fontsize=4.5)
        lesions = [r for les in result.lesions for r in les.rois if r.view == image.view]
        draw_rois(lesions, ax=ax, color="tab:red", label=False)
    return fig
