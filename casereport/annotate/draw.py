"""Draw case-file annotations (arrows, circles, ellipses, labels) in mm on a panel."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from matplotlib import patheffects
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.patches import Circle, Ellipse

from casereport.case import Annotation, AnnotationKind

#: (view name or None, (x_mm, y_mm)) -> axes data coordinates
ToData = Callable[[str | None, tuple[float, float]], tuple[float, float]]


def identity(view: str | None, xy: tuple[float, float]) -> tuple[float, float]:
    """Annotation mm are already axes data coordinates (CT and fusion panels)."""
    return (float(xy[0]), float(xy[1]))


def draw_annotations(
    annotations: Sequence[Annotation],
    ax: Axes,
    *,
    to_data: ToData = identity,
    color: str = "#e41a1c",
    halo: str = "white",
    fontsize: float = 6.5,
    linewidth: float = 1.2,
) -> list[Artist]:
    """Draw ``annotations`` on ``ax``; returns the artists in file order.

    Args:
        annotations: validated annotations of one panel.
        ax: the panel axes (data units mm).
        to_data: maps (view, mm) to axes data coordinates (planar panels offset each view).
        color: default colour (an annotation's own ``color`` wins).
        halo: colour of the thin outline under text (contrast with the image).
        fontsize: text size in points.
        linewidth: line width in points.
    """
    artists: list[Artist] = []
    for ann in annotations:
        c = ann.color or color
        xy = to_data(ann.view, ann.xy_mm)
        text_kw: dict[str, Any] = dict(
            color=c,
            fontsize=fontsize,
            fontweight="bold",
            zorder=6,
            path_effects=[patheffects.withStroke(linewidth=1.8, foreground=halo)],
        )

        if ann.kind is AnnotationKind.ARROW:
            assert ann.tail_mm is not None
            tail = to_data(ann.view, ann.tail_mm)
            # text centred on the tail, on the side away from the tip (screen vertical)
            screen = ax.transData.transform([xy, tail])
            va = "bottom" if screen[1, 1] >= screen[0, 1] else "top"
            artists.append(
                ax.annotate(
                    ann.text,
                    xy=xy,
                    xytext=tail,
                    xycoords="data",
                    textcoords="data",
                    ha="center",
                    va=va,
                    arrowprops=dict(
                        arrowstyle="-|>,head_length=0.45,head_width=0.22",
                        color=c,
                        lw=linewidth,
                        shrinkA=1.5,
                        shrinkB=0.5,
                    ),
                    **text_kw,
                )
            )
        elif ann.kind is AnnotationKind.CIRCLE:
            assert ann.radius_mm is not None
            circle = Circle(
                xy, ann.radius_mm, fill=False, edgecolor=c, linewidth=linewidth, zorder=6
            )
            artists.append(ax.add_patch(circle))
            if ann.text:
                artists.append(_side_text(ax, xy, ann.radius_mm * 1.1, ann.text, text_kw))
        elif ann.kind is AnnotationKind.ELLIPSE:
            assert ann.width_mm is not None and ann.height_mm is not None
            patch = Ellipse(
                xy,
                ann.width_mm,
                ann.height_mm,
                angle=ann.angle_deg,
                fill=False,
                edgecolor=c,
                linewidth=linewidth,
                zorder=6,
            )
            artists.append(ax.add_patch(patch))
            if ann.text:
                artists.append(_side_text(ax, xy, ann.width_mm * 0.55, ann.text, text_kw))
        else:
            artists.append(ax.text(xy[0], xy[1], ann.text, ha="center", va="center", **text_kw))
    return artists


def _side_text(
    ax: Axes, xy: tuple[float, float], dx_mm: float, text: str, text_kw: dict[str, Any]
) -> Artist:
    """``text`` written ``dx_mm`` to the right of ``xy`` (circle and ellipse labels)."""
    return ax.text(xy[0] + dx_mm, xy[1], text, ha="left", va="center", **text_kw)
