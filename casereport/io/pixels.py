"""Pixel data: transfer-syntax checks, decoding and rescale.

Decoding goes through pydicom's pixel backends (pylibjpeg with openjpeg/libjpeg, pyjpegls,
Pillow, pydicom's own RLE and deflate support). Every failure becomes a
:class:`~casereport.errors.PixelDataError` or :class:`~casereport.errors.UnsupportedDicomError`
that names the file, the attribute and the transfer syntax.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset
from pydicom.pixels import get_decoder
from pydicom.uid import UID

from casereport.errors import PixelDataError, UnsupportedDicomError

#: Transfer syntaxes whose pixel data are stored uncompressed (byte length is checkable).
_NATIVE = {
    "1.2.840.10008.1.2",
    "1.2.840.10008.1.2.1",
    "1.2.840.10008.1.2.2",
    "1.2.840.10008.1.2.1.99",
}


def transfer_syntax(ds: Dataset, path: Path) -> UID:
    """The transfer syntax of ``ds``; error if it is unknown or has no usable decoder."""
    meta = getattr(ds, "file_meta", None)
    tsuid = getattr(meta, "TransferSyntaxUID", None) if meta is not None else None
    if tsuid is None:
        # A file without meta information was read as implicit VR little endian.
        return UID("1.2.840.10008.1.2")
    ts = UID(str(tsuid))
    if not ts.is_transfer_syntax:
        raise UnsupportedDicomError(
            path,
            f"unknown transfer syntax {ts}; convert the file to a standard syntax "
            "(e.g. with dcmconv or gdcmconv --raw)",
            "TransferSyntaxUID",
        )
    return ts


def _check_decoder(ts: UID, path: Path) -> None:
    label = f"{ts.name} ({ts})"
    try:
        decoder = get_decoder(ts)
    except NotImplementedError:
        raise UnsupportedDicomError(
            path,
            f"no pixel decoder exists for transfer syntax {label}; "
            "convert the file to an uncompressed syntax",
            "TransferSyntaxUID",
        ) from None
    if not decoder.is_available:
        missing = "; ".join(decoder.missing_dependencies) or "a decoding plugin"
        raise UnsupportedDicomError(
            path,
            f"cannot decode transfer syntax {label}: missing {missing}",
            "TransferSyntaxUID",
        )


def n_frames(ds: Dataset, path: Path) -> int:
    """NumberOfFrames (1 when absent); error if zero, negative or not a number."""
    raw = ds.get("NumberOfFrames", 1)
    try:
        n = int(raw if raw not in (None, "") else 1)
    except (TypeError, ValueError):
        raise PixelDataError(path, f"NumberOfFrames is {raw!r}, not a number", "NumberOfFrames") from None
    if n < 1:
        raise PixelDataError(path, f"NumberOfFrames is {n}: no image frames", "NumberOfFrames")
    return n


def _matrix(ds: Dataset, path: Path) -> tuple[int, int, int, int]:
    """(rows, cols, samples per pixel, bits allocated), validated."""
    for kw in ("Rows", "Columns", "BitsAllocated"):
        if ds.get(kw) in (None, ""):
            raise PixelDataError(path, f"{kw} is missing; the image matrix is unknown", kw)
    rows, cols, bits = int(ds.Rows), int(ds.Columns), int(ds.BitsAllocated)
    spp = int(ds.get("SamplesPerPixel", 1) or 1)
    if rows < 1 or cols < 1:
        raise PixelDataError(path, f"image matrix is {rows} x {cols}", "Rows")
    if bits not in (8, 16, 32, 64):
        raise PixelDataError(path, f"BitsAllocated {bits} is not supported (8, 16, 32 or 64)", "BitsAllocated")
    if spp != 1:
        photometric = ds.get("PhotometricInterpretation", "?")
        raise UnsupportedDicomError(
            path,
            f"colour image (SamplesPerPixel {spp}, {photometric}); counts and HU need greyscale",
            "SamplesPerPixel",
        )
    return rows, cols, spp, bits


def _check_native_length(ds: Dataset, path: Path, nframes: int) -> None:
    rows, cols, spp, bits = _matrix(ds, path)
    frame_bytes = rows * cols * spp * bits // 8
    expected = frame_bytes * nframes
    actual = len(ds.PixelData)
    if actual < expected:
        raise PixelDataError(
            path,
            f"pixel data hold {actual} bytes but Rows x Columns x Frames "
            f"({rows} x {cols} x {nframes}, {bits} bit) needs {expected}: "
            "file truncated or header inconsistent",
            "PixelData",
        )
    if actual - expected >= frame_bytes:
        raise PixelDataError(
            path,
            f"pixel data hold {actual} bytes, {actual // frame_bytes} frames' worth, but "
            f"NumberOfFrames is {nframes} ({rows} x {cols}, {bits} bit): header inconsistent",
            "NumberOfFrames",
        )


def stored_frames(ds: Dataset, path: Path) -> np.ndarray:
    """Decode the stored values as an array (frames, rows, cols), no rescale applied."""
    ts = transfer_syntax(ds, path)
    if "PixelData" not in ds and "FloatPixelData" not in ds and "DoubleFloatPixelData" not in ds:
        raise PixelDataError(path, "no pixel data in the file", "PixelData")
    nframes = n_frames(ds, path)
    rows, cols, _, _ = _matrix(ds, path)
    _check_decoder(ts, path)
    if "PixelData" in ds and ts in _NATIVE:
        _check_native_length(ds, path, nframes)
    try:
        arr = ds.pixel_array
    except (ValueError, RuntimeError, TypeError, KeyError, AttributeError, NotImplementedError, OSError) as exc:
        msg = " ".join(str(exc).split())[:200]
        raise PixelDataError(
            path, f"cannot decode pixel data ({ts.name}, {ts}): {type(exc).__name__}: {msg}", "PixelData"
        ) from None
    arr = np.asarray(arr)
    if arr.ndim == 2:
        arr = arr[np.newaxis]
    if arr.shape != (nframes, rows, cols):
        raise PixelDataError(
            path,
            f"decoded pixel data have shape {arr.shape}, header says "
            f"{nframes} x {rows} x {cols} ({ts.name})",
            "PixelData",
        )
    return arr


def rescale_params(ds: Dataset, path: Path) -> tuple[float, float]:
    """(slope, intercept) from RescaleSlope/RescaleIntercept, defaults (1, 0); validated."""
    values = []
    for kw, default in (("RescaleSlope", 1.0), ("RescaleIntercept", 0.0)):
        raw = ds.get(kw)
        try:
            v = default if raw in (None, "") else float(raw)
        except (TypeError, ValueError):
            raise PixelDataError(path, f"{kw} is {raw!r}, not a number", kw) from None
        if not math.isfinite(v):
            raise PixelDataError(path, f"{kw} is {v}", kw)
        values.append(v)
    slope, intercept = values
    if slope == 0:
        raise PixelDataError(path, "RescaleSlope is 0: every pixel would be equal", "RescaleSlope")
    return slope, intercept


def rescaled_frames(ds: Dataset, path: Path) -> np.ndarray:
    """Decoded frames as float32 after Rescale Slope/Intercept: (frames, rows, cols)."""
    stored = stored_frames(ds, path)
    slope, intercept = rescale_params(ds, path)
    out = stored.astype(np.float32, copy=True)
    if slope != 1.0:
        out *= np.float32(slope)
    if intercept != 0.0:
        out += np.float32(intercept)
    return out
