"""A copy of the shipped data folder re-exported in the shapes scanners write.

:func:`vendor_files` rewrites the studies of ``data/`` the way a GE/Siemens/Philips
workstation commonly exports them, keeping every patient-level attribute (so the files
stay marked simulated and de-identified) and the pixel values:

* case C's whole-body becomes one Secondary Capture image (Modality NM) of the anterior
  view only, JPEG 2000 lossless, no View Code Sequence, no Detector Information Sequence;
* case B's static views become one Secondary Capture file per view, without view codes;
* case A's CT folder gains a localizer (scout) and a second, thicker reconstruction,
  each its own series.

The case files are adjusted by the caller (the keys that name per-view files, declared
views and the chosen CT series); see tests/test_vendor_render.py.
"""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.uid import JPEG2000Lossless, generate_uid

SC_IMAGE = "1.2.840.10008.5.1.4.1.1.7"
_NM_ONLY = (
    "NumberOfFrames",
    "FrameIncrementPointer",
    "EnergyWindowVector",
    "NumberOfEnergyWindows",
    "DetectorVector",
    "NumberOfDetectors",
    "DetectorInformationSequence",
    "ImageID",
    "ViewCodeSequence",
)


def _uid(*parts: object) -> str:
    return generate_uid(entropy_srcs=["casereport-vendor", *map(str, parts)])


def as_secondary_capture(
    ds: Dataset, frame: int, *, image_type: list[str], description: str, key: str
) -> Dataset:
    """One frame of an NM object as Secondary Capture with Modality NM (no view codes)."""
    out = copy.deepcopy(ds)
    pixels = ds.pixel_array
    pixels = pixels[frame] if pixels.ndim == 3 else pixels
    for kw in _NM_ONLY:
        if kw in out:
            delattr(out, kw)
    out.SOPClassUID = SC_IMAGE
    out.file_meta.MediaStorageSOPClassUID = SC_IMAGE
    out.SOPInstanceUID = out.file_meta.MediaStorageSOPInstanceUID = _uid(key, "instance")
    out.SeriesInstanceUID = _uid(key, "series")
    out.ImageType = image_type
    out.SeriesDescription = description
    out.ConversionType = "WSD"
    out.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    out.PixelData = np.ascontiguousarray(pixels.astype(np.uint16)).tobytes()
    out["PixelData"].VR = "OW"
    return out


def _save(ds: Dataset, path: Path, j2k: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if j2k:
        ds.compress(JPEG2000Lossless)
    ds.save_as(path, enforce_file_format=True)
    return path


def vendor_files(src: Path, dst: Path) -> Path:
    """Copy ``src`` (the data folder) to ``dst`` with studies re-exported as above."""
    shutil.copytree(src, dst)
    # C: one SC whole-body image, anterior only, JPEG 2000 lossless
    wb = pydicom.dcmread(dst / "C" / "wb" / "wb.dcm")
    shutil.rmtree(dst / "C" / "wb")
    sc = as_secondary_capture(
        wb,
        0,
        image_type=["DERIVED", "PRIMARY", "WHOLE BODY", "EMISSION"],
        description="SIMULATED WB bone scan",
        key="C-wb",
    )
    _save(sc, dst / "C" / "wb" / "WB0001.dcm", j2k=True)
    # B: static views one SC file per view, no view codes, no view words
    spot = pydicom.dcmread(dst / "B" / "spot" / "spot.dcm")
    shutil.rmtree(dst / "B" / "spot")
    for frame, name in enumerate(("IM0001.dcm", "IM0002.dcm")):
        one = as_secondary_capture(
            spot,
            frame,
            image_type=["DERIVED", "PRIMARY", "STATIC", "EMISSION"],
            description="SIMULATED chest static",
            key=f"B-spot-{frame}",
        )
        _save(one, dst / "B" / "spot" / name)
    # A: the CT folder gains a localizer and a thick reconstruction (own series each)
    ct_dir = dst / "A" / "ct"
    slices = sorted(ct_dir.glob("*.dcm"))
    first = pydicom.dcmread(slices[0])
    scout = copy.deepcopy(first)
    scout.ImageType = ["ORIGINAL", "PRIMARY", "LOCALIZER"]
    scout.ImageOrientationPatient = [1, 0, 0, 0, 0, -1]
    scout.SeriesInstanceUID = _uid("A-scout")
    scout.SOPInstanceUID = scout.file_meta.MediaStorageSOPInstanceUID = _uid("A-scout", 1)
    scout.SeriesNumber = 1
    scout.SeriesDescription = "SIMULATED Topogram"
    _save(scout, ct_dir / "SCOUT0001.dcm")
    thick_uid = _uid("A-thick")
    for k, path in enumerate(slices[::2]):
        ds = pydicom.dcmread(path)
        ds.SeriesInstanceUID = thick_uid
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = _uid("A-thick", k)
        ds.SeriesNumber = int(first.SeriesNumber) + 100
        ds.SeriesDescription = "SIMULATED CT thick recon"
        ds.SliceThickness = 2 * float(ds.SliceThickness)
        _save(ds, ct_dir / f"THICK{k:04d}.dcm")
    return dst
