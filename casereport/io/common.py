"""Helpers shared by the planar and volume builders: numeric attributes and SourceInfo."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset

from casereport.errors import GeometryError
from casereport.io.types import SourceInfo

#: Pixel spacings outside this range (mm) are treated as corrupt.
SPACING_RANGE_MM = (0.01, 100.0)


def text(ds: Dataset, keyword: str) -> str:
    """A string attribute, '' when absent or empty."""
    v = ds.get(keyword)
    if v is None:
        return ""
    if isinstance(v, (list, tuple)) or type(v).__name__ == "MultiValue":
        return "\\".join(str(x) for x in v)
    return str(v)


def image_type(ds: Dataset) -> tuple[str, ...]:
    """ImageType values, upper case, stripped."""
    v = ds.get("ImageType")
    if v is None:
        return ()
    if isinstance(v, str):
        v = v.split("\\")
    return tuple(str(x).strip().upper() for x in v)


def floats(
    item: Dataset, keyword: str, n: int, path: Path, *, required: bool = True
) -> tuple[float, ...] | None:
    """``n`` finite numbers from a multi-valued attribute; GeometryError if malformed."""
    raw = item.get(keyword)
    if raw is None or raw == "" or (isinstance(raw, Sequence) and not isinstance(raw, str) and len(raw) == 0):
        if required:
            raise GeometryError(path, f"{keyword} is missing", keyword)
        return None
    values = [raw] if not isinstance(raw, Sequence) or isinstance(raw, str) else list(raw)
    try:
        out = tuple(float(x) for x in values)
    except (TypeError, ValueError):
        raise GeometryError(path, f"{keyword} is {raw!r}, not numbers", keyword) from None
    if len(out) != n:
        raise GeometryError(path, f"{keyword} has {len(out)} values, expected {n}", keyword)
    if not all(math.isfinite(x) for x in out):
        raise GeometryError(path, f"{keyword} is {list(out)}: not finite", keyword)
    return out


def check_spacing(values: Sequence[float], keyword: str, path: Path) -> tuple[float, ...]:
    """Spacings (mm) must be positive and plausible."""
    lo, hi = SPACING_RANGE_MM
    for v in values:
        if not (lo <= v <= hi):
            raise GeometryError(
                path, f"{keyword} is {list(values)} mm; expected values in [{lo}, {hi}] mm", keyword
            )
    return tuple(float(v) for v in values)


def orientation(item: Dataset, path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(row direction, column direction) unit vectors from ImageOrientationPatient.

    The row direction is the direction of increasing column index (IOP[:3]); the column
    direction that of increasing row index (IOP[3:]).
    """
    iop = floats(item, "ImageOrientationPatient", 6, path)
    assert iop is not None
    r, c = np.array(iop[:3]), np.array(iop[3:])
    nr, nc = np.linalg.norm(r), np.linalg.norm(c)
    if abs(nr - 1) > 0.02 or abs(nc - 1) > 0.02:
        raise GeometryError(
            path, f"ImageOrientationPatient {list(iop)} is not made of unit vectors",
            "ImageOrientationPatient",
        )
    r, c = r / nr, c / nc
    if abs(float(r @ c)) > 0.02:
        raise GeometryError(
            path, f"ImageOrientationPatient {list(iop)}: row and column are not orthogonal",
            "ImageOrientationPatient",
        )
    return r, c


def is_simulated(ds: Dataset) -> bool:
    """True when PatientName or SeriesDescription contains SIMULATED (any case)."""
    blob = f"{text(ds, 'PatientName')} {text(ds, 'SeriesDescription')}".upper()
    return "SIMULATED" in blob


def source_info(paths: Sequence[Path], ds: Dataset) -> SourceInfo:
    """SourceInfo from the first dataset of a series (UIDs only, no patient identifiers)."""
    meta = getattr(ds, "file_meta", None)
    ts = str(getattr(meta, "TransferSyntaxUID", "") or "1.2.840.10008.1.2") if meta is not None else ""
    return SourceInfo(
        paths=tuple(Path(p) for p in paths),
        modality=text(ds, "Modality").upper(),
        sop_class_uid=text(ds, "SOPClassUID"),
        series_instance_uid=text(ds, "SeriesInstanceUID"),
        study_instance_uid=text(ds, "StudyInstanceUID"),
        frame_of_reference_uid=text(ds, "FrameOfReferenceUID") or None,
        series_description=text(ds, "SeriesDescription"),
        transfer_syntax_uid=ts or "1.2.840.10008.1.2",
        manufacturer=text(ds, "Manufacturer"),
        simulated=is_simulated(ds),
    )
