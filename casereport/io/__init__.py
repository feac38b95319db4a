"""Read DICOM into typed, frozen objects with patient geometry.

``load(path)`` turns a file, folder or DICOMDIR into a :data:`Study`
(``PlanarStudy``, ``WholeBody``, ``SpectVolume`` or ``CTVolume``); ``scan(path)`` lists the
series it holds from headers only. Errors are :class:`casereport.errors.DicomInputError`
subclasses that name the file and the DICOM attribute.
"""

from casereport.io.loader import classify, load, load_views
from casereport.io.planar import PlanarOptions
from casereport.io.record import files_read, forget_files_read, record_read
from casereport.io.scan import SeriesChoice, SeriesSummary, scan
from casereport.io.types import (
    CTVolume,
    PlanarImage,
    PlanarStudy,
    SourceInfo,
    SpectVolume,
    Study,
    Volume,
    WholeBody,
)

__all__ = [
    "CTVolume",
    "PlanarImage",
    "PlanarOptions",
    "PlanarStudy",
    "SeriesChoice",
    "SeriesSummary",
    "SourceInfo",
    "SpectVolume",
    "Study",
    "Volume",
    "WholeBody",
    "classify",
    "files_read",
    "forget_files_read",
    "load",
    "load_views",
    "record_read",
    "scan",
]
