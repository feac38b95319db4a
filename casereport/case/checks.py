"""Checks of a parsed case file against its images (DICOM-aware).

Each study loads and is of the right kind for its panel, each listed view is present, the
plane position lies inside the CT, the crop overlaps the image, SPECT and CT share a frame
of reference, and every annotation point lies inside the displayed (cropped) image.
Failures are :class:`~casereport.errors.CaseFileError` naming the file and the entry.
"""

from __future__ import annotations

import numpy as np

from casereport.errors import CaseFileError, CaseReportError
from casereport.io.types import CTVolume, PlanarStudy, SpectVolume, Study, Volume, WholeBody

from .model import Box, CaseSpec, PanelKind, PanelSpec
from .studies import Loader, load_study


def _plane_extent(vol: Volume) -> tuple[np.ndarray, np.ndarray]:
    """Outer edges (LPS mm) of the volume's voxels."""
    lo, hi = vol.bounds_mm()
    half = 0.5 * np.abs(vol.affine[:3, :3]).sum(axis=1)
    return lo - half, hi + half


def panel_bounds_mm(panel: PanelSpec, study: Study, view: str | None) -> Box:
    """The displayed region of ``panel`` in its annotation coordinates (mm)."""
    if isinstance(study, PlanarStudy | WholeBody):
        img = study.view(view or panel.views[0])
        w, h = img.size_mm
        full = Box((0.0, w), (0.0, h))
    else:
        assert isinstance(study, Volume) and panel.plane is not None
        lo, hi = _plane_extent(study)
        au, av, _ = panel.plane.axes
        full = Box((float(lo[au]), float(hi[au])), (float(lo[av]), float(hi[av])))
    if panel.crop is None:
        return full
    c = panel.crop
    return Box(
        (max(full.x_mm[0], c.x_mm[0]), min(full.x_mm[1], c.x_mm[1])),
        (max(full.y_mm[0], c.y_mm[0]), min(full.y_mm[1], c.y_mm[1])),
    )


_EXPECTED: dict[PanelKind, tuple[type, ...]] = {
    PanelKind.PLANAR: (PlanarStudy, WholeBody),
    PanelKind.WHOLEBODY: (WholeBody,),
    PanelKind.CT: (CTVolume,),
    PanelKind.FUSION: (CTVolume,),
}


def check_panel(spec: CaseSpec, panel: PanelSpec, load: Loader | None = None) -> None:
    """Check ``panel`` against its loaded studies (kind, views, plane, crop, annotations)."""
    load = load or load_study

    def fail(entry: str, reason: str) -> CaseFileError:
        return CaseFileError(spec.path, entry, reason)

    entry = f"panels.{panel.panel_id}"
    try:
        study = load(panel.study, panel.kind.modality.value, panel.source)
    except CaseReportError as exc:
        raise fail(f"{entry}.study", f"cannot load {panel.study_rel!r}: {exc}") from exc
    if not isinstance(study, _EXPECTED[panel.kind]):
        raise fail(
            f"{entry}.study",
            f"{panel.study_rel!r} is a {type(study).__name__}; "
            f"a {panel.kind.value} panel needs "
            f"{' or '.join(t.__name__ for t in _EXPECTED[panel.kind])}",
        )
    if isinstance(study, PlanarStudy | WholeBody):
        present = [v.view.upper() for v in study.views]
        for i, v in enumerate(panel.views):
            if v not in present:
                raise fail(
                    f"{entry}.views[{i}]",
                    f"{panel.study_rel!r} has no {v} view (views present: {', '.join(present)})",
                )
    else:
        assert isinstance(study, Volume)
        assert panel.plane is not None and panel.position_mm is not None
        an = panel.plane.normal_axis
        lo, hi = _plane_extent(study)
        if not lo[an] <= panel.position_mm <= hi[an]:
            raise fail(
                f"{entry}.{panel.plane.position_key}",
                f"{panel.position_mm:g} mm lies outside the CT ({lo[an]:.1f} to {hi[an]:.1f} mm)",
            )
    for view in panel.views or (None,):
        b = panel_bounds_mm(panel, study, view)
        if not (b.x_mm[1] > b.x_mm[0] and b.y_mm[1] > b.y_mm[0]):
            raise fail(f"{entry}.crop_mm", "the crop does not overlap the image")
    if panel.kind is PanelKind.FUSION:
        assert panel.overlay is not None
        try:
            nm = load(panel.overlay, "NM")
        except CaseReportError as exc:
            raise fail(f"{entry}.overlay", f"cannot load {panel.overlay_rel!r}: {exc}") from exc
        if not isinstance(nm, SpectVolume):
            raise fail(
                f"{entry}.overlay",
                f"{panel.overlay_rel!r} is a {type(nm).__name__}; "
                "a fusion overlay must be a SPECT volume",
            )
        a, b_uid = study.source.frame_of_reference_uid, nm.source.frame_of_reference_uid
        if not a or not b_uid or a != b_uid:
            raise fail(
                f"{entry}.overlay",
                "SPECT and CT do not share a FrameOfReferenceUID "
                f"({b_uid or 'none'} vs {a or 'none'}); fusion by "
                "patient coordinates needs registered volumes",
            )
    for ann in spec.annotations_for(panel.panel_id):
        box = panel_bounds_mm(panel, study, ann.view)
        points = [(ann.xy_key, ann.xy_mm)]
        if ann.tail_mm is not None:
            points.append(("tail_mm", ann.tail_mm))
        for key, xy in points:
            if not box.contains(xy):
                where = f" of the {ann.view} view" if ann.view else ""
                raise fail(
                    f"{ann.entry}.{key}",
                    f"point [{xy[0]:g}, {xy[1]:g}] mm lies outside the image{where} of panel "
                    f"{panel.panel_id} (x {box.x_mm[0]:.0f} to {box.x_mm[1]:.0f}, "
                    f"y {box.y_mm[0]:.0f} to {box.y_mm[1]:.0f} mm)",
                )


def check_studies(spec: CaseSpec, load: Loader | None = None) -> None:
    """Each study of ``studies:`` loads and is of its kind (whole-body NM, CT, SPECT)."""
    load = load or load_study
    expected: dict[str, tuple[str, type]] = {
        "whole_body": ("NM", WholeBody),
        "ct": ("CT", CTVolume),
        "spect": ("NM", SpectVolume),
    }
    for kind, path in spec.studies.items():
        modality, cls = expected[kind]
        try:
            study = load(path, modality, spec.studies.source(kind))
        except CaseReportError as exc:
            raise CaseFileError(spec.path, f"studies.{kind}", f"cannot load: {exc}") from exc
        if not isinstance(study, cls):
            raise CaseFileError(
                spec.path,
                f"studies.{kind}",
                f"{path.name} is a {type(study).__name__}, expected a {cls.__name__}",
            )


def check_case(spec: CaseSpec, load: Loader | None = None) -> None:
    """Check every panel of ``spec`` against its images (the ``studies:`` are checked
    when the measurements load them: :func:`check_studies`)."""
    for panel in spec.panels:
        check_panel(spec, panel, load)
