"""casereport.io: loading NM planar, whole-body, SPECT and CT from DICOM made in the tests."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.fileset import FileSet

from casereport.__main__ import main
from casereport.errors import DicomInputError, SeriesSelectionError
from casereport.io import (
    CTVolume,
    PlanarStudy,
    SeriesSummary,
    SpectVolume,
    WholeBody,
    load,
    scan,
)
from casereport.io.common import text
from casereport.io.pixels import load_frames
from casereport.io.read import complete_dataset, read_dataset
from tests.support import dicom_factory as f

DATA = Path(__file__).resolve().parents[1] / "data"


# --- whole-body and static planar ----------------------------------------------------


def test_wholebody_one_file_two_frames(tmp_path: Path) -> None:
    ds = f.nm_wholebody(seed=3)
    path = f.save(ds, tmp_path / "wb.dcm")
    wb = load(path)
    assert isinstance(wb, WholeBody)
    stored = ds.pixel_array
    np.testing.assert_array_equal(wb.anterior.counts, stored[0])
    np.testing.assert_array_equal(wb.posterior.counts, stored[1])
    assert wb.anterior.counts.dtype == np.float32
    assert (wb.anterior.view, wb.posterior.view) == ("ANT", "POST")
    assert wb.anterior.view_source == "DetectorInformationSequence.ViewCodeSequence"
    assert wb.anterior.pixel_spacing_mm == (2.4, 2.4)
    assert wb.anterior.duration_s == pytest.approx(600.0)
    assert (wb.anterior.frame_index, wb.posterior.frame_index) == (0, 1)
    assert wb.source.simulated and wb.source.modality == "NM"
    assert wb.source.paths == (path,)
    assert wb.view("post") is wb.posterior
    assert wb.anterior.total_counts == pytest.approx(float(stored[0].sum()))


def test_study_objects_are_frozen_and_read_only(tmp_path: Path) -> None:
    wb = load(f.save(f.nm_wholebody(), tmp_path / "wb.dcm"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        wb.anterior.view = "POST"  # type: ignore[misc]
    with pytest.raises(ValueError):
        wb.anterior.counts[0, 0] = 1


LOSSLESS = ["explicit", "implicit", "bigendian", "deflate", "rle", "jpegls", "j2k", "jpeg-lossless"]


@pytest.mark.parametrize("syntax", LOSSLESS)
def test_wholebody_lossless_syntaxes_decode_exactly(tmp_path: Path, syntax: str) -> None:
    if not f.encoder_available(syntax):
        pytest.skip(f"no encoder for {syntax} installed")
    ds = f.nm_wholebody(seed=1)
    wb = load(f.save(ds, tmp_path / f"wb_{syntax}.dcm", syntax))
    assert isinstance(wb, WholeBody)
    assert wb.source.transfer_syntax_uid == f.SYNTAXES[syntax]
    np.testing.assert_array_equal(wb.anterior.counts, ds.pixel_array[0])
    np.testing.assert_array_equal(wb.posterior.counts, ds.pixel_array[1])


@pytest.mark.parametrize("syntax", ["rle", "explicit", "implicit"])
def test_complete_dataset_reads_from_the_pixel_data_on(tmp_path: Path, syntax: str) -> None:
    """The pixel part is read after the header and joined to a copy of it: the same
    elements and values as a full read, trailing elements included; the header unchanged."""
    ds = f.nm_wholebody(seed=4)
    ds.DataSetTrailingPadding = b"\0" * 6
    path = f.save(ds, tmp_path / "wb.dcm", syntax)
    header = read_dataset(path, headers_only=True)
    full = complete_dataset(path, header)
    reference = pydicom.dcmread(path)
    assert "PixelData" not in header and "DataSetTrailingPadding" not in header
    assert list(full.keys()) == list(reference.keys())
    assert full.PixelData == reference.PixelData
    assert full.DataSetTrailingPadding == b"\0" * 6
    np.testing.assert_array_equal(full.pixel_array, ds.pixel_array)
    np.testing.assert_array_equal(load(path).posterior.counts, ds.pixel_array[1])


def test_complete_dataset_of_cut_rle_file_names_the_pixel_data(tmp_path: Path) -> None:
    path = f.save(f.nm_wholebody(seed=4), tmp_path / "wb.dcm", "rle")
    header = read_dataset(path, headers_only=True)
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DicomInputError, match=r"wb\.dcm \[PixelData\]: file truncated"):
        load_frames(path, header)


@pytest.mark.parametrize(
    "charset, description",
    [
        ("ISO_IR 100", "SIMULATED whole-body"),  # ASCII bytes: read straight from them
        ("ISO_IR 100", "Ganzkörper ANT"),  # Latin-1 byte: decoded by pydicom
        ("ISO_IR 192", "全身 ANT"),
        (["ISO 2022 IR 6", "ISO 2022 IR 87"], "全身 ANT"),  # escape sequences
    ],
)
def test_text_reads_values_as_pydicom_decodes_them(
    tmp_path: Path, charset: str | list[str], description: str
) -> None:
    ds = f.nm_wholebody()
    ds.SpecificCharacterSet = charset
    ds.SeriesDescription = description
    path = f.save(ds, tmp_path / "wb.dcm")
    header = read_dataset(path, headers_only=True)
    assert text(header, "SeriesDescription") == description
    assert text(header, "SeriesDescription") == str(pydicom.dcmread(path).SeriesDescription)


def test_deferred_elements_are_read_when_asked(tmp_path: Path) -> None:
    path = f.save(f.nm_wholebody(), tmp_path / "wb.dcm")
    ds = pydicom.dcmread(path, defer_size=4, stop_before_pixels=True)
    assert text(ds, "SeriesDescription") == str(pydicom.dcmread(path).SeriesDescription)


@pytest.mark.parametrize(
    "syntax, tol", [("jpegls-near", 2), ("j2k-lossy", 40), ("jpeg-baseline", 20)]
)
def test_wholebody_lossy_syntaxes_decode_close(tmp_path: Path, syntax: str, tol: int) -> None:
    if not f.encoder_available(syntax):
        pytest.skip(f"no encoder for {syntax} installed")
    counts = f.planar_counts(2, 128, 48, seed=2)
    if syntax == "jpeg-baseline":
        counts = np.clip(counts, 0, 255).astype(np.uint8)
    ds = f.nm_wholebody(counts=counts)
    wb = load(f.save(ds, tmp_path / "wb.dcm", syntax))
    for k, v in enumerate(wb.views):
        err = np.abs(v.counts - counts[k].astype(np.float32))
        assert err.max() <= tol
        assert v.total_counts == pytest.approx(float(counts[k].sum()), rel=0.02)


def test_wholebody_from_two_files(tmp_path: Path) -> None:
    series = f.uid("two-file-wb")
    ant = f.nm_planar(views=("ANT",), whole_body=True, series_uid=series, key="a", seed=1)
    post = f.nm_planar(views=("POST",), whole_body=True, series_uid=series, key="p", seed=2)
    f.save(post, tmp_path / "wb" / "1.dcm")
    f.save(ant, tmp_path / "wb" / "2.dcm")
    wb = load(tmp_path / "wb")
    assert isinstance(wb, WholeBody)
    np.testing.assert_array_equal(wb.anterior.counts, ant.pixel_array)
    np.testing.assert_array_equal(wb.posterior.counts, post.pixel_array)
    assert len(wb.source.paths) == 2


def test_static_views_one_frame_per_view(tmp_path: Path) -> None:
    ds = f.nm_planar(views=("ANT", "POST"), shape=(32, 32), seed=4)
    spot = load(f.save(ds, tmp_path / "spot.dcm"))
    assert isinstance(spot, PlanarStudy)
    assert [v.view for v in spot.views] == ["ANT", "POST"]
    np.testing.assert_array_equal(spot.view("POST").counts, ds.pixel_array[1])


def test_secondary_capture_wholebody_views_from_image_comments(tmp_path: Path) -> None:
    series = f.uid("sc-wb")
    for name, comment, seed in (("a.dcm", "ANTERIOR WB", 1), ("b.dcm", "Posterior", 2)):
        ds = f.nm_planar(
            views=("ANT",),
            whole_body=True,
            sop_class=f.SC_IMAGE,
            series_uid=series,
            key=name,
            seed=seed,
            description="SIMULATED bone scan",
            spacing_in="none",
        )
        ds.NominalScannedPixelSpacing = [2.2, 2.2]
        ds.ImageComments = comment
        f.save(ds, tmp_path / "sc" / name)
    wb = load(tmp_path / "sc")
    assert isinstance(wb, WholeBody)
    assert wb.anterior.view_source == "ImageComments"
    assert wb.anterior.pixel_spacing_mm == (2.2, 2.2)
    assert wb.anterior.source.sop_class_uid == f.SC_IMAGE


def test_view_fallback_detector_vector(tmp_path: Path) -> None:
    wb = load(f.save(f.nm_wholebody(view_code=False), tmp_path / "wb.dcm"))
    assert isinstance(wb, WholeBody)
    assert wb.anterior.view_source.startswith("DetectorVector")
    assert wb.anterior.frame_index == 0 and wb.posterior.frame_index == 1


def test_view_fallback_image_type_and_series_description(tmp_path: Path) -> None:
    ds = f.nm_planar(view_code=False, image_type=["ORIGINAL", "PRIMARY", "STATIC", "POSTERIOR"])
    st = load(f.save(ds, tmp_path / "a.dcm"))
    assert (st.views[0].view, st.views[0].view_source) == ("POST", "ImageType")
    ds = f.nm_planar(view_code=False, detector_vector=False, description="Chest LAO 10min")
    st = load(f.save(ds, tmp_path / "b.dcm"))
    assert (st.views[0].view, st.views[0].view_source) == ("LAO", "SeriesDescription")


def test_view_unknown_is_named_by_frame(tmp_path: Path) -> None:
    ds = f.nm_planar(views=("X", "Y"), view_code=False, detector_vector=False, description="chest")
    st = load(f.save(ds, tmp_path / "a.dcm"))
    assert [(v.view, v.view_source) for v in st.views] == [("FRAME1", "none"), ("FRAME2", "none")]


def test_pixel_spacing_only_in_detector_sequence(tmp_path: Path) -> None:
    ds = f.nm_wholebody(pixel_spacing=(2.3, 2.2), spacing_in="detector")
    wb = load(f.save(ds, tmp_path / "wb.dcm"))
    assert wb.anterior.pixel_spacing_mm == (2.3, 2.2)
    assert wb.anterior.size_mm == pytest.approx((48 * 2.2, 128 * 2.3))


def test_signed_pixels_and_rescale(tmp_path: Path) -> None:
    stored = f.planar_counts(1, 32, 32, seed=5).astype(np.int16) - 10
    ds = f.nm_planar(counts=stored, signed=True, slope=0.5, intercept=5.0)
    st = load(f.save(ds, tmp_path / "a.dcm", "rle"))
    np.testing.assert_allclose(st.views[0].counts, stored[0] * 0.5 + 5.0)
    assert st.views[0].counts.min() < 5.0  # negative stored values survived


def test_private_tags_are_ignored(tmp_path: Path) -> None:
    ds = f.nm_wholebody()
    block = ds.private_block(0x0009, "GEMS_GENIE_1", create=True)
    block.add_new(0x10, "LO", "vendor value")
    block.add_new(0x11, "OB", b"\x00\x01" * 40)
    wb = load(f.save(ds, tmp_path / "wb.dcm"))
    assert isinstance(wb, WholeBody)


def test_planar_pixel_mm_roundtrip(tmp_path: Path) -> None:
    wb = load(f.save(f.nm_wholebody(pixel_spacing=(2.4, 2.2)), tmp_path / "wb.dcm"))
    rc = np.array([[0, 0], [10, 3], [127, 47]])
    xy = wb.anterior.pixel_to_mm(rc)
    np.testing.assert_allclose(xy[0], [1.1, 1.2])
    np.testing.assert_allclose(wb.anterior.mm_to_pixel(xy), rc)


# --- SPECT -----------------------------------------------------------------------------


@pytest.mark.parametrize("geometry_in", ["detector", "root"])
def test_spect_geometry(tmp_path: Path, geometry_in: str) -> None:
    ds = f.nm_spect(geometry_in=geometry_in, pixel_spacing=(4.0, 4.4), slice_spacing=4.2)
    vol = load(f.save(ds, tmp_path / "spect.dcm"))
    assert isinstance(vol, SpectVolume)
    assert vol.shape == (12, 16, 16)
    np.testing.assert_array_equal(vol.array, ds.pixel_array.astype(np.float32))
    np.testing.assert_allclose(vol.spacing_mm, (4.4, 4.0, 4.2))
    np.testing.assert_allclose(vol.index_to_patient([0, 0, 0]), (-140, -150, -100))
    np.testing.assert_allclose(
        vol.index_to_patient([1, 2, 3]), (-140 + 4.4, -150 + 8.0, -100 + 12.6)
    )
    assert vol.units == "CNTS" and vol.warnings == ()


def test_spect_negative_spacing_flips_slice_direction(tmp_path: Path) -> None:
    vol = load(f.save(f.nm_spect(slice_spacing=-4.4), tmp_path / "spect.dcm"))
    np.testing.assert_allclose(vol.index_to_patient([0, 0, 2]), (-140, -150, -100 - 8.8))
    assert vol.spacing_mm[2] == pytest.approx(4.4)
    np.testing.assert_allclose(vol.patient_to_index([-140, -150, -108.8]), [0, 0, 2], atol=1e-9)


def test_spect_slice_thickness_fallback_warns(tmp_path: Path) -> None:
    vol = load(f.save(f.nm_spect(slice_spacing=None, slice_thickness=3.3), tmp_path / "s.dcm"))
    assert vol.spacing_mm[2] == pytest.approx(3.3)
    assert any("SliceThickness" in w for w in vol.warnings)


def test_spect_oblique_orientation_and_rescale(tmp_path: Path) -> None:
    iop = (0, 1, 0, 0, 0, -1)  # sagittal: columns along +y, rows along -z; normal = -x
    ds = f.nm_spect(geometry_in="root", iop=iop, slope=0.25, shape=(6, 40, 40))
    vol = load(f.save(ds, tmp_path / "s.dcm", "j2k"))
    np.testing.assert_allclose(
        vol.affine[:3, :3], [[0, 0, -4.4], [4.4, 0, 0], [0, -4.4, 0]], atol=1e-9
    )
    np.testing.assert_allclose(vol.array, ds.pixel_array * 0.25)


# --- CT ----------------------------------------------------------------------------------


def _write_ct(folder: Path, datasets: list, syntax: str = "explicit", seed: int = 0) -> list[Path]:
    """File names in random order, so neither names nor InstanceNumber give the slice order."""
    rng = np.random.default_rng(seed)
    names = [f"x{n:03d}.dcm" for n in rng.permutation(len(datasets))]
    return f.save_series(datasets, folder, syntax, names)


def test_ct_sorted_along_normal_and_in_hu(tmp_path: Path) -> None:
    hu = f.ct_hu(10, 24, 20, seed=2)
    _write_ct(tmp_path / "ct", f.ct_series(hu=hu, rows=24, cols=20, z0=-30, dz=2.5))
    vol = load(tmp_path / "ct")
    assert isinstance(vol, CTVolume)
    assert vol.shape == (10, 24, 20)
    np.testing.assert_array_equal(vol.array[:, 0, 0], np.arange(10))
    np.testing.assert_array_equal(vol.array, hu.astype(np.float32))
    np.testing.assert_allclose(
        vol.affine, [[1.25, 0, 0, -20], [0, 1.5, 0, -25], [0, 0, 2.5, -30], [0, 0, 0, 1]]
    )
    assert vol.warnings == ()


def test_ct_descending_acquisition_is_sorted_ascending(tmp_path: Path) -> None:
    _write_ct(tmp_path / "ct", f.ct_series(n=6, z0=100, dz=-5))
    vol = load(tmp_path / "ct")
    np.testing.assert_array_equal(vol.array[:, 0, 0], [5, 4, 3, 2, 1, 0])
    assert vol.index_to_patient([0, 0, 0])[2] == pytest.approx(75.0)
    assert vol.affine[2, 2] == pytest.approx(5.0)


@pytest.mark.parametrize("syntax", ["rle", "jpegls", "j2k", "deflate", "jpeg-lossless"])
def test_ct_compressed(tmp_path: Path, syntax: str) -> None:
    if not f.encoder_available(syntax):
        pytest.skip(f"no encoder for {syntax} installed")
    hu = f.ct_hu(5, 32, 32, seed=7)
    _write_ct(tmp_path / "ct", f.ct_series(hu=hu), syntax)
    vol = load(tmp_path / "ct")
    np.testing.assert_array_equal(vol.array, hu.astype(np.float32))


def test_ct_signed_with_slope(tmp_path: Path) -> None:
    hu = f.ct_hu(4, 16, 16, seed=1)
    _write_ct(
        tmp_path / "ct", f.ct_series(hu=hu, rows=16, cols=16, signed=True, slope=0.5, intercept=0.0)
    )
    vol = load(tmp_path / "ct")
    np.testing.assert_allclose(vol.array, np.round(hu * 2) / 2)
    assert vol.array.min() <= -1000


def test_ct_non_axial_orientation(tmp_path: Path) -> None:
    iop = (
        1,
        0,
        0,
        0,
        0,
        -1,
    )  # coronal: normal = (0, 1, 0) x ... = cross((1,0,0),(0,0,-1)) = (0,1,0)
    _write_ct(tmp_path / "ct", f.ct_series(n=5, iop=iop, z0=10, dz=3))
    vol = load(tmp_path / "ct")
    np.testing.assert_array_equal(vol.array[:, 0, 0], np.arange(5))
    np.testing.assert_allclose(vol.affine[:3, 2], [0, 3, 0])
    np.testing.assert_allclose(vol.affine[:3, 1], [0, 0, -1.5])


def test_ct_gantry_tilt_gives_sheared_affine(tmp_path: Path) -> None:
    series = f.ct_series(n=5, dz=5)
    for k, ds in enumerate(series):
        x, y, z = ds.ImagePositionPatient
        ds.ImagePositionPatient = [x, y + 0.9 * k, z]  # ~10 degree tilt
    _write_ct(tmp_path / "ct", series)
    vol = load(tmp_path / "ct")
    np.testing.assert_allclose(vol.affine[:3, 2], [0, 0.9, 5])
    np.testing.assert_allclose(vol.index_to_patient([0, 0, 4]), [-20, -25 + 3.6, -30])


def test_ct_missing_slice_interpolated_with_warning(tmp_path: Path) -> None:
    n = 8
    hu = np.zeros((n - 1, 8, 8))
    z = [0, 5, 10, 20, 25, 30, 35]  # 15 mm missing
    for k, zk in enumerate(z):
        hu[k] = zk
    _write_ct(tmp_path / "ct", f.ct_series(hu=hu, rows=8, cols=8, positions=z))
    vol = load(tmp_path / "ct")
    assert vol.shape[0] == 8
    np.testing.assert_allclose(vol.array[:, 4, 4], [0, 5, 10, 15, 20, 25, 30, 35])
    assert len(vol.warnings) == 1 and "1 missing slice" in vol.warnings[0]
    assert vol.spacing_mm[2] == pytest.approx(5.0)


def test_ct_uneven_spacing_resampled_with_warning(tmp_path: Path) -> None:
    z = [0, 5, 10.9, 15, 20]
    hu = np.array([np.full((8, 8), zk) for zk in z])
    _write_ct(tmp_path / "ct", f.ct_series(hu=hu, rows=8, cols=8, positions=z))
    vol = load(tmp_path / "ct")
    assert vol.shape[0] == 5
    assert "uneven slice spacing" in vol.warnings[0]
    np.testing.assert_allclose(vol.array[:, 4, 4], [0, 5, 10, 15, 20], atol=0.5)


def test_ct_single_file(tmp_path: Path) -> None:
    paths = f.save_series(f.ct_series(n=3), tmp_path / "ct")
    vol = load(paths[1])
    assert vol.shape == (1, 32, 32) and vol.spacing_mm[2] == pytest.approx(5.0)


def test_ct_spect_share_patient_space(tmp_path: Path) -> None:
    _write_ct(tmp_path / "ct", f.ct_series(n=6, z0=-100, dz=4.4))
    ct = load(tmp_path / "ct")
    spect = load(f.save(f.nm_spect(), tmp_path / "spect.dcm"))
    assert ct.source.frame_of_reference_uid == spect.source.frame_of_reference_uid
    p = ct.index_to_patient([3, 5, 2])
    ijk = spect.patient_to_index(p)
    np.testing.assert_allclose(spect.index_to_patient(ijk), p)


# --- folders, selection, DICOMDIR ------------------------------------------------------


def _subject_folder(root: Path) -> Path:
    f.save(f.nm_wholebody(), root / "wb" / "wb.dcm")
    f.save_series(f.ct_series(n=4), root / "ct")
    f.save(f.nm_spect(), root / "spect" / "spect.dcm")
    (root / "notes.txt").write_text("not dicom")
    return root


def test_scan_lists_series_from_headers(tmp_path: Path) -> None:
    root = _subject_folder(tmp_path / "subj")
    found = scan(root)
    assert all(isinstance(s, SeriesSummary) for s in found)
    assert [(s.modality, s.n_files) for s in found] == [("CT", 4), ("NM", 1), ("NM", 1)]
    assert found[0].paths[0].name == "IM_0001.dcm"


def test_folder_with_several_series_needs_a_selector(tmp_path: Path) -> None:
    root = _subject_folder(tmp_path / "subj")
    with pytest.raises(
        SeriesSelectionError, match=r"3 series.*CT .*\(4 files\).*NM .*SPECT recon"
    ) as e:
        load(root)
    assert e.value.path == root
    assert isinstance(load(root, modality="ct"), CTVolume)
    spect_uid = next(s.series_instance_uid for s in scan(root) if "SPECT" in s.series_description)
    assert isinstance(load(root, series_uid=spect_uid), SpectVolume)
    with pytest.raises(SeriesSelectionError, match="2 series"):
        load(root, modality="NM")


def test_dicomdir(tmp_path: Path) -> None:
    src = _subject_folder(tmp_path / "src")
    fs = FileSet()
    for p in sorted(src.rglob("*.dcm")):
        fs.add(pydicom.dcmread(p))
    out = tmp_path / "media"
    fs.write(out)
    assert (out / "DICOMDIR").is_file()
    found = scan(out / "DICOMDIR")
    assert sorted(s.n_files for s in found) == [1, 1, 4]
    assert isinstance(load(out / "DICOMDIR", modality="CT"), CTVolume)
    assert isinstance(load(out, modality="CT"), CTVolume)


# --- CLI ---------------------------------------------------------------------------------


def test_inspect_json_counts_and_hu(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _subject_folder(tmp_path / "subj")
    wb = pydicom.dcmread(root / "wb" / "wb.dcm")
    assert main(["inspect", str(root), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    kinds = {s["kind"]: s for s in report["series"]}
    assert set(kinds) == {"CTVolume", "WholeBody", "SpectVolume"}
    nm = kinds["WholeBody"]
    assert nm["total_counts"] == {
        "ANT": float(wb.pixel_array[0].sum()),
        "POST": float(wb.pixel_array[1].sum()),
    }
    assert nm["frames"][0]["pixel_spacing_mm"] == [2.4, 2.4] and nm["frames"][0]["matrix"] == [
        128,
        48,
    ]
    assert nm["frames"][0]["spacing_source"] == "PixelSpacing"
    assert nm["transfer_syntax"] == "Explicit VR Little Endian"
    assert nm["sop_class"] == "Nuclear Medicine Image Storage"
    ct = kinds["CTVolume"]
    assert ct["matrix"] == [4, 32, 32] and ct["spacing_mm"] == [1.25, 1.5, 5.0]
    assert ct["hu_range"][0] == pytest.approx(-1024, abs=30) and ct["hu_range"][1] > 30
    assert nm["patient"]["looks_deidentified"] is True and nm["simulated"] is True


def test_inspect_never_prints_identifiers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ds = f.nm_wholebody(patient_name="DOE^JANE")
    ds.PatientID = "MRN123456"
    ds.PatientBirthDate = "19660412"
    ds.PatientIdentityRemoved = "NO"
    path = f.save(ds, tmp_path / "wb.dcm")
    for extra in ([], ["--json"]):
        assert main(["inspect", str(path), *extra]) == 0
        out = capsys.readouterr().out
        for secret in ("DOE", "JANE", "MRN123456", "19660412"):
            assert secret not in out
    report = json.loads(out)
    assert report["series"][0]["patient"]["looks_deidentified"] is False
    assert report["series"][0]["patient"]["name"] == "present (not shown)"


def test_inspect_text_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = f.save(f.nm_wholebody(), tmp_path / "wb.dcm", "rle")
    assert main(["inspect", str(path)]) == 0
    out = capsys.readouterr().out
    assert "RLE Lossless" in out and "view ANT" in out and "total_counts" in out


# --- committed simulated data ----------------------------------------------------------


@pytest.mark.skipif(not (DATA / "A" / "wb" / "wb.dcm").is_file(), reason="data/ not generated yet")
def test_committed_simulated_data_load() -> None:
    for subject in sorted(p.name for p in DATA.iterdir() if (p / "wb" / "wb.dcm").is_file()):
        wb = load(DATA / subject / "wb" / "wb.dcm")
        assert isinstance(wb, WholeBody) and wb.source.simulated
        assert wb.anterior.view_source == "DetectorInformationSequence.ViewCodeSequence"
        assert 2.0 <= wb.anterior.pixel_spacing_mm[0] <= 2.5
        assert 1e6 <= wb.anterior.total_counts <= 5e6
        ct = load(DATA / subject / "ct")
        assert isinstance(ct, CTVolume) and ct.warnings == ()
        assert -1100 <= float(ct.array.min()) and float(ct.array.max()) <= 3100
        spot = DATA / subject / "spot" / "spot.dcm"
        if spot.is_file():
            assert isinstance(load(spot), PlanarStudy)
    spect_path = DATA / "C" / "spect" / "spect.dcm"
    if spect_path.is_file():
        spect = load(spect_path)
        ct = load(DATA / "C" / "ct")
        assert isinstance(spect, SpectVolume)
        assert spect.source.frame_of_reference_uid == ct.source.frame_of_reference_uid
        lo_s, hi_s = spect.bounds_mm()
        lo_c, hi_c = ct.bounds_mm()
        assert np.all(hi_s > lo_c) and np.all(hi_c > lo_s)  # the volumes overlap in patient space
