"""De-identification: the PS3.15 Basic Profile as a gate on input DICOM and as a tool.

``check_file``/``check_tree``/``require_deidentified`` refuse identifiable input;
``deidentify_tree`` (``python -m casereport deidentify IN OUT``) applies the profile.
Importing the package does not import pydicom (the render checks its cached gate results
without it).
"""

from typing import Any

from casereport.deid.gate import (
    check_dataset,
    check_file,
    check_tree,
    dicom_files,
    require_deidentified,
)

_LAZY = {"DeidParams", "DeidResult", "deidentify_dataset", "deidentify_tree"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from casereport.deid import deidentify

        return getattr(deidentify, name)
    raise AttributeError(f"module 'casereport.deid' has no attribute {name!r}")


__all__ = [
    "DeidParams",
    "DeidResult",
    "check_dataset",
    "check_file",
    "check_tree",
    "deidentify_dataset",
    "deidentify_tree",
    "dicom_files",
    "require_deidentified",
]
