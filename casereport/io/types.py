"""Typed, frozen study objects with patient geometry.

Everything downstream (display, annotate, figure, analysis) works in millimetres through
the methods here, never in raw array indices. Arrays are read-only float32.

Conventions (see docs/ARCHITECTURE.md):

* Volumes hold ``array[k, j, i]`` (slice, row, column); ``affine`` maps ``(i, j, k, 1)``
  to DICOM patient coordinates LPS in mm.
* Planar images use *view mm*: ``x_mm`` along columns from the left edge of the image,
  ``y_mm`` along rows from the top edge.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from casereport.errors import DicomInputError


def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.float32)
    a.setflags(write=False)
    return a


@dataclass(frozen=True)
class SourceInfo:
    """Where a study came from: files and identifying UIDs (no patient identifiers).

    ``simulated`` is read from the DICOM (PatientName or SeriesDescription containing
    ``SIMULATED``), never assumed.

    ``patient_position`` is the Patient Position defined term (``"HFS"``, ``"FFP"``,
    ``"HFDL"`` ...): from Patient Position (0018,5100) when present, otherwise from the
    NM/PET Patient Orientation Code Sequence (0054,0410) with its modifier and the Patient
    Gantry Relationship Code Sequence (0054,0414); ``""`` when neither says.
    """

    paths: tuple[Path, ...]
    modality: str
    sop_class_uid: str
    series_instance_uid: str
    study_instance_uid: str
    frame_of_reference_uid: str | None
    series_description: str
    transfer_syntax_uid: str
    manufacturer: str = ""
    simulated: bool = False
    patient_position: str = ""


@dataclass(frozen=True)
class PlanarImage:
    """One planar NM view in counts.

    Attributes:
        counts: float32 array (rows, cols), counts per pixel.
        view: view name, e.g. ``"ANT"``, ``"POST"``, ``"LAO"``.
        view_source: which attribute gave the view name (``"ViewCodeSequence"``,
            ``"DetectorVector"``, ``"ImageType"``, ``"SeriesDescription"`` ...).
        pixel_spacing_mm: (row spacing, column spacing) in mm.
        duration_s: acquisition duration in seconds, if recorded.
        frame_index: 0-based frame of the source file this view came from.
        source: the file(s) and UIDs.
        spacing_source: where the pixel spacing came from (``"PixelSpacing"``,
            ``"DetectorInformationSequence.PixelSpacing"``, ``"ImagerPixelSpacing"``,
            ``"case file"`` ...; ``"unknown"`` when 1 mm was assumed for display).
        columns: (first, last + 1) columns of the stored frame this view was cut from
            when several views share one image side by side; None for a whole frame.
    """

    counts: np.ndarray
    view: str
    view_source: str
    pixel_spacing_mm: tuple[float, float]
    duration_s: float | None
    frame_index: int
    source: SourceInfo
    spacing_source: str = "PixelSpacing"
    columns: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "counts", _readonly(self.counts))
        if self.counts.ndim != 2:
            raise DicomInputError(self.source.paths[0], "planar view is not 2-D", "PixelData")
        dy, dx = self.pixel_spacing_mm
        if not (np.isfinite(dy) and np.isfinite(dx) and dy > 0 and dx > 0):
            raise DicomInputError(
                self.source.paths[0], f"pixel spacing {self.pixel_spacing_mm} mm", "PixelSpacing"
            )

    @property
    def shape(self) -> tuple[int, int]:
        return self.counts.shape  # type: ignore[return-value]

    @property
    def view_known(self) -> bool:
        """False when no attribute, layout or declaration named this view."""
        return self.view_source != "none"

    @property
    def size_mm(self) -> tuple[float, float]:
        """(width, height) of the image in mm."""
        dy, dx = self.pixel_spacing_mm
        return (self.shape[1] * dx, self.shape[0] * dy)

    @property
    def extent_mm(self) -> tuple[float, float, float, float]:
        """``imshow`` extent (left, right, bottom, top) in view mm, y growing downwards."""
        w, h = self.size_mm
        return (0.0, w, h, 0.0)

    @property
    def total_counts(self) -> float:
        return float(self.counts.sum(dtype=np.float64))

    def pixel_to_mm(self, rc: np.ndarray) -> np.ndarray:
        """(..., 2) array of (row, col) pixel indices -> (..., 2) (x_mm, y_mm) centres."""
        rc = np.asarray(rc, dtype=float)
        dy, dx = self.pixel_spacing_mm
        return np.stack([(rc[..., 1] + 0.5) * dx, (rc[..., 0] + 0.5) * dy], axis=-1)

    def mm_to_pixel(self, xy: np.ndarray) -> np.ndarray:
        """(..., 2) array of (x_mm, y_mm) -> (..., 2) fractional (row, col)."""
        xy = np.asarray(xy, dtype=float)
        dy, dx = self.pixel_spacing_mm
        return np.stack([xy[..., 1] / dy - 0.5, xy[..., 0] / dx - 0.5], axis=-1)


class _HasViews(Protocol):
    @property
    def views(self) -> tuple[PlanarImage, ...]: ...

    @property
    def source(self) -> SourceInfo: ...


class _ViewLookup:
    """Look-up of a planar study's views by name (PlanarStudy, WholeBody)."""

    def view(self: _HasViews, name: str) -> PlanarImage:
        """The view called ``name`` (case-insensitive); error listing the views present."""
        want = name.upper()
        for v in self.views:
            if v.view.upper() == want:
                return v
        present = ", ".join(v.view for v in self.views) or "none"
        raise DicomInputError(
            self.source.paths[0], f"no {want} view (views present: {present})", "ViewCodeSequence"
        )

    def has_view(self: _HasViews, name: str) -> bool:
        return any(v.view.upper() == name.upper() for v in self.views)


@dataclass(frozen=True)
class PlanarStudy(_ViewLookup):
    """Static planar views (one or more) from one series or one file per view.

    ``warnings`` lists what was tolerated or assumed (a view not recorded, no spacing).
    """

    views: tuple[PlanarImage, ...]
    source: SourceInfo
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class WholeBody(_ViewLookup):
    """Whole-body sweep: anterior and/or posterior view.

    One of the two may be missing (a scanner export holding a single view); ``views``
    then has one element and :meth:`view` of the absent one raises, naming what exists.
    """

    anterior: PlanarImage | None
    posterior: PlanarImage | None
    source: SourceInfo
    warnings: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.anterior is None and self.posterior is None:
            raise DicomInputError(
                self.source.paths[0], "a whole-body study needs an ANT or a POST view"
            )

    @property
    def views(self) -> tuple[PlanarImage, ...]:
        return tuple(v for v in (self.anterior, self.posterior) if v is not None)

    @property
    def missing_views(self) -> tuple[str, ...]:
        """Names of the standard views (ANT, POST) this study does not hold."""
        return tuple(
            name for name, v in (("ANT", self.anterior), ("POST", self.posterior)) if v is None
        )


@dataclass(frozen=True)
class Volume:
    """A 3-D image on a regular grid with an index -> LPS mm affine.

    Attributes:
        array: float32 (slices, rows, cols).
        affine: 4x4; ``affine @ (i, j, k, 1)`` = LPS mm of voxel centre (col i, row j, slice k).
        source: files and UIDs.
        warnings: geometry problems that were tolerated (gaps, uneven spacing), as text.
    """

    array: np.ndarray
    affine: np.ndarray
    source: SourceInfo
    warnings: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "array", _readonly(self.array))
        aff = np.array(self.affine, dtype=float)
        aff.setflags(write=False)
        object.__setattr__(self, "affine", aff)
        if self.array.ndim != 3 or aff.shape != (4, 4) or not np.all(np.isfinite(aff)):
            raise DicomInputError(
                self.source.paths[0], "volume geometry is invalid", "ImagePositionPatient"
            )

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.array.shape  # type: ignore[return-value]

    @property
    def spacing_mm(self) -> tuple[float, float, float]:
        """(column, row, slice) spacing in mm, all positive."""
        n = np.linalg.norm(self.affine[:3, :3], axis=0)
        return (float(n[0]), float(n[1]), float(n[2]))

    def index_to_patient(self, ijk: np.ndarray) -> np.ndarray:
        """(..., 3) (i, j, k) voxel indices -> (..., 3) LPS mm."""
        ijk = np.asarray(ijk, dtype=float)
        return ijk @ self.affine[:3, :3].T + self.affine[:3, 3]

    def patient_to_index(self, xyz: np.ndarray) -> np.ndarray:
        """(..., 3) LPS mm -> (..., 3) fractional (i, j, k)."""
        xyz = np.asarray(xyz, dtype=float)
        inv = np.linalg.inv(self.affine)
        return xyz @ inv[:3, :3].T + inv[:3, 3]

    def bounds_mm(self) -> tuple[np.ndarray, np.ndarray]:
        """(min, max) LPS mm over the voxel centres."""
        k, j, i = self.shape
        corners = np.array(
            [[a, b, c] for a in (0, i - 1) for b in (0, j - 1) for c in (0, k - 1)], dtype=float
        )
        p = self.index_to_patient(corners)
        return p.min(axis=0), p.max(axis=0)


@dataclass(frozen=True)
class CTVolume(Volume):
    """CT series in Hounsfield units (rescale applied)."""


@dataclass(frozen=True)
class SpectVolume(Volume):
    """Reconstructed NM tomography (RECON TOMO) volume; ``units`` as stored (e.g. CNTS)."""

    units: str = "CNTS"


Study = PlanarStudy | WholeBody | CTVolume | SpectVolume
