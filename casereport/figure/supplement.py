"""Supplementary Figure S1: the measurement regions on every subject's whole-body views.

The regions are placed exactly as the measurements place them (from each view's body
outline, :mod:`casereport.analysis.body`), so a reader sees what each ratio of Table 1
was measured over, in the cases and in the normal control. Lesion regions (circles) come
from :func:`casereport.analysis.planar.find_lesions` against the control.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.artist import Artist
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from casereport.analysis.body import LESION_SITES, LESION_VIEWS, REGIONS, body_frame
from casereport.analysis.overlay import draw_rois
from casereport.analysis.planar import find_lesions
from casereport.case import CaseSpec
from casereport.case.studies import Loader, load_study
from casereport.errors import FigureError
from casereport.io import WholeBody

from .layout import MM_PER_IN
from .style import figure_style

#: Region groups and their outline colours (colour-blind safe, Okabe-Ito).
S1_GROUPS: dict[str, tuple[tuple[str, ...], str]] = {
    "lungs": (("right lung", "left lung"), "#0072b2"),
    "lateral ribs": (("right lateral ribs", "left lateral ribs"), "#e69f00"),
    "stomach": (("stomach",), "#cc79a7"),
    "liver": (("liver",), "#009e73"),
    "thighs (soft tissue)": (("right thigh", "left thigh"), "#56b4e9"),
}
LESION_COLOR = "#d55e00"
#: Part of the stature shown (from the vertex): from above the lungs to below the thighs.
S1_STATURE_RANGE = (0.12, 0.72)
#: Every text of S1 at print size (pt).
S1_TEXT_PT = 7.0


@dataclass
class FigureS1:
    """The drawn Supplementary Figure S1 and what it shows, per subject and view."""

    fig: Figure
    shown: dict[str, list[str]]


def _whole_body(spec: CaseSpec, load: Loader) -> WholeBody | None:
    path = spec.studies.whole_body
    if path is None:
        return None
    study = load(path, "NM", spec.studies.source("whole_body"))
    if not isinstance(study, WholeBody):
        raise FigureError(f"{spec.path}: studies.whole_body {path} is not a whole-body study")
    return study


def has_figure_s1(specs: Sequence[CaseSpec]) -> bool:
    """True when a control and at least one case name a whole-body study."""
    roles = {s.role for s in specs if s.studies.whole_body is not None}
    return "control" in roles and len(roles) > 1


def figure_s1(
    specs: Sequence[CaseSpec], *, width_mm: float = 180.0, loader: Loader | None = None
) -> FigureS1:
    """Draw the regions on the ANT and POST views of every case and of the control.

    Subjects are the cases in order, then the control; each gets one column per view.
    """
    load = loader or load_study
    controls = [s for s in specs if s.role == "control"]
    if not controls:
        raise FigureError("Figure S1 needs the normal control's case file (role: control)")
    subjects = sorted(
        (s for s in specs if s.studies.whole_body is not None),
        key=lambda s: (s.role == "control", s.case_id),
    )
    control_wb = _whole_body(controls[0], load)
    studies = {s.case_id: _whole_body(s, load) for s in subjects}
    columns = [(s, v) for s in subjects for v in studies[s.case_id].views]  # type: ignore[union-attr]
    if not columns:
        raise FigureError("Figure S1: no whole-body study in any case file")
    u0, u1 = S1_STATURE_RANGE
    aspect = (u1 - u0) / 0.36  # height over width of the part shown (trunk and arms)
    gap, top_band, legend_band = 1.5, 8.0, 9.0
    col_w = (width_mm - gap * (len(columns) + 1)) / len(columns)
    body_h = col_w * aspect
    height_mm = top_band + body_h + legend_band
    shown: dict[str, list[str]] = {}
    with figure_style():
        fig = Figure(figsize=(width_mm / MM_PER_IN, height_mm / MM_PER_IN))
        for i, (spec, view) in enumerate(columns):
            frame = body_frame(view)
            left = gap + i * (col_w + gap)
            ax = fig.add_axes(
                (
                    left / width_mm,
                    legend_band / height_mm,
                    col_w / width_mm,
                    body_h / height_mm,
                )
            )
            lo, hi = np.percentile(view.counts, [0.5, 99.5])
            ax.imshow(
                view.counts,
                cmap="gray_r",
                vmin=float(lo),
                vmax=float(hi) if hi > lo else float(lo) + 1.0,
                extent=view.extent_mm,
                interpolation="nearest",
            )
            span_y = (u1 - u0) * frame.stature_mm  # data mm shown, filling the axes
            span_x = span_y * col_w / body_h
            y0 = frame.top_mm + u0 * frame.stature_mm
            ax.set_ylim(y0 + span_y, y0)
            ax.set_xlim(frame.midline_mm - span_x / 2, frame.midline_mm + span_x / 2)
            ax.set_axis_off()
            names = []
            for regions, colour in S1_GROUPS.values():
                rois = [REGIONS[r].roi(frame) for r in regions]
                draw_rois(rois, ax=ax, color=colour, label=False)
                names += [r.name for r in rois]
            if spec.role != "control" and control_wb is not None:
                case_wb = studies[spec.case_id]
                assert case_wb is not None
                sites = {  # only where both studies hold the view the site is read on
                    site: region
                    for site, region in LESION_SITES.items()
                    if case_wb.has_view(LESION_VIEWS.get(site, "ANT"))
                    and control_wb.has_view(LESION_VIEWS.get(site, "ANT"))
                }
                for les in find_lesions(case_wb, control_wb, sites=sites) if sites else []:
                    if les.view == view.view:
                        draw_rois(les.rois, ax=ax, color=LESION_COLOR, label=False)
                        names += [r.name for r in les.rois]
            shown[f"{spec.case_id} {view.view}"] = names
            title = "control" if spec.role == "control" else f"case {spec.case_id}"
            fig.text(
                (left + col_w / 2) / width_mm,
                (legend_band + body_h + 1.5) / height_mm,
                f"{title} {view.view}",
                ha="center",
                va="bottom",
                fontsize=S1_TEXT_PT,
                fontweight="bold",
            )
        handles: list[Artist] = [
            Line2D([], [], color=colour, lw=1.5, label=name)
            for name, (_, colour) in S1_GROUPS.items()
        ]
        handles.append(Patch(fill=False, ec=LESION_COLOR, label="lesion and reference"))
        fig.legend(
            handles=handles,
            loc="lower center",
            ncol=len(handles),
            fontsize=S1_TEXT_PT,
            frameon=False,
            bbox_to_anchor=(0.5, 0.0),
            handlelength=1.5,
            columnspacing=1.2,
        )
    return FigureS1(fig, shown)
