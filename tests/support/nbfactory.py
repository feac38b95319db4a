"""Build small projects in tests: notebooks and tiny DICOM files, executed by the real tools."""

from __future__ import annotations

from pathlib import Path

import nbformat
import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian


def make_notebook(
    path: Path, cells: list[tuple[str, str, list[str] | None]], title: str = ""
) -> Path:
    """Write a notebook of (kind, source, tags) cells; kind is "md" or "code"."""
    nb = nbformat.v4.new_notebook()
    nb.metadata = {
        "kernelspec": {
            "name": "casereport",
            "display_name": "Python (casereport)",
            "language": "python",
        },
        "language_info": {"name": "python"},
    }
    if title:
        nb.metadata["title"] = title
    for i, (kind, source, tags) in enumerate(cells):
        cell = (
            nbformat.v4.new_markdown_cell(source)
            if kind == "md"
            else nbformat.v4.new_code_cell(source)
        )
        cell.id = f"cell-{i:02d}"
        if tags:
            cell.metadata["tags"] = list(tags)
        nb.cells.append(cell)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def write_nm_image(path: Path, pixels: np.ndarray, sop_instance_uid: str) -> Path:
    """Write a minimal single-frame NM image (uint16 counts) with pydicom."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.20"
    ds.SOPInstanceUID = sop_instance_uid
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.Modality = "NM"
    ds.Rows, ds.Columns = pixels.shape
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 16, 15
    ds.PixelRepresentation, ds.SamplesPerPixel = 0, 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.PixelData = np.ascontiguousarray(pixels, dtype=np.uint16).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def case_yaml(case_id: str, role: str = "case") -> str:
    """The smallest valid case file (no panels, no studies) of subject ``case_id``."""
    return f"case: {case_id}\nrole: {role}\npatient: {{age: 50, sex: F, history: test}}\n"
