"""Acquisition parameters of a study, read from its DICOM header (Table 2 of the article).

Every value comes from the file; a value the file does not hold is ``None`` (shown as
"not recorded"), never a default. Counts per view are summed from the pixel data of
planar NM studies (one sum per frame); SPECT gives the accumulated counts of its header.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from .record import record_read

NOT_RECORDED = "not recorded"


@dataclass(frozen=True)
class Acquisition:
    """What one study says about how it was acquired.

    Attributes:
        modality: ``NM`` or ``CT``.
        description: SeriesDescription.
        radiopharmaceutical: name from the radiopharmaceutical sequence.
        activity_mbq: Radionuclide Total Dose (MBq).
        minutes_after_injection: acquisition time minus radiopharmaceutical start time.
        counts_per_view: counts of each planar view (frame), or the SPECT's accumulated counts.
        matrix: (rows, columns).
        pixel_mm: pixel spacing (row, column), mm.
        collimator: collimator name or type of the first detector.
        kvp: CT tube voltage (kV); mas: CT exposure (mAs); slice_mm: slice thickness (mm).
    """

    modality: str
    description: str | None
    radiopharmaceutical: str | None
    activity_mbq: float | None
    minutes_after_injection: float | None
    counts_per_view: tuple[float, ...] | None
    matrix: tuple[int, int] | None
    pixel_mm: tuple[float, float] | None
    collimator: str | None
    kvp: float | None
    mas: float | None
    slice_mm: float | None


def _float(value: Any) -> float | None:
    try:
        return None if value in (None, "") else float(value)
    except (TypeError, ValueError):
        return None


def _time(date: Any, time: Any) -> datetime | None:
    """DICOM DA + TM (or a DT) as a datetime; None when absent or malformed."""
    text = str(time or "").split(".")[0]
    if not text:
        return None
    if len(text) >= 14:  # a DT: YYYYMMDDHHMMSS
        date, text = text[:8], text[8:]
    text = text.ljust(6, "0")[:6]
    try:
        return datetime.strptime(f"{date or '19000101'}{text}", "%Y%m%d%H%M%S")
    except ValueError:
        return None


def _injection_minutes(ds: Any, info: Any) -> float | None:
    if info is None:
        return None
    start = _time(ds.get("StudyDate"), info.get("RadiopharmaceuticalStartDateTime")) or _time(
        ds.get("StudyDate"), info.get("RadiopharmaceuticalStartTime")
    )
    scan = _time(ds.get("AcquisitionDate") or ds.get("StudyDate"), ds.get("AcquisitionTime"))
    scan = scan or _time(ds.get("SeriesDate") or ds.get("StudyDate"), ds.get("SeriesTime"))
    if start is None or scan is None:
        return None
    return (scan - start).total_seconds() / 60.0


def _collimator(ds: Any) -> str | None:
    seq = ds.get("DetectorInformationSequence")
    if not seq:
        return None
    det = seq[0]
    name = det.get("CollimatorGridName") or None
    kind = det.get("CollimatorType") or None
    return " ".join(str(v) for v in (name, kind) if v) or None


def _mas(ds: Any) -> float | None:
    exposure = _float(ds.get("Exposure"))
    if exposure is not None:
        return exposure
    current, time_ms = _float(ds.get("XRayTubeCurrent")), _float(ds.get("ExposureTime"))
    if current is not None and time_ms is not None:
        return current * time_ms / 1000.0
    return None


def acquisition(path: str | Path) -> Acquisition:
    """Acquisition parameters of the study whose (first) file is ``path``."""
    import pydicom

    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
        path = files[0]
    record_read(path)
    ds = pydicom.dcmread(path)
    modality = str(ds.get("Modality", ""))
    info_seq = ds.get("RadiopharmaceuticalInformationSequence")
    info = info_seq[0] if info_seq else None
    counts: tuple[float, ...] | None = None
    if modality == "NM":
        kinds = [str(v).upper() for v in ds.get("ImageType", [])]
        if any("TOMO" in k or "RECON" in k for k in kinds):
            total = _float(ds.get("CountsAccumulated"))
            counts = None if total is None else (total,)
        elif "PixelData" in ds:
            pixels = np.asarray(ds.pixel_array, dtype=np.float64)
            frames = pixels if int(ds.get("NumberOfFrames", 1) or 1) > 1 else pixels[None]
            counts = tuple(float(f.sum()) for f in frames)
    spacing = ds.get("PixelSpacing")
    rows, cols = ds.get("Rows"), ds.get("Columns")
    return Acquisition(
        modality=modality,
        description=str(ds.get("SeriesDescription")) if ds.get("SeriesDescription") else None,
        radiopharmaceutical=str(info.get("Radiopharmaceutical"))
        if info and info.get("Radiopharmaceutical")
        else None,
        activity_mbq=_float(info.get("RadionuclideTotalDose")) if info else None,
        minutes_after_injection=_injection_minutes(ds, info),
        counts_per_view=counts,
        matrix=(int(rows), int(cols)) if rows and cols else None,
        pixel_mm=(float(spacing[0]), float(spacing[1])) if spacing else None,
        collimator=_collimator(ds) if modality == "NM" else None,
        kvp=_float(ds.get("KVP")) if modality == "CT" else None,
        mas=_mas(ds) if modality == "CT" else None,
        slice_mm=_float(ds.get("SliceThickness")),
    )
