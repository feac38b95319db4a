"""The declared layout of Figure 1 and the arithmetic that places its panels.

The layout is data (:data:`FIGURE1`): columns of rows of panel ids, the print width and
the minimum sizes a reader needs at print size. :func:`solve` turns it and the panels'
data aspect ratios (width / height, mm / mm) into axes rectangles in millimetres;
:func:`check` lists what falls short of the declared minimums.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from casereport.errors import FigureError

#: Millimetres per inch.
MM_PER_IN = 25.4
#: Points per millimetre.
PT_PER_MM = 72.0 / MM_PER_IN


@dataclass(frozen=True)
class Column:
    """One column of the figure: rows of panels, each row filling the column's width.

    Attributes:
        rows: panel ids row by row, top to bottom, left to right.
        min_width_mm: the narrowest this column may be at print size.
    """

    rows: tuple[tuple[str, ...], ...]
    min_width_mm: float = 0.0

    @property
    def panel_ids(self) -> tuple[str, ...]:
        return tuple(p for row in self.rows for p in row)


@dataclass(frozen=True)
class FigureLayout:
    """A composite figure laid out in columns; sizes at print size (mm, pt).

    Attributes:
        columns: left to right; the columns share the figure's height.
        width_mm: printed width of the whole figure (180 mm: a two-column journal page).
        margin_mm: white border around the figure.
        gap_mm: space between panels and between rows.
        label_band_mm: height reserved above each panel for its label (``A1`` ...).
        colorbar_mm: width taken right of a panel that has a colour bar (bar, ticks, label).
        mark_band_mm: height of the band under the panels for the simulated-data mark.
        label_pt: size of the panel labels.
        text_pt: size of every other text (view names, orientation, scale bars, ticks).
        min_text_pt: smallest text allowed anywhere in the figure.
        min_panel_mm: narrowest panel allowed.
        min_view_mm: narrowest single view of a multi-view (planar) panel allowed.
        tall_panel: a panel that has its own tall column, and its minimum width.
    """

    columns: tuple[Column, ...]
    width_mm: float = 180.0
    margin_mm: float = 1.5
    gap_mm: float = 2.0
    label_band_mm: float = 4.5
    colorbar_mm: float = 15.0
    mark_band_mm: float = 5.5
    label_pt: float = 9.0
    text_pt: float = 7.0
    min_text_pt: float = 7.0
    min_panel_mm: float = 40.0
    min_view_mm: float = 28.0

    @property
    def panel_ids(self) -> tuple[str, ...]:
        return tuple(p for c in self.columns for p in c.panel_ids)

    @property
    def rows(self) -> tuple[tuple[str, ...], ...]:
        """Every row of every column, in reading order (for captions)."""
        return tuple(r for c in self.columns for r in c.rows)


#: Figure 1: cases A and B in rows, C2 and C3 below them; the whole-body scan C1 in its
#: own tall column on the right, wide enough that a lesion stays visible in print.
FIGURE1 = FigureLayout(
    columns=(
        Column(rows=(("A1", "A2"), ("B1", "B2"), ("C2", "C3"))),
        Column(rows=(("C1",),), min_width_mm=60.0),
    ),
)


@dataclass(frozen=True)
class Placement:
    """Where the layout put the panels (mm from the figure's lower-left corner).

    Attributes:
        rects: panel id -> (left, bottom, width, height) of its image axes.
        width_mm, height_mm: figure size.
        mark_y_mm: baseline height of the simulated-data mark (0 when there is none).
    """

    rects: dict[str, tuple[float, float, float, float]]
    width_mm: float
    height_mm: float
    mark_y_mm: float


def _row_height(
    layout: FigureLayout,
    row: Sequence[str],
    width: float,
    aspects: Mapping[str, float],
    bars: set[str],
) -> float:
    free = width - (len(row) - 1) * layout.gap_mm - layout.colorbar_mm * len(bars & set(row))
    return free / sum(aspects[p] for p in row)


def _column_height(
    layout: FigureLayout,
    col: Column,
    width: float,
    aspects: Mapping[str, float],
    bars: set[str],
) -> float:
    rows = [_row_height(layout, r, width, aspects, bars) for r in col.rows]
    return sum(rows) + len(rows) * layout.label_band_mm + (len(rows) - 1) * layout.gap_mm


def _min_width(
    layout: FigureLayout, col: Column, aspects: Mapping[str, float], bars: set[str]
) -> float:
    """Narrowest column width at which every panel of ``col`` is ``min_panel_mm`` wide."""
    need = col.min_width_mm
    for row in col.rows:
        h = max(layout.min_panel_mm / aspects[p] for p in row)
        width = h * sum(aspects[p] for p in row)
        width += (len(row) - 1) * layout.gap_mm + layout.colorbar_mm * len(bars & set(row))
        need = max(need, width)
    return need


def _widths(
    layout: FigureLayout, aspects: Mapping[str, float], bars: set[str], inner: float
) -> list[float]:
    """Column widths: equal heights where possible, never below a column's minimum."""
    cols = layout.columns
    if len(cols) == 1:
        return [inner]
    if len(cols) != 2:
        raise FigureError("a figure layout has one or two columns")
    a, b = cols
    total = inner - layout.gap_mm

    def diff(w: float) -> float:
        return _column_height(layout, a, w, aspects, bars) - _column_height(
            layout, b, total - w, aspects, bars
        )

    lo, hi = 1.0, total - 1.0
    for _ in range(60):  # bisection: column a grows taller as it widens, b shorter
        mid = (lo + hi) / 2.0
        lo, hi = (mid, hi) if diff(mid) < 0 else (lo, mid)
    wa = (lo + hi) / 2.0
    min_a, min_b = _min_width(layout, a, aspects, bars), _min_width(layout, b, aspects, bars)
    wa = min(max(wa, min_a), total - min_b)
    return [wa, total - wa]


def solve(
    layout: FigureLayout,
    aspects: Mapping[str, float],
    *,
    colorbars: Sequence[str] = (),
    mark: bool = False,
) -> Placement:
    """Place every panel of ``layout`` given its data aspect ratio (width / height).

    Each row fills its column's width at one height; column widths are chosen so the
    columns are equally tall, unless that would make a panel narrower than
    ``min_panel_mm`` or a column narrower than its minimum. A shorter column is centred
    vertically.
    """
    missing = [p for p in layout.panel_ids if p not in aspects]
    if missing:
        raise FigureError(f"figure layout: no aspect ratio for panels {', '.join(missing)}")
    bars = set(colorbars)
    inner = layout.width_mm - 2 * layout.margin_mm
    widths = _widths(layout, aspects, bars, inner)
    heights = [
        _column_height(layout, c, w, aspects, bars)
        for c, w in zip(layout.columns, widths, strict=True)
    ]
    body = max(heights)
    bottom_band = layout.mark_band_mm if mark else 0.0
    fig_h = 2 * layout.margin_mm + body + bottom_band
    rects: dict[str, tuple[float, float, float, float]] = {}
    left = layout.margin_mm
    for col, w, h_col in zip(layout.columns, widths, heights, strict=True):
        top = fig_h - layout.margin_mm - (body - h_col) / 2.0
        for row in col.rows:
            h = _row_height(layout, row, w, aspects, bars)
            used = sum(aspects[p] * h for p in row) + (len(row) - 1) * layout.gap_mm
            used += layout.colorbar_mm * len(bars & set(row))
            x = left + (w - used) / 2.0
            bottom = top - layout.label_band_mm - h
            for pid in row:
                rects[pid] = (x, bottom, aspects[pid] * h, h)
                x += aspects[pid] * h + layout.gap_mm + (layout.colorbar_mm if pid in bars else 0)
            top = bottom - layout.gap_mm
        left += w + layout.gap_mm
    mark_y = layout.margin_mm + 1.0 if mark else 0.0
    return Placement(rects, layout.width_mm, fig_h, mark_y)


def check(
    layout: FigureLayout,
    placement: Placement,
    *,
    view_widths_mm: Mapping[str, Sequence[float]] | None = None,
    text_sizes_pt: Sequence[tuple[str, float]] = (),
) -> list[str]:
    """What falls short of the layout's minimums at print size (empty when all is well).

    Args:
        view_widths_mm: per panel, the printed width of each view (multi-view panels).
        text_sizes_pt: (text, size in points) of every text drawn at print size.
    """
    problems = []
    for pid, (_, _, w, _) in placement.rects.items():
        if w < layout.min_panel_mm - 1e-6:
            problems.append(f"panel {pid} is {w:.1f} mm wide (minimum {layout.min_panel_mm:g})")
    for col in layout.columns:
        for pid in col.panel_ids:
            w = placement.rects[pid][2]
            if w < col.min_width_mm - 1e-6:
                problems.append(f"panel {pid} is {w:.1f} mm wide (minimum {col.min_width_mm:g})")
    for pid, widths in (view_widths_mm or {}).items():
        for w in widths:
            if w < layout.min_view_mm - 1e-6:
                problems.append(
                    f"a view of panel {pid} is {w:.1f} mm wide (minimum {layout.min_view_mm:g})"
                )
    for text, size in text_sizes_pt:
        if size < layout.min_text_pt - 1e-6:
            problems.append(f"text {text!r} is {size:g} pt (minimum {layout.min_text_pt:g})")
    return problems
