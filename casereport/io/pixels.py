"""Pixel data: transfer-syntax checks, decoding and rescale.

Decoding goes through pydicom's pixel backends (pylibjpeg with openjpeg/libjpeg/rle,
pyjpegls, Pillow, pydicom's own RLE and deflate support). Every failure becomes a
:class:`~casereport.errors.PixelDataError` or :class:`~casereport.errors.UnsupportedDicomError`
that names the file, the attribute and the transfer syntax.
"""

from __future__ import annotations

import math
import os
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO, Literal, NamedTuple

import numpy as np
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.pixels import get_decoder
from pydicom.uid import UID

from casereport.errors import PixelDataError, UnsupportedDicomError
from casereport.io.common import element, integer, text

#: Transfer syntaxes whose pixel data are stored uncompressed (byte length is checkable).
_NATIVE = {
    "1.2.840.10008.1.2",
    "1.2.840.10008.1.2.1",
    "1.2.840.10008.1.2.2",
    "1.2.840.10008.1.2.1.99",
}


#: Photometric interpretations whose stored values are intensities (counts, HU).
GREYSCALE = frozenset({"MONOCHROME1", "MONOCHROME2"})


def transfer_syntax(ds: Dataset, path: Path) -> UID:
    """The transfer syntax of ``ds``; error if it is unknown or has no usable decoder."""
    meta = getattr(ds, "file_meta", None)
    tsuid = (text(meta, "TransferSyntaxUID") or None) if meta is not None else None
    if tsuid is None:
        # A file without meta information was read as implicit VR little endian.
        return UID("1.2.840.10008.1.2")
    ts = _standard_syntax(str(tsuid))
    if ts is None:
        raise UnsupportedDicomError(
            path,
            f"unknown transfer syntax {UID(str(tsuid))}; convert the file to a standard syntax "
            "(e.g. with dcmconv or gdcmconv --raw)",
            "TransferSyntaxUID",
        )
    return ts


@lru_cache(maxsize=64)
def _standard_syntax(tsuid: str) -> UID | None:
    """``tsuid`` as a UID if it is a known transfer syntax, else None (cached: building
    and checking a UID costs about 10 us)."""
    ts = UID(tsuid)
    return ts if ts.is_transfer_syntax else None


#: How to turn a file no installed plugin decodes into one that loads, without further loss.
CONVERT_HINT = (
    "convert it to an uncompressed syntax without further loss, e.g. "
    "'gdcmconv --raw IN OUT' (GDCM) or 'dcmdjpeg IN OUT' (DCMTK)"
)


def _check_decoder(ts: UID, path: Path) -> None:
    if ts in _NATIVE:
        return
    label = f"{ts.name} ({ts})"
    try:
        decoder = get_decoder(ts)
    except NotImplementedError:
        raise UnsupportedDicomError(
            path,
            f"no installed plugin decodes transfer syntax {label}; {CONVERT_HINT}",
            "TransferSyntaxUID",
        ) from None
    if not decoder.is_available:
        raise UnsupportedDicomError(
            path,
            f"no installed plugin decodes transfer syntax {label}; {CONVERT_HINT}",
            "TransferSyntaxUID",
        )


def n_frames(ds: Dataset, path: Path) -> int:
    """NumberOfFrames (1 when absent); error if zero, negative or not a number."""
    try:
        n = integer(ds, "NumberOfFrames", 1)
    except (TypeError, ValueError):
        raw = ds.get("NumberOfFrames")
        raise PixelDataError(
            path, f"NumberOfFrames is {raw!r}, not a number", "NumberOfFrames"
        ) from None
    assert n is not None
    if n < 1:
        raise PixelDataError(path, f"NumberOfFrames is {n}: no image frames", "NumberOfFrames")
    return n


def _matrix(ds: Dataset, path: Path) -> tuple[int, int, int, int]:
    """(rows, cols, samples per pixel, bits allocated), validated."""
    values = []
    for kw in ("Rows", "Columns", "BitsAllocated"):
        v = integer(ds, kw)
        if v is None:
            raise PixelDataError(path, f"{kw} is missing; the image matrix is unknown", kw)
        values.append(v)
    rows, cols, bits = values
    spp = integer(ds, "SamplesPerPixel", 1) or 1
    if rows < 1 or cols < 1:
        raise PixelDataError(path, f"image matrix is {rows} x {cols}", "Rows")
    if bits not in (8, 16, 32, 64):
        raise PixelDataError(
            path, f"BitsAllocated {bits} is not supported (8, 16, 32 or 64)", "BitsAllocated"
        )
    if spp != 1:
        photometric = ds.get("PhotometricInterpretation", "?")
        raise UnsupportedDicomError(
            path,
            f"colour image (SamplesPerPixel {spp}, {photometric}); counts and HU need greyscale",
            "SamplesPerPixel",
        )
    photometric = text(ds, "PhotometricInterpretation").upper()
    if photometric and photometric not in GREYSCALE:
        # PALETTE COLOR stores indices into a colour table, not counts or HU
        raise UnsupportedDicomError(
            path,
            f"PhotometricInterpretation is {photometric}: the stored values are not counts or "
            "HU; export the original greyscale image (MONOCHROME2)",
            "PhotometricInterpretation",
        )
    return rows, cols, spp, bits


#: Largest amount of memory (bytes) one file's pixels may take once decoded: stored values
#: plus their float32 copy. Overridden by the environment variable named below.
MAX_PIXEL_BYTES = 1 << 30
MAX_PIXEL_BYTES_ENV = "CASEREPORT_MAX_PIXEL_BYTES"
#: Largest ratio of decoded to stored bytes accepted for compressed pixel data. Lossless
#: codecs reach a few times, nearly empty NM frames a few hundred; a header that
#: declares more than this many times the bytes the file holds is not decoded.
MAX_COMPRESSION_RATIO = 1000
#: Declared sizes (bytes) up to this are decoded whatever the ratio: they cost little
#: memory, and a nearly uniform frame (a blank or flood view) compresses beyond any ratio
#: (pydicom's JPEG2000.dcm, a 1024 x 256 NM view, holds 266 bytes).
RATIO_CHECKED_ABOVE = 16 << 20


def max_pixel_bytes() -> int:
    """The pixel memory ceiling in bytes: ``$CASEREPORT_MAX_PIXEL_BYTES`` or the default."""
    raw = os.environ.get(MAX_PIXEL_BYTES_ENV, "").strip()
    try:
        value = int(raw) if raw else MAX_PIXEL_BYTES
    except ValueError:
        return MAX_PIXEL_BYTES
    return value if value > 0 else MAX_PIXEL_BYTES


def _mib(n: int) -> str:
    return f"{n / (1 << 20):,.1f} MiB"


def _stored_length(ds: Dataset, path: Path) -> int | None:
    """Bytes of (possibly compressed) pixel data the file holds, without decoding."""
    elem = element(ds, "PixelData")
    if elem is not None:
        value = elem.value
        if isinstance(value, bytes | bytearray):
            return len(value)
        length = getattr(elem, "length", None)
        return int(length) if isinstance(length, int) and length != 0xFFFFFFFF else None
    offset = getattr(ds, "_pixel_offset", None)
    if offset is None:
        return None
    try:
        return max(os.path.getsize(path) - int(offset), 0)
    except OSError:
        return None


def _check_ceiling(path: Path, rows: int, cols: int, nframes: int, spp: int, bits: int) -> int:
    """The declared decoded size in bytes; PixelDataError if it and its float32 copy
    exceed :func:`max_pixel_bytes` (see :func:`check_pixel_budget`)."""
    declared = rows * cols * nframes * spp * max(bits, 8) // 8
    need = declared + rows * cols * nframes * 4
    limit = max_pixel_bytes()
    if need > limit:
        raise PixelDataError(
            path,
            f"header declares {rows} x {cols} pixels x {nframes} frame(s) x {spp} sample(s) x "
            f"{bits} bit: {_mib(need)} to decode, over the limit of {_mib(limit)} "
            f"(raise it with {MAX_PIXEL_BYTES_ENV}=BYTES if the image is genuine)",
            "Rows",
        )
    return declared


def check_pixel_budget(
    ds: Dataset, path: Path, *, frames: int | None = None, ceiling_only: bool = False
) -> int:
    """Refuse, before anything is allocated, pixels a hostile or broken header inflates.

    The declared size Rows x Columns x frames x SamplesPerPixel x BitsAllocated / 8 (plus a
    float32 copy per pixel) must stay under :func:`max_pixel_bytes`, and must not exceed
    the pixel data the file really holds: exactly for uncompressed syntaxes (checked when
    decoding), at most :data:`MAX_COMPRESSION_RATIO` times for compressed ones declaring
    more than :data:`RATIO_CHECKED_ABOVE` bytes.

    Args:
        frames: frames to budget for (default NumberOfFrames).
        ceiling_only: check the ceiling only (``frames`` then counts the slices of a
            volume spread over several files, of which ``ds`` is one).

    Returns:
        The declared decoded size in bytes (stored values only).

    Raises:
        PixelDataError: over the ceiling, or more than the file can hold.
    """
    rows = integer(ds, "Rows", 0) or 0
    cols = integer(ds, "Columns", 0) or 0
    bits = integer(ds, "BitsAllocated", 16) or 16
    spp = integer(ds, "SamplesPerPixel", 1) or 1
    nframes = frames if frames is not None else n_frames(ds, path)
    if rows <= 0 or cols <= 0:
        return 0
    declared = _check_ceiling(path, rows, cols, nframes, spp, bits)
    if ceiling_only:
        return declared
    meta = getattr(ds, "file_meta", None)
    tsuid = text(meta, "TransferSyntaxUID") if meta is not None else ""
    ratio_checked = tsuid and tsuid not in _NATIVE and declared > RATIO_CHECKED_ABOVE
    if ratio_checked and (stored := _stored_length(ds, path)) is not None:
        if declared > stored * MAX_COMPRESSION_RATIO:
            raise PixelDataError(
                path,
                f"header declares {rows} x {cols} pixels x {nframes} frame(s) "
                f"({_mib(declared)}) but the file holds {stored} bytes of compressed pixel "
                f"data (more than {MAX_COMPRESSION_RATIO}:1): header inconsistent; not decoded",
                "Rows",
            )
    return declared


def check_pixel_length(ds: Dataset, path: Path) -> None:
    """Refuse a file too short for the pixels its header declares, from the header alone.

    ``ds`` may be a header read without pixel data (the pixel bytes are then the rest of
    the file). Uncompressed pixel data must be complete; compressed pixel data must be
    present and within :func:`check_pixel_budget`'s ratio.

    Raises:
        PixelDataError: no pixel data, or fewer bytes than declared.
    """
    check_pixel_budget(ds, path)
    stored = _stored_length(ds, path)
    if stored is None:
        return
    if stored == 0:
        raise PixelDataError(path, "no pixel data in the file (truncated?)", "PixelData")
    meta = getattr(ds, "file_meta", None)
    tsuid = text(meta, "TransferSyntaxUID") if meta is not None else "1.2.840.10008.1.2"
    offset = getattr(ds, "_pixel_offset", None)
    if tsuid not in _NATIVE and offset is not None:
        problem = _encapsulation_problem(path, int(offset))
        if problem:
            raise PixelDataError(path, f"compressed pixel data {problem}", "PixelData")
    if tsuid in _STREAMABLE_SYNTAXES:
        rows, cols = integer(ds, "Rows", 0) or 0, integer(ds, "Columns", 0) or 0
        bits = integer(ds, "BitsAllocated", 16) or 16
        spp = integer(ds, "SamplesPerPixel", 1) or 1
        nframes = n_frames(ds, path)
        need = rows * cols * spp * nframes * bits // 8
        if stored < need:
            raise PixelDataError(
                path,
                f"file truncated: Rows x Columns x Frames ({rows} x {cols} x {nframes}, "
                f"{bits} bit) needs {need} bytes of pixel data, the file holds at most {stored}",
                "PixelData",
            )


def _encapsulation_problem(path: Path, offset: int) -> str:
    """What is wrong with the item structure of encapsulated Pixel Data starting at
    ``offset`` (the element's tag), or ``""``: every item must fit in the file and the
    sequence delimiter must follow the last one (a cut file has neither)."""
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            fh.seek(offset)
            head = fh.read(12)
            if head[:4] != b"\xe0\x7f\x10\x00":
                return ""  # not where expected: leave it to the decoder
            pos = offset + 12
            while True:
                fh.seek(pos)
                item = fh.read(8)
                if len(item) < 8:
                    return f"cut short at byte {pos} of {size} (file truncated)"
                tag, length = item[:4], int.from_bytes(item[4:8], "little")
                if tag == b"\xfe\xff\xdd\xe0":
                    return ""
                if tag != b"\xfe\xff\x00\xe0":
                    return f"malformed: no item tag at byte {pos}"
                pos += 8 + length
                if pos > size:
                    return f"cut short: an item ends at byte {pos}, the file at {size} (truncated)"
    except OSError as exc:
        return f"unreadable: {exc.strerror or exc}"


#: uncompressed syntaxes whose pixel bytes in the file are the stored values
_STREAMABLE_SYNTAXES = frozenset(
    {"1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2"}
)


def _pixel_bytes(ds: Dataset) -> bytes:
    """Pixel Data bytes without pydicom's element conversion when still raw."""
    elem = element(ds, "PixelData")
    if isinstance(elem, RawDataElement) and isinstance(elem.value, bytes):
        return elem.value
    return ds.PixelData


def _check_native_length(ds: Dataset, path: Path, nframes: int) -> None:
    rows, cols, spp, bits = _matrix(ds, path)
    frame_bytes = rows * cols * spp * bits // 8
    expected = frame_bytes * nframes
    actual = len(_pixel_bytes(ds))
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


def _native_dtype(ds: Dataset, bits: int, big_endian: bool) -> np.dtype:
    signed = integer(ds, "PixelRepresentation", 0) == 1
    return np.dtype(f"{'>' if big_endian else '<'}{'i' if signed else 'u'}{bits // 8}")


def _native_array(
    buf: bytes, ds: Dataset, path: Path, nframes: int, big_endian: bool
) -> np.ndarray:
    """Stored values of uncompressed pixel data, (frames, rows, cols), native byte order.

    Bits above BitsStored are masked off (unsigned) or used for sign extension (signed).
    """
    rows, cols, _, bits = _matrix(ds, path)
    dt = _native_dtype(ds, bits, big_endian)
    arr = np.frombuffer(buf, dtype=dt, count=rows * cols * nframes).reshape(nframes, rows, cols)
    if big_endian and bits > 8:
        arr = arr.astype(dt.newbyteorder("="))
    stored = integer(ds, "BitsStored", bits) or bits
    if 0 < stored < bits:
        shift = bits - stored
        if dt.kind == "i":
            arr = (arr << shift) >> shift
        else:
            arr = arr & np.array((1 << stored) - 1, dtype=arr.dtype)
    return arr


def _is_native_pixels(ds: Dataset, ts: UID) -> bool:
    return ts in _NATIVE and "PixelData" in ds and integer(ds, "BitsAllocated", 0) in (8, 16, 32)


def stored_frames(ds: Dataset, path: Path) -> np.ndarray:
    """Decode the stored values as an array (frames, rows, cols), no rescale applied.

    Uncompressed pixel data are read straight from the bytes with numpy; compressed
    syntaxes go through pydicom's decoders.
    """
    ts = transfer_syntax(ds, path)
    if "PixelData" not in ds and "FloatPixelData" not in ds and "DoubleFloatPixelData" not in ds:
        raise PixelDataError(path, "no pixel data in the file", "PixelData")
    nframes = n_frames(ds, path)
    rows, cols, _, _ = _matrix(ds, path)
    check_pixel_budget(ds, path, frames=nframes)
    _check_decoder(ts, path)
    if "PixelData" in ds and ts in _NATIVE:
        _check_native_length(ds, path, nframes)
        if _is_native_pixels(ds, ts):
            return _native_array(_pixel_bytes(ds), ds, path, nframes, ts == "1.2.840.10008.1.2.2")
    try:
        arr = ds.pixel_array
    except (
        ValueError,
        RuntimeError,
        TypeError,
        KeyError,
        AttributeError,
        NotImplementedError,
        OSError,
    ) as exc:
        msg = " ".join(str(exc).split())[:200]
        hint = "" if ts in _NATIVE else f"; if the file opens elsewhere, {CONVERT_HINT}"
        raise PixelDataError(
            path,
            f"cannot decode pixel data ({ts.name}, {ts}): {type(exc).__name__}: {msg}{hint}",
            "PixelData",
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
        raw = text(ds, kw)
        try:
            v = default if raw == "" else float(raw)
        except (TypeError, ValueError):
            raise PixelDataError(path, f"{kw} is {raw!r}, not a number", kw) from None
        if not math.isfinite(v):
            raise PixelDataError(path, f"{kw} is {v}", kw)
        values.append(v)
    slope, intercept = values
    if slope == 0:
        raise PixelDataError(path, "RescaleSlope is 0: every pixel would be equal", "RescaleSlope")
    return slope, intercept


def rescale_into(
    stored: np.ndarray, ds: Dataset, path: Path, out: np.ndarray | None = None
) -> np.ndarray:
    """float32 ``stored * RescaleSlope + RescaleIntercept``, written into ``out`` if given."""
    slope, intercept = rescale_params(ds, path)
    if out is None:
        out = np.empty(stored.shape, dtype=np.float32)
    np.copyto(out, stored, casting="unsafe")
    if slope != 1.0:
        out *= np.float32(slope)
    if intercept != 0.0:
        out += np.float32(intercept)
    return out


#: Size (bytes) of the stored-value buffer used while converting pixels to float32: large
#: enough that the per-chunk overhead is small, small enough to stay in the CPU cache and
#: to be served from memory the allocator recycles (a 1 MiB buffer, one read per
#: whole-body file, was slower once loads follow one another).
_CHUNK_BYTES = 1 << 18

#: Uncompressed syntaxes whose Pixel Data bytes in the file are the stored values.
_STREAMABLE = _NATIVE - {"1.2.840.10008.1.2.1.99"}


class _Layout(NamedTuple):
    """Where and how the uncompressed pixels of a file are stored."""

    offset: int  # of the first pixel byte in the file
    frames: int
    rows: int
    cols: int
    samples: int
    bits: int  # BitsAllocated
    dtype: np.dtype  # of the stored values, in the file's byte order
    bits_stored: int


def _tail_layout(path: Path, header: Dataset, fh: BinaryIO, ts: UID) -> _Layout | None:
    """The layout of the pixels of ``header`` (transfer syntax ``ts``), or None.

    The Pixel Data element starts where the header read stopped (``_pixel_offset``, set
    by :func:`casereport.io.read.read_dataset`); failing that it is assumed to be the last
    element, its position following from the file size and the expected byte length.
    The element header found there (read from ``fh``, the open file) must be the Pixel
    Data tag with exactly the expected length; otherwise None (compressed, truncated or
    inconsistent file: the caller then reads the file normally).
    """
    try:
        nframes = n_frames(header, path)
        rows, cols, spp, bits = _matrix(header, path)
    except (PixelDataError, UnsupportedDicomError):
        return None
    if bits not in (8, 16, 32):
        return None
    expected = rows * cols * spp * nframes * bits // 8
    padded = expected + (expected % 2)
    big = ts == "1.2.840.10008.1.2.2"
    implicit = ts == "1.2.840.10008.1.2"
    head_len = 8 if implicit else 12
    start = getattr(header, "_pixel_offset", None)
    if start is None:
        start = os.fstat(fh.fileno()).st_size - padded - head_len
    if start < 0:
        return None
    fh.seek(start)
    head = fh.read(head_len)
    tag = b"\x7f\xe0\x00\x10" if big else b"\xe0\x7f\x10\x00"
    order: Literal["little", "big"] = "big" if big else "little"
    if head[:4] != tag:
        return None
    if implicit:
        length = int.from_bytes(head[4:8], order)
    else:
        if head[4:6] not in (b"OW", b"OB") or head[6:8] != b"\x00\x00":
            return None
        length = int.from_bytes(head[8:12], order)
    if length != padded:
        return None
    stored = integer(header, "BitsStored", bits) or bits
    dt = _native_dtype(header, bits, big)
    return _Layout(start + head_len, nframes, rows, cols, spp, bits, dt, stored)


def rescaled_from_tail(
    path: Path, header: Dataset, out: np.ndarray | None = None
) -> np.ndarray | None:
    """float32 rescaled frames (frames, rows, cols) read from the file end, or None.

    Given a header read without pixel data, uncompressed pixels are converted to float32
    straight from the file (see :func:`_tail_layout`), in chunks of at most
    ``_CHUNK_BYTES`` stored bytes, with one open of the file. Returns None when the
    layout does not check out.
    """
    ts = transfer_syntax(header, path)
    if ts not in _STREAMABLE or "PixelData" in header:
        return None  # decided from the header alone: no need to open the file
    try:
        with open(path, "rb") as fh:
            layout = _tail_layout(path, header, fh, ts)
            if layout is None:
                return None
            slope, intercept = rescale_params(header, path)
            shape = (layout.frames, layout.rows, layout.cols)
            if out is None:
                _check_ceiling(path, *shape, layout.samples, layout.bits)
                out = np.empty(shape, dtype=np.float32)
            elif out.size != math.prod(shape):
                return None
            fh.seek(layout.offset)
            flat = out.reshape(-1)
            if not _convert_stream(fh, flat, layout.dtype, layout.bits_stored, slope, intercept):
                return None
    except OSError:
        return None
    return out


def _convert_stream(
    fh: BinaryIO, flat: np.ndarray, dt: np.dtype, stored: int, slope: float, intercept: float
) -> bool:
    """Fill the float32 ``flat`` from stored values of dtype ``dt`` read from ``fh``.

    Applies the BitsStored mask (unsigned) or sign extension (signed), then
    ``value * slope + intercept``. False if the file ends early.
    """
    bits = dt.itemsize * 8
    total = flat.size
    step = max(1, _CHUNK_BYTES // dt.itemsize)
    buf = np.empty(min(step, total), dtype=dt)
    mask = np.array((1 << stored) - 1, dtype=dt.newbyteorder("=")) if 0 < stored < bits else None
    pos = 0
    while pos < total:
        n = min(step, total - pos)
        view = buf[:n]
        if fh.readinto(memoryview(view).cast("B")) != n * dt.itemsize:  # type: ignore[attr-defined,arg-type]
            return False
        src = view if dt.isnative else view.astype(dt.newbyteorder("="))
        if mask is not None:
            shift = bits - stored
            src = (src << shift) >> shift if dt.kind == "i" else src & mask
        seg = flat[pos : pos + n]
        np.copyto(seg, src, casting="unsafe")
        if slope != 1.0:
            seg *= np.float32(slope)
        if intercept != 0.0:
            seg += np.float32(intercept)
        pos += n
    return True


def load_frames(path: Path, ds: Dataset, out: np.ndarray | None = None) -> np.ndarray:
    """float32 rescaled frames (frames, rows, cols) for ``ds`` read from ``path``.

    ``ds`` may be a full dataset or a header read without pixel data; for the latter,
    uncompressed pixels are streamed from the file end, and for anything else the
    elements from the Pixel Data on are read and decoded (the header is not read again).
    """
    from casereport.io.read import complete_dataset  # local: read imports common, not pixels

    if "PixelData" not in ds:
        fast = rescaled_from_tail(path, ds, out)
        if fast is not None:
            return fast
        ds = complete_dataset(path, ds)
    stored = stored_frames(ds, path)
    if out is not None:
        return rescale_into(stored.reshape(out.shape), ds, path, out)
    return rescale_into(stored, ds, path)
