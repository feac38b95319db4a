"""Helpers shared by the planar and volume builders: numeric attributes and SourceInfo."""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
from pydicom.datadict import tag_for_keyword
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.tag import BaseTag

from casereport.errors import GeometryError
from casereport.io.rawseq import RawItem, Unsupported, raw_sequence, raw_sequence_items, raw_text
from casereport.io.types import SourceInfo

#: Pixel spacings outside this range (mm) are treated as corrupt.
SPACING_RANGE_MM = (0.01, 100.0)


#: VRs whose raw bytes are plain text in the default character repertoire.
_ASCII_VRS = frozenset({"AE", "AS", "CS", "DA", "DS", "DT", "IS", "TM", "UI"})
_CHARSET_VRS = frozenset({"LO", "SH", "PN", "LT", "ST", "UT", "UC"})
#: Specific Character Set values (one value, no code extensions) in which ASCII bytes
#: stand for the same characters as in the default repertoire: ISO 8859 parts, UTF-8,
#: GB18030/GBK, TIS 620.
_ASCII_COMPATIBLE = frozenset(
    {
        "",
        "ISO_IR 6",
        "ISO_IR 100",
        "ISO_IR 101",
        "ISO_IR 109",
        "ISO_IR 110",
        "ISO_IR 126",
        "ISO_IR 127",
        "ISO_IR 138",
        "ISO_IR 144",
        "ISO_IR 148",
        "ISO_IR 166",
        "ISO_IR 203",
        "ISO_IR 192",
        "GB18030",
        "GBK",
    }
)


@lru_cache(maxsize=512)
def tag_of(keyword: str) -> BaseTag | None:
    """The tag of a DICOM keyword (cached), None if unknown."""
    t = tag_for_keyword(keyword)
    return None if t is None else BaseTag(t)


def element(ds: Dataset, keyword: str) -> DataElement | RawDataElement | None:
    """The element (raw if never accessed) for ``keyword``, or None if absent.

    Looks the tag up in the dataset's element dictionary directly: ``Dataset.get_item``
    rebuilds the tag on every call, and the loaders ask for some fifty elements per
    file. A raw element whose value was deferred goes through ``get_item``, which reads it.
    """
    tag = tag_of(keyword)
    if tag is None:
        return None
    elem = ds._dict.get(tag)
    if isinstance(elem, RawDataElement) and elem.value is None:
        return ds.get_item(tag)
    return elem


def _raw_text(ds: Dataset, keyword: str) -> str | None:
    """The value of a not-yet-converted text element straight from its bytes, or None.

    Skips pydicom's per-element conversion and validation (the bulk of header-reading
    time for small files). Only used for explicit-VR text elements whose bytes are ASCII,
    in the default character repertoire or a character set that encodes ASCII as ASCII
    (:data:`_ASCII_COMPATIBLE`); everything else returns None and goes the usual way.
    """
    elem = element(ds, keyword)
    if elem is None or not isinstance(elem, RawDataElement) or not isinstance(elem.value, bytes):
        return None
    vr = elem.VR
    if vr in _CHARSET_VRS:
        declared = element(ds, "SpecificCharacterSet") is not None
        if declared and text(ds, "SpecificCharacterSet") not in _ASCII_COMPATIBLE:
            return None
    elif vr not in _ASCII_VRS:
        return None
    try:
        raw = elem.value.decode("ascii")
    except UnicodeDecodeError:
        return None
    return raw.rstrip(" \x00").strip() if vr != "PN" else raw.rstrip(" \x00")


def text(ds: Dataset, keyword: str) -> str:
    """A string attribute, '' when absent or empty (multiple values joined by '\\')."""
    fast = _raw_text(ds, keyword)
    if fast is not None:
        return fast
    v = ds.get(keyword)
    if v is None:
        return ""
    if isinstance(v, (list, tuple)) or type(v).__name__ == "MultiValue":
        return "\\".join(str(x) for x in v)
    return str(v)


def _raw_words(elem: DataElement | RawDataElement) -> np.ndarray | None:
    """The values of a still-undecoded US or SS element, read straight from its bytes
    (in the file's byte order); None for any other element."""
    if (
        isinstance(elem, RawDataElement)
        and isinstance(elem.value, bytes)
        and elem.VR in ("US", "SS")
    ):
        dt = np.dtype(("<" if elem.is_little_endian else ">") + ("u2" if elem.VR == "US" else "i2"))
        return np.frombuffer(elem.value, dtype=dt)
    return None


def integers(ds: Dataset, keyword: str) -> list[int] | None:
    """A multi-valued US/SS/IS attribute as a list of ints; None when absent or empty."""
    elem = element(ds, keyword)
    if elem is None:
        return None
    raw = _raw_words(elem)
    if raw is not None:
        return [int(x) for x in raw] or None
    v = ds.get(keyword)
    if v is None or v == "":
        return None
    values = v if isinstance(v, Sequence) and not isinstance(v, str) else [v]
    return [int(x) for x in values] or None


def image_type(ds: Dataset) -> tuple[str, ...]:
    """ImageType values, upper case, stripped."""
    v = text(ds, "ImageType")
    return tuple(x.strip().upper() for x in v.split("\\")) if v else ()


def integer(ds: Dataset, keyword: str, default: int | None = None) -> int | None:
    """An integer attribute (US, SS, UL or IS); ``default`` when absent or empty.

    Raises:
        ValueError: the value is not an integer.
    """
    elem = element(ds, keyword)
    if elem is None:
        return default
    if isinstance(elem.value, bytes) and len(elem.value) in (0, 2):
        raw = _raw_words(elem)
        if raw is not None:
            return int(raw[0]) if len(raw) else default
    s = text(ds, keyword) if isinstance(elem, RawDataElement) and elem.VR == "IS" else None
    if s is not None:
        return int(float(s)) if s else default
    v = ds.get(keyword)
    if v is None or v == "":
        return default
    if isinstance(v, Sequence) and not isinstance(v, str):
        v = v[0] if len(v) else default
    return None if v is None else int(v)


def floats(
    item: Dataset, keyword: str, n: int, path: Path, *, required: bool = True
) -> tuple[float, ...] | None:
    """``n`` finite numbers from a multi-valued attribute; GeometryError if malformed."""
    fast = _raw_text(item, keyword)
    if fast is not None and fast != "":
        try:
            out_fast = tuple(float(x) for x in fast.split("\\"))
        except ValueError:
            out_fast = None
        if out_fast is not None:
            if len(out_fast) != n:
                raise GeometryError(
                    path, f"{keyword} has {len(out_fast)} values, expected {n}", keyword
                )
            if not all(math.isfinite(x) for x in out_fast):
                raise GeometryError(path, f"{keyword} is {list(out_fast)}: not finite", keyword)
            return out_fast
    raw = item.get(keyword)
    if (
        raw is None
        or raw == ""
        or (isinstance(raw, Sequence) and not isinstance(raw, str) and len(raw) == 0)
    ):
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
            path,
            f"ImageOrientationPatient {list(iop)} is not made of unit vectors",
            "ImageOrientationPatient",
        )
    r, c = r / nr, c / nc
    if abs(float(r @ c)) > 0.02:
        raise GeometryError(
            path,
            f"ImageOrientationPatient {list(iop)}: row and column are not orthogonal",
            "ImageOrientationPatient",
        )
    return r, c


def is_simulated(ds: Dataset) -> bool:
    """True when PatientName or SeriesDescription contains SIMULATED (any case)."""
    blob = f"{text(ds, 'PatientName')} {text(ds, 'SeriesDescription')}".upper()
    return "SIMULATED" in blob


#: Patient Orientation Modifier (CID 20) and Patient Gantry Relationship (CID 21) codes:
#: SNOMED CT and the older SNOMED RT (SRT/SNM3) values -> the letters of Patient Position;
#: other codes are recognised by their meaning.
_ORIENTATION_MODIFIER = {
    "40199007": "S",  # supine
    "F-10340": "S",
    "1240000": "P",  # prone
    "F-10310": "P",
    "102535000": "DR",  # right lateral decubitus
    "102536004": "DL",  # left lateral decubitus
}
_GANTRY_RELATIONSHIP = {
    "102540008": "HF",  # headfirst
    "F-10470": "HF",
    "102541007": "FF",  # feet-first
    "F-10480": "FF",
}
_MEANINGS = (
    ("right lateral decubitus", "DR"),
    ("left lateral decubitus", "DL"),
    ("supine", "S"),
    ("prone", "P"),
    ("head", "HF"),
    ("feet", "FF"),
    ("foot", "FF"),
)


def _coded(item: Dataset | None, table: dict[str, str]) -> str:
    """The letters for the first item of a code sequence: by code value, else by meaning."""
    if item is None:
        return ""
    value = str(item.get("CodeValue", "") or "").strip()
    return _letters(value, str(item.get("CodeMeaning", "") or "").lower(), table)


def _first(ds: Dataset | None, keyword: str) -> Dataset | None:
    """The first item of a sequence, None when the sequence is absent or empty."""
    seq = None if ds is None else ds.get(keyword)
    return seq[0] if seq else None


#: (0054,0412) Patient Orientation Modifier Code Sequence; Code Value and Code Meaning
_MODIFIER_SEQ, _CODE_VALUE, _CODE_MEANING = 0x00540412, 0x00080100, 0x00080104


def _letters(value: str, meaning: str, table: dict[str, str]) -> str:
    """The letters for a code: by code value, else by words of its meaning."""
    if value in table:
        return table[value]
    letters = set(table.values())
    return next((code for word, code in _MEANINGS if word in meaning and code in letters), "")


def _position(has_orientation: bool, pose: str, first: str) -> str:
    """The defined term from the coded orientation: head or feet first, then the pose;
    ``""`` when either is not known."""
    return first + pose if has_orientation and pose and first else ""


def _raw_position(ds: Dataset) -> str | None:
    """:func:`patient_position` from the code sequences' raw bytes
    (:mod:`casereport.io.rawseq`: pydicom would build a Dataset per item, about 1 ms of a
    5 ms whole-body load); None when they are not raw or hold what only pydicom reads."""
    found: list[RawItem | None] = []
    for keyword in ("PatientOrientationCodeSequence", "PatientGantryRelationshipCodeSequence"):
        elem = element(ds, keyword)
        items = [] if elem is None else raw_sequence_items(elem)
        if items is None:
            return None
        found.append(items[0] if items else None)
    orient, gantry = found
    try:
        modifier = None
        if orient is not None:
            nested = raw_sequence(orient, _MODIFIER_SEQ)
            modifier = nested[0] if nested else None

        def coded(item: RawItem | None, table: dict[str, str]) -> str:
            if item is None:
                return ""
            value = raw_text(item, _CODE_VALUE)
            return _letters(value, raw_text(item, _CODE_MEANING).lower(), table)

        pose = coded(modifier, _ORIENTATION_MODIFIER)
        first = coded(gantry, _GANTRY_RELATIONSHIP)
    except Unsupported:
        return None
    return _position(orient is not None, pose, first)


def patient_position(ds: Dataset) -> str:
    """Patient Position defined term (``"HFS"``, ``"FFP"`` ...), or ``""`` if not recorded.

    Patient Position (0018,5100) when it has a value; otherwise the NM/PET Patient
    Orientation module: a recumbent Patient Orientation Code Sequence (0054,0410) whose
    modifier (0054,0412) says supine, prone or decubitus, and the Patient Gantry
    Relationship Code Sequence (0054,0414) saying head or feet first (PS3.3 C.8.4.6;
    CID 19, 20, 21). Real NM files carry one form or the other.
    """
    direct = text(ds, "PatientPosition").upper()
    if direct:
        return direct
    raw = _raw_position(ds)
    if raw is not None:
        return raw
    orient = _first(ds, "PatientOrientationCodeSequence")
    pose = _coded(_first(orient, "PatientOrientationModifierCodeSequence"), _ORIENTATION_MODIFIER)
    first = _coded(_first(ds, "PatientGantryRelationshipCodeSequence"), _GANTRY_RELATIONSHIP)
    return _position(orient is not None, pose, first)


def source_info(paths: Sequence[Path], ds: Dataset) -> SourceInfo:
    """SourceInfo from the first dataset of a series (UIDs only, no patient identifiers)."""
    meta = getattr(ds, "file_meta", None)
    ts = (
        str(getattr(meta, "TransferSyntaxUID", "") or "1.2.840.10008.1.2")
        if meta is not None
        else ""
    )
    return SourceInfo(
        paths=tuple(p if isinstance(p, Path) else Path(p) for p in paths),
        modality=text(ds, "Modality").upper(),
        sop_class_uid=text(ds, "SOPClassUID"),
        series_instance_uid=text(ds, "SeriesInstanceUID"),
        study_instance_uid=text(ds, "StudyInstanceUID"),
        frame_of_reference_uid=text(ds, "FrameOfReferenceUID") or None,
        series_description=text(ds, "SeriesDescription"),
        transfer_syntax_uid=ts or "1.2.840.10008.1.2",
        manufacturer=text(ds, "Manufacturer"),
        simulated=is_simulated(ds),
        patient_position=patient_position(ds),
    )
