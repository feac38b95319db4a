"""Build NM (planar, whole-body, SPECT) and CT DICOM datasets in code, for tests and benchmarks.

Every builder returns a pydicom ``Dataset`` with file meta information (Explicit VR Little
Endian) and deterministic UIDs; :func:`save` writes it, optionally in a compressed transfer
syntax. Options exist to drop or move attributes so tests can reproduce real-world
variation and broken input. Counts and HU are made with ``np.random.default_rng(seed)``.

Compressed syntaxes and their encoders (see :data:`SYNTAXES`):

* RLE Lossless, Deflated Explicit VR LE: pydicom itself;
* JPEG 2000 (lossless and lossy): pydicom + pylibjpeg-openjpeg;
* JPEG-LS (lossless and near-lossless): pydicom + pyjpegls;
* JPEG Baseline (8-bit): Pillow writes each frame, pydicom encapsulates it;
* JPEG Lossless SV1 (process 14, first-order prediction): :func:`encode_jpeg_lossless`,
  a minimal Huffman encoder written here (no common Python package encodes it).
"""

from __future__ import annotations

import copy
import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.sequence import Sequence as DicomSequence
from pydicom.tag import Tag
from pydicom.uid import (
    JPEG2000,
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGLosslessSV1,
    JPEGLSLossless,
    JPEGLSNearLossless,
    RLELossless,
    generate_uid,
)

NM_IMAGE = "1.2.840.10008.5.1.4.1.1.20"
CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"
SC_IMAGE = "1.2.840.10008.5.1.4.1.1.7"
SC_MULTIFRAME_WORD = "1.2.840.10008.5.1.4.1.1.7.3"

#: Names accepted by :func:`save` -> transfer syntax UID.
SYNTAXES: dict[str, UID] = {
    "explicit": ExplicitVRLittleEndian,
    "implicit": ImplicitVRLittleEndian,
    "bigendian": ExplicitVRBigEndian,
    "deflate": DeflatedExplicitVRLittleEndian,
    "rle": RLELossless,
    "jpegls": JPEGLSLossless,
    "jpegls-near": JPEGLSNearLossless,
    "j2k": JPEG2000Lossless,
    "j2k-lossy": JPEG2000,
    "jpeg-baseline": JPEGBaseline8Bit,
    "jpeg-lossless": JPEGLosslessSV1,
}
LOSSY = {"jpegls-near", "j2k-lossy", "jpeg-baseline"}

_VIEW_CODES = {
    "ANT": ("399321004", "Anterior projection"),
    "POST": ("399001007", "Posterior projection"),
    "LAO": ("399074003", "Left anterior oblique"),
    "RAO": ("399108003", "Right anterior oblique"),
}


def uid(*parts: object) -> str:
    """A deterministic UID from ``parts``."""
    return generate_uid(entropy_srcs=["casereport-tests", *[str(p) for p in parts]])


def _meta(sop_class: str, sop_instance: str) -> FileMetaDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = sop_instance
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = uid("implementation")
    return meta


def _base(
    modality: str,
    sop_class: str,
    key: str,
    *,
    series_uid: str | None,
    study_uid: str | None = None,
    description: str = "SIMULATED test series",
    patient_name: str = "SIMULATED^TEST",
) -> Dataset:
    ds = Dataset()
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = uid(key, "instance")
    ds.file_meta = _meta(sop_class, ds.SOPInstanceUID)
    ds.Modality = modality
    ds.PatientName = patient_name
    ds.PatientID = "SIM-TEST"
    ds.PatientBirthDate = ""
    ds.PatientSex = "F"
    ds.PatientAge = "053Y"
    ds.PatientIdentityRemoved = "YES"
    ds.StudyInstanceUID = study_uid or uid("study")
    ds.SeriesInstanceUID = series_uid or uid(key, "series")
    ds.FrameOfReferenceUID = uid("frame-of-reference")
    ds.StudyDate = "20190101"
    ds.StudyTime = "100000"
    ds.StudyDescription = "SIMULATED test study"
    ds.StudyID = "1"
    ds.SeriesDescription = description
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1
    ds.Manufacturer = "casereport tests"
    return ds


def _set_pixels(ds: Dataset, arr: np.ndarray, *, signed: bool = False) -> None:
    """Store ``arr`` (frames, rows, cols) or (rows, cols) as 16-bit (or 8-bit) greyscale."""
    arr = np.asarray(arr)
    if arr.dtype == np.uint8:
        bits = 8
    else:
        bits = 16
        arr = arr.astype(np.int16 if signed else np.uint16)
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = int(arr.shape[-2]), int(arr.shape[-1])
    ds.BitsAllocated = bits
    ds.BitsStored = bits
    ds.HighBit = bits - 1
    ds.PixelRepresentation = 1 if signed else 0
    ds.PixelData = np.ascontiguousarray(arr).tobytes()


def _code(value: str, meaning: str, scheme: str = "SCT") -> Dataset:
    c = Dataset()
    c.CodeValue = value
    c.CodingSchemeDesignator = scheme
    c.CodeMeaning = meaning
    return c


def planar_counts(
    n_frames: int, rows: int, cols: int, seed: int = 0, mean: float = 20.0
) -> np.ndarray:
    """Poisson counts (frames, rows, cols) uint16 with a bright 'body' stripe, deterministic."""
    rng = np.random.default_rng(seed)
    lam = np.full((n_frames, rows, cols), mean / 4)
    lam[:, rows // 8 : 7 * rows // 8, cols // 4 : 3 * cols // 4] = mean
    for f in range(n_frames):
        lam[f, rows // 3 : rows // 3 + 3, cols // 2 - 2 : cols // 2 + 2] = mean * (10 + f)
    return rng.poisson(lam).astype(np.uint16)


def nm_planar(
    counts: np.ndarray | None = None,
    *,
    views: Sequence[str] = ("ANT",),
    whole_body: bool = False,
    pixel_spacing: tuple[float, float] | None = (2.4, 2.4),
    spacing_in: str = "root",
    view_code: bool = True,
    detector_vector: bool = True,
    sop_class: str = NM_IMAGE,
    image_type: Sequence[str] | None = None,
    slope: float | None = None,
    intercept: float | None = None,
    signed: bool = False,
    duration_ms: int | None = 600_000,
    key: str = "planar",
    series_uid: str | None = None,
    description: str | None = None,
    patient_name: str = "SIMULATED^TEST",
    shape: tuple[int, int] = (64, 32),
    seed: int = 0,
) -> Dataset:
    """NM planar image: one frame per view; whole-body if ``whole_body``.

    Args:
        counts: (frames, rows, cols) stored values; default :func:`planar_counts`.
        views: view name per frame/detector (``ANT``, ``POST``, ``LAO``, ``RAO``).
        spacing_in: where PixelSpacing goes: ``root``, ``detector``, ``both`` or ``none``.
        view_code: put a View Code Sequence in each Detector Information Sequence item.
        detector_vector: write DetectorVector (1..n) and EnergyWindowVector.
        sop_class: NM Image Storage by default; SC_IMAGE for Secondary Capture.
    """
    if counts is None:
        counts = planar_counts(len(views), *shape, seed=seed)
    counts = np.asarray(counts)
    if counts.ndim == 2:
        counts = counts[np.newaxis]
    if description is None:
        description = (
            "SIMULATED " + ("whole body" if whole_body else "static") + " " + "/".join(views)
        )
    ds = _base(
        "NM",
        sop_class,
        key,
        series_uid=series_uid,
        description=description,
        patient_name=patient_name,
    )
    if image_type is None:
        image_type = ["ORIGINAL", "PRIMARY", "WHOLE BODY" if whole_body else "STATIC", "EMISSION"]
    ds.ImageType = list(image_type)
    nframes = counts.shape[0]
    ds.NumberOfFrames = nframes
    _set_pixels(ds, counts, signed=signed)
    if sop_class == NM_IMAGE:
        if detector_vector:
            ds.FrameIncrementPointer = [Tag("EnergyWindowVector"), Tag("DetectorVector")]
            ds.EnergyWindowVector = [1] * nframes
            ds.NumberOfEnergyWindows = 1
            ds.DetectorVector = list(range(1, nframes + 1))
            ds.NumberOfDetectors = nframes
        items = []
        for v in views:
            item = Dataset()
            if view_code and v in _VIEW_CODES:
                item.ViewCodeSequence = DicomSequence([_code(*_VIEW_CODES[v])])
            if pixel_spacing is not None and spacing_in in ("detector", "both"):
                item.PixelSpacing = list(pixel_spacing)
            items.append(item)
        ds.DetectorInformationSequence = DicomSequence(items)
    if pixel_spacing is not None and spacing_in in ("root", "both"):
        ds.PixelSpacing = list(pixel_spacing)
    if duration_ms is not None:
        ds.ActualFrameDuration = duration_ms
    if whole_body:
        ds.ScanVelocity = 150
        ds.ScanLength = 2000
    if slope is not None:
        ds.RescaleSlope = slope
    if intercept is not None:
        ds.RescaleIntercept = intercept
    return ds


def nm_wholebody(**kwargs: object) -> Dataset:
    """Whole-body NM: one file, frame 1 ANT, frame 2 POST (256 x 64 unless ``shape``)."""
    kwargs.setdefault("views", ("ANT", "POST"))
    kwargs.setdefault("shape", (128, 48))
    kwargs.setdefault("key", "wb")
    return nm_planar(whole_body=True, **kwargs)  # type: ignore[arg-type]


def body_counts(rows: int, cols: int, seed: int = 0, mean: float = 30.0) -> np.ndarray:
    """(rows, cols) uint16 Poisson counts of one upright 'body' (head, trunk, two legs) on a
    near-empty background, as a whole-body camera records it; a hot spot at 1/3 height."""
    rng = np.random.default_rng(seed)
    j, i = np.mgrid[0:rows, 0:cols]
    y, x = j / rows, (i + 0.5) / cols - 0.5
    head = (x / 0.12) ** 2 + ((y - 0.08) / 0.06) ** 2 < 1
    trunk = (np.abs(x) < 0.3) & (y >= 0.13) & (y < 0.55)
    legs = (np.abs(np.abs(x) - 0.12) < 0.09) & (y >= 0.55) & (y < 0.97)
    lam = np.where(head | trunk | legs, mean, 0.05)
    lam[int(rows / 3) : int(rows / 3) + 3, cols // 2 - 2 : cols // 2 + 2] = mean * 10
    return rng.poisson(lam).astype(np.uint16)


def side_by_side(left: np.ndarray, right: np.ndarray, gap: int = 8) -> np.ndarray:
    """Two (rows, cols) images in one, separated by ``gap`` empty columns."""
    blank = np.zeros((left.shape[0], gap), dtype=left.dtype)
    return np.hstack([left, blank, right])


def sc_nm(
    counts: np.ndarray,
    *,
    whole_body: bool = True,
    description: str = "SIMULATED bone scan",
    image_type: Sequence[str] | None = None,
    pixel_spacing: tuple[float, float] | None = (2.4, 2.4),
    key: str = "sc",
    series_uid: str | None = None,
    series_number: int = 1,
    patient_name: str = "SIMULATED^TEST",
) -> Dataset:
    """Secondary Capture Image Storage with Modality NM, one frame, no View Code Sequence
    and no Detector Information Sequence: the common vendor export of a planar image.

    ImageType defaults to ``DERIVED\\PRIMARY\\WHOLE BODY\\EMISSION`` (or ``STATIC``).
    """
    if image_type is None:
        image_type = ["DERIVED", "PRIMARY", "WHOLE BODY" if whole_body else "STATIC", "EMISSION"]
    ds = nm_planar(
        counts,
        views=("?",),
        sop_class=SC_IMAGE,
        image_type=image_type,
        pixel_spacing=pixel_spacing,
        key=key,
        series_uid=series_uid,
        description=description,
        duration_ms=None,
        patient_name=patient_name,
    )
    del ds.NumberOfFrames
    ds.SeriesNumber = series_number
    ds.ConversionType = "WSD"
    return ds


def ct_localizer(
    *, rows: int = 32, cols: int = 48, key: str = "scout", series_number: int = 1
) -> Dataset:
    """A CT localizer (scout): one coronal projection image, ImageType LOCALIZER."""
    ds = ct_series(1, rows=rows, cols=cols, key=key, description="Topogram 0.6 T20f")[0]
    ds.ImageType = ["ORIGINAL", "PRIMARY", "LOCALIZER"]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 0, -1]
    ds.SeriesNumber = series_number
    return ds


def spect_volume_values(shape: tuple[int, int, int], seed: int = 0) -> np.ndarray:
    """(slices, rows, cols) uint16 counts with a hot sphere; slice k has +k in a corner marker."""
    rng = np.random.default_rng(seed)
    k, j, i = np.indices(shape)
    c = np.array(shape) / 2
    r2 = ((k - c[0]) ** 2 + (j - c[1]) ** 2 + (i - c[2]) ** 2) / (min(shape) / 4) ** 2
    vol = 50 + 400 * (r2 < 1) + rng.integers(0, 5, size=shape)
    vol[:, 0, 0] = 1000 + np.arange(shape[0])  # slice marker: value = 1000 + stored slice index
    return vol.astype(np.uint16)


def nm_spect(
    volume: np.ndarray | None = None,
    *,
    shape: tuple[int, int, int] = (12, 16, 16),
    ipp: tuple[float, float, float] = (-140.0, -150.0, -100.0),
    iop: tuple[float, ...] = (1, 0, 0, 0, 1, 0),
    pixel_spacing: tuple[float, float] = (4.4, 4.4),
    slice_spacing: float | None = 4.4,
    slice_thickness: float | None = 4.4,
    geometry_in: str = "detector",
    slope: float | None = None,
    key: str = "spect",
    series_uid: str | None = None,
    seed: int = 0,
) -> Dataset:
    """NM RECON TOMO, one multi-frame file, one frame per slice.

    ``geometry_in``: ``detector`` puts ImagePositionPatient/ImageOrientationPatient in the
    Detector Information Sequence (as the NM IOD does), ``root`` at the root, ``none`` omits them.
    """
    if volume is None:
        volume = spect_volume_values(shape, seed)
    ds = _base("NM", NM_IMAGE, key, series_uid=series_uid, description="SIMULATED SPECT recon")
    ds.ImageType = ["ORIGINAL", "PRIMARY", "RECON TOMO", "EMISSION"]
    ds.NumberOfFrames = volume.shape[0]
    _set_pixels(ds, volume)
    ds.FrameIncrementPointer = [Tag("SliceVector")]
    ds.SliceVector = list(range(1, volume.shape[0] + 1))
    ds.NumberOfSlices = volume.shape[0]
    ds.PixelSpacing = list(pixel_spacing)
    if slice_spacing is not None:
        ds.SpacingBetweenSlices = slice_spacing
    if slice_thickness is not None:
        ds.SliceThickness = slice_thickness
    ds.Units = "CNTS"
    det = Dataset()
    target = det if geometry_in == "detector" else ds
    if geometry_in != "none":
        target.ImagePositionPatient = list(ipp)
        target.ImageOrientationPatient = list(iop)
    ds.DetectorInformationSequence = DicomSequence([det])
    if slope is not None:
        ds.RescaleSlope = slope
    return ds


def ct_hu(n: int, rows: int, cols: int, seed: int = 0) -> np.ndarray:
    """(slices, rows, cols) HU: air, a body ellipse of soft tissue with lungs; slice k has a
    marker pixel [k, 0, 0] = k (HU) so tests can check the order."""
    rng = np.random.default_rng(seed)
    j, i = np.mgrid[0:rows, 0:cols]
    yy, xx = (j - rows / 2) / (rows * 0.4), (i - cols / 2) / (cols * 0.45)
    body = yy**2 + xx**2 < 1
    lung = ((xx - 0.45) ** 2 + yy**2 < 0.12) | ((xx + 0.45) ** 2 + yy**2 < 0.12)
    sl = np.where(body, 40.0, -1000.0)
    sl = np.where(lung, -850.0, sl)
    vol = np.repeat(sl[np.newaxis], n, axis=0) + rng.normal(0, 10, size=(n, rows, cols))
    vol = np.clip(np.round(vol), -1024, None)
    vol[:, 0, 0] = np.arange(n)
    return vol


def ct_series(
    n: int = 8,
    *,
    rows: int = 32,
    cols: int = 32,
    pixel_spacing: tuple[float, float] = (1.5, 1.25),
    z0: float = -50.0,
    dz: float = 5.0,
    x0: float = -20.0,
    y0: float = -25.0,
    iop: tuple[float, ...] = (1, 0, 0, 0, 1, 0),
    slope: float = 1.0,
    intercept: float = -1024.0,
    signed: bool = False,
    hu: np.ndarray | None = None,
    key: str = "ct",
    series_uid: str | None = None,
    description: str = "SIMULATED low-dose CT",
    positions: Sequence[float] | None = None,
    seed: int = 0,
) -> list[Dataset]:
    """One CT Image Storage dataset per slice, in acquisition order (slice k at z0 + k dz).

    InstanceNumber runs backwards so that sorting by it would be wrong.
    ``positions`` overrides the z positions (gaps, duplicates, uneven spacing).
    """
    if hu is not None and positions is None:
        n = len(hu)
    zs = list(positions) if positions is not None else [z0 + k * dz for k in range(n)]
    n = len(zs)
    if hu is None:
        hu = ct_hu(n, rows, cols, seed)
    series_uid = series_uid or uid(key, "series")
    r = np.array(iop[:3], float)
    c = np.array(iop[3:], float)
    normal = np.cross(r, c)
    out = []
    for k, z in enumerate(zs):
        ds = _base("CT", CT_IMAGE, f"{key}-{k}", series_uid=series_uid, description=description)
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.InstanceNumber = n - k
        origin = np.array([x0, y0, 0.0]) + normal * z
        ds.ImagePositionPatient = [round(float(v), 4) for v in origin]
        ds.ImageOrientationPatient = list(iop)
        ds.PixelSpacing = list(pixel_spacing)
        ds.SliceThickness = abs(dz)
        ds.KVP = 120
        stored = np.round((hu[k] - intercept) / slope)
        lo, hi = (-32768, 32767) if signed else (0, 65535)
        stored = np.clip(stored, lo, hi)
        _set_pixels(ds, stored, signed=signed)
        ds.RescaleSlope = slope
        ds.RescaleIntercept = intercept
        ds.RescaleType = "HU"
        out.append(ds)
    return out


# --- writing ----------------------------------------------------------------------------


def _frames(ds: Dataset) -> np.ndarray:
    arr = ds.pixel_array
    return arr[np.newaxis] if arr.ndim == 2 else arr


def _encapsulate(ds: Dataset, frames: list[bytes], syntax: UID) -> None:
    ds.PixelData = encapsulate(frames)
    ds["PixelData"].VR = "OB"
    ds.file_meta.TransferSyntaxUID = syntax


def _jpeg_baseline(ds: Dataset) -> None:
    from PIL import Image

    arr = _frames(ds)
    if arr.dtype != np.uint8:
        raise ValueError("JPEG baseline needs 8-bit pixel data (pass uint8 counts)")
    frames = []
    for f in arr:
        buf = io.BytesIO()
        Image.fromarray(f, mode="L").save(buf, format="JPEG", quality=95)
        frames.append(buf.getvalue())
    ds.LossyImageCompression = "01"
    _encapsulate(ds, frames, JPEGBaseline8Bit)


def encoder_available(syntax: str) -> bool:
    """True if :func:`save` can write ``syntax`` here (JPEG-LS needs pyjpegls, JPEG 2000
    pylibjpeg-openjpeg)."""
    ts = SYNTAXES[syntax]
    if syntax in ("explicit", "implicit", "bigendian", "deflate", "jpeg-lossless", "jpeg-baseline"):
        return True
    from pydicom.pixels import get_encoder

    try:
        return bool(get_encoder(ts).is_available)
    except NotImplementedError:
        return False


def save(ds: Dataset, path: str | Path, syntax: str = "explicit") -> Path:
    """Write ``ds`` to ``path`` in the transfer syntax named ``syntax`` (see SYNTAXES)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds = copy.deepcopy(ds)
    ts = SYNTAXES[syntax]
    if syntax in ("explicit", "implicit", "bigendian", "deflate"):
        if syntax == "bigendian":
            arr = _frames(ds)
            ds.PixelData = arr.astype(arr.dtype.newbyteorder(">")).tobytes()
        ds.file_meta.TransferSyntaxUID = ts
        ds.save_as(
            path,
            implicit_vr=syntax == "implicit",
            little_endian=syntax != "bigendian",
            enforce_file_format=True,
        )
        return path
    if syntax == "jpeg-baseline":
        _jpeg_baseline(ds)
    elif syntax == "jpeg-lossless":
        arr = _frames(ds)
        bits = int(ds.BitsStored)
        _encapsulate(ds, [encode_jpeg_lossless(f, bits) for f in arr], JPEGLosslessSV1)
    elif syntax == "jpegls-near":
        ds.compress(ts, jls_error=2)
    elif syntax == "j2k-lossy":
        ds.compress(ts, j2k_cr=[8])
    else:
        ds.compress(ts)
    ds.save_as(path, enforce_file_format=True)
    return path


def save_series(
    datasets: Sequence[Dataset],
    folder: str | Path,
    syntax: str = "explicit",
    names: Sequence[str] | None = None,
) -> list[Path]:
    """Write each dataset as ``folder/<name>``; default names CT_0001.dcm, ... in list order."""
    folder = Path(folder)
    names = names or [f"IM_{k + 1:04d}.dcm" for k in range(len(datasets))]
    return [save(ds, folder / n, syntax) for ds, n in zip(datasets, names, strict=True)]


# --- a minimal JPEG Lossless (process 14, selection value 1) encoder -------------------


def _huffman_table() -> tuple[list[int], list[int], dict[int, tuple[int, int]]]:
    """A fixed Huffman table for difference categories 0..16: (BITS, HUFFVAL, codes).

    Category c gets a code of length c + 2 (except 16, which shares length 17 rules are
    avoided by giving categories 15 and 16 length 16), built canonically as in ITU T.81 C.
    """
    lengths = {c: min(c + 2, 16) for c in range(17)}
    bits = [0] * 16
    for c in range(17):
        bits[lengths[c] - 1] += 1
    huffval = sorted(range(17), key=lambda c: (lengths[c], c))
    codes: dict[int, tuple[int, int]] = {}
    code = 0
    k = 0
    for length in range(1, 17):
        for _ in range(bits[length - 1]):
            codes[huffval[k]] = (code, length)
            code += 1
            k += 1
        code <<= 1
    return bits, huffval, codes


class _BitWriter:
    def __init__(self) -> None:
        self.out = bytearray()
        self.acc = 0
        self.n = 0

    def write(self, value: int, length: int) -> None:
        self.acc = (self.acc << length) | (value & ((1 << length) - 1))
        self.n += length
        while self.n >= 8:
            self.n -= 8
            byte = (self.acc >> self.n) & 0xFF
            self.out.append(byte)
            if byte == 0xFF:
                self.out.append(0x00)
        self.acc &= (1 << self.n) - 1 if self.n else 0

    def flush(self) -> bytes:
        if self.n:
            self.write((1 << (8 - self.n)) - 1, 8 - self.n)
        return bytes(self.out)


def encode_jpeg_lossless(frame: np.ndarray, precision: int) -> bytes:
    """Encode one greyscale frame as a JPEG Lossless SV1 codestream (ITU T.81, process 14).

    Predictor 1 (left neighbour); first column predicted from the pixel above; the first
    pixel from 2**(precision - 1). Unsigned samples only.
    """
    img = np.asarray(frame).astype(np.int64)
    if img.min() < 0:
        raise ValueError("JPEG lossless encoder: unsigned samples only")
    rows, cols = img.shape
    pred = np.empty_like(img)
    pred[:, 1:] = img[:, :-1]
    pred[1:, 0] = img[:-1, 0]
    pred[0, 0] = 1 << (precision - 1)
    diff = (img - pred) % 65536
    diff = np.where(diff >= 32768, diff - 65536, diff)
    bits, huffval, codes = _huffman_table()
    w = _BitWriter()
    for d in diff.ravel().tolist():
        mag = abs(d)
        cat = mag.bit_length()
        code, length = codes[cat]
        w.write(code, length)
        if cat and cat < 16:
            w.write(d if d > 0 else d + (1 << cat) - 1, cat)
    scan = w.flush()
    seg = bytearray(b"\xff\xd8")
    seg += b"\xff\xc3" + (11).to_bytes(2, "big") + bytes([precision]) + rows.to_bytes(2, "big")
    seg += cols.to_bytes(2, "big") + bytes([1, 1, 0x11, 0])
    dht = bytes([0x00]) + bytes(bits) + bytes(huffval)
    seg += b"\xff\xc4" + (len(dht) + 2).to_bytes(2, "big") + dht
    seg += b"\xff\xda" + (8).to_bytes(2, "big") + bytes([1, 1, 0x00, 1, 0, 0])
    seg += scan + b"\xff\xd9"
    return bytes(seg)


def save_bare(ds: Dataset, path: str | Path) -> Path:
    """Write ``ds`` as a bare data set: no preamble, no ``DICM``, no file meta (implicit VR
    little endian), as some exporters and PACS caches do. Readers accept it by content."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds = copy.deepcopy(ds)
    del ds.file_meta
    ds.preamble = None
    ds.save_as(path, implicit_vr=True, little_endian=True, enforce_file_format=False)
    return path
