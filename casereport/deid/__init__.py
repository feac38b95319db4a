"""De-identification: the PS3.15 Basic Profile as a gate on input DICOM and as a tool.

``check_file``/``check_tree``/``require_deidentified`` refuse identifiable input;
``deidentify_tree`` (``python -m casereport deidentify IN OUT``) applies the profile.
"""

from casereport.deid.deidentify import DeidParams, DeidResult, deidentify_dataset, deidentify_tree
from casereport.deid.gate import check_dataset, check_file, check_tree, dicom_files, require_deidentified

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
