"""Bad DICOM input: each kind gives a typed error naming the path (and tag), and the CLI
prints one line and exits 2."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from pydicom.encaps import encapsulate
from pydicom.fileset import FileSet
from pydicom.tag import Tag

from casereport.__main__ import main
from casereport.errors import (
    DicomInputError,
    GeometryError,
    NotDicomError,
    PixelDataError,
    SeriesSelectionError,
    UnsupportedDicomError,
)
from casereport.io import load
from tests.support import dicom_factory as f

pytestmark = pytest.mark.filterwarnings("ignore:Invalid value for VR DS:UserWarning")


@dataclass(frozen=True)
class Case:
    build: Callable[[Path], Path]
    error: type[DicomInputError]
    match: str
    tag: str | None = None
    load_kwargs: dict[str, str] = field(default_factory=dict)


def _wb(tmp: Path, syntax: str = "explicit", **kw: object) -> Path:
    return f.save(f.nm_wholebody(**kw), tmp / "wb.dcm", syntax)


def _cut(tmp: Path, n: int | None = None, drop: int | None = None) -> Path:
    src = _wb(tmp)
    data = src.read_bytes()
    data = data[:n] if n is not None else data[: len(data) - (drop or 0)]
    out = tmp / "cut.dcm"
    out.write_bytes(data)
    return out


def _ct(tmp: Path, series: list | None = None, **kw: object) -> Path:
    f.save_series(series if series is not None else f.ct_series(**kw), tmp / "ct")
    return tmp / "ct"


def _ct_edit(edit: Callable[[list], None], **kw: object) -> Callable[[Path], Path]:
    def build(tmp: Path) -> Path:
        series = f.ct_series(**kw)
        edit(series)
        return _ct(tmp, series)

    return build


def _nm_edit(
    edit: Callable, factory: Callable = f.nm_wholebody, syntax: str = "explicit", **kw: object
) -> Callable[[Path], Path]:
    def build(tmp: Path) -> Path:
        ds = factory(**kw)
        edit(ds)
        return f.save(ds, tmp / "x.dcm", syntax)

    return build


def _text(tmp: Path) -> Path:
    p = tmp / "notes.dcm"
    p.write_text("Patient report\nnothing to see here\n" * 20)
    return p


def _empty(tmp: Path) -> Path:
    p = tmp / "empty.dcm"
    p.write_bytes(b"")
    return p


def _random_bytes(tmp: Path) -> Path:
    p = tmp / "noise.dcm"
    p.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    return p


def _frames_short(ds) -> None:  # header says 3 frames, data hold 2
    ds.NumberOfFrames = 3
    ds.DetectorVector = [1, 2, 3]
    ds.EnergyWindowVector = [1, 1, 1]


def _frames_long(ds) -> None:  # data hold 2 frames, header says 1
    ds.NumberOfFrames = 1
    ds.DetectorVector = [1]
    ds.EnergyWindowVector = [1]


def _set(**attrs: object) -> Callable:
    def edit(ds) -> None:
        for k, v in attrs.items():
            if v is None:
                if k in ds:
                    delattr(ds, k)
            else:
                setattr(ds, k, v)

    return edit


def _unknown_syntax(tmp: Path) -> Path:
    p = _wb(tmp)
    data = p.read_bytes()
    old = b"1.2.840.10008.1.2.1\x00"
    assert old in data
    # same length (20 bytes), not a transfer syntax
    p.write_bytes(data.replace(old, b"1.2.999.12345.6.7.8\x00", 1))
    return p


def _no_decoder(tmp: Path) -> Path:
    ds = f.nm_wholebody()
    ds.PixelData = encapsulate(
        [b"\x00\x00\x01\xb3" + b"\x00" * 60, b"\x00\x00\x01\xb3" + b"\x00" * 60]
    )
    ds["PixelData"].VR = "OB"
    ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.100"  # MPEG2 Main Profile
    p = tmp / "mpeg.dcm"
    ds.save_as(p, enforce_file_format=True)
    return p


def _corrupt_j2k(tmp: Path) -> Path:
    p = f.save(f.nm_wholebody(), tmp / "j2k.dcm", "j2k")
    data = bytearray(p.read_bytes())
    start = data.find(b"\xff\x4f\xff\x51")  # first J2K codestream (SOC, SIZ)
    data[start + 60 : start + 400] = bytes(340)
    p.write_bytes(bytes(data))
    return p


def _several_series(tmp: Path) -> Path:
    f.save(f.nm_wholebody(), tmp / "d" / "wb.dcm")
    f.save_series(f.ct_series(n=3), tmp / "d" / "ct")
    return tmp / "d"


def _only_text(tmp: Path) -> Path:
    (tmp / "d").mkdir()
    (tmp / "d" / "readme.txt").write_text("hello")
    return tmp / "d"


def _binary_junk_beside_slices(tmp: Path) -> Path:
    """A CT folder with a PNG among the slices: refused, never skipped (it could be a
    damaged slice, and skipping it would leave a gap filled in silently)."""
    f.save_series(f.ct_series(n=3), tmp / "d")
    (tmp / "d" / "readme.txt").write_text("text files are skipped")
    (tmp / "d" / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(50))
    return tmp / "d"


def _empty_dir(tmp: Path) -> Path:
    (tmp / "d").mkdir()
    return tmp / "d"


def _dicomdir_missing_file(tmp: Path) -> Path:
    fs = FileSet()
    for ds in f.ct_series(n=3):
        fs.add(ds)
    fs.write(tmp / "media")
    victim = next(
        p for p in sorted((tmp / "media").rglob("*")) if p.is_file() and p.name != "DICOMDIR"
    )
    victim.unlink()
    return tmp / "media" / "DICOMDIR"


def _shift(k: int, dx: float = 0, dz: float = 0, z: float | None = None) -> Callable[[list], None]:
    def edit(series: list) -> None:
        x, y, zz = series[k].ImagePositionPatient
        series[k].ImagePositionPatient = [x + dx, y, z if z is not None else zz + dz]

    return edit


def _del_ct(k: int, kw: str) -> Callable[[list], None]:
    def edit(series: list) -> None:
        delattr(series[k], kw)

    return edit


def _set_ct(k: int, **attrs: object) -> Callable[[list], None]:
    def edit(series: list) -> None:
        for a, v in attrs.items():
            setattr(series[k], a, v)

    return edit


def _ct_bigger_matrix(series: list) -> None:
    ds = series[2]
    ds.Rows, ds.Columns = 40, 40
    ds.PixelData = np.zeros((40, 40), np.uint16).tobytes()


def _rgb(ds) -> None:
    ds.SamplesPerPixel = 3
    ds.PhotometricInterpretation = "RGB"
    ds.PlanarConfiguration = 0
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit = 7
    ds.NumberOfFrames = 1
    ds.DetectorVector = [1]
    ds.EnergyWindowVector = [1]
    ds.PixelData = np.zeros((ds.Rows, ds.Columns, 3), np.uint8).tobytes()


CASES: dict[str, Case] = {
    # files that are not (usable) DICOM
    "text_file": Case(_text, NotDicomError, "not a DICOM file"),
    "empty_file": Case(_empty, NotDicomError, "empty file"),
    "random_bytes": Case(_random_bytes, NotDicomError, "not a DICOM file|unreadable"),
    "missing_path": Case(lambda t: t / "nothing_here.dcm", DicomInputError, "no such file"),
    "truncated_in_meta": Case(
        lambda t: _cut(t, n=150), NotDicomError, "truncated|not DICOM|unreadable"
    ),
    "truncated_header": Case(
        lambda t: _cut(t, n=700), NotDicomError, "header incomplete|truncated"
    ),
    "truncated_pixel_data": Case(
        lambda t: _cut(t, drop=500), PixelDataError, "truncated", "PixelData"
    ),
    # pixel data inconsistent with the header
    "frames_more_than_data": Case(
        _nm_edit(_frames_short), PixelDataError, r"Rows x Columns x Frames", "PixelData"
    ),
    "frames_fewer_than_data": Case(
        _nm_edit(_frames_long), PixelDataError, "NumberOfFrames is 1", "NumberOfFrames"
    ),
    "rows_too_many": Case(_nm_edit(_set(Rows=200)), PixelDataError, "needs", "PixelData"),
    "zero_frames": Case(
        _nm_edit(_set(NumberOfFrames=0)), PixelDataError, "no image frames", "NumberOfFrames"
    ),
    "no_pixel_data": Case(
        _nm_edit(_set(PixelData=None)), PixelDataError, "no pixel data", "PixelData"
    ),
    "bits_allocated_12": Case(
        _nm_edit(_set(BitsAllocated=12, BitsStored=12, HighBit=11)),
        PixelDataError,
        "BitsAllocated 12",
        "BitsAllocated",
    ),
    "colour_image": Case(_nm_edit(_rgb), UnsupportedDicomError, "colour image", "SamplesPerPixel"),
    "palette_colour_nm": Case(
        _nm_edit(lambda ds: setattr(ds, "PhotometricInterpretation", "PALETTE COLOR")),
        UnsupportedDicomError,
        "PALETTE COLOR: the stored values are not counts",
        "PhotometricInterpretation",
    ),
    "rescale_slope_zero": Case(
        _nm_edit(_set(RescaleSlope=0)), PixelDataError, "RescaleSlope is 0", "RescaleSlope"
    ),
    "corrupt_jpeg2000": Case(
        _corrupt_j2k, PixelDataError, r"cannot decode.*JPEG 2000.*Lossless", "PixelData"
    ),
    # transfer syntax
    "unknown_transfer_syntax": Case(
        _unknown_syntax,
        UnsupportedDicomError,
        "unknown transfer syntax 1.2.999",
        "TransferSyntaxUID",
    ),
    "syntax_without_decoder": Case(
        _no_decoder,
        UnsupportedDicomError,
        "no installed plugin decodes.*MPEG2.*gdcmconv --raw",
        "TransferSyntaxUID",
    ),
    # modality / SOP class / image type
    "unsupported_modality": Case(
        _nm_edit(_set(Modality="MR")), UnsupportedDicomError, "modality MR", "Modality"
    ),
    "unsupported_sop_class": Case(
        _nm_edit(_set(SOPClassUID="1.2.840.10008.5.1.4.1.1.481.1")),
        UnsupportedDicomError,
        "RT Image Storage",
        "SOPClassUID",
    ),
    "enhanced_ct": Case(
        _ct_edit(lambda s: [setattr(d, "SOPClassUID", "1.2.840.10008.5.1.4.1.1.2.1") for d in s]),
        UnsupportedDicomError,
        "Enhanced CT Image Storage",
        "SOPClassUID",
    ),
    "nm_tomo_projections": Case(
        _nm_edit(_set(ImageType=["ORIGINAL", "PRIMARY", "TOMO", "EMISSION"])),
        UnsupportedDicomError,
        "tomographic projections",
        "ImageType",
    ),
    "nm_dynamic": Case(
        _nm_edit(_set(ImageType=["ORIGINAL", "PRIMARY", "DYNAMIC", "EMISSION"])),
        UnsupportedDicomError,
        "dynamic",
        "ImageType",
    ),
    # planar geometry and views
    "planar_no_spacing": Case(
        _nm_edit(_set(PixelSpacing=None)), GeometryError, "no pixel spacing", "PixelSpacing"
    ),
    "planar_nan_spacing": Case(
        _nm_edit(_set(PixelSpacing=["NaN", "NaN"])), GeometryError, "not finite", "PixelSpacing"
    ),
    "planar_zero_spacing": Case(
        _nm_edit(_set(PixelSpacing=[0, 0])), GeometryError, "expected values", "PixelSpacing"
    ),
    "planar_absurd_spacing": Case(
        _nm_edit(_set(PixelSpacing=[2.4, 1e6])), GeometryError, "expected values", "PixelSpacing"
    ),
    "planar_spacing_one_value": Case(
        _nm_edit(_set(PixelSpacing=2.4)), GeometryError, "1 values, expected 2", "PixelSpacing"
    ),
    "detector_vector_length": Case(
        _nm_edit(_set(DetectorVector=[1, 2, 1])),
        DicomInputError,
        "DetectorVector has 3 values for 2 frames",
        "DetectorVector",
    ),
    "wholebody_two_anterior": Case(
        _nm_edit(lambda d: None, views=("ANT", "ANT")),
        DicomInputError,
        "found ANT .*, ANT",
        "ViewCodeSequence",
    ),
    # SPECT geometry
    "spect_no_position": Case(
        _nm_edit(lambda d: None, factory=f.nm_spect, geometry_in="none"),
        GeometryError,
        "ImagePositionPatient is missing",
        "ImagePositionPatient",
    ),
    "spect_no_slice_spacing": Case(
        _nm_edit(lambda d: None, factory=f.nm_spect, slice_spacing=None, slice_thickness=None),
        GeometryError,
        "neither SpacingBetweenSlices",
        "SpacingBetweenSlices",
    ),
    "spect_zero_slice_spacing": Case(
        _nm_edit(lambda d: None, factory=f.nm_spect, slice_spacing=0.0),
        GeometryError,
        "implausible",
        "SpacingBetweenSlices",
    ),
    "spect_bad_orientation": Case(
        _nm_edit(lambda d: None, factory=f.nm_spect, iop=(1, 0, 0, 1, 0, 0)),
        GeometryError,
        "not orthogonal",
        "ImageOrientationPatient",
    ),
    # CT series geometry
    "ct_no_position": Case(
        _ct_edit(_del_ct(2, "ImagePositionPatient")),
        GeometryError,
        "ImagePositionPatient is missing",
        "ImagePositionPatient",
    ),
    "ct_no_orientation": Case(
        _ct_edit(_del_ct(0, "ImageOrientationPatient")),
        GeometryError,
        "ImageOrientationPatient is missing",
        "ImageOrientationPatient",
    ),
    "ct_no_pixel_spacing": Case(
        _ct_edit(_del_ct(1, "PixelSpacing")),
        GeometryError,
        "PixelSpacing is missing",
        "PixelSpacing",
    ),
    "ct_orientation_not_unit": Case(
        _ct_edit(_set_ct(1, ImageOrientationPatient=[2, 0, 0, 0, 1, 0])),
        GeometryError,
        "not made of unit vectors",
        "ImageOrientationPatient",
    ),
    "ct_orientation_differs": Case(
        _ct_edit(_set_ct(3, ImageOrientationPatient=[0, 1, 0, 1, 0, 0])),
        GeometryError,
        "orientation differs",
        "ImageOrientationPatient",
    ),
    "ct_spacing_differs": Case(
        _ct_edit(_set_ct(3, PixelSpacing=[0.9, 0.9])),
        GeometryError,
        "PixelSpacing .* differs",
        "PixelSpacing",
    ),
    "ct_matrix_differs": Case(_ct_edit(_ct_bigger_matrix), GeometryError, "matrix", "Rows"),
    "ct_duplicate_positions": Case(
        _ct_edit(_shift(4, z=-40.0)),
        GeometryError,
        "duplicate slice position",
        "ImagePositionPatient",
    ),
    "ct_large_gap": Case(
        lambda t: _ct(t, positions=[0, 5, 10, 15, 45, 50]),
        GeometryError,
        "inconsistent slice spacing.*missing slices",
        "ImagePositionPatient",
    ),
    "ct_irregular_spacing": Case(
        lambda t: _ct(t, positions=[0, 5, 10, 17.5, 22.5, 27.5]),
        GeometryError,
        "inconsistent slice spacing",
        "ImagePositionPatient",
    ),
    "ct_slice_off_line": Case(
        _ct_edit(_shift(3, dx=25.0)), GeometryError, "off the line", "ImagePositionPatient"
    ),
    "ct_nan_position": Case(
        _ct_edit(_set_ct(2, ImagePositionPatient=[0, 0, "NaN"])),
        GeometryError,
        "not finite",
        "ImagePositionPatient",
    ),
    # folders and selection
    "empty_folder": Case(_empty_dir, SeriesSelectionError, "no DICOM files"),
    "folder_without_dicom": Case(_only_text, SeriesSelectionError, "no DICOM files"),
    "binary_junk_in_a_study_folder": Case(
        _binary_junk_beside_slices, NotDicomError, r"image.png: not a DICOM file.*not text"
    ),
    "several_series": Case(
        _several_series, SeriesSelectionError, r"2 series found.*CT .*NM ", load_kwargs={}
    ),
    "selector_matches_nothing": Case(
        _several_series,
        SeriesSelectionError,
        "no series matches modality=MR",
        load_kwargs={"modality": "MR"},
    ),
    "series_uid_not_found": Case(
        _several_series,
        SeriesSelectionError,
        "no series matches series_uid=1.2.3",
        load_kwargs={"series_uid": "1.2.3"},
    ),
    "file_of_other_modality": Case(
        lambda t: _wb(t),
        SeriesSelectionError,
        "file is NM, not CT",
        "Modality",
        load_kwargs={"modality": "CT"},
    ),
    "dicomdir_missing_file": Case(
        _dicomdir_missing_file, DicomInputError, "refers to a missing file", "ReferencedFileID"
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_raises_typed_error(tmp_path: Path, name: str) -> None:
    case = CASES[name]
    path = case.build(tmp_path)
    with pytest.raises(case.error, match=case.match) as info:
        load(path, **case.load_kwargs)
    err = info.value
    assert isinstance(err.path, Path) and str(err.path).startswith(str(tmp_path))
    if case.tag is not None:
        assert err.tag == case.tag
    assert "\n" not in str(err)


def test_at_least_thirty_kinds() -> None:
    assert len(CASES) >= 30


# Cases where ``inspect`` (which lists every series rather than choosing one) still fails.
#: Study-level problems that ``inspect`` describes with a warning instead of refusing.
_DESCRIBED = {"planar_no_spacing": "no pixel spacing", "wholebody_two_anterior": "found ANT"}
_CLI_CASES = sorted(n for n in CASES if n != "several_series" and n not in _DESCRIBED)


@pytest.mark.parametrize("name", _CLI_CASES)
def test_cli_prints_one_line_and_exits_2(
    tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    case = CASES[name]
    path = case.build(tmp_path)
    argv = ["inspect", str(path)]
    for k, v in case.load_kwargs.items():
        argv += [f"--{k.replace('_', '-')}", v]
    assert main(argv) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert "Traceback" not in captured.err and captured.out == ""


def test_cli_subprocess_no_traceback(tmp_path: Path) -> None:
    path = _cut(tmp_path, drop=500)
    proc = subprocess.run(
        [sys.executable, "-m", "casereport", "inspect", str(path)],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: ")
    assert "cut.dcm [PixelData]" in proc.stderr


def test_frame_increment_pointer_factory_sanity() -> None:
    ds = f.nm_wholebody()
    assert Tag("DetectorVector") in list(ds.FrameIncrementPointer)


@pytest.mark.parametrize("name", sorted(_DESCRIBED))
def test_inspect_describes_incomplete_study_with_a_warning(
    tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = CASES[name].build(tmp_path)
    assert main(["inspect", str(path)]) == 0
    out = capsys.readouterr().out
    warns = [line.strip() for line in out.splitlines() if line.strip().startswith("warning:")]
    assert any(_DESCRIBED[name] in w for w in warns), out


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_unreadable_slice_is_refused_not_skipped(tmp_path: Path) -> None:
    paths = f.save_series(f.ct_series(n=5), tmp_path / "ct")
    paths[2].chmod(0)
    try:
        with pytest.raises(NotDicomError, match=r"IM_0003.dcm: .*every file in the study"):
            load(tmp_path / "ct")
    finally:
        paths[2].chmod(0o644)
