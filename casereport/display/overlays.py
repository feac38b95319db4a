"""Scale bars, orientation markers and axes styling shared by every panel."""

from __future__ import annotations

from matplotlib import patheffects
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.text import Text

#: Text colour on NM (white background) and CT (black background) images.
INK_ON_WHITE = "black"
INK_ON_BLACK = "white"


def outline(color: str, width: float = 1.6) -> list[patheffects.AbstractPathEffect]:
    """Path effects drawing a thin contrasting outline under text (legible on any image)."""
    return [patheffects.withStroke(linewidth=width, foreground=color)]


def halo_for(ink: str) -> str:
    """Outline colour for text of colour ``ink``: white under dark text, black under light."""
    return "white" if ink in (INK_ON_WHITE, "black") else "black"


def clean_axes(ax: Axes, facecolor: str = "white") -> None:
    """No ticks, no spines, equal aspect; data units are mm."""
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_facecolor(facecolor)
    ax.set_aspect("equal")


def _bottom_top(ax: Axes) -> tuple[float, float, float]:
    """(bottom, top, sign) in data units; sign = +1 if y grows upwards on screen."""
    y0, y1 = ax.get_ylim()
    return (y0, y1, 1.0 if y1 > y0 else -1.0)


def add_scale_bar(
    ax: Axes,
    length_mm: float,
    *,
    color: str = INK_ON_WHITE,
    fontsize: float = 6.0,
    margin: float = 0.04,
    linewidth: float = 2.0,
) -> tuple[Line2D, Text]:
    """A horizontal bar of ``length_mm`` in the lower-right corner, labelled in cm.

    The axes' data units must be mm (all panel functions draw in mm).
    """
    x0, x1 = ax.get_xlim()
    bottom, top, sign = _bottom_top(ax)
    height = abs(top - bottom)
    width = abs(x1 - x0)
    right = max(x0, x1) - margin * width
    y = bottom + sign * margin * height
    line = Line2D(
        [right - length_mm, right],
        [y, y],
        color=color,
        linewidth=linewidth,
        solid_capstyle="butt",
    )
    ax.add_line(line)
    cm = length_mm / 10.0
    label = f"{cm:g} cm"
    text = ax.text(
        right - length_mm / 2.0,
        y + sign * 0.012 * height,
        label,
        color=color,
        fontsize=fontsize,
        ha="center",
        va="bottom",
        path_effects=outline(halo_for(color), 1.2),
    )
    return line, text


def add_orientation_markers(
    ax: Axes,
    left: str | None,
    right: str | None,
    top: str | None = None,
    bottom: str | None = None,
    *,
    color: str = INK_ON_WHITE,
    fontsize: float = 7.0,
) -> list[Text]:
    """Orientation letters at the middle of each edge of the axes (axes fraction)."""
    out: list[Text] = []
    spots = (
        (left, 0.015, 0.5, "left", "center"),
        (right, 0.985, 0.5, "right", "center"),
        (top, 0.5, 0.985, "center", "top"),
        (bottom, 0.5, 0.015, "center", "bottom"),
    )
    for letter, x, y, ha, va in spots:
        if letter:
            out.append(
                ax.text(
                    x,
                    y,
                    letter,
                    transform=ax.transAxes,
                    color=color,
                    fontsize=fontsize,
                    ha=ha,
                    va=va,
                    fontweight="bold",
                    path_effects=outline(halo_for(color)),
                )
            )
    return out
