"""The case file's one home: ``data/<subject>/case.yaml`` -> a typed, frozen model.

* :func:`read_case` / :func:`load_case`: parse and validate one file (schema, then
  optionally the DICOM-aware checks of :mod:`casereport.case.checks`);
* :func:`index`: every case of a data folder (what render, preflight, bench and the
  notebooks use; nothing else opens a ``case.yaml``);
* :class:`Window`: the one display-window type (CT in HU, NM in counts or percentiles),
  with :data:`PRESETS`; :class:`Plane`: the one plane -> axes mapping;
* docs/case.schema.json is generated from the key tables (:mod:`casereport.case.schema`).

Schema and conventions: docs/CASE_FILE.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .index import CaseIndex, case_files, index
from .model import (
    Annotation,
    AnnotationKind,
    Box,
    CaseSpec,
    PanelKind,
    PanelSpec,
    Patient,
    Role,
    Studies,
)
from .overrides import DISPLAY_PARAMETERS, DisplayOverrides, with_overrides
from .parse import parse_box, parse_case, read_case
from .plane import Plane
from .window import PRESETS, Modality, Window, WindowUnit

if TYPE_CHECKING:
    from .studies import Loader


def load_case(
    path: str | Path,
    *,
    check_images: bool = True,
    loader: Loader | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> CaseSpec:
    """Read and validate a case file.

    Args:
        path: the case file (``data/<subject>/case.yaml``) or its folder.
        check_images: also load every referenced study and check views, plane positions,
            crops and that every annotation lies inside its panel's image.
        loader: how to load a study (defaults to the cached
            :func:`casereport.case.studies.load_study`).
        overrides: display overrides (``nm_window``, ``ct_window``, ``crop_mm``; empty
            values keep the file's), applied before the image checks.
    """
    spec = with_overrides(read_case(path), **(overrides or {}))
    if check_images:
        from .checks import check_case

        check_case(spec, loader)
    return spec


_LAZY = {
    "check_case": "checks",
    "check_panel": "checks",
    "panel_bounds_mm": "checks",
    "load_study": "studies",
    "studies_for": "studies",
}


def __getattr__(name: str) -> Any:
    # the image checks and the study loader import pydicom: only when used
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(name)


__all__ = [
    "DISPLAY_PARAMETERS",
    "PRESETS",
    "Annotation",
    "AnnotationKind",
    "Box",
    "CaseIndex",
    "CaseSpec",
    "DisplayOverrides",
    "Modality",
    "PanelKind",
    "PanelSpec",
    "Patient",
    "Plane",
    "Role",
    "Studies",
    "Window",
    "WindowUnit",
    "case_files",
    "check_case",
    "check_panel",
    "index",
    "load_case",
    "load_study",
    "panel_bounds_mm",
    "parse_box",
    "parse_case",
    "read_case",
    "studies_for",
    "with_overrides",
]
