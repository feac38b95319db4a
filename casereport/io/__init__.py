"""Read DICOM into typed, frozen objects with patient geometry."""

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
    "PlanarStudy",
    "SourceInfo",
    "SpectVolume",
    "Study",
    "Volume",
    "WholeBody",
]
