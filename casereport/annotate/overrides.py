"""Display-window overrides applied to a loaded case (e.g. from notebook parameters)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from casereport.annotate.case import CT_PRESETS, CaseSpec, PanelKind, WindowSpec
from casereport.errors import CaseFileError


def nm_percentile_window(lo: float, hi: float, *, source: str = "nm_window") -> WindowSpec:
    """NM window between two percentiles of the displayed counts (0 <= lo < hi <= 100)."""
    if not (0.0 <= lo < hi <= 100.0):
        raise CaseFileError(
            source, "nm_window", f"percentiles must satisfy 0 <= lo < hi <= 100, got [{lo}, {hi}]"
        )
    return WindowSpec(modality="NM", mode="percentiles", lo=float(lo), hi=float(hi))


def ct_preset_window(name: str, *, source: str = "ct_window") -> WindowSpec:
    """CT window from a preset name (lung, mediastinal, bone)."""
    if name not in CT_PRESETS:
        raise CaseFileError(
            source, "ct_window", f"unknown CT window {name!r} (choose: {', '.join(CT_PRESETS)})"
        )
    width, level = CT_PRESETS[name]
    return WindowSpec(modality="CT", name=name, width_hu=width, level_hu=level)


def with_windows(
    spec: CaseSpec, *, nm_window: Sequence[float] = (), ct_window: str = ""
) -> CaseSpec:
    """A copy of ``spec`` whose NM panels use percentiles ``nm_window`` ([lo, hi]) and whose
    CT/fusion panels use the preset ``ct_window``; empty values keep the case file's."""
    nm = None
    if nm_window:
        if len(nm_window) != 2:
            raise CaseFileError(spec.path, "nm_window", f"expected [lo, hi], got {list(nm_window)}")
        nm = nm_percentile_window(float(nm_window[0]), float(nm_window[1]), source=str(spec.path))
    ct = ct_preset_window(ct_window, source=str(spec.path)) if ct_window else None
    panels = []
    for p in spec.panels:
        if nm and p.kind in (PanelKind.PLANAR, PanelKind.WHOLEBODY):
            p = replace(p, window=nm)
        elif ct and p.kind in (PanelKind.CT, PanelKind.FUSION):
            p = replace(p, window=ct)
        panels.append(p)
    return replace(spec, panels=tuple(panels))
