"""All measurements of one case against the normal control, as one serialisable result."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from casereport.analysis.planar import (
    Lesion,
    Measurement,
    find_lesions,
    heterogeneity_measurement,
    lung_measurements,
    stomach_measurement,
)
from casereport.analysis.volume import LungCT, SpectLung, lung_ct, spect_lung_to_vertebra
from casereport.io import CTVolume, SpectVolume, WholeBody


@dataclass(frozen=True)
class CaseAnalysis:
    """Quantitative findings of one case (planar, CT, SPECT), each beside the control.

    ``planar`` holds ratios (lung/soft tissue, lung/rib, lung heterogeneity,
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
        }


def _series(study: Any) -> list[str]:
    return [study.source.series_instance_uid] if study is not None else []


def analyse_case(
    case_id: str,
    wb: WholeBody,
    control_wb: WholeBody,
    *,
    ct: CTVolume | None = None,
    control_ct: CTVolume | None = None,
    spect: SpectVolume | None = None,
) -> CaseAnalysis:
    """Run every measurement the available studies allow."""
    planar = (
        *lung_measurements(wb, control_wb),
        heterogeneity_measurement(wb, control_wb),
        stomach_measurement(wb, control_wb),
    )
    lesions = tuple(find_lesions(wb, control_wb))
    ct_stats = lung_ct(ct) if ct is not None else None
    ct_ref = lung_ct(control_ct) if control_ct is not None else None
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
        planar,
        lesions,
        ct_stats,
        ct_ref,
        spect_stats,
        {k: v for k, v in sources.items() if v},
    )
