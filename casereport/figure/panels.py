"""One function per panel kind: each takes ``ax=`` and returns what it drew.

Panel functions work on loaded studies and a :class:`~casereport.case.PanelSpec`;
:func:`draw_panel` looks both up from a case file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.colorbar import Colorbar
from matplotlib.image import AxesImage
from matplotlib.text import Text

from casereport.annotate import draw_annotations
from casereport.case import Annotation, CaseSpec, Modality, PanelKind, PanelSpec
from casereport.case.studies import Loader, load_study, studies_for
from casereport.display import (
    CropMM,
    PlanarDisplay,
    PlaneGrid,
    SliceDisplay,
    default_grid,
    outline,
    show_ct_plane,
    show_fusion,
    show_planar_views,
)
from casereport.errors import FigureError
from casereport.io.types import (
    CTVolume,
    PlanarImage,
    PlanarStudy,
    SourceInfo,
    SpectVolume,
    Volume,
    WholeBody,
)

#: Default scale bar per panel kind (mm).
SCALE_BAR_MM = {
    PanelKind.PLANAR: 50.0,
    PanelKind.WHOLEBODY: 100.0,
    PanelKind.CT: 50.0,
    PanelKind.FUSION: 50.0,
}
#: Annotation colour on NM (white background) and on CT / fusion (dark background).
ANNOTATION_COLOR_NM = "#d7191c"
ANNOTATION_COLOR_CT = "#ffd92f"
ANNOTATION_COLOR_FUSION = "#00e5ff"
SIMULATED_TAG = "SIMULATED"


@dataclass
class PanelArtists:
    """What a panel function drew, and from what.

    Attributes:
        panel_id: e.g. ``"C2"``.
        kind: the panel kind.
        ax: the axes drawn on.
        images: image layers (NM views, or CT then SPECT).
        texts: view labels, orientation letters, the simulated-data tag.
        annotations: arrows, circles, ellipses, labels from the case file.
        colorbar: colour bar of a fusion panel.
        sources: SourceInfo of every study shown (CT first for fusion).
        window: the window(s) used, as plain dicts.
        used: frames (planar) or plane and slice indices (CT) actually shown.
        simulated: True if any source is simulated (read from the DICOM).
    """

    panel_id: str
    kind: PanelKind
    ax: Axes
    images: list[AxesImage]
    texts: list[Text]
    annotations: list[Artist]
    sources: list[SourceInfo]
    window: dict[str, Any]
    used: dict[str, Any]
    colorbar: Colorbar | None = None
    extras: list[Artist] = field(default_factory=list)

    @property
    def simulated(self) -> bool:
        return any(s.simulated for s in self.sources)


def _crop(panel: PanelSpec) -> CropMM | None:
    return None if panel.crop is None else CropMM(panel.crop.x_mm, panel.crop.y_mm)


def _scale(panel: PanelSpec) -> float | None:
    return SCALE_BAR_MM[panel.kind] if panel.scale_bar_mm is None else (panel.scale_bar_mm or None)


def simulated_tag(ax: Axes, *, dark: bool, fontsize: float = 7.0) -> Text:
    """A small "SIMULATED" mark in the lower-left corner of a panel, outlined in the
    panel's background colour so that it reads over bright anatomy or the CT table too."""
    return ax.text(
        0.015,
        0.012,
        SIMULATED_TAG,
        transform=ax.transAxes,
        ha="left",
        va="bottom",
        fontsize=fontsize,
        color="#ff9e9e" if dark else "#b2182b",
        fontweight="bold",
        zorder=7,
        path_effects=outline("black" if dark else "white", 2.0),
    )


def _artists(
    panel: PanelSpec,
    ax: Axes,
    disp: PlanarDisplay | SliceDisplay,
    annotations: list[Artist],
    sources: list[SourceInfo],
    *,
    dark: bool,
    fontsize: float,
    window: dict[str, Any],
    used: dict[str, Any],
    colorbar: Colorbar | None = None,
) -> PanelArtists:
    """What a panel function drew; a "SIMULATED" tag is added if any source is simulated."""
    texts = list(disp.texts)
    if any(s.simulated for s in sources):
        texts.append(simulated_tag(ax, dark=dark, fontsize=fontsize))
    return PanelArtists(
        panel.panel_id,
        panel.kind,
        ax,
        disp.images,
        texts,
        annotations,
        sources,
        window=window,
        used=used,
        colorbar=colorbar,
        extras=disp.extras,
    )


def _views(
    study: PlanarStudy | WholeBody, names: Sequence[str], panel_id: str
) -> list[PlanarImage]:
    out = []
    for name in names:
        present = [v.view.upper() for v in study.views]
        if name.upper() not in present:
            raise FigureError(
                f"panel {panel_id}: {study.source.paths[0]} has no {name.upper()} view "
                f"(views present: {', '.join(present)})"
            )
        out.append(study.view(name))
    return out


def planar_panel(
    study: PlanarStudy | WholeBody,
    panel: PanelSpec,
    annotations: Sequence[Annotation] = (),
    *,
    ax: Axes,
    fontsize: float = 7.0,
) -> PanelArtists:
    """Static (or whole-body) NM views side by side, inverted grey, with annotations."""
    views = _views(study, panel.views, panel.panel_id)
    window = panel.window.require(Modality.NM)
    disp = show_planar_views(
        views,
        window,
        ax=ax,
        crop=_crop(panel),
        scale_bar_mm=_scale(panel),
        fontsize=fontsize,
        gap_mm=8.0 if panel.kind is PanelKind.PLANAR else 15.0,
    )

    def to_data(view: str | None, xy: tuple[float, float]) -> tuple[float, float]:
        out = disp.to_data(view or views[0].view, np.asarray(xy))
        return (float(out[0]), float(out[1]))

    anns = draw_annotations(
        annotations, ax, to_data=to_data, color=ANNOTATION_COLOR_NM, fontsize=fontsize
    )
    return _artists(
        panel,
        ax,
        disp,
        anns,
        [study.source],
        dark=False,
        fontsize=fontsize,
        window={**window.as_dict(), "vmin_counts": disp.vmin, "vmax_counts": disp.vmax},
        used={
            "views": [
                {
                    "view": v.view,
                    "frame_index": v.frame_index,
                    "view_source": v.view_source,
                    "pixel_spacing_mm": list(v.pixel_spacing_mm),
                    "spacing_source": v.spacing_source,
                }
                for v in views
            ],
            "crop_mm": None
            if panel.crop is None
            else {"x": list(panel.crop.x_mm), "y": list(panel.crop.y_mm)},
        },
    )


def wholebody_panel(
    study: WholeBody,
    panel: PanelSpec,
    annotations: Sequence[Annotation] = (),
    *,
    ax: Axes,
    fontsize: float = 7.0,
) -> PanelArtists:
    """Whole-body anterior and posterior views (anterior left)."""
    if not isinstance(study, WholeBody):
        raise FigureError(
            f"panel {panel.panel_id}: {study.source.paths[0]} is not a whole-body study"
        )
    return planar_panel(study, panel, annotations, ax=ax, fontsize=fontsize)


def _grid(volume: Volume, panel: PanelSpec) -> PlaneGrid:
    assert panel.plane is not None and panel.position_mm is not None
    crop = panel.crop
    return default_grid(
        volume,
        panel.plane,
        panel.position_mm,
        u_range_mm=None if crop is None else crop.x_mm,
        v_range_mm=None if crop is None else crop.y_mm,
    )


def _slice_used(volume: Volume, panel: PanelSpec) -> dict[str, Any]:
    """Where the plane cuts the volume: fractional slice index and the files around it."""
    assert panel.plane is not None and panel.position_mm is not None
    centre = np.zeros(3)
    lo, hi = volume.bounds_mm()
    centre[:] = (lo + hi) / 2.0
    centre[panel.plane.normal_axis] = panel.position_mm
    i, j, k = volume.patient_to_index(centre)
    used: dict[str, Any] = {
        "plane": panel.plane.value,
        "position_mm": panel.position_mm,
        "index_ijk": [round(float(i), 2), round(float(j), 2), round(float(k), 2)],
    }
    paths = volume.source.paths
    if panel.plane == "axial" and len(paths) == volume.shape[0] > 1:
        ks = sorted(
            {
                int(np.clip(np.floor(k), 0, len(paths) - 1)),
                int(np.clip(np.ceil(k), 0, len(paths) - 1)),
            }
        )
        used["slice_files"] = [str(paths[x]) for x in ks]
    return used


def ct_panel(
    ct: CTVolume,
    panel: PanelSpec,
    annotations: Sequence[Annotation] = (),
    *,
    ax: Axes,
    fontsize: float = 7.0,
) -> PanelArtists:
    """A CT plane in patient mm (radiological convention) with a CT window."""
    if not isinstance(ct, CTVolume):
        raise FigureError(f"panel {panel.panel_id}: {ct.source.paths[0]} is not a CT volume")
    window = panel.window.require(Modality.CT)
    disp = show_ct_plane(
        ct, _grid(ct, panel), window, ax=ax, scale_bar_mm=_scale(panel), fontsize=fontsize
    )
    anns = draw_annotations(
        annotations, ax, color=ANNOTATION_COLOR_CT, halo="black", fontsize=fontsize
    )
    return _artists(
        panel,
        ax,
        disp,
        anns,
        [ct.source],
        dark=True,
        fontsize=fontsize,
        window={"ct": window.as_dict()},
        used=_slice_used(ct, panel),
    )


def fusion_panel(
    ct: CTVolume,
    spect: SpectVolume,
    panel: PanelSpec,
    annotations: Sequence[Annotation] = (),
    *,
    ax: Axes,
    fontsize: float = 7.0,
) -> PanelArtists:
    """SPECT (hot colour map, colour bar) over CT grey scale, registered by patient mm."""
    if not isinstance(ct, CTVolume) or not isinstance(spect, SpectVolume):
        raise FigureError(f"panel {panel.panel_id}: fusion needs a CT volume and a SPECT volume")
    if ct.source.frame_of_reference_uid != spect.source.frame_of_reference_uid:
        raise FigureError(f"panel {panel.panel_id}: SPECT and CT frames of reference differ")
    assert panel.overlay_window is not None
    ct_win = panel.window.require(Modality.CT)
    nm_win = panel.overlay_window.require(Modality.NM, "overlay_window")
    disp = show_fusion(
        ct,
        spect,
        _grid(ct, panel),
        ct_win,
        nm_win,
        ax=ax,
        alpha=panel.alpha,
        scale_bar_mm=_scale(panel),
        fontsize=fontsize,
    )
    anns = draw_annotations(
        annotations, ax, color=ANNOTATION_COLOR_FUSION, halo="black", fontsize=fontsize
    )
    used = _slice_used(ct, panel)
    used["spect"] = {k: v for k, v in _slice_used(spect, panel).items() if k in ("index_ijk",)}
    assert disp.nm_limits is not None
    return _artists(
        panel,
        ax,
        disp,
        anns,
        [ct.source, spect.source],
        dark=True,
        fontsize=fontsize,
        window={
            "ct": ct_win.as_dict(),
            "spect": {
                **nm_win.as_dict(),
                "vmin_counts": disp.nm_limits[0],
                "vmax_counts": disp.nm_limits[1],
                "alpha": panel.alpha,
            },
        },
        used=used,
        colorbar=disp.colorbar,
    )


def draw_panel(
    spec: CaseSpec, panel_id: str, *, ax: Axes, loader: Loader | None = None, fontsize: float = 7.0
) -> PanelArtists:
    """Draw panel ``panel_id`` of case ``spec`` on ``ax`` (studies loaded and cached)."""
    panel = spec.panel(panel_id)
    study, overlay = studies_for(spec, panel, loader or load_study)
    anns = spec.annotations_for(panel_id)
    if panel.kind is PanelKind.PLANAR:
        if not isinstance(study, PlanarStudy | WholeBody):
            raise FigureError(f"panel {panel_id}: {panel.study_rel} is not a planar study")
        return planar_panel(study, panel, anns, ax=ax, fontsize=fontsize)
    if panel.kind is PanelKind.WHOLEBODY:
        return wholebody_panel(study, panel, anns, ax=ax, fontsize=fontsize)  # type: ignore[arg-type]
    if panel.kind is PanelKind.CT:
        return ct_panel(study, panel, anns, ax=ax, fontsize=fontsize)  # type: ignore[arg-type]
    return fusion_panel(study, overlay, panel, anns, ax=ax, fontsize=fontsize)  # type: ignore[arg-type]


def data_aspect(ax: Axes) -> float:
    """Width / height of the axes' data limits (mm / mm)."""
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    return abs(x1 - x0) / abs(y1 - y0)
