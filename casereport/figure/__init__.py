"""Figure panels (one function per kind, ``ax=`` in, artists out) and the composite Figure 1.

``figure1(case_specs)`` draws the figure in memory; ``write_figure1(data_dir, out_dir)``
validates the case files, draws Figure 1 and each panel and writes
``figure1.{png,tif,svg,pdf}`` plus ``panels/<panel>.{png,json}``, byte-for-byte
reproducible.
"""

from .composite import (
    FIGURE1_FORMATS,
    FIGURE1_LAYOUT,
    SIMULATED_MARK,
    Figure1,
    case_panel_figure,
    figure1,
    figure1_outputs,
    layout_rows,
    load_cases,
    panel_outputs,
    place,
    sidecar,
    single_panel_figure,
    write_figure1,
    write_panels,
)
from .layout import FIGURE1, Column, FigureLayout, Placement
from .panels import (
    PanelArtists,
    ct_panel,
    data_aspect,
    draw_panel,
    fusion_panel,
    planar_panel,
    simulated_tag,
    wholebody_panel,
)
from .style import DPI, METADATA, RC, figure_style, render

__all__ = [
    "DPI",
    "FIGURE1",
    "Column",
    "FigureLayout",
    "Placement",
    "FIGURE1_FORMATS",
    "FIGURE1_LAYOUT",
    "METADATA",
    "RC",
    "SIMULATED_MARK",
    "Figure1",
    "PanelArtists",
    "case_panel_figure",
    "ct_panel",
    "data_aspect",
    "draw_panel",
    "figure1",
    "figure1_outputs",
    "figure_style",
    "fusion_panel",
    "layout_rows",
    "place",
    "load_cases",
    "panel_outputs",
    "planar_panel",
    "render",
    "sidecar",
    "simulated_tag",
    "single_panel_figure",
    "wholebody_panel",
    "write_figure1",
    "write_panels",
]
