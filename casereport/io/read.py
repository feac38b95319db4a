"""Reading one DICOM file into a pydicom Dataset with clear, typed errors."""

from __future__ import annotations

import copy
import struct
import warnings
import zlib
from pathlib import Path

from pydicom import dcmread
from pydicom.datadict import dictionary_has_tag, dictionary_keyword
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.filereader import read_dataset as read_elements

from casereport.errors import READ_ERRORS, DicomInputError, NotDicomError, PixelDataError
from casereport.io.common import text
from casereport.io.record import record_read

#: Attributes without which a file cannot be classified; their absence in a file that
#: parses at all usually means the header was cut short.
REQUIRED = ("SOPClassUID", "Modality")

_DIRECTORY_SOP = "1.2.840.10008.1.3.10"  # Media Storage Directory Storage (DICOMDIR)
_DEFLATED = "1.2.840.10008.1.2.1.99"
#: Pixel Data, Float Pixel Data, Double Float Pixel Data: where a header read stops.
_PIXEL_TAGS = (0x7FE00010, 0x7FE00008, 0x7FE00009)


def read_dataset(path: str | Path, *, headers_only: bool = False) -> Dataset:
    """Read ``path`` with pydicom.

    Args:
        path: a DICOM file (Part 10, or a bare dataset without preamble).
        headers_only: stop before the pixel data (for scanning and sorting).

    Raises:
        NotDicomError: missing, empty, not DICOM, or a header cut short.
    """
    p = Path(path)
    if not p.exists():
        raise DicomInputError(p, "no such file or folder")
    if p.is_dir():
        raise DicomInputError(p, "is a folder; expected a DICOM file")
    try:
        size = p.stat().st_size
    except OSError as exc:
        raise NotDicomError(p, f"cannot read: {exc.strerror}") from None
    if size == 0:
        raise NotDicomError(p, "empty file (0 bytes)")
    record_read(p)
    ds = _parse(p, headers_only)
    if is_directory_file(ds):
        return ds
    _check_complete(ds, p, size, headers_only)
    missing = [kw for kw in REQUIRED if kw not in ds]
    if missing:
        if len(ds) == 0:
            raise NotDicomError(p, "no DICOM data elements: header truncated or not DICOM")
        raise NotDicomError(
            p, f"header incomplete (truncated file?): no {', '.join(missing)}", missing[0]
        )
    return ds


_PARSE_ERRORS: tuple[type[BaseException], ...] = (
    InvalidDicomError,
    *READ_ERRORS,
    struct.error,
    zlib.error,
)


def complete_dataset(path: str | Path, header: Dataset) -> Dataset:
    """The whole dataset of ``path``, given its ``header`` read with ``headers_only``.

    Only the elements from the Pixel Data on are read, from where the header read
    stopped, and joined to a copy of the header (which is left as it was): the header is
    not parsed a second time. Checks and errors are those of ``read_dataset(path)``, which
    is used instead when the stop position is unknown (bare dataset) or refers to an
    inflated stream (deflated transfer syntax).

    Raises:
        NotDicomError: unreadable, or cut short (PixelDataError for the Pixel Data).
    """
    p = Path(path)
    offset = getattr(header, "_pixel_offset", None)
    implicit, little = header.original_encoding
    meta = getattr(header, "file_meta", None)
    deflated = meta is not None and text(meta, "TransferSyntaxUID") == _DEFLATED
    if offset is None or implicit is None or little is None or deflated:
        return read_dataset(p)
    try:
        size = p.stat().st_size
    except OSError:
        return read_dataset(p)  # gone or unreadable since the header read: its error
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with open(p, "rb") as fh:
                fh.seek(int(offset))
                rest = read_elements(fh, implicit, little)
    except _PARSE_ERRORS as exc:
        raise NotDicomError(p, f"unreadable DICOM: {type(exc).__name__}: {_short(exc)}") from None
    if int(offset) < size and not any(tag in rest for tag in _PIXEL_TAGS):
        raise PixelDataError(
            p,
            f"file truncated: the pixel data from byte {offset} of {size} are cut short",
            "PixelData",
        )
    full = copy.copy(header)
    object.__setattr__(full, "_dict", {**header._dict, **rest._dict})
    _check_complete(full, p, size, headers_only=False)
    return full


def _parse(p: Path, headers_only: bool) -> Dataset:
    errors = _PARSE_ERRORS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if not headers_only:
                return dcmread(p)
            with open(p, "rb") as fh:
                ds = dcmread(fh, stop_before_pixels=True)
                # pydicom rewinds to the start of the Pixel Data element it stopped at.
                ds._pixel_offset = fh.tell()  # type: ignore[attr-defined]
            return ds
    except InvalidDicomError:
        pass
    except errors as exc:
        raise NotDicomError(p, f"unreadable DICOM: {type(exc).__name__}: {_short(exc)}") from None
    # No preamble/"DICM": accept a bare dataset only if it looks like one.
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = dcmread(p, stop_before_pixels=headers_only, force=True)
        ok = "SOPClassUID" in ds and "Modality" in ds
    except errors:
        ok = False
    if not ok:
        raise NotDicomError(p, "not a DICOM file (no 'DICM' marker and no readable dataset)")
    return ds


def _check_complete(ds: Dataset, p: Path, size: int, headers_only: bool) -> None:
    """Raise if the last top-level element runs past the end of the file or is cut short.

    pydicom stops quietly at a premature end of file; comparing where the last element
    ends with the file size reveals the truncation.
    """
    meta = getattr(ds, "file_meta", None)
    if str(getattr(meta, "TransferSyntaxUID", "")) == _DEFLATED or len(ds) == 0:
        return  # positions refer to the inflated stream
    last = ds.get_item(max(map(int, ds.keys())))  # plain ints: C-level comparisons
    tell = getattr(last, "value_tell", None)
    length = getattr(last, "length", None)
    if tell is None or length is None or length == 0xFFFFFFFF:
        return
    end = tell + length
    if end > size:
        tag = getattr(last, "tag", None)
        keyword = (
            dictionary_keyword(tag) if tag is not None and dictionary_has_tag(tag) else str(tag)
        )
        raise (PixelDataError if keyword == "PixelData" else NotDicomError)(
            p,
            f"file truncated: {keyword} needs {length} bytes, only {max(size - tell, 0)} present",
            keyword,
        )
    if not headers_only and 0 < size - end < 8:
        raise NotDicomError(p, f"file truncated: {size - end} stray bytes after the last element")


def _short(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:160]


def is_directory_file(ds: Dataset) -> bool:
    """True for a DICOMDIR (Media Storage Directory) dataset."""
    if "DirectoryRecordSequence" in ds:
        return True
    meta = getattr(ds, "file_meta", None)
    sop = text(meta, "MediaStorageSOPClassUID") if meta is not None else ""
    return (sop or text(ds, "SOPClassUID")) == _DIRECTORY_SOP
