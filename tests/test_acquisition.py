"""casereport.io.acquisition: Table 2 values read from the DICOM header, never invented."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence

from casereport.io.acquisition import acquisition
from tests.support.dicom_factory import ct_series, nm_planar


def _write(ds: Dataset, path: Path) -> Path:
    ds.save_as(path, enforce_file_format=True)
    return path


def test_planar_values_and_counts_per_view(tmp_path: Path) -> None:
    counts = np.stack([np.full((16, 8), 3, np.uint16), np.full((16, 8), 5, np.uint16)])
    ds = nm_planar(counts, views=("ANT", "POST"), whole_body=True, shape=(16, 8))
    info = Dataset()
    info.Radiopharmaceutical = "Tc-99m medronate"
    info.RadionuclideTotalDose = "650"
    info.RadiopharmaceuticalStartTime = "081500"
    ds.RadiopharmaceuticalInformationSequence = DicomSequence([info])
    ds.StudyDate = ds.AcquisitionDate = "20240102"
    ds.AcquisitionTime = "111500"
    ds.DetectorInformationSequence[0].CollimatorGridName = "LEHR"
    a = acquisition(_write(ds, tmp_path / "wb.dcm"))
    assert a.modality == "NM" and a.radiopharmaceutical == "Tc-99m medronate"
    assert a.activity_mbq == 650.0 and a.minutes_after_injection == pytest.approx(180.0)
    assert a.counts_per_view == (3 * 16 * 8, 5 * 16 * 8)  # summed from the pixels
    assert a.matrix == (16, 8) and a.collimator.startswith("LEHR")
    assert a.kvp is None and a.mas is None


def test_missing_values_are_none_not_defaults(tmp_path: Path) -> None:
    ds = nm_planar(shape=(8, 8))
    for kw in ("RadiopharmaceuticalInformationSequence", "AcquisitionTime", "SeriesTime"):
        if kw in ds:
            delattr(ds, kw)
    a = acquisition(_write(ds, tmp_path / "bare.dcm"))
    assert a.radiopharmaceutical is None and a.activity_mbq is None
    assert a.minutes_after_injection is None


def test_ct_exposure_from_current_and_time(tmp_path: Path) -> None:
    folder = tmp_path / "ct"
    folder.mkdir()
    for i, ds in enumerate(ct_series(n=2)):
        ds.XRayTubeCurrent = 40
        ds.ExposureTime = 500
        ds.SliceThickness = 2.5
        _write(ds, folder / f"{i:03d}.dcm")
    a = acquisition(folder)
    assert a.modality == "CT" and a.kvp == 120.0 and a.mas == pytest.approx(20.0)
    assert a.slice_mm == 2.5 and a.counts_per_view is None
