"""casereport.io on planar and CT exports in the shapes scanners write them (built in code).

Shapes: one multi-frame NM file with ANT and POST; one file per view (NM, or Secondary
Capture with Modality NM); one view only; ANT and POST side by side in one SC image;
static spot views one file per view with or without view codes; CT folders holding a
localizer and several reconstructions. Each loads with the right views, spacing and
counts, and ``inspect``/``view`` describe and draw it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from casereport.__main__ import main
from casereport.errors import DicomInputError, GeometryError, SeriesSelectionError
from casereport.io import (
    CTVolume,
    PlanarOptions,
    PlanarStudy,
    SeriesChoice,
    WholeBody,
    load,
    load_views,
)
from tests.support import dicom_factory as f

ROOT = Path(__file__).resolve().parents[1]
WB = (128, 32)  # rows, cols of one whole-body view (small: the tests stay fast)


def _sc_single_view(
    tmp_path: Path, syntax: str = "explicit", **kw: object
) -> tuple[Path, np.ndarray]:
    counts = f.body_counts(*WB, seed=5)
    ds = f.sc_nm(counts, **kw)  # type: ignore[arg-type]
    return f.save(ds, tmp_path / f"wb_{syntax}.dcm", syntax), counts


# --- single-view Secondary Capture whole-body, compressed or not --------------------------


@pytest.mark.parametrize("syntax", ["explicit", "j2k", "jpeg-lossless", "jpegls", "rle"])
def test_single_view_sc_wholebody_loads_with_declared_view(tmp_path: Path, syntax: str) -> None:
    path, counts = _sc_single_view(tmp_path, syntax)
    wb = load(path, options=PlanarOptions(views=("ANT",)))
    assert isinstance(wb, WholeBody)
    assert wb.posterior is None and wb.missing_views == ("POST",)
    assert wb.anterior is not None
    np.testing.assert_array_equal(wb.anterior.counts, counts.astype(np.float32))
    assert wb.anterior.view_source == "case file"
    assert wb.anterior.pixel_spacing_mm == (2.4, 2.4)
    assert wb.anterior.spacing_source == "PixelSpacing"
    assert any("whole-body study has no POST view" in w for w in wb.warnings)
    with pytest.raises(DicomInputError, match=r"no POST view \(views present: ANT\)"):
        wb.view("POST")


def test_third_party_lossy_jpeg2000_whole_body_loads(tmp_path: Path) -> None:
    """pydicom's own JPEG2000.dcm, a whole-body bone scan (Secondary Capture, Modality NM,
    1024 x 256, PixelSpacing 2.26 mm) in 250 bytes of lossy JPEG 2000: more than 2000:1,
    and still loaded (a small image is decoded whatever its ratio), with pydicom's
    pixels; ``inspect`` and ``view`` describe and draw it."""
    import pydicom
    from pydicom.data import get_testdata_file

    path = Path(str(get_testdata_file("JPEG2000.dcm")))
    ds = pydicom.dcmread(path)
    assert ds.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.4.91"
    assert (ds.Rows, ds.Columns) == (1024, 256) and len(ds.PixelData) < 300
    wb = load(path, options=PlanarOptions(views=("ANT",)))
    assert isinstance(wb, WholeBody) and wb.anterior is not None
    np.testing.assert_array_equal(wb.anterior.counts, ds.pixel_array.astype(np.float32))
    assert wb.anterior.pixel_spacing_mm == (2.26, 2.26)
    assert wb.anterior.total_counts == float(ds.pixel_array.astype(np.float64).sum())
    out = tmp_path / "wb.png"
    for cmd in (["inspect", str(path)], ["view", str(path), "-o", str(out)]):
        done = subprocess.run(
            [sys.executable, "-m", "casereport", *cmd], capture_output=True, text=True, cwd=ROOT
        )
        assert done.returncode == 0, done.stderr
    assert Image.open(out).size[1] > Image.open(out).size[0]  # a tall whole-body view


def test_single_view_without_declaration_is_refused_with_the_remedy(tmp_path: Path) -> None:
    path, _ = _sc_single_view(tmp_path)
    with pytest.raises(DicomInputError, match=r"unknown \(from none\).*views: \[ANT\]"):
        load(path)


@pytest.mark.parametrize(
    ("where", "value", "source"),
    [
        ("ImageType", ["DERIVED", "PRIMARY", "WHOLE BODY", "ANTERIOR"], "ImageType"),
        ("SeriesDescription", "WB Bone ANT", "SeriesDescription"),
        ("ImageComments", "posterior sweep", "ImageComments"),
        ("DerivationDescription", "Post view 12 cm/min", "DerivationDescription"),
    ],
)
def test_view_from_file_attributes_in_order(
    tmp_path: Path, where: str, value: object, source: str
) -> None:
    counts = f.body_counts(*WB, seed=1)
    ds = f.sc_nm(counts)
    setattr(ds, where, value)
    wb = load(f.save(ds, tmp_path / "wb.dcm"))
    assert isinstance(wb, WholeBody)
    (v,) = wb.views
    assert v.view_source == source
    assert v.view == ("ANT" if "ANT" in str(value).upper() else "POST")


# --- pixel spacing sources --------------------------------------------------------------


@pytest.mark.parametrize("keyword", ["ImagerPixelSpacing", "NominalScannedPixelSpacing"])
def test_spacing_from_other_attributes(tmp_path: Path, keyword: str) -> None:
    counts = f.body_counts(*WB, seed=1)
    ds = f.sc_nm(counts, pixel_spacing=None, description="WB ANT")
    setattr(ds, keyword, [3.1, 3.2])
    (v,) = load(f.save(ds, tmp_path / "wb.dcm")).views
    assert (v.pixel_spacing_mm, v.spacing_source) == ((3.1, 3.2), keyword)


def test_spacing_declared_in_case_file_or_error_naming_places(tmp_path: Path) -> None:
    counts = f.body_counts(*WB, seed=1)
    path = f.save(f.sc_nm(counts, pixel_spacing=None, description="WB ANT"), tmp_path / "a.dcm")
    (v,) = load(path, options=PlanarOptions(spacing_mm=(4.0, 4.5))).views
    assert (v.pixel_spacing_mm, v.spacing_source) == ((4.0, 4.5), "case file")
    assert v.size_mm == (WB[1] * 4.5, WB[0] * 4.0)
    with pytest.raises(GeometryError, match="PixelSpacing, .*ImagerPixelSpacing.*spacing_mm"):
        load(path)


# --- one file per view -------------------------------------------------------------------


@pytest.mark.parametrize("sop", ["nm", "sc"])
def test_one_file_per_view_named_in_the_case_file(tmp_path: Path, sop: str) -> None:
    a, p = f.body_counts(*WB, seed=1), f.body_counts(*WB, seed=2)
    if sop == "nm":
        ant = f.nm_planar(a, views=("ANT",), whole_body=True, view_code=False, key="a")
        post = f.nm_planar(p, views=("POST",), whole_body=True, view_code=False, key="p")
        for ds in (ant, post):
            ds.SeriesDescription = "Whole body"
    else:
        ant, post = f.sc_nm(a, key="a"), f.sc_nm(p, key="p")
    files = {"ANT": f.save(ant, tmp_path / "ant.dcm"), "POST": f.save(post, tmp_path / "post.dcm")}
    wb = load_views(files)
    assert isinstance(wb, WholeBody)
    assert wb.anterior is not None and wb.posterior is not None
    np.testing.assert_array_equal(wb.anterior.counts, a.astype(np.float32))
    np.testing.assert_array_equal(wb.posterior.counts, p.astype(np.float32))
    assert wb.anterior.view_source == "case file"
    assert set(wb.source.paths) == set(files.values())


def test_file_recording_another_view_than_declared_is_refused(tmp_path: Path) -> None:
    ds = f.sc_nm(f.body_counts(*WB), description="WB POSTERIOR")
    path = f.save(ds, tmp_path / "x.dcm")
    with pytest.raises(DicomInputError, match="declared as the ANT view but the file records POST"):
        load_views({"ANT": path})


def test_one_file_per_view_in_one_series_folder(tmp_path: Path) -> None:
    series = f.uid("wb-pair")
    for name, desc, seed in (("1.dcm", "WB ANT", 1), ("2.dcm", "WB POST", 2)):
        counts = f.body_counts(*WB, seed=seed)
        f.save(f.sc_nm(counts, description=desc, series_uid=series, key=name), tmp_path / name)
    wb = load(tmp_path)
    assert isinstance(wb, WholeBody)
    assert [v.view for v in wb.views] == ["ANT", "POST"]
    assert wb.anterior is not None and wb.anterior.view_source == "SeriesDescription"


# --- ANT and POST side by side in one image ------------------------------------------------


def test_side_by_side_detected_and_split_at_the_gap(tmp_path: Path) -> None:
    a, p = f.body_counts(*WB, seed=1), f.body_counts(*WB, seed=2)
    both = f.side_by_side(a, p, gap=6)
    wb = load(f.save(f.sc_nm(both, description="Bone scan"), tmp_path / "both.dcm", "j2k"))
    assert isinstance(wb, WholeBody)
    assert wb.anterior is not None and wb.posterior is not None
    cut = WB[1] + 3
    assert wb.anterior.columns == (0, cut) and wb.posterior.columns == (cut, both.shape[1])
    assert "layout" in wb.anterior.view_source and "left" in wb.anterior.view_source
    assert wb.anterior.total_counts == pytest.approx(float(a.sum()), abs=0.5)
    assert wb.posterior.total_counts == pytest.approx(float(p.sum()), abs=0.5)
    np.testing.assert_array_equal(wb.posterior.counts[:, 3:], p.astype(np.float32))


def test_single_body_is_not_split(tmp_path: Path) -> None:
    path, _ = _sc_single_view(tmp_path, description="WB")
    study = load(path, options=PlanarOptions(lenient=True))
    assert len(study.views) == 1 and study.views[0].columns is None


def test_side_by_side_declared_splits_without_gap(tmp_path: Path) -> None:
    a, p = f.body_counts(*WB, seed=1), f.body_counts(*WB, seed=2)
    both = np.hstack([a, p])  # no empty columns between the two bodies
    path = f.save(f.sc_nm(both), tmp_path / "both.dcm")
    wb = load(path, options=PlanarOptions(views=("ANT", "POST")))
    assert isinstance(wb, WholeBody) and wb.anterior is not None and wb.posterior is not None
    assert wb.anterior.view_source.startswith("case file (left half")
    np.testing.assert_array_equal(wb.anterior.counts, a.astype(np.float32))
    np.testing.assert_array_equal(wb.posterior.counts, p.astype(np.float32))


# --- spot views, one file per view ------------------------------------------------------------


@pytest.mark.parametrize("codes", [True, False])
def test_spot_views_one_file_per_view(tmp_path: Path, codes: bool) -> None:
    files = {}
    for view, seed in (("ANT", 1), ("POST", 2)):
        counts = f.planar_counts(1, 32, 32, seed=seed)
        if codes:
            ds = f.nm_planar(counts, views=(view,), description="Chest spot", key=view)
        else:
            ds = f.sc_nm(counts[0], whole_body=False, description="Chest spot", key=view)
        files[view] = f.save(ds, tmp_path / f"{view.lower()}.dcm")
    spot = load_views(files)
    assert isinstance(spot, PlanarStudy)
    assert [v.view for v in spot.views] == ["ANT", "POST"]
    expected = "DetectorInformationSequence.ViewCodeSequence" if codes else "case file"
    assert spot.view("POST").view_source == expected


# --- inspect and view ------------------------------------------------------------------------


def test_inspect_json_describes_a_file_with_unknown_view(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, counts = _sc_single_view(tmp_path, "j2k")
    assert main(["inspect", str(path), "--json"]) == 0
    (s,) = json.loads(capsys.readouterr().out)["series"]
    assert s["modality"] == "NM"
    assert s["sop_class"] == "Secondary Capture Image Storage"
    assert s["transfer_syntax"] == "JPEG 2000 Image Compression (Lossless Only)"
    assert s["matrix"] == list(WB) and s["spacing_mm"] == [2.4, 2.4]
    assert s["spacing_source"] == "PixelSpacing"
    (frame,) = s["frames"]
    assert frame["view"] == "unknown" and frame["view_source"] == "none"
    assert frame["total_counts"] == float(counts.sum())
    assert any("view not recorded" in w for w in s["warnings"])


def test_inspect_text_warns_about_missing_spacing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ds = f.sc_nm(f.body_counts(*WB), pixel_spacing=None, description="WB ANT")
    path = f.save(ds, tmp_path / "wb.dcm")
    assert main(["inspect", str(path)]) == 0
    out = capsys.readouterr().out
    assert "[unknown]" in out
    assert "warning: wb.dcm: no pixel spacing" in out


def test_view_draws_a_single_unknown_view(tmp_path: Path) -> None:
    path, _ = _sc_single_view(tmp_path)
    out = tmp_path / "x.png"
    assert main(["view", str(path), "-o", str(out), "--dpi", "50"]) == 0
    img = np.asarray(Image.open(out).convert("L"))
    h, w = img.shape
    assert 3 < h / w < 5  # one 128 x 32 view at equal spacing, not two side by side
    assert img.min() < 100  # the body is drawn (inverted grey: dark counts)


@pytest.mark.filterwarnings("ignore:Invalid value for VR UI")
def test_pydicom_warnings_become_one_warning_line(tmp_path: Path) -> None:
    ds = f.sc_nm(f.body_counts(*WB), description="WB ANT")
    ds.SeriesInstanceUID = "1.2.3.abc"
    path = f.save(ds, tmp_path / "odd.dcm", "implicit")
    ct = f.ct_series(1)[0]
    ct.SOPClassUID = ct.file_meta.MediaStorageSOPClassUID = f.SC_IMAGE
    ct.SeriesInstanceUID = "1.2.3.abc"
    ct_path = f.save(ct, tmp_path / "ct_sc.dcm", "implicit")
    cmd = [sys.executable, "-m", "casereport", "inspect"]
    res = subprocess.run([*cmd, str(path)], capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 0 and res.stderr == ""
    assert "  warning: Invalid value for VR UI: '1.2.3.abc'." in res.stdout.splitlines()
    res = subprocess.run([*cmd, str(ct_path)], capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 2 and res.stdout == ""
    (line,) = res.stderr.splitlines()
    assert line.startswith(f"error: {ct_path} [SOPClassUID]: SOP class Secondary Capture")


# --- CT folders as scanners export them ------------------------------------------------------


def _ct_folder(root: Path) -> Path:
    f.save(f.ct_localizer(series_number=1), root / "scout" / "IM_0001.dcm")
    for number, dz, desc in ((2, 5.0, "Thorax 5.0 B30f"), (3, 2.5, "Thorax 2.5 B70f")):
        n = int(20 / dz)
        series = f.ct_series(n, dz=dz, key=f"ct{number}", description=desc)
        for ds in series:
            ds.SeriesNumber = number
        f.save_series(series, root / f"s{number}")
    return root


def test_ct_folder_picked_by_number_description_or_uid(tmp_path: Path) -> None:
    root = _ct_folder(tmp_path / "ct")
    with pytest.raises(
        SeriesSelectionError, match=r"2 series found.*number [23] .*number [23] "
    ) as e:
        load(root, modality="CT")
    assert "localizer" not in str(e.value)
    thick = load(root, choice=SeriesChoice(series_number=2))
    assert isinstance(thick, CTVolume) and thick.spacing_mm[2] == pytest.approx(5.0)
    thin = load(root, choice=SeriesChoice(series_description="thorax 2.5 b70f"))
    assert isinstance(thin, CTVolume) and thin.shape[0] == 8
    uid = thin.source.series_instance_uid
    assert load(root, choice=SeriesChoice(series_uid=uid)).shape == thin.shape
    with pytest.raises(SeriesSelectionError, match="no series matches series_number=9.*present"):
        load(root, choice=SeriesChoice(series_number=9))


def test_ct_folder_with_localizer_and_one_reconstruction(tmp_path: Path) -> None:
    root = tmp_path / "ct"
    f.save(f.ct_localizer(), root / "scout.dcm")
    f.save_series(f.ct_series(4), root / "axial")
    vol = load(root)
    assert isinstance(vol, CTVolume) and vol.shape == (4, 32, 32)


def test_ct_series_with_scout_and_a_second_copy_in_it(tmp_path: Path) -> None:
    series = f.ct_series(4)
    scout = f.ct_localizer()
    scout.SeriesInstanceUID = series[0].SeriesInstanceUID
    paths = f.save_series([*series, scout], tmp_path / "ct")
    (tmp_path / "ct" / "copy.dcm").write_bytes(paths[2].read_bytes())
    vol = load(tmp_path / "ct")
    assert vol.shape == (4, 32, 32)
    np.testing.assert_array_equal(vol.array[:, 0, 0], np.arange(4))
    assert any("localizer image(s) left out: IM_0005.dcm" in w for w in vol.warnings)
    assert any(
        "second copies left out: copy.dcm (same instance as IM_0003.dcm)" in w for w in vol.warnings
    )


def test_ct_gantry_tilt_is_reported(tmp_path: Path) -> None:
    series = f.ct_series(n=5, dz=5)
    for k, ds in enumerate(series):
        x, y, z = ds.ImagePositionPatient
        ds.ImagePositionPatient = [x, y + 0.9 * k, z]
    vol = load(f.save_series(series, tmp_path / "ct")[0].parent)
    assert isinstance(vol, CTVolume)
    assert any("gantry tilt of 10.2 degrees" in w for w in vol.warnings)
    straight = load(f.save_series(f.ct_series(n=5, dz=5), tmp_path / "ct2")[0].parent)
    assert straight.warnings == ()


@pytest.mark.parametrize("syntax", ["j2k", "jpeg-lossless", "jpegls", "rle"])
def test_compressed_side_by_side_sc_through_inspect_view_and_display(
    tmp_path: Path, syntax: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from matplotlib.figure import Figure

    from casereport.case import Window
    from casereport.display import show_planar_views

    a, p = f.body_counts(*WB, seed=1), f.body_counts(*WB, seed=2)
    path = f.save(f.sc_nm(f.side_by_side(a, p, gap=6)), tmp_path / "both.dcm", syntax)
    assert main(["inspect", str(path), "--json"]) == 0
    (s,) = json.loads(capsys.readouterr().out)["series"]
    assert s["kind"] == "WholeBody"
    assert s["total_counts"] == {"ANT": float(a.sum()), "POST": float(p.sum())}
    assert [fr["columns"] for fr in s["frames"]] == [[0, WB[1] + 3], [WB[1] + 3, 2 * WB[1] + 6]]
    out = tmp_path / "both.png"
    assert main(["view", str(path), "-o", str(out), "--dpi", "40"]) == 0
    assert Image.open(out).size[0] > Image.open(out).size[1] / 3  # two bodies side by side
    wb = load(path)
    disp = show_planar_views(wb.views, Window(0.5, 99.5), ax=Figure().add_subplot())
    assert [t.get_text() for t in disp.texts if t.get_text() in ("ANT", "POST")] == [
        "ANT",
        "POST",
    ]
    assert disp.vmax > disp.vmin >= 0


def test_inspect_folder_describes_the_readable_series_and_names_the_other(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _sc_single_view(tmp_path / "exports", description="WB ANT")
    f.save_series(f.ct_series(positions=[0, 5, 5, 10]), tmp_path / "exports" / "ct")
    assert main(["inspect", str(tmp_path / "exports"), "--json"]) == 0
    series = {s["modality"]: s for s in json.loads(capsys.readouterr().out)["series"]}
    assert series["NM"]["kind"] == "WholeBody" and series["NM"]["frames"][0]["view"] == "ANT"
    ct = series["CT"]
    assert ct["kind"] == "unreadable" and ct["matrix"] == [32, 32] and ct["frames"] == []
    assert "duplicate slice position" in ct["warnings"][0]
    assert main(["inspect", str(tmp_path / "exports" / "ct")]) == 2  # asked alone: refused
