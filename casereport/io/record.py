"""The record of input files read: :mod:`casereport.record`, under its ``casereport.io`` name.

The record lives in the leaf module :mod:`casereport.record` so that the render process can
use it (case files, the manifest) without importing the DICOM readers of this package; this
module shares its state.
"""

from casereport.record import (
    FACET_SEP,
    capture_reads,
    files_read,
    forget_files_read,
    record_read,
    split_facet,
)

__all__ = [
    "FACET_SEP",
    "capture_reads",
    "files_read",
    "forget_files_read",
    "record_read",
    "split_facet",
]
