"""Draw ROIs over a planar view (in view mm, the coordinates the display uses)."""

from __future__ import annotations

from collections.abc import Iterable

from matplotlib.axes import Axes
from matplotlib.patches import Circle, Patch, Rectangle

from casereport.analysis.roi import PlanarROI


def draw_rois(rois: Iterable[PlanarROI], *, ax: Axes, color: str = "tab:blue",
              label: bool = True, fontsize: float = 6.0) -> list[Patch]:
    """Outline each ROI on ``ax`` (whose data coordinates are view mm); return the patches."""
    patches: list[Patch] = []
    for roi in rois:
        if roi.radius_mm is None:
            p: Patch = Rectangle((roi.x_mm[0], roi.y_mm[0]), roi.x_mm[1] - roi.x_mm[0],
                                 roi.y_mm[1] - roi.y_mm[0], fill=False, lw=0.8, ec=color)
        else:
            p = Circle(roi.centre_mm, roi.radius_mm, fill=False, lw=0.8, ec=color)
        ax.add_patch(p)
        patches.append(p)
        if label:
            x, y = roi.centre_mm
            ax.annotate(roi.name, (x, y), xytext=(3, 3), textcoords="offset points",
                        fontsize=fontsize, color=color)
    return patches
