"""All measurements of one case against the normal control, as one serialisable result."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from casereport.analysis.body import LESION_SITES, LESION_VIEWS
from casereport.analysis.planar import (
    PATCHINESS,
    PATCHINESS_VIEW,
    Lesion,
    Measurement,
    find_lesions,
    heterogeneity_measurement,
    lung_measurements,
    stomach_measurement,
)
from casereport.analysis.roi import PlanarROI, ROIStats
from casereport.analysis.volume import LungCT, SpectLung, lung_ct, spect_lung_to_vertebra
from casereport.case import CaseSpec
from casereport.case.studies import Loader, load_study
from casereport.errors import CaseFileError
from casereport.io import CTVolume, SpectVolume, Study, WholeBody
from casereport.io.memo import derived


@dataclass(frozen=True)
class CaseAnalysis:
    """Quantitative findings of one case (planar, CT, SPECT), each beside the control.

    ``planar`` holds ratios (lung/soft tissue, lung/rib, lung patchiness,
    stomach/liver); ``lesions`` the focal bone lesions found; ``ct`` the lung HU of the
    case and ``ct_control`` of the control; ``spect`` the lung-to-vertebra uptake.
    """

    case_id: str
    planar: tuple[Measurement, ...]
    lesions: tuple[Lesion, ...]
    ct: LungCT | None = None
    ct_control: LungCT | None = None
    spect: SpectLung | None = None
    sources: dict[str, list[str]] = field(default_factory=dict)
    not_measured: dict[str, str] = field(default_factory=dict)

    def measurement(self, name: str) -> Measurement:
        for m in self.planar:
            if m.name == name:
                return m
        raise KeyError(name)

    def as_dict(self) -> dict[str, Any]:
        return {
            "case_id": self.case_id,
            "planar": [m.as_dict() for m in self.planar],
            "lesions": [les.as_dict() for les in self.lesions],
            "ct": self.ct.as_dict() if self.ct else None,
            "ct_control": self.ct_control.as_dict() if self.ct_control else None,
            "spect": self.spect.as_dict() if self.spect else None,
            "sources": self.sources,
            "not_measured": self.not_measured,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CaseAnalysis:
        """The inverse of :meth:`as_dict` (e.g. a ``results.json`` read back); derived
        values (``case_over_control``) are recomputed, not read."""

        def roi(r: Mapping[str, Any]) -> PlanarROI:
            return PlanarROI(
                r["name"], r["view"], _pair(r["x_mm"]), _pair(r["y_mm"]), r.get("radius_mm")
            )

        planar = tuple(
            Measurement(
                m["name"],
                m["view"],
                float(m["case"]),
                float(m["control"]),
                tuple(roi(r) for r in m.get("rois", [])),
                tuple(ROIStats(**st) for st in m.get("stats", [])),
            )
            for m in d.get("planar", [])
        )
        lesions = tuple(
            Lesion(
                **{
                    k: les[k]
                    for k in (
                        "site",
                        "view",
                        "u",
                        "s",
                        "lesion_counts",
                        "reference",
                        "lesion_to_normal",
                        "control_value",
                    )
                },
                centre_mm=_pair(les["centre_mm"]),
                rois=tuple(roi(r) for r in les.get("rois", [])),
            )
            for les in d.get("lesions", [])
        )

        def optional(cls_: type, key: str) -> Any:
            return cls_(**d[key]) if d.get(key) else None

        return cls(
            str(d["case_id"]),
            planar,
            lesions,
            optional(LungCT, "ct"),
            optional(LungCT, "ct_control"),
            optional(SpectLung, "spect"),
            {k: list(v) for k, v in d.get("sources", {}).items()},
            dict(d.get("not_measured", {})),
        )


def _pair(value: Any) -> tuple[float, float]:
    a, b = value
    return (float(a), float(b))


def _series(study: Any) -> list[str]:
    return [study.source.series_instance_uid] if study is not None else []


def _missing_view(view: str, wb: WholeBody | None, control_wb: WholeBody | None) -> str | None:
    """Why ``view`` cannot be measured in both whole-body studies, or None if it can."""
    for who, study in (("case", wb), ("control", control_wb)):
        if study is None:
            return f"no whole-body study for the {who}"
        if not study.has_view(view):
            present = ", ".join(v.view for v in study.views)
            return f"the {who}'s whole-body study has no {view} view (only {present})"
    return None


def _study(spec: CaseSpec, kind: str, cls: type, load: Loader) -> Any:
    path = getattr(spec.studies, kind)
    if path is None:
        return None
    modality = "CT" if cls is CTVolume else "NM"
    study: Study = load(path, modality, spec.studies.source(kind))
    if not isinstance(study, cls):
        raise CaseFileError(
            spec.path,
            f"studies.{kind}",
            f"{path.name} is a {type(study).__name__}, expected a {cls.__name__}",
        )
    return study


def analyse_case(spec: CaseSpec, control: CaseSpec, *, load: Loader | None = None) -> CaseAnalysis:
    """Measure case ``spec`` against ``control`` from the studies their case files name
    (``studies:``); what a missing study prevents is listed in ``not_measured``.

    Studies are loaded through the cached loader, so a study the panels already drew is
    not read again.
    """
    load = load or load_study
    return analyse_studies(
        spec.case_id,
        _study(spec, "whole_body", WholeBody, load),
        _study(control, "whole_body", WholeBody, load),
        ct=_study(spec, "ct", CTVolume, load),
        control_ct=_study(control, "ct", CTVolume, load),
        spect=_study(spec, "spect", SpectVolume, load),
    )


@derived
def analyse_studies(
    case_id: str,
    wb: WholeBody | None,
    control_wb: WholeBody | None,
    *,
    ct: CTVolume | None = None,
    control_ct: CTVolume | None = None,
    spect: SpectVolume | None = None,
) -> CaseAnalysis:
    """Run every measurement the available studies allow; list the others with the reason.

    A whole-body study may hold one view only (ANT or POST), and the CT or SPECT may be
    missing: the measurements needing them are left out and named in ``not_measured``.
    The result is a function of the studies alone (no display parameter), kept in the
    derived-data cache (:mod:`casereport.io.memo`): a case run executed again for a window
    or crop reads it.
    """
    not_measured: dict[str, str] = {}
    planar: list[Measurement] = []
    ant = _missing_view("ANT", wb, control_wb)
    if ant is None:
        assert wb is not None and control_wb is not None
        planar += lung_measurements(wb, control_wb)
        planar.append(stomach_measurement(wb, control_wb))
    else:
        for name in ("lung / soft tissue", "lung / rib", "stomach / liver"):
            not_measured[name] = ant
    post = _missing_view(PATCHINESS_VIEW, wb, control_wb)
    if post is None:
        assert wb is not None and control_wb is not None
        planar.append(heterogeneity_measurement(wb, control_wb))
    else:
        not_measured[PATCHINESS] = post
    sites = {}
    for site, region in LESION_SITES.items():
        why = _missing_view(LESION_VIEWS.get(site, "ANT"), wb, control_wb)
        if why is None:
            sites[site] = region
        else:
            not_measured[f"lesions: {site}"] = why
    lesions: tuple[Lesion, ...] = ()
    if sites:
        assert wb is not None and control_wb is not None
        lesions = tuple(find_lesions(wb, control_wb, sites=sites))
    if ct is None:
        not_measured["lung CT"] = "no CT study for the case"
    ct_stats = lung_ct(ct) if ct is not None else None
    ct_ref = lung_ct(control_ct) if control_ct is not None else None
    if ct is not None and control_ct is None:
        not_measured["lung CT of the control"] = "no CT study for the control"
    if spect is None or ct is None:
        not_measured["SPECT lung / vertebra"] = (
            "no SPECT study for the case" if spect is None else "no CT to place the lung mask"
        )
    spect_stats = (
        spect_lung_to_vertebra(spect, ct) if (spect is not None and ct is not None) else None
    )
    sources = {
        "whole_body": _series(wb),
        "control_whole_body": _series(control_wb),
        "ct": _series(ct),
        "control_ct": _series(control_ct),
        "spect": _series(spect),
    }
    return CaseAnalysis(
        case_id,
        tuple(planar),
        lesions,
        ct_stats,
        ct_ref,
        spect_stats,
        {k: v for k, v in sources.items() if v},
        not_measured,
    )
