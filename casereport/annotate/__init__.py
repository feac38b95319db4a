"""Per-case data files (case.yaml) and their annotations, in millimetres.

:func:`load_case` reads and validates ``data/<subject>/case.yaml`` (schema in
docs/CASE_FILE.md) into frozen dataclasses; :func:`draw_annotations` draws arrows,
circles, ellipses and labels on a panel through the panel's mm -> data mapping.
"""

from .case import (
    CT_PRESETS,
    Annotation,
    AnnotationKind,
    Box,
    CaseSpec,
    PanelKind,
    PanelSpec,
    Patient,
    WindowSpec,
    case_files,
    check_case,
    check_panel,
    clear_cache,
    load_case,
    load_study,
    panel_bounds_mm,
    parse_case,
    studies_for,
)
from .draw import draw_annotations, identity

__all__ = [
    "CT_PRESETS",
    "Annotation",
    "AnnotationKind",
    "Box",
    "CaseSpec",
    "PanelKind",
    "PanelSpec",
    "Patient",
    "WindowSpec",
    "case_files",
    "check_case",
    "check_panel",
    "clear_cache",
    "draw_annotations",
    "identity",
    "load_case",
    "load_study",
    "panel_bounds_mm",
    "parse_case",
    "studies_for",
]
